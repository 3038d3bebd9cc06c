"""Amounts to the cent against expected values computed here from the raw CMS rows (handcalc.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from fee_schedules.pricing import price_lines
from tests.fee_schedules.handcalc import expected

JAN = date(2025, 3, 15)  # release A in force
OCT = date(2025, 11, 3)  # release D in force

# (code, modifier, carrier, locality, facility): E/M, surgery, imaging 26/TC, therapy, injections,
# high-cost (Manhattan, San Francisco, San Jose), low-cost (Mississippi, Arkansas), Alaska, Puerto Rico.
CASES = [
    ("99213", "", "13202", "01", False),
    ("99213", "", "13202", "01", True),
    ("99214", "", "13202", "01", False),
    ("99214", "", "07102", "13", False),
    ("99214", "", "02102", "01", True),
    ("99213", "", "09202", "20", False),
    ("27447", "", "01112", "05", True),
    ("29881", "", "07302", "00", True),
    ("11042", "", "01112", "09", False),
    ("47562", "", "02102", "01", True),
    ("71046", "", "13202", "01", False),
    ("71046", "26", "13202", "01", True),
    ("71046", "TC", "02102", "01", False),
    ("70450", "", "09202", "20", False),
    ("70450", "26", "07302", "00", True),
    ("70450", "TC", "01112", "05", False),
    ("97110", "", "13202", "01", False),
    ("97110", "", "09202", "20", False),
    ("20552", "", "13202", "01", False),
    ("20553", "", "13202", "01", False),
    ("20553", "", "02102", "01", True),
    ("20552", "", "07102", "13", False),
    ("93000", "", "01112", "09", False),
    ("93010", "", "13202", "01", True),
    ("G0121", "", "13202", "01", False),
    ("G0121", "53", "13202", "01", False),
    ("76145", "", "01112", "05", False),
    ("74177", "TC", "13202", "01", False),
]


def _lines(cases, when):
    return pl.DataFrame(
        {
            "row_id": list(range(len(cases))),
            "procedure_code": [c[0] for c in cases],
            "modifiers": [[c[1]] if c[1] else [] for c in cases],
            "service_date": [when] * len(cases),
            "locality": [c[2] + c[3] for c in cases],
            "facility": [c[4] for c in cases],
        }
    )


@pytest.mark.parametrize("when,folder", [(JAN, "A"), (OCT, "D")])
def test_amounts_equal_hand_computation(mpfs_con, cms_dir, when, folder):
    rvu = cms_dir / "2025" / ("PPRRVU25_JAN.csv" if folder == "A" else "RVU25D/PPRRVU2025_Oct.csv")
    gpci = cms_dir / "2025" / "GPCI2025.csv"
    out = price_lines(mpfs_con, _lines(CASES, when))
    assert out["mpfs_release"].unique().to_list() == [folder]
    for case, row in zip(CASES, out.iter_rows(named=True)):
        want = expected(rvu, gpci, case[0], case[1], case[2], case[3], case[4])
        assert row["status"] == "priced", (case, row["not_priced_reason"])
        assert row["amount"] == want, (case, row["formula"])


def test_20553_manhattan_non_facility_is_67_08(mpfs_con):
    """Worked example: (0.75 x 1.065 + 0.98 x 1.166 + 0.08 x 1.656) x 32.3465 = 67.0800... -> $67.08."""
    raw = (
        Decimal("0.75") * Decimal("1.065") + Decimal("0.98") * Decimal("1.166") + Decimal("0.08") * Decimal("1.656")
    ) * Decimal("32.3465")
    assert raw.quantize(Decimal("0.01")) == Decimal("67.08")
    row = price_lines(mpfs_con, _lines([("20553", "", "13202", "01", False)], JAN)).row(0, named=True)
    assert row["amount"] == Decimal("67.08")
    assert row["formula"] == "(work 0.75 x 1.065 + PE 0.98 x 1.166 + MP 0.08 x 1.656) x CF 32.3465 = $67.08"
    assert (row["work_rvu"], row["pe_rvu"], row["mp_rvu"]) == (Decimal("0.75"), Decimal("0.98"), Decimal("0.08"))
    assert (row["work_gpci"], row["pe_gpci"], row["mp_gpci"]) == (Decimal("1.065"), Decimal("1.166"), Decimal("1.656"))
    assert row["conversion_factor"] == Decimal("32.3465")
    assert row["locality_name"] == "MANHATTAN" and row["locality_code"] == "1320201"
    assert row["setting"] == "non-facility" and row["rvu_modifier"] == ""


def test_99213_manhattan_matches_published_101_06(mpfs_con):
    row = price_lines(mpfs_con, _lines([("99213", "", "13202", "01", False)], JAN)).row(0, named=True)
    assert row["amount"] == Decimal("101.06")  # notes §8 worked example


def test_2026_national_hand_computed(mpfs_con, cms_dir):
    rvu = cms_dir / "2026" / "PPRRVU2026_Jul_nonQPP.csv"
    cases = [
        ("99213", "", "", "", False),
        ("99214", "", "", "", True),
        ("20553", "", "", "", False),
        ("97110", "", "", "", False),
        ("71046", "26", "", "", True),
        ("70450", "TC", "", "", False),
    ]
    lines = _lines(cases, date(2026, 8, 1)).with_columns(locality=pl.lit(None, pl.String))
    out = price_lines(mpfs_con, lines, national=True)
    for case, row in zip(cases, out.iter_rows(named=True)):
        want = expected(rvu, None, case[0], case[1], "", "", case[4], cf="33.4009", opps_cols=(29, 30, 31))
        assert row["amount"] == want, (case, row["formula"])
        assert row["locality_name"] == "NATIONAL (all GPCIs 1.000)" and row["locality_code"] is None
    qp = price_lines(mpfs_con, lines, national=True, qp=True)
    for case, row in zip(cases, qp.iter_rows(named=True)):
        want = expected(rvu, None, case[0], case[1], "", "", case[4], cf="33.5675", opps_cols=(29, 30, 31))
        assert row["amount"] == want and row["conversion_factor"] == Decimal("33.5675")
