"""Extreme amounts and invalid dates (issue 12, items 2 and 5): one absurd figure never breaks the
comparison of the whole warehouse, and undated remittances are never silently absent.

Amounts: a $10M allowed on a 99213, a $100M charge and the DDL's largest amount (999999999999.99)
load, then compare, run and rerun without an overflow; such a line is left not priced as a data
quality problem (from its amounts, whatever ingest recorded), counts in no underpayment total and is
listed in the monthly review's data-quality section, while the other lines are compared as usual.
Any amount or unit count the warehouse can hold computes (property test). Dates: a payment whose
BPR16 is not a date, and lines whose service dates are not dates, are shown in the data-quality
section. The fee schedule is the tests' own small release (tests/tiny_mpfs.py), so no ../shared.
"""

from __future__ import annotations

import importlib.util
import pathlib
import shutil
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipelines.compare.compare import VarianceRows, compare
from pipelines.core.config import Settings
from pipelines.core.money import LINE_AMOUNT_CEILING
from pipelines.core.months import Month
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.runs.monthly import run_monthly

HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location("cmp_conftest_extremes", HERE / "conftest.py")
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
Builder, write_contract = _helpers.Builder, _helpers.write_contract

FIXTURE = HERE.parent / "ingest" / "fixtures" / "good_5010.835"
DDL_MAX = D("999999999999.99")  # the largest DECIMAL(14,2)
EXTREMES = (D("10000000.00"), D("100000000.00"), DDL_MAX)
JANUARY = Month.parse("2025-01")

CONTRACT = """\
name: Acme
payer: {ids: ["ACME1"]}
payee_tins: ["123456789"]
effective: 2024-01-01
medicare: {zip: "10001"}
lesser_of_charges: true
tolerance: {amount: 1.00, percent: 0.5}
terms:
  - codes: ["20553"]
    rate: 118.00
  - codes: ["85025"]
    percent_of_charges: 60
  - codes: ["*"]
    percent_of_medicare: 125
"""


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory) -> pathlib.Path:
    from tests.tiny_mpfs import build_warehouse

    folder = tmp_path_factory.mktemp("tiny-mpfs-extremes")
    return build_warehouse(folder / "mpfs.duckdb", folder / "cms")


