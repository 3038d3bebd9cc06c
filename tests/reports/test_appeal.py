"""Appeal packets (reports.appeal, `underpay appeal`) over a warehouse with worklist cases.

The warehouse is tests/worklist/test_recovery.py's month 1 (invented 835s: Acme pays 99213 at $100.00 by
contract; seven claims underpaid or denied, PCN008 paid right) run through `underpay nightly`. Every figure a
letter must show is read back from the warehouse here and looked for in the HTML (and the PDF's text).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from markupsafe import escape

import reports.appeal as appeal
from pipelines.cli.main import main
from pipelines.core.config import Settings
from pipelines.core.errors import UnderpayError
from pipelines.runs.nightly import run_nightly
from pipelines.worklist.cases import set_case
from reports.appeal import write_appeals
from reports.meanings import meanings
from reports.render import file_mode, money
from tests.worklist.test_recovery import CONTRACT, RULES, month1

LETTER_DATE = date(2025, 2, 3)


@pytest.fixture(scope="module")
def warehouse(mpfs_template, tmp_path_factory) -> Path:
    """Month 1 of test_recovery through the nightly run; PCN001's case marked submitted by a person.
    (A module-scoped copy of the fee-schedule warehouse, as the mpfs_db fixture makes one per test.)"""
    root = tmp_path_factory.mktemp("appeal-site")
    for name in ("inbox", "archive", "quarantine", "reports", "contracts"):
        (root / name).mkdir()
    (root / "contracts" / "acme.yaml").write_text(CONTRACT)
    (root / "contracts" / "appeal_rules.yaml").write_text(RULES)
    db = root / "warehouse.duckdb"
    shutil.copy(mpfs_template, db)
    site = Settings(
        warehouse=db,
        inbox=root / "inbox",
        archive=root / "archive",
        quarantine=root / "quarantine",
        contracts=root / "contracts",
        reports=root / "reports",
        practice_zip="10001",
        settle_seconds=0,
    )
    month1(site.inbox)
    run = run_nightly(site)
    assert run.exit_code == 0, run.summary()
    con = duckdb.connect(str(db))
    try:
        set_case(con, case_of(con, "PCN001"), actor="dana", workflow_status="submitted")
    finally:
        con.close()
    return db


@pytest.fixture()
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


def case_of(con, pcn: str) -> int:
    return con.execute("SELECT case_id FROM worklist_claims WHERE patient_control_number = ?", [pcn]).fetchall()[0][0]


def facts(con, case_id: int) -> dict:
    """What the warehouse says of a case: its one line's contract term and derivation, owed, deadline."""
    cur = con.execute(
        """SELECT v.term, v.contract_file, v.term_line, v.explanation, v.carc_codes, w.amount_at_stake,
                  w.appeal_deadline, w.deadline_rule,
                  (SELECT sum(greatest(expected_allowed - current_allowed, 0)) FROM worklist_lines
                   WHERE case_id = w.case_id AND payment_status IN ('underpaid', 'denied', 'partially_recovered',
                                                                    'retracted')) AS open_owed
           FROM worklist_claims w JOIN worklist_lines l USING (case_id) JOIN variances v ON v.line_id = l.first_line_id
           WHERE w.case_id = ?""",
        [case_id],
    )
    (row,) = cur.fetchall()
    return dict(zip([d[0] for d in cur.description], row))


def shown(text) -> str:
    return str(escape(str(text)))


def keyed(html: str, key: str) -> list[str]:
    return re.findall(rf'data-key="{key}">([^<]*)<', html)


