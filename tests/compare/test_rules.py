"""One test per comparison rule, on small warehouses written row by row.

Expected amounts are computed here by hand (Decimal, from the CMS file rows where Medicare is
involved), never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib
from decimal import Decimal as D

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipelines.compare.compare import VarianceRows, compare
from pipelines.core.config import Settings

_spec = importlib.util.spec_from_file_location("cmp_conftest", pathlib.Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
write_contract, variance, cents = _helpers.write_contract, _helpers.variance, _helpers.cents

HEADER = """\
name: Acme Test
payer:
  ids: ["ACME1"]
  names: ["ACME HEALTH"]
payee_tins: ["123456789"]
effective: 2025-01-01
expires: 2026-12-31
medicare:
  zip: "10001"
  year: service
tolerance: {amount: 1.00, percent: 0.5}
"""


def contract(tmp_path, terms: str, extra: str = "", header: str = HEADER, name="acme.yaml"):
    folder = tmp_path / "contracts"
    write_contract(folder, name, header + extra + "terms:\n" + terms)
    return folder


def run(b, folder, **kw):
    result = compare(b.con, folder, settings=Settings(), **kw)
    VarianceRows.validate(b.con.sql("SELECT * FROM variances").pl(), lazy=True)  # table invariants
    return result


# ---------------------------------------------------------------- methods


def test_rate_times_units_and_explanation(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["20552", "20553"]\n    rate: 118.00\n')
    c = wh.claim(wh.payment())
    line = wh.line(c, "20553", 300, units=2, allowed=D("230.00"), adj=[("CO", "45", 70)])
    res = run(wh, folder)
    v = variance(wh.con, line)
    assert v["method"] == "rate"
    assert (v["step_base"], v["step_units"], v["expected_allowed"]) == (D("118.00"), D("236.00"), D("236.00"))
    assert v["variance"] == D("6.00") and v["category"] == "underpaid"
    assert v["explanation"] == (
        "contract rate $118.00 for 20553 x 2 units = $236.00; actual allowed $230.00; underpaid $6.00"
    )
    assert res.by_category["underpaid"] == 1 and res.underpaid_total == D("6.00")


def test_percent_of_medicare_reproduces_the_issue_example(mwh, tmp_path, cms):
    folder = contract(tmp_path, '  - codes: ["20553"]\n    percent_of_medicare: 125\n')
    c = mwh.claim(mwh.payment())
    line = mwh.line(c, "20553", 150, allowed=D("80.00"), adj=[("CO", "45", 70)])
    run(mwh, folder)
    v = variance(mwh.con, line)
    medicare = cms.amount("20553")
    assert medicare == D("67.08")
    assert v["medicare_unit_amount"] == medicare
    assert v["expected_allowed"] == cents(medicare * D("1.25")) == D("83.85")
    assert v["explanation"] == (
        "125% of Medicare 2025 locality 13202-01 non-facility $67.08 [(work 0.75 x 1.065 + PE 0.98 x 1.166 "
        "+ MP 0.08 x 1.656) x CF 32.3465] = $83.85; actual allowed $80.00; underpaid $3.85"
    )
    assert (v["work_rvu"], v["pe_gpci"], v["conversion_factor"]) == (D("0.75"), D("1.166"), D("32.3465"))
    assert v["percent_of_medicare"] == D("119.26")  # 80.00 / 67.08


def test_place_of_service_selects_facility_rvus(mwh, tmp_path, cms):
    folder = contract(tmp_path, '  - codes: ["99213"]\n    percent_of_medicare: 100\n')
    office = mwh.line(mwh.claim(mwh.payment(), pos="11"), "99213", 200)
    hospital = mwh.line(mwh.claim(mwh.payment(), pos="22"), "99213", 200)
    run(mwh, folder)
    assert variance(mwh.con, office)["expected_allowed"] == cms.amount("99213") == D("101.06")
    v = variance(mwh.con, hospital)
    assert v["facility"] is True
    assert v["expected_allowed"] == cms.amount("99213", facility=True)
    assert "facility" in v["explanation"] and "non-facility" not in v["explanation"]


def test_percent_of_charges_does_not_multiply_units(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_charges: 55\n')
    line = wh.line(wh.claim(wh.payment()), "97110", 200, units=3, allowed=D("110.00"), adj=[("CO", "45", 90)])
    run(wh, folder)
    v = variance(wh.con, line)
    assert v["expected_allowed"] == D("110.00") and v["category"] == "correct"
    assert v["explanation"].startswith("55% of billed $200.00 = $110.00; actual allowed $110.00")


# ---------------------------------------------------------------- codes, ranges, modifiers


def test_ranges_and_first_match_wins(wh, tmp_path):
    folder = contract(
        tmp_path,
        (
            '  - codes: ["99211"]\n    rate: 30\n'
            '  - codes: ["99202-99215"]\n    rate: 100\n'
            '  - codes: ["*"]\n    rate: 1\n'
        ),
    )
    c = wh.claim(wh.payment())
    lines = {code: wh.line(c, code, 500) for code in ("99211", "99215", "99202", "99216", "0446T")}
    run(wh, folder)
    got = {code: variance(wh.con, lid)["expected_allowed"] for code, lid in lines.items()}
    assert got == {
        "99211": D("30.00"),
        "99215": D("100.00"),
        "99202": D("100.00"),
        "99216": D("1.00"),
        "0446T": D("1.00"),
    }
    assert variance(wh.con, lines["99215"])["term"].startswith("term 2: 99202-99215")


def test_price_neutral_modifiers_never_stop_a_match(wh, tmp_path):
    folder = contract(
        tmp_path,
        ('  - codes: ["71046"]\n    modifiers: ["26"]\n    rate: 12\n  - codes: ["71046", "20553"]\n    rate: 40\n'),
    )
    c = wh.claim(wh.payment())
    pc = wh.line(c, "71046", 100, mods=["26", "59"])
    glob = wh.line(c, "71046", 100, mods=["LT"])
    inj = wh.line(c, "20553", 100, mods=["25", "XS", "RT"])
    run(wh, folder)
    assert variance(wh.con, pc)["expected_allowed"] == D("12.00")
    assert variance(wh.con, glob)["expected_allowed"] == D("40.00")
    assert variance(wh.con, inj)["expected_allowed"] == D("40.00")


def test_26_and_tc_select_the_medicare_component(mwh, tmp_path, cms):
    folder = contract(
        tmp_path,
        '  - codes: ["71046"]\n    modifiers: ["26"]\n    percent_of_medicare: 140\n'
        '  - codes: ["*"]\n    percent_of_medicare: 100\n',
    )
    c = mwh.claim(mwh.payment())
    pc = mwh.line(c, "71046", 100, mods=["26"])
    tc = mwh.line(c, "71046", 100, mods=["TC"])
    run(mwh, folder)
    assert variance(mwh.con, pc)["expected_allowed"] == cents(cms.amount("71046", "26") * D("1.4"))
    assert variance(mwh.con, tc)["expected_allowed"] == cms.amount("71046", "TC")


def _unity(tmp_path, sheet_name="rates.csv"):
    extra = f'rates_csv: {sheet_name}\nmodifier_adjustments: {{"26": 40, "TC": 60, "50": 150}}\n'
    return contract(tmp_path, '  - codes: ["*"]\n    rate: 1\n  - codes: ["99213"]\n    rate: 50\n', extra)


def test_rate_lookup_fallback_order(wh, tmp_path):
    folder = _unity(tmp_path)
    (folder / "rates.csv").write_text("code,modifier,rate\n71046,,38.00\n71046,26,12.50\n99213,,98.00\n")
    c = wh.claim(wh.payment())
    exact = wh.line(c, "71046", 100, mods=["26"])
    pct = wh.line(c, "71046", 100, mods=["TC"])
    plain = wh.line(c, "99213", 200, mods=["25"])
    run(wh, folder)
    assert variance(wh.con, exact)["expected_allowed"] == D("12.50")  # exact code+modifier
    v = variance(wh.con, pct)
    assert v["expected_allowed"] == D("22.80")  # 38.00 x 60%
    assert v["method"] == "rates_csv" and v["reduction_percent"] == D("60")
    assert variance(wh.con, plain)["expected_allowed"] == D("98.00")  # code rate; sheet beats term


def test_rates_sheet_as_xlsx(wh, tmp_path):
    from openpyxl import Workbook

    folder = _unity(tmp_path, "rates.xlsx")
    book = Workbook()
    sheet = book.active
    for row in (["CPT", "Mod", "Rate"], ["99213", None, 98], ["71046", "26", 12.5]):
        sheet.append(row)
    book.save(folder / "rates.xlsx")
    line = wh.line(wh.claim(wh.payment()), "99213", 200)
    run(wh, folder)
    assert variance(wh.con, line)["expected_allowed"] == D("98.00")


# ---------------------------------------------------------------- dates and versions


def test_each_line_uses_the_version_in_force_on_its_date(wh, tmp_path):
    folder = tmp_path / "contracts"
    v1 = HEADER.replace("expires: 2026-12-31", "expires: 2025-12-31")
    v2 = HEADER.replace("effective: 2025-01-01", "effective: 2026-01-01").replace("Acme Test", "Acme Test 2026")
    write_contract(folder, "v1.yaml", v1 + 'terms:\n  - codes: ["*"]\n    rate: 100\n')
    write_contract(folder, "v2.yaml", v2 + 'terms:\n  - codes: ["*"]\n    rate: 110\n')
    c = wh.claim(wh.payment(paid_on=dt.date(2026, 1, 20)))
    old = wh.line(c, "99213", 500, dos=dt.date(2025, 12, 31))
    new = wh.line(c, "99213", 500, dos=dt.date(2026, 1, 1))
    before = wh.line(c, "99213", 500, dos=dt.date(2024, 12, 31))
    run(wh, folder)
    assert (variance(wh.con, old)["expected_allowed"], variance(wh.con, old)["contract"]) == (D("100.00"), "Acme Test")
    assert (variance(wh.con, new)["expected_allowed"], variance(wh.con, new)["contract"]) == (
        D("110.00"),
        "Acme Test 2026",
    )
    v = variance(wh.con, before)
    assert v["category"] == "no_contract" and "in force on 2024-12-31" in v["explanation"]


def test_fixed_year_medicare(mwh, tmp_path, cms):
    header = HEADER.replace("year: service", "year: 2025")
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 110\n', header=header)
    line = mwh.line(mwh.claim(mwh.payment(paid_on=dt.date(2026, 2, 20))), "99213", 200, dos=dt.date(2026, 2, 1))
    run(mwh, folder)
    v = variance(mwh.con, line)
    assert v["medicare_year"] == 2025
    assert v["expected_allowed"] == cents(cms.amount("99213") * D("1.10"))


def test_service_year_without_gpci_is_not_priced(mwh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 110\n')
    line = mwh.line(mwh.claim(mwh.payment(paid_on=dt.date(2026, 8, 20))), "99213", 200, dos=dt.date(2026, 8, 1))
    run(mwh, folder)
    v = variance(mwh.con, line)
    assert v["category"] == "not_priced" and v["expected_allowed"] is None
    assert "2026" in v["not_priced_reason"]


def test_status_b_code_is_not_priced_with_reason(mwh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 100\n')
    line = mwh.line(mwh.claim(mwh.payment()), "A4262", 20)
    run(mwh, folder)
    v = variance(mwh.con, line)
    assert v["category"] == "not_priced" and "status B" in v["not_priced_reason"]


# ---------------------------------------------------------------- lesser-of, tolerance


def test_lesser_of_charges(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 118\n', "lesser_of_charges: true\n")
    line = wh.line(wh.claim(wh.payment()), "20553", 100)
    run(wh, folder)
    v = variance(wh.con, line)
    assert (v["step_units"], v["step_lesser_of"], v["expected_allowed"]) == (D("118.00"), D("100.00"), D("100.00"))
    assert "lesser of billed charge $100.00" in v["explanation"] and v["category"] == "correct"


@pytest.mark.parametrize(
    "rate, allowed, category",
    [
        ("1000", "998.50", "correct"),  # $1.50 > $1 but < 0.5% ($5.00)
        ("1000", "994.00", "underpaid"),  # $6.00 exceeds both
        ("50", "48.80", "underpaid"),  # $1.20 > $1 and > $0.25
        ("50", "49.10", "correct"),  # $0.90 < $1
        ("50", "51.50", "overpaid"),
    ],
)
def test_tolerance_needs_both_thresholds(wh, tmp_path, rate, allowed, category):
    folder = contract(tmp_path, f'  - codes: ["*"]\n    rate: {rate}\n')
    line = wh.line(wh.claim(wh.payment()), "99213", 2000, allowed=D(allowed))
    run(wh, folder)
    v = variance(wh.con, line)
    assert v["category"] == category
    assert v["variance"] == D(rate) - D(allowed)


# ---------------------------------------------------------------- things that are not underpayments

MEDICARE = """\
name: Medicare
payer:
  ids: ["13202"]
