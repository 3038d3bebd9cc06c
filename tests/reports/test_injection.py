"""Spreadsheet formula injection (issue 12, item 3): 835 text never becomes a live formula; and
(item 8) new report and export folders are created 0700, their files 0600, whatever the umask.

A real 835 whose patient control numbers, payer claim numbers and payer name start with `=`, `+`,
`-` or `@` is ingested, compared and reported; every CSV and XLSX the product writes (monthly
exports, the negotiation pack's exports, `export_variances`) is read back: no XLSX cell is a
formula, every such text starts with a single quote (OWASP's CSV-injection advice), and numbers,
negative amounts included, stay numbers.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.compare.compare import compare, export_variances
from pipelines.core.config import Settings
from pipelines.core.errors import UnderpayError
from pipelines.core.months import Month
from pipelines.core.spreadsheet import DANGEROUS_START, formula_safe, safe_text
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.runs.monthly import run_monthly
from reports.negotiate import negotiation_pack

FIXTURE = Path(__file__).resolve().parents[1] / "ingest" / "fixtures" / "good_5010.835"
MONTH = Month.parse("2025-01")

# What a hostile sender puts in free-text elements (no X12 delimiter among them).
PCN1, PCN2 = "=2+5", "+3-1"
ICN1, ICN2 = "@SUM(9)", "-4+1"
PAYER = "=HYPERLINK(1)"

CONTRACT = """\
name: Acme
payer: {ids: ["ACME1", "999999999", "1512345678"]}
payee_tins: ["123456789"]
effective: 2024-01-01
tolerance: {amount: 1.00, percent: 0.5}
terms:
  - codes: ["99213"]
    rate: 200.00
  - codes: ["85025"]
    rate: 20.00
  - codes: ["99214"]
    rate: 100.00
"""


def hostile_835() -> bytes:
    """good_5010.835 with hostile text in CLP01, CLP07 and N1*PR02 (structure unchanged)."""
    text = FIXTURE.read_text(encoding="ascii")
    for old, new in (
        ("CLP*PCN001*", f"CLP*{PCN1}*"),
        ("CLP*PCN002*", f"CLP*{PCN2}*"),
        ("*ICN0001*", f"*{ICN1}*"),
        ("*ICN0002*", f"*{ICN2}*"),
        ("N1*PR*ACME HEALTH", f"N1*PR*{PAYER}"),
        # the denied claim gets a service line, so it reaches the worklist
        ("CAS*CO*29*80.00~", "SVC*HC:99214*80.00*0.00**1~\nDTM*472*20250102~\nCAS*CO*29*80.00~"),
        ("SE*34*", "SE*36*"),
    ):
        assert old in text
        text = text.replace(old, new)
    return text.encode("ascii")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A warehouse holding the hostile 835, compared against a rate contract."""
    root = tmp_path_factory.mktemp("inject")
    (root / "inbox").mkdir()
    era = root / "inbox" / "hostile.835"
    era.write_bytes(hostile_835())
    (root / "contracts").mkdir()
    (root / "contracts" / "acme.yaml").write_text(CONTRACT, encoding="utf-8")
    db = root / "warehouse.duckdb"
    con = connect(db)
    try:
        result = ingest_paths([era], con)
        assert result.files[0].status == "loaded", result.files[0]
        compare(con, root / "contracts", settings=Settings())
        cats = set(con.execute("SELECT payer_claim_number, category FROM variances").fetchall())
        assert cats == {(ICN1, "underpaid"), (ICN1, "overpaid"), (ICN2, "denied")}, cats
    finally:
        con.close()
    return root


HOSTILE_TEXTS = (PCN1, PCN2, ICN1, ICN2, PAYER)


def _xlsx_cells(path: Path):
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def assert_xlsx_safe(path: Path, *, expect=HOSTILE_TEXTS) -> None:
    cells = list(_xlsx_cells(path))
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert not formulas, f"{path.name}: live formulas {formulas}"
    texts = [c.value for c in cells if isinstance(c.value, str)]
    for text in texts:
        assert not text.startswith(DANGEROUS_START), f"{path.name}: unescaped cell {text!r}"
    seen = [t for t in expect if any(v.startswith("'" + t) for v in texts)]
    assert seen, f"{path.name}: none of the hostile texts reached the workbook (test is not exercising it)"