def test_case_letter_states_term_derivation_codes_owed_and_deadline(con, tmp_path):
    case = case_of(con, "PCN001")
    f = facts(con, case)
    result = write_appeals(con, tmp_path / "appeals", case_id=case, pdf=False, today=LETTER_DATE)
    assert result.html.name == f"appeal-ACME1-{case}.html" and result.pdf is None and result.cases == [case]
    assert file_mode(result.html) == 0o600 and file_mode(tmp_path / "appeals") == 0o700
    html = result.html.read_text()
    # the contract term that applies: its text, its file (name) and line
    assert shown(f["term"]) in html and f["term"].startswith("term 1: 99213 rate $100.00")
    assert f'file <span class="term-text">{Path(f["contract_file"]).name}</span>, line {f["term_line"]}' in html
    # how the contract amount is derived, and the CARC with its meaning
    assert shown(f["explanation"]) in html and "contract rate $100.00" in f["explanation"]
    assert f["carc_codes"] == ["CO-45"] and shown(meanings("carc")["45"]) in html and ">CO-45<" in html
    # the amount owed: the warehouse's, exact
    assert f["amount_at_stake"] == f["open_owed"] == result.total_owed
    assert keyed(html, "total-owed") == [money(f["amount_at_stake"])] == ["$20.00"]
    # the deadline and the rule it comes from; the letter's date
    assert keyed(html, "deadline") == [f["appeal_deadline"].isoformat()]
    assert shown(f["deadline_rule"]) in html and "Acme Health provider manual" in f["deadline_rule"]
    assert LETTER_DATE.isoformat() in html
    # the practice and payer from the remittance
    assert "MIDTOWN FAMILY MEDICINE" in html and "NPI 1234567893" in html and "TIN 123456789" in html
    assert "ACME HEALTH" in html and "PCN001" in html and "ICN1" in html


