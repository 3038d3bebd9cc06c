"""Per-unit money in the reports is exact: an amount divided by units (or lines) rounded half-up to
the cent in integer arithmetic. DuckDB turns DECIMAL / DECIMAL (and avg of a DECIMAL) into DOUBLE,
whose rounding gets half-cents wrong: $2.05 over 2 units is $1.03, not $1.02."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.warehouse import connect
from reports import queries

MONTH = dt.date(2025, 3, 1)


def half_up(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def per(amount: Decimal, count: Decimal) -> Decimal:
    """amount / count, half-up to the cent (60 digits: no quotient here has a run of 9s that long)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return half_up(amount / count)


def _load(con, lines):
    con.execute("DELETE FROM variances")
    for i, (allowed, units, medicare) in enumerate(lines):
        con.execute(
            "INSERT INTO variances (line_id, claim_id, payer_id, payer_name, payment_month, service_date, "
            "procedure_code, modifiers, units, expected_allowed, actual_allowed, variance, medicare_unit_amount, "
            "facility, category, explanation) VALUES (?, ?, 'P1', 'PAYER ONE', ?, ?, '99213', [], ?, ?, ?, ?, ?, "
            "false, 'underpaid', 'x')",
            [i + 1, i + 1, MONTH, MONTH, units, allowed + 1, allowed, Decimal(1), medicare],
        )


money = st.integers(1, 10**11).map(lambda c: Decimal(c) / 100)
units = st.integers(1, 50_000).map(lambda m: Decimal(m) / 1000)


def test_half_cents_round_up(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _load(con, [(Decimal("1.02"), Decimal("1"), Decimal("0.35")), (Decimal("1.03"), Decimal("1"), Decimal("0.00"))])
    row = queries.rows(con, "code_payer", month=MONTH, payer=None, limit=10)[0]
    assert row["actual_per_unit"] == Decimal("1.03")  # 2.05 / 2 = 1.025; a DOUBLE gives 1.02
    assert row["expected_per_unit"] == Decimal("2.03")  # 4.05 / 2 = 2.025
    neg = queries.rows(con, "negotiation_codes", payer="P1", first=MONTH, through=MONTH)[0]
    assert neg["avg_allowed"] == Decimal("1.03")
    assert neg["medicare_unit_amount_seen"] == Decimal("0.18")  # 0.35 / 2 = 0.175


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(money, units, money), min_size=1, max_size=6))
def test_per_unit_amounts_are_exact(tmp_path, lines):
    con = connect(tmp_path / "w.duckdb")
    _load(con, lines)
    total_units = sum(u for _, u, _ in lines)
    row = queries.rows(con, "code_payer", month=MONTH, payer=None, limit=10)[0]
    assert row["actual_per_unit"] == per(sum(a for a, _, _ in lines), total_units)
    assert row["expected_per_unit"] == per(sum(a + 1 for a, _, _ in lines), total_units)
    neg = queries.rows(con, "negotiation_codes", payer="P1", first=MONTH, through=MONTH)[0]
    assert neg["avg_allowed"] == per(sum(a for a, _, _ in lines), total_units)
    assert neg["medicare_unit_amount_seen"] == per(sum(m for _, _, m in lines), Decimal(len(lines)))
    con.close()