@pytest.fixture()
def site(tiny_template, tmp_path):
    """A warehouse with the tiny release, and a contracts folder."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_template, db)
    write_contract(tmp_path / "contracts", "acme.yaml", CONTRACT)
    return tmp_path


def _compare(con, folder, **kw):
    result = compare(con, folder, settings=Settings(), **kw)
    VarianceRows.validate(con.sql("SELECT * FROM variances").pl(), lazy=True)  # the table's invariants
    return result


def _row(con, line_id) -> dict:
    cur = con.execute("SELECT * FROM variances WHERE line_id = ?", [line_id])
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, f"no variances row for line {line_id}"
    return dict(zip(names, rows[0]))


def _assert_data_quality(row: dict) -> None:
    assert row["category"] == "not_priced"
    assert row["not_priced_reason"].startswith("data quality: implausible amount")
    assert "check the 835 line" in row["not_priced_reason"]
    assert "implausible amount" in row["explanation"] and "check the 835 line" in row["explanation"]
    assert row["expected_allowed"] is None and row["variance"] is None and row["percent_of_medicare"] is None


# ---------------------------------------------------------------- rows written directly


@pytest.mark.parametrize("field", ["allowed", "charge", "paid"])
@pytest.mark.parametrize("amount", EXTREMES, ids=str)
def test_one_extreme_amount_leaves_the_rest_compared(site, field, amount):
    con = connect(site / "warehouse.duckdb")
    try:
        b = Builder(con)
        claim = b.claim(b.payment(paid_on=date(2025, 1, 10)))
        if field == "allowed":
            odd = b.line(claim, "99213", 150, allowed=amount)
        elif field == "charge":
            odd = b.line(claim, "99213", amount, allowed=D("80.00"), adj=[("CO", "45", amount - D("80.00"))])
        else:
            odd = b.line(claim, "99213", 150, allowed=D("80.00"))
            con.execute("UPDATE service_lines SET paid = ? WHERE line_id = ?", [amount, odd])
        fine = b.line(claim, "20553", 300, allowed=D("100.00"), adj=[("CO", "45", 200)])
        result = _compare(con, site / "contracts")
        _assert_data_quality(_row(con, odd))
        assert cmp_amount_named(_row(con, odd), field, amount)
        ok = _row(con, fine)
        assert (ok["category"], ok["expected_allowed"], ok["variance"]) == ("underpaid", D("118.00"), D("18.00"))
        assert result.underpaid_total == D("18.00") and result.by_category["not_priced"] == 1
        assert result.expected_total == D("118.00")  # the absurd line counts in no total
        # a month's compare (what the nightly run does) and a rerun work as well
        _compare(con, site / "contracts", month=JANUARY)
        _compare(con, site / "contracts", month=JANUARY)
        _assert_data_quality(_row(con, odd))
    finally:
        con.close()


def cmp_amount_named(row: dict, field: str, amount: D) -> bool:
    """The explanation names which amount is implausible, and the amount itself."""
    label = {"allowed": "allowed (AMT*B6)", "charge": "charge (SVC02)", "paid": "paid (SVC03)"}[field]
    return f"{label} ${amount}" in row["explanation"]


def test_absurd_units_compute_and_an_absurd_expected_amount_is_not_priced(site):
    con = connect(site / "warehouse.duckdb")
    try:
        b = Builder(con)
        claim = b.claim(b.payment(paid_on=date(2025, 1, 10)))
        odd = b.line(claim, "20553", 300, allowed=D("100.00"), units=D("999999999.999"))
        _compare(con, site / "contracts")
        row = _row(con, odd)  # lesser of charges: the $300.00 charge bounds the expected amount
        assert (row["category"], row["expected_allowed"], row["step_lesser_of"]) == (
            "underpaid",
            D("300.00"),
            D("300.00"),
        )
        # without lesser-of, $118.00 x 999,999,999.999 units is no believable expected amount
        write_contract(
            site / "no-lesser", "acme.yaml", CONTRACT.replace("lesser_of_charges: true", "lesser_of_charges: false")
        )
        _compare(con, site / "no-lesser")
        row = _row(con, odd)
        _assert_data_quality(row)
        assert "expected allowed $117999999999.88 (999999999.999 units)" in row["explanation"]
    finally:
        con.close()


MONEY = st.decimals(min_value=-DDL_MAX, max_value=DDL_MAX, places=2, allow_nan=False, allow_infinity=False)
SMALL = st.decimals(min_value=D("0.01"), max_value=D("5000.00"), places=2)
UNITS = st.decimals(min_value=D("0.001"), max_value=D("999999999.999"), places=3)


@hsettings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    code=st.sampled_from(["99213", "20553", "85025"]),
    charge=st.one_of(SMALL, MONEY),
    allowed=st.one_of(st.none(), SMALL, MONEY),
    paid=st.one_of(SMALL, MONEY),
    units=st.one_of(st.just(D("1")), UNITS),
    adjustment=st.one_of(SMALL, MONEY),
)
def test_any_amount_the_warehouse_holds_computes(site, code, charge, allowed, paid, units, adjustment):
    con = connect(site / "warehouse.duckdb")
    try:
        for table in ("adjustments", "service_lines", "claims", "payments", "variances"):
            con.execute(f"DELETE FROM {table}")
        b = Builder(con)
        claim = b.claim(b.payment(paid_on=date(2025, 1, 10)))
        line = b.line(claim, code, charge, allowed=allowed, units=units)
        con.execute("UPDATE service_lines SET paid = ? WHERE line_id = ?", [paid, line])
        con.execute(
            """INSERT INTO adjustments (file_id, payment_id, claim_id, line_id, segment_number, triplet_index,
                   group_code, reason_code, amount)
               SELECT file_id, payment_id, claim_id, line_id, segment_number + 1, 1, 'CO', '45', ?
               FROM service_lines WHERE line_id = ?""",
            [adjustment, line],
        )
        fine = b.line(claim, "20553", 300, allowed=D("100.00"), adj=[("CO", "45", 200)])
        _compare(con, site / "contracts")
        row, ok = _row(con, line), _row(con, fine)
        assert ok["category"] == "underpaid" and ok["variance"] == D("18.00")
        actual = allowed if allowed is not None else charge - adjustment
        absurd = any(abs(x) >= LINE_AMOUNT_CEILING for x in (charge, paid, actual))
        if absurd:
            _assert_data_quality(row)
        if row["category"] in ("underpaid", "overpaid", "correct"):
            assert not absurd and abs(row["expected_allowed"]) < LINE_AMOUNT_CEILING
    finally:
        con.close()


# ---------------------------------------------------------------- real 835 bytes, end to end


def _era(replacements: dict[str, str]) -> bytes:
    text = FIXTURE.read_text(encoding="ascii")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text.encode("ascii")


@pytest.mark.parametrize("field", ["AMT*B6*180.00", "SVC*HC:99213:25*200.00"], ids=["allowed", "charge"])
@pytest.mark.parametrize("amount", EXTREMES, ids=str)
def test_extreme_835_line_runs_month_after_month(site, amount, field):
    era = site / "inbox" / "big.835"
    era.parent.mkdir()
    # the first line's allowed (AMT*B6) or charge (SVC02) is absurd; the second line (85025) is ordinary
    era.write_bytes(_era({field: field.rsplit("*", 1)[0] + f"*{amount}"}))
    con = connect(site / "warehouse.duckdb")
    try:
        assert ingest_paths([era], con).files[0].status == "loaded"
    finally:
        con.close()
    for _ in range(2):  # the nightly reruns the month: it must keep working
        result = run_monthly(
            site / "warehouse.duckdb", JANUARY, contracts_dir=site / "contracts", reports_dir=site / "reports"
        )
    assert result.not_priced_lines == 1 and result.lines == 2
    html = result.report.read_text(encoding="utf-8")
    quality = html.split('<section id="data-quality">', 1)[1].split("</section>", 1)[0]
    assert "data quality: implausible amount" in quality
    con = connect(site / "warehouse.duckdb")
    try:
        rows = {
            r[0]: r[1:] for r in con.execute("SELECT procedure_code, category, explanation FROM variances").fetchall()
        }
    finally:
        con.close()
    assert rows["99213"][0] == "not_priced" and "(SVC at segment " in rows["99213"][1]
    assert rows["85025"][0] in ("underpaid", "overpaid", "correct")


# ---------------------------------------------------------------- invalid dates are shown


def test_undated_payment_and_undated_lines_are_shown_in_data_quality(site):
    inbox = site / "inbox"
    inbox.mkdir()
    # a payment whose BPR16 is no date; another whose lines' and claim's dates are no dates
    (inbox / "nodate.835").write_bytes(_era({"*DA*98765*20250110": "*DA*98765*20250231", "TRACE0001": "TRACE0009"}))
    (inbox / "badsvc.835").write_bytes(
        _era(
            {
                "DTM*472*20250102": "DTM*472*99999999",
                "DTM*232*20250102": "DTM*232*00000000",
                "DTM*233*20250102": "DTM*233*20251345",
                "000000101": "000000102",
            }
        )
    )
    con = connect(site / "warehouse.duckdb")
    try:
        outcomes = ingest_paths(sorted(inbox.iterdir()), con).files
        assert [o.status for o in outcomes] == ["loaded", "loaded"], outcomes
        undated = con.execute("SELECT count(*) FROM payments WHERE payment_date IS NULL").fetchone()[0]
        no_dos = con.execute("SELECT count(*) FROM service_lines WHERE service_date IS NULL").fetchone()[0]
        loaded = con.execute("SELECT max(loaded_at) FROM era_files").fetchone()[0]
    finally:
        con.close()
    assert undated == 1 and no_dos == 2
    # the undated payment appears in the review of the month its file arrived in ...
    arrived = Month.of(loaded.date())
    review = run_monthly(site / "warehouse.duckdb", arrived, contracts_dir=site / "contracts", reports_dir=site / "r")
    quality = _quality(review.report)
    assert "no valid payment date (BPR16)" in quality and "nodate.835" in quality
    # ... and the lines without a valid service date in the review of their payment month
    january = run_monthly(site / "warehouse.duckdb", JANUARY, contracts_dir=site / "contracts", reports_dir=site / "r")
    quality = _quality(january.report)
    assert "no valid service date" in quality and "badsvc.835" in quality


def _quality(report: pathlib.Path) -> str:
    html = report.read_text(encoding="utf-8")
    return html.split('<section id="data-quality">', 1)[1].split("</section>", 1)[0]