def test_pdf_is_printed_with_the_owed_figure(con, tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cdp import chromium_or_skip

    chromium_or_skip()
    case = case_of(con, "PCN002")  # the denied claim: CO-50
    f = facts(con, case)
    result = write_appeals(con, tmp_path, case_id=case, today=LETTER_DATE)
    html = result.html.read_text()
    assert shown(meanings("carc")["50"]) in html and keyed(html, "total-owed") == [money(f["amount_at_stake"])]
    assert result.pdf == tmp_path / f"appeal-ACME1-{case}.pdf" and file_mode(result.pdf) == 0o600
    assert result.pdf.read_bytes()[:4] == b"%PDF"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: the PDF's text is not checked")
    text = subprocess.run(
        ["pdftotext", "-layout", str(result.pdf), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert money(f["amount_at_stake"]) in text and "CO-50" in text and f["appeal_deadline"].isoformat() in text


def test_patient_masked_unless_show_phi(con, tmp_path):
    case = case_of(con, "PCN003")
    masked = write_appeals(con, tmp_path / "masked", case_id=case, pdf=False).html.read_text()
    assert "JANE" not in masked and "MEM001" not in masked and "J.D." in masked
    shown_phi = write_appeals(con, tmp_path / "phi", case_id=case, pdf=False, show_phi=True).html.read_text()
    assert "JANE DOE" in shown_phi and "MEM001" in shown_phi


def test_hostile_text_is_escaped(warehouse, tmp_path):
    db = tmp_path / "hostile.duckdb"
    shutil.copy(warehouse, db)
    c = duckdb.connect(str(db))
    try:
        case = case_of(c, "PCN004")
        c.execute(
            "UPDATE variances SET term = '<script>alert(1)</script>', explanation = '<img src=x onerror=alert(2)>' "
            "WHERE line_id IN (SELECT first_line_id FROM worklist_lines WHERE case_id = ?)",
            [case],
        )
        c.execute("UPDATE payments SET payee_name = '</title><script>alert(3)</script>'")
        set_case(c, case, actor="lee", note="<script>alert(4)</script>")
        html = write_appeals(c, tmp_path / "out", case_id=case, pdf=False).html.read_text()
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
        assert "&lt;/title&gt;&lt;script&gt;alert(3)" in html
        # a user's template gets the same escaping (and the note, which the packaged letter leaves out)
        mine = tmp_path / "mine.html.j2"
        mine.write_text(
            "<p>{{ letters[0].note }}</p><p>{{ letters[0].lines[0].term.term }}</p>"
            "<p>{{ letters[0].total_owed|money }}</p>"
        )
        out = write_appeals(c, tmp_path / "mine", case_id=case, pdf=False, template=mine).html.read_text()
        assert "<script" not in out and "&lt;script&gt;alert(4)&lt;/script&gt;" in out and "<p>$10.00</p>" in out
        mine.write_text("{{ letters[0].no_such_field }}")
        with pytest.raises(UnderpayError, match="no_such_field.*AppealContext"):
            write_appeals(c, tmp_path / "mine", case_id=case, pdf=False, template=mine)
    finally:
        c.close()


def test_payer_batch_holds_every_open_case_in_one_file(con, tmp_path):
    want = dict(
        con.execute(
            "SELECT case_id, amount_at_stake FROM worklist_claims "
            "WHERE payer_id = 'ACME1' AND open_lines > 0 AND workflow_status <> 'closed'"
        ).fetchall()
    )
    pcns = [r[0] for r in con.execute("SELECT patient_control_number FROM worklist_claims").fetchall()]
    assert len(want) == 7 and "PCN008" not in pcns  # PCN008 was paid right: no case
    out = tmp_path / "batch"
    result = write_appeals(con, out, payer="ACME1", pdf=False, today=LETTER_DATE)
    assert sorted(p.name for p in out.iterdir()) == ["appeal-ACME1-batch.html"]
    html = result.html.read_text()
    assert sorted(result.cases) == sorted(want) and html.count('<section class="letter"') == len(want)
    assert sorted(int(c) for c in re.findall(r'data-case="(\d+)"', html)) == sorted(want)
    for pcn in pcns:
        assert f">{pcn}<" in html
    assert result.total_owed == sum(want.values()) and keyed(html, "batch-owed") == [money(sum(want.values()))]
    assert keyed(html, "total-owed") and all(m in [money(v) for v in want.values()] for m in keyed(html, "total-owed"))
    # --status: only the cases a person marked submitted
    submitted = write_appeals(con, out, payer="ACME1", status="submitted", pdf=False)
    assert submitted.cases == [case_of(con, "PCN001")]
    assert submitted.html.read_text().count('<section class="letter"') == 1


def test_without_chromium_the_html_is_written_and_the_pdf_explained(con, tmp_path, monkeypatch):
    monkeypatch.setattr(appeal, "find_chromium", lambda: None)
    case = case_of(con, "PCN005")
    maybe = write_appeals(con, tmp_path, case_id=case, pdf=None)
    assert maybe.pdf is None and "make browser" in maybe.pdf_note and maybe.html.exists()
    assert not list(tmp_path.glob("*.pdf"))
    with pytest.raises(UnderpayError, match="make browser"):
        write_appeals(con, tmp_path / "required", case_id=case, pdf=True)
    assert (tmp_path / "required" / f"appeal-ACME1-{case}.html").exists()


def test_cli(warehouse, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["appeal", "--case", "999999", "--db", str(warehouse), "--out", str(tmp_path)])
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "no case 999999" in errors[0] and "underpay worklist list" in errors[0]
    res = runner.invoke(main, ["appeal", "--payer", "NOBODY", "--db", str(warehouse), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no worklist cases for payer 'NOBODY'" in res.output
    res = runner.invoke(main, ["appeal", "--payer", "ACME1", "--status", "in_review", "--db", str(warehouse)])
    assert res.exit_code == 2 and "with workflow status 'in_review'" in res.output
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        case = case_of(con, "PCN006")
    finally:
        con.close()
    res = runner.invoke(
        main, ["appeal", "--case", str(case), "--no-pdf", "--db", str(warehouse), "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert f"case {case}" in res.output and (tmp_path / f"appeal-ACME1-{case}.html").exists()
    assert not list(tmp_path.glob("*.pdf"))
