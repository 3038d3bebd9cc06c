"""`underpay worklist list|show|set|export|import` end to end through the CLI (click's CliRunner on the real
`underpay` group), on the recovery scenario's warehouse (tests/worklist/test_exchange.py builds it)."""

from __future__ import annotations

import shutil
import stat
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner

from pipelines.cli.main import main
from tests.worklist.test_exchange import build_worklist, column, row_of


@pytest.fixture(scope="module")
def worklist_template(tmp_path_factory, mpfs_template) -> Path:
    return build_worklist(tmp_path_factory.mktemp("worklist_cli"), mpfs_template)


@pytest.fixture()
def db(worklist_template, tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(worklist_template, path)
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["worklist", *args], catch_exceptions=False)


def query(db: Path, sql: str, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def case_of(db: Path, pcn: str) -> int:
    return query(db, "SELECT case_id FROM worklist_claims WHERE patient_control_number = ?", [pcn])[0][0]


def test_list_open_cases_sorted_and_filtered(db):
    res = run("list", "--db", str(db))
    assert res.exit_code == 0, res.output
    body = res.output.splitlines()
    assert body[0].split()[:3] == ["case", "payer", "patient"]
    pcns = [ln.split()[2] for ln in body[2:-1]]
    # open cases only (PCN001, 002, 007 were recovered), nearest appeal deadline first
    assert pcns == ["PCN004", "PCN006", "PCN005", "PCN003"]
    assert body[-1].startswith("4 case(s), ") and "at stake" in body[-1]

    every = run("list", "--all", "--db", str(db))
    assert every.exit_code == 0 and every.output.splitlines()[-1].startswith("7 case(s)")
    assert "PCN001" in every.output and "PCN001" not in res.output

    none = run("list", "--status", "submitted", "--db", str(db))
    assert none.exit_code == 0 and "no case matches" in none.output


def test_list_empty_worklist_says_what_to_run(mpfs_db):
    res = run("list", "--db", str(mpfs_db))
    assert res.exit_code == 0
    assert "no open cases" in res.output and "underpay compare" in res.output


def test_show_case(db):
    c4 = case_of(db, "PCN004")
    res = run("show", str(c4), "--db", str(db))
    assert res.exit_code == 0, res.output
    assert "PCN004" in res.output and "ICN4" in res.output
    lines = res.output.split("\nlines\n")[1].split("\nevents\n")
    assert "C4-1" in lines[0] and "underpaid" in lines[0] and "100.00" in lines[0]  # expected 100, allowed 90
    assert "system" in lines[1] and "detected" in lines[1]

    missing = run("show", "99999", "--db", str(db))
    assert missing.exit_code == 2 and "Error: no case 99999" in missing.stderr


def test_set_prints_changes_and_records_events(db):
    c4 = case_of(db, "PCN004")
    res = run("set", str(c4), "--status", "in_review", "--assignee", "dana", "--due", "2025-04-01",
              "--note", "=SUM(A1)", "--write-off", "C4-1", "--by", "dana", "--db", str(db))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "workflow_status: 'detected' -> 'in_review'" in res.output
    assert "due_date: (none) -> 2025-04-01" in res.output
    assert "line C4-1 payment_status: 'underpaid' -> 'written_off'" in res.output
    got = query(db, "SELECT workflow_status, assignee, due_date, note, version FROM worklist_claims WHERE case_id = ?",
                [c4])[0]  # fmt: skip
    assert got[:4] == ("in_review", "dana", date(2025, 4, 1), "=SUM(A1)")
    actors = query(db, "SELECT DISTINCT actor FROM worklist_events WHERE case_id = ? AND actor <> 'system'", [c4])
    assert actors == [("dana",)]

    same = run("set", str(c4), "--status", "in_review", "--by", "dana", "--db", str(db))
    assert same.exit_code == 0 and "nothing changed" in same.output
    cleared = run("set", str(c4), "--due", "none", "--assignee", "", "--by", "dana", "--db", str(db))
    assert cleared.exit_code == 0 and "assignee: 'dana' -> (none)" in cleared.output

    bad = run("set", str(c4), "--status", "Not A Status!", "--by", "dana", "--db", str(db))
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: case ") and "status" in bad.stderr
    nothing = run("set", str(c4), "--by", "dana", "--db", str(db))
    assert nothing.exit_code == 2 and "nothing to set" in nothing.stderr
    bad_date = run("set", str(c4), "--due", "2025-02-30", "--by", "dana", "--db", str(db))
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr
    no_line = run("set", str(c4), "--write-off", "NOPE", "--by", "dana", "--db", str(db))
    assert no_line.exit_code == 2 and "Error: no line 'NOPE'" in no_line.stderr


def test_export_edit_import_round_trip(db, tmp_path):
    out = tmp_path / "out" / "worklist.xlsx"
    res = run("export", str(out), "--db", str(db))
    assert res.exit_code == 0, res.output
    assert "exported 4 case(s)" in res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    same = run("import", str(out), "--by", "dana", "--db", str(db))
    assert same.exit_code == 0, same.output
    assert "0 case(s) changed, 0 conflict(s), 4 unchanged" in same.output

    c3, c5 = case_of(db, "PCN003"), case_of(db, "PCN005")
    wb = openpyxl.load_workbook(out)
    ws = wb["cases"]
    ws.cell(row_of(ws, c3), column("workflow_status")).value = "submitted"
    ws.cell(row_of(ws, c5), column("assignee")).value = "dana"
    wb.save(out)
    # someone edits case 5 after the export
    assert run("set", str(c5), "--assignee", "lee", "--by", "lee", "--db", str(db)).exit_code == 0

    dry = run("import", str(out), "--by", "dana", "--dry-run", "--db", str(db))
    assert dry.exit_code == 1 and "1 case(s) would change, 1 conflict(s)" in dry.output
    assert query(db, "SELECT workflow_status FROM worklist_claims WHERE case_id = ?", [c3]) == [("detected",)]

    res = run("import", str(out), "--by", "dana", "--db", str(db))
    assert res.exit_code == 1, res.output  # a conflict: the rest was done
    assert "1 case(s) changed, 1 conflict(s), 2 unchanged" in res.output
    assert f"conflict: case {c5} (PCN005" in res.output and "sheet 'dana', warehouse now 'lee'" in res.output
    assert query(db, "SELECT workflow_status FROM worklist_claims WHERE case_id = ?", [c3]) == [("submitted",)]
    assert query(db, "SELECT assignee FROM worklist_claims WHERE case_id = ?", [c5]) == [("lee",)]


def test_import_bad_file_is_one_error_line_and_exit_2(db, tmp_path):
    out = tmp_path / "worklist.xlsx"
    assert run("export", str(out), "--db", str(db)).exit_code == 0
    wb = openpyxl.load_workbook(out)
    ws = wb["cases"]
    ws.cell(2, column("note")).value = "applied only if the whole file is good"
    ws.cell(3, column("due_date")).value = "2025-02-30"
    wb.save(out)
    before = query(db, "SELECT case_id, version, note, due_date FROM worklist_claims ORDER BY 1")
    res = run("import", str(out), "--by", "dana", "--db", str(db))
    assert res.exit_code == 2
    assert res.stdout == ""
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"Error: {out}, row 3, column 'due_date': not a date")
    assert "nothing was changed" in err[0].lower()
    assert query(db, "SELECT case_id, version, note, due_date FROM worklist_claims ORDER BY 1") == before

    text = tmp_path / "notes.xlsx"
    text.write_text("not a workbook")
    res = run("import", str(text), "--by", "dana", "--db", str(db))
    assert res.exit_code == 2 and "not a worklist export" in res.stderr


def test_write_commands_never_create_a_warehouse(tmp_path):
    missing = tmp_path / "none.duckdb"
    res = run("set", "1", "--status", "closed", "--by", "dana", "--db", str(missing))
    assert res.exit_code == 2 and "no warehouse here" in res.stderr and not missing.exists()
    res = run("list", "--db", str(missing))
    assert res.exit_code == 2 and "no warehouse here" in res.stderr and not missing.exists()