def _number(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def assert_csv_safe(path: Path) -> list[dict]:
    """Every cell that starts like a formula is a plain number (-30.00), never text."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows:
        for key, value in row.items():
            if value.startswith(DANGEROUS_START):
                assert _number(value), f"{path.name} column {key}: unescaped {value!r}"
    return rows


def test_monthly_exports_hold_no_formula(site, tmp_path):
    for show_phi in (False, True):
        out = tmp_path / ("phi" if show_phi else "masked")
        result = run_monthly(
            site / "warehouse.duckdb",
            MONTH,
            contracts_dir=site / "contracts",
            reports_dir=out,
            show_phi=show_phi,
        )
        books = [p for p in result.exports if p.suffix == ".xlsx"]
        sheets = [p for p in result.exports if p.suffix == ".csv"]
        assert books and sheets
        for book in books:
            assert_xlsx_safe(book)
        worklist = next(p for p in sheets if p.name.startswith("worklist-"))
        rows = assert_csv_safe(worklist)
        assert {r["payer_claim_number"] for r in rows} >= {"'" + ICN1, "'" + ICN2}
        assert any(r["patient_control_number"] == "'" + PCN2 for r in rows)
        for path in sheets:
            assert_csv_safe(path)


def test_negotiation_exports_hold_no_formula(site, tmp_path):
    con = connect(site / "warehouse.duckdb")
    try:
        pack = negotiation_pack(con, "ACME1", out_dir=tmp_path / "pack", through=MONTH)
    finally:
        con.close()
    books = [p for p in pack.exports if p.suffix == ".xlsx"]
    assert books
    for book in books:
        assert_xlsx_safe(book, expect=(PAYER,))
    for path in pack.exports:
        if path.suffix == ".csv":
            assert_csv_safe(path)


def test_variance_exports_hold_no_formula_and_numbers_stay_numbers(site, tmp_path):
    con = connect(site / "warehouse.duckdb")
    try:
        book = export_variances(con, tmp_path / "v" / "variances.xlsx")
        sheet = export_variances(con, tmp_path / "v" / "variances.csv")
        parquet = export_variances(con, tmp_path / "v" / "variances.parquet")
        negative = con.execute("SELECT count(*) FROM variances WHERE variance < 0").fetchone()[0]
    finally:
        con.close()
    assert negative >= 1  # the overpaid line: its negative variance must stay a number
    assert_xlsx_safe(book)
    rows = assert_csv_safe(sheet)
    assert {r["payer_claim_number"] for r in rows} == {"'" + ICN1, "'" + ICN2}
    assert any(r["variance"].startswith("-") and Decimal(r["variance"]) < 0 for r in rows)
    # XLSX: amounts are numeric cells, a negative one included
    header = None
    numbers = []
    for row in openpyxl.load_workbook(book).active.iter_rows(values_only=True):
        if header is None:
            header = list(row)
            continue
        numbers.append(row[header.index("variance")])
    assert all(v is None or isinstance(v, (int, float)) for v in numbers)
    assert any(v is not None and v < 0 for v in numbers)
    # Parquet keeps the data as stored (not a spreadsheet format): the raw text, exactly
    stored = set(pl.read_parquet(parquet)["payer_claim_number"].to_list())
    assert stored == {ICN1, ICN2}
    for path in (book, sheet, parquet):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------- the one rule, on any text


@given(st.text(max_size=12), st.decimals(min_value=-(10**11), max_value=10**11, places=2))
def test_rule_prefixes_exactly_the_dangerous_texts(text, amount):
    frame = pl.DataFrame(
        {"t": [text, None], "n": [amount, None], "l": [[text], None]},
        schema={"t": pl.String, "n": pl.Decimal(14, 2), "l": pl.List(pl.String)},
    )
    out = formula_safe(frame)
    assert out.schema == frame.schema
    expected = "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    assert out["t"][0] == expected == safe_text(text)
    assert out["l"][0].to_list() == [expected]
    assert out["n"][0] == amount  # numbers are never touched
    assert out["t"][1] is None and out["n"][1] is None


# ---------------------------------------------------------------- item 8: private folders and files


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_new_report_folders_are_0700_and_files_0600(site, tmp_path, umask):
    old = os.umask(umask)
    try:
        reports = tmp_path / "new" / "reports"
        result = run_monthly(site / "warehouse.duckdb", MONTH, contracts_dir=site / "contracts", reports_dir=reports)
        con = connect(site / "warehouse.duckdb")
        try:
            pack = negotiation_pack(con, "ACME1", out_dir=tmp_path / "packs" / "acme", through=MONTH)
            export = export_variances(con, tmp_path / "exports" / "deep" / "variances.csv")
        finally:
            con.close()
    finally:
        os.umask(old)
    for folder in (
        tmp_path / "new",
        reports,
        reports / MONTH.label,
        tmp_path / "packs",
        tmp_path / "packs" / "acme",
        tmp_path / "exports",
        tmp_path / "exports" / "deep",
    ):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in [result.report, *result.exports, pack.html, *pack.exports, export]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_existing_report_folder_keeps_its_mode(site, tmp_path):
    reports = tmp_path / "shared-reports"
    reports.mkdir(mode=0o750)
    reports.chmod(0o750)
    run_monthly(site / "warehouse.duckdb", MONTH, contracts_dir=site / "contracts", reports_dir=reports)
    assert stat.S_IMODE(reports.stat().st_mode) == 0o750
    assert stat.S_IMODE((reports / MONTH.label).stat().st_mode) == 0o700


def test_an_output_folder_under_a_file_is_one_error(site, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x", encoding="utf-8")
    con = connect(site / "warehouse.duckdb")
    try:
        with pytest.raises(UnderpayError, match="is a file, not a folder"):
            export_variances(con, blocker / "sub" / "variances.csv")
    finally:
        con.close()