effective: 2025-01-01
medicare:
  locality: "1320201"
  year: service
tolerance: {amount: 0.05, percent: 0.1}
modifier_adjustments: medicare
"""


def test_patient_share_and_sequestration_are_not_flagged(mwh, tmp_path, cms):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 100\n', header=MEDICARE)
    pay = mwh.payment("13202", "NGS MEDICARE PART B")
    allowed = cms.amount("99213")  # 101.06
    coins = cents(allowed * D("0.2"))  # PR-2 20.21
    seq = cents((allowed - coins) * D("0.02"))  # CO-253 1.62
    line = mwh.line(
        mwh.claim(pay), "99213", 200, adj=[("CO", "45", D(200) - allowed), ("PR", "2", coins), ("CO", "253", seq)]
    )
    run(mwh, folder)
    v = variance(mwh.con, line)
    assert v["actual_allowed"] == allowed and v["category"] == "correct" and v["variance"] == 0
    assert v["patient_responsibility"] == coins
    assert v["carc_codes"] == ["CO-253", "CO-45", "PR-2"]


def test_secondary_claims_are_not_compared(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    for status in ("2", "3", "20", "21"):
        line = wh.line(wh.claim(wh.payment(), status=status), "99213", 200, adj=[("OA", "23", 180)])
        run(wh, folder)
        v = variance(wh.con, line)
        assert v["category"] == "secondary" and v["variance"] is None and v["expected_allowed"] is None


@pytest.mark.parametrize("linked", [False, True])
def test_reversal_and_original_are_netted_and_the_correction_compared(wh, tmp_path, linked):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    orig_c = wh.claim(wh.payment(paid_on=dt.date(2025, 3, 5)), pcn="P1", icn="ICN9", charge=D(200))
    orig = wh.line(orig_c, "99213", 200, adj=[("CO", "45", 120)])  # allowed 80: looks underpaid
    pay2 = wh.payment(paid_on=dt.date(2025, 4, 5))
    rev_c = wh.claim(pay2, status="22", pcn="P1", icn="ICN9", charge=D(-200), reverses=orig_c if linked else None)
    rev = wh.line(rev_c, "99213", -200, adj=[("CO", "45", -120)])
    corr = wh.line(wh.claim(pay2, pcn="P1", icn="ICN9", charge=D(200)), "99213", 200, adj=[("CO", "45", 100)])
    res = run(wh, folder, month="2025-04")  # the original (March) is recomputed too
    assert variance(wh.con, orig)["category"] == "reversed"
    assert variance(wh.con, rev)["category"] == "reversed"
    assert variance(wh.con, rev)["variance"] is None
    assert variance(wh.con, corr)["category"] == "correct"
    assert res.by_category["reversed"] == 2 and res.by_category["underpaid"] == 0


def test_denials_keep_their_codes(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    line = wh.line(wh.claim(wh.payment()), "99213", 200, adj=[("CO", "50", 200)], remarks=["N130"])
    run(wh, folder)
    v = variance(wh.con, line)
    assert v["category"] == "denied" and v["carc_codes"] == ["CO-50"] and v["rarc_codes"] == ["N130"]
    assert v["explanation"].startswith("denied: nothing allowed (CO-50, N130); contract expected contract rate $100.00")
    assert v["variance"] == D("100.00")


def test_pending_lines_are_flagged_not_compared(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    line = wh.line(wh.claim(wh.payment()), "99213", 200, adj=[("OA", "133", 200)])
    run(wh, folder)
    v = variance(wh.con, line)
    assert v["pending"] is True and v["category"] == "pending" and v["variance"] is None


def test_recoded_lines_are_flagged(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    line = wh.line(wh.claim(wh.payment()), "99213", 200, original_code="99214", adj=[("CO", "45", 100)])
    same = wh.line(wh.claim(wh.payment()), "99213", 200, original_code="99213", adj=[("CO", "45", 100)])
    run(wh, folder)
    v = variance(wh.con, line)
    assert v["recoded"] is True and v["category"] == "correct"
    assert v["explanation"].endswith("recoded by the payer from 99214")
    assert variance(wh.con, same)["recoded"] is False


# ---------------------------------------------------------------- contract matching


def test_payer_matching_by_any_id_then_name_then_tin(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    by_trn = wh.line(wh.claim(wh.payment("X", "OTHER", n1_id="Y", trn03="ACME1")), "99213", 200)
    by_2u = wh.line(wh.claim(wh.payment("X", "OTHER", n1_id="Y", ref_2u="acme1")), "99213", 200)
    by_name = wh.line(wh.claim(wh.payment("ZZZ", "  acme   health ")), "99213", 200)
    wrong_tin = wh.line(wh.claim(wh.payment(payee_tin="987654321")), "99213", 200)
    nobody = wh.line(wh.claim(wh.payment("NOPE", "NOBODY")), "99213", 200)
    run(wh, folder)
    for lid in (by_trn, by_2u, by_name):
        assert variance(wh.con, lid)["contract"] == "Acme Test"
    for lid in (wrong_tin, nobody):
        assert variance(wh.con, lid)["category"] == "no_contract"
    assert "no contract for payer NOPE (NOBODY)" in variance(wh.con, nobody)["explanation"]


def test_carve_out_and_uncovered_code(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["36415"]\n    exclude: true\n  - codes: ["99202-99215"]\n    rate: 80\n')
    c = wh.claim(wh.payment())
    carved = wh.line(c, "36415", 20)
    other = wh.line(c, "97110", 20)
    run(wh, folder)
    assert "carved out" in variance(wh.con, carved)["explanation"]
    v = variance(wh.con, other)
    assert v["category"] == "no_contract" and "no term of Acme Test covers 97110" in v["explanation"]


# ---------------------------------------------------------------- modifier adjustments


def test_medicare_mppr_ranks_by_full_expected_amount(mwh, tmp_path, cms):
    # Rate terms under Medicare's modifier rules are ranked by their contract amount (percent_of_medicare
    # lines of such a contract are priced claim by claim instead: test_compare_claims.py).
    # 20553 (cheaper at Medicare than 11042) is given the higher contract rate, so it ranks first.
    folder = contract(
        tmp_path,
        '  - codes: ["20553"]\n    rate: 200\n  - codes: ["11042"]\n    rate: 100\n'
        '  - codes: ["*"]\n    percent_of_medicare: 100\n',
        "modifier_adjustments: medicare\n",
    )
    assert cms.amount("20553") < cms.amount("11042")
    c = mwh.claim(mwh.payment())
    a = mwh.line(c, "20553", 300, line_number=1)
    b = mwh.line(c, "11042", 500, line_number=2)
    visit = mwh.line(c, "99213", 300, line_number=3)  # mult_proc 0: never reduced
    run(mwh, folder)
    va, vb = variance(mwh.con, a), variance(mwh.con, b)
    assert (va["mppr_rank"], vb["mppr_rank"]) == (1, 2)
    assert va["expected_allowed"] == D("200.00")
    assert vb["expected_allowed"] == D("50.00")
    assert "multiple procedure rank 2 50%" in vb["explanation"]
    assert variance(mwh.con, visit)["mppr_rank"] is None


def test_medicare_bilateral_and_assistant(mwh, tmp_path, cms):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 100\n', header=MEDICARE)
    pay = mwh.payment("13202", "NGS MEDICARE PART B")
    bilat = mwh.line(mwh.claim(pay), "64483", 2000, mods=["50"])
    asst = mwh.line(mwh.claim(pay, pos="21"), "27447", 5000, mods=["80"])
    run(mwh, folder)
    assert cms.rvu("64483")["bilat"] == "1" and cms.rvu("27447")["asst"] == "2"
    assert variance(mwh.con, bilat)["expected_allowed"] == cents(cms.amount("64483") * D("1.5"))
    assert variance(mwh.con, asst)["expected_allowed"] == cents(cms.amount("27447", facility=True) * D("0.16"))


def test_custom_mppr_schedule(wh, tmp_path, mpfs_db):
    import shutil

    shutil.copy(mpfs_db, tmp_path / "m.duckdb")
    from pipelines.core.warehouse import connect

    b = type(wh)(connect(tmp_path / "m.duckdb"))
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n', "mppr: [100, 50, 25]\n")
    c = b.claim(b.payment())
    ids = [b.line(c, code, 500, line_number=i) for i, code in enumerate(("20553", "11042", "10005", "10021"), 1)]
    run(b, folder)
    got = [(variance(b.con, i)["mppr_rank"], variance(b.con, i)["expected_allowed"]) for i in ids]
    assert got == [(1, D("100.00")), (2, D("50.00")), (3, D("25.00")), (4, D("25.00"))]
    b.con.close()


# ---------------------------------------------------------------- storage


def test_rerun_replaces_rows_and_month_selects_by_payment_date(wh, tmp_path):
    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    march = wh.line(wh.claim(wh.payment(paid_on=dt.date(2025, 3, 31))), "99213", 200)
    april = wh.line(wh.claim(wh.payment(paid_on=dt.date(2025, 4, 1))), "99213", 200)
    r1 = run(wh, folder, month="2025-03")
    assert r1.lines == 1
    run(wh, folder, month=dt.date(2025, 3, 1))
    run(wh, folder)
    run(wh, folder)
    assert wh.con.execute("SELECT count(*), count(DISTINCT line_id) FROM variances").fetchone() == (2, 2)
    assert variance(wh.con, march)["payment_month"] == dt.date(2025, 3, 1)
    assert variance(wh.con, april)["payment_month"] == dt.date(2025, 4, 1)


def test_export_formats_are_private(wh, tmp_path):
    import os

    import polars as pl

    from pipelines.compare.compare import export_variances

    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    wh.line(wh.claim(wh.payment()), "99213", 200, adj=[("CO", "45", 150), ("PR", "2", 10)])
    run(wh, folder)
    for suffix in ("csv", "parquet", "xlsx"):
        path = export_variances(wh.con, tmp_path / f"out.{suffix}")
        assert os.stat(path).st_mode & 0o777 == 0o600
    csv = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert csv["carc_codes"][0] == "CO-45, PR-2" and csv["expected_allowed"][0] == "100.00"
    pq = pl.read_parquet(tmp_path / "out.parquet")
    assert pq["carc_codes"][0].to_list() == ["CO-45", "PR-2"]


# ---------------------------------------------------------------- money arithmetic


@hsettings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=0, max_value=99999, places=2), pct=st.decimals(min_value=0, max_value=300, places=3)
)
def test_percent_steps_round_half_up_exactly(amount, pct):
    from pipelines.core.sql import read_sql

    con = duckdb.connect()
    con.execute(read_sql("pipelines.compare.sql", "00_macros.sql"))
    got = con.execute("SELECT cmp_pct_of(CAST(? AS DECIMAL(14,2)), CAST(? AS DECIMAL(9,3)))", [amount, pct]).fetchone()[
        0
    ]
    assert got == cents(amount * pct / 100)


def test_co_surgeon_and_percent_of_medicare_over_units(mwh, tmp_path, cms):
    folder = contract(tmp_path, '  - codes: ["*"]\n    percent_of_medicare: 100\n', header=MEDICARE)
    pay = mwh.payment("13202", "NGS MEDICARE PART B")
    co = mwh.line(mwh.claim(pay, pos="21"), "27447", 5000, mods=["62"])
    visits = mwh.line(mwh.claim(pay), "99213", 400, units=2, allowed=D("150.00"))
    run(mwh, folder)
    assert cms.rvu("27447")["co"] == "1"
    assert variance(mwh.con, co)["expected_allowed"] == cents(cms.amount("27447", facility=True) * D("0.625"))
    v = variance(mwh.con, visits)
    medicare = cms.amount("99213") * 2
    assert v["medicare_allowed"] == medicare
    assert v["percent_of_medicare"] == cents(D("150.00") / medicare * 100)
    # priced claim by claim (modifier_adjustments: medicare): the claim pricer's allowed covers both units
    assert v["explanation"].startswith(
        "100% of Medicare 2025 locality 13202-01 non-facility claim-level allowed $202.12 ["
    )
    assert (
        "= $101.06 per unit; 2 x $101.06 = $202.12] = $202.12; actual allowed $150.00; underpaid $52.12"
        in v["explanation"]
    )
    assert v["step_base"] == v["step_units"] == D("202.12") and v["medicare_unit_amount"] == D("101.06")


def test_terms_can_price_facility_and_office_separately(wh, tmp_path):
    folder = contract(
        tmp_path,
        '  - codes: ["99213"]\n    setting: facility\n    rate: 70\n'
        '  - codes: ["99213"]\n    setting: non-facility\n    rate: 100\n',
    )
    office = wh.line(wh.claim(wh.payment(), pos="11"), "99213", 300)
    asc = wh.line(wh.claim(wh.payment(), pos="24"), "99213", 300)
    run(wh, folder)
    assert variance(wh.con, office)["expected_allowed"] == D("100.00")
    assert variance(wh.con, asc)["expected_allowed"] == D("70.00")


def test_cli_compare_prints_the_result_and_exports(wh, tmp_path):
    import os

    from click.testing import CliRunner

    from pipelines.cli.main import main

    folder = contract(tmp_path, '  - codes: ["*"]\n    rate: 100\n')
    wh.line(wh.claim(wh.payment()), "99213", 200, adj=[("CO", "45", 110)])
    db = wh.con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    wh.con.close()
    out = tmp_path / "v.csv"
    res = CliRunner().invoke(
        main, ["compare", "--db", db, "--contracts", str(folder), "--month", "2025-03", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "compared 1 service lines for 2025-03 against 1 contract(s)" in res.output
    assert "underpaid 1" in res.output and f"exported to {out}" in res.output
    assert os.stat(out).st_mode & 0o777 == 0o600
    bad = CliRunner().invoke(main, ["compare", "--db", db, "--contracts", str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "no contracts folder here" in bad.output
    wh.con = __import__("pipelines.core.warehouse", fromlist=["connect"]).connect(db)  # for the fixture's close()
