"""Independent expected amounts, computed in the test from the raw CMS rows with csv + Decimal.

Deliberately does not import fee_schedules: column positions are the documented 2025 ones
(shared notes §2.1: 5 WORK, 6 NF PE, 8 F PE, 10 MP, 28/29/30 OPPS NF PE / F PE / MP) and the
GPCI columns 4/5/6 (PW with 1.0 floor / PE / MP).
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

CENT = Decimal("0.01")


@cache
def rvu_rows(path: Path) -> dict[tuple[str, str], list[str]]:
    with open(path, encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    return {(r[0], r[1]): r for r in rows[10:] if r and r[0]}


@cache
def gpci_rows(path: Path) -> dict[tuple[str, str], list[str]]:
    with open(path, encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    return {(r[0], r[2]): r for r in rows[3:] if r and r[0].isdigit()}


def expected(
    rvu_csv: Path,
    gpci_csv: Path | None,
    code: str,
    mod: str,
    carrier: str,
    locality: str,
    facility: bool,
    cf: str = "32.3465",
    opps_cols: tuple[int, int, int] = (28, 29, 30),
) -> Decimal:
    """round_half_up((work x wGPCI + PE x peGPCI + MP x mpGPCI) x CF), capped by the OPPS amount.

    ``gpci_csv=None`` means national (all GPCIs 1). 2026 files have PRIC IND inserted, so their
    OPPS columns are (29, 30, 31).
    """
    r = rvu_rows(rvu_csv)[(code, mod)]
    if gpci_csv is None:
        wg = pg = mg = Decimal(1)
    else:
        g = gpci_rows(gpci_csv)[(carrier, locality)]
        wg, pg, mg = Decimal(g[4]), Decimal(g[5]), Decimal(g[6])
    work, mp = Decimal(r[5]), Decimal(r[10])
    pe = Decimal(r[8] if facility else r[6])
    amount = ((work * wg + pe * pg + mp * mg) * Decimal(cf)).quantize(CENT, ROUND_HALF_UP)
    nf_col, f_col, mp_col = opps_cols
    opps_pe, opps_mp = Decimal(r[f_col] if facility else r[nf_col]), Decimal(r[mp_col])
    if opps_pe > 0 or opps_mp > 0:
        opps = ((work * wg + opps_pe * pg + opps_mp * mg) * Decimal(cf)).quantize(CENT, ROUND_HALF_UP)
        amount = min(amount, opps)
    return amount
