"""Money, quantities and rates: one statement of their types and of how they round.

Every amount is exact: DuckDB ``DECIMAL``, polars ``pl.Decimal``, Python ``decimal.Decimal``;
never float. Rounding is half-up to the cent (half away from zero, which is half-up for the
non-negative amounts priced here, and what DuckDB's ``round()`` does on DECIMAL).

The warehouse DDL spells the same types in SQL (``DECIMAL(14,2)`` money, ``DECIMAL(12,3)``
quantities, ``DECIMAL(12,4)`` rates); ``tests/test_layers.py`` checks the tables against the
pandera models, which take their precision from here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

MONEY_PRECISION, MONEY_SCALE = 14, 2
QTY_PRECISION, QTY_SCALE = 12, 3
RATE_PRECISION, RATE_SCALE = 12, 4

MONEY = pl.Decimal(MONEY_PRECISION, MONEY_SCALE)  # amounts: BPR02, CLP03/04/05, SVC02/03, CAS03, ...
QTY = pl.Decimal(QTY_PRECISION, QTY_SCALE)  # units and quantities: SVC05, CAS04, QTY02
RATE = pl.Decimal(RATE_PRECISION, RATE_SCALE)  # rates and weights: CLP12, CLP13, MOA01

# A service-line amount (charge, paid, allowed) at or above this is not believed: the ingest records
# a validation issue on the line and the comparison leaves it unpriced as a data-quality problem
# instead of letting one absurd figure (a typo'd $10M allowed on an office visit) skew every total.
# Medicare's dearest single services (gene therapies) are priced in the low millions.
LINE_AMOUNT_CEILING = Decimal("10000000.00")

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_cent(value: Decimal | int | str) -> Decimal:
    """``value`` rounded half-up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def half_up(value: Decimal | int | str, places: int) -> Decimal:
    """``value`` rounded half-up to ``places`` decimals (0.1 for a percentage shown to one place)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal | int | str, percent: Decimal | int | str) -> Decimal:
    """``amount`` x ``percent`` / 100, rounded half-up to the cent (the SQL macro ``pct_of``)."""
    return to_cent(Decimal(amount) * Decimal(percent) / 100)
