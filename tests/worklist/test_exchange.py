"""The worklist's XLSX round trip (pipelines.worklist.exchange): export, edit in a spreadsheet, import.

The warehouse is the recovery scenario's (tests/worklist/test_recovery.py: two months of invented 835s run
through `underpay nightly`), built once per module and copied for each test. Edits are made with openpyxl,
as a person's spreadsheet would save them.
"""

from __future__ import annotations

import shutil
import stat
from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.core.config import Settings
from pipelines.core.errors import InputFileError, UnderpayError
from pipelines.runs.nightly import run_nightly
from pipelines.worklist.cases import set_case
from pipelines.worklist.exchange import (
    CASE_COLUMNS,
    HEADERS,
    case_detail,
    edit_case,
    export_worklist,
    import_worklist,
    list_cases,
)
from tests.worklist.test_recovery import CONTRACT, RULES, month1, month2


def build_worklist(folder: Path, mpfs_template: Path) -> Path:
    """A warehouse with cases: January flags 7 claims, February recovers 3 of them (PCN001, 002, 007)."""
    for name in ("inbox", "archive", "quarantine", "reports", "contracts"):
        (folder / name).mkdir()
    (folder / "contracts" / "acme.yaml").write_text(CONTRACT)
    (folder / "contracts" / "appeal_rules.yaml").write_text(RULES)
    db = folder / "warehouse.duckdb"
    shutil.copy(mpfs_template, db)
    site = Settings(warehouse=db, inbox=folder / "inbox", archive=folder / "archive",
                    quarantine=folder / "quarantine", contracts=folder / "contracts",
                    reports=folder / "reports", practice_zip="10001", settle_seconds=0)  # fmt: skip
    for month in (month1, month2):
        month(site.inbox)
        result = run_nightly(site)
        assert result.exit_code == 0, result.summary()
    return db


@pytest.fixture(scope="module")
def worklist_template(tmp_path_factory, mpfs_template) -> Path:
    return build_worklist(tmp_path_factory.mktemp("worklist"), mpfs_template)


@pytest.fixture()
def con(worklist_template, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(worklist_template, db)
    c = duckdb.connect(str(db))
    yield c
    c.close()


def case_of(con, pcn: str) -> int:
    return con.execute("SELECT case_id FROM worklist_claims WHERE patient_control_number = ?", [pcn]).fetchall()[0][0]


def snapshot(con):
    """Everything an import may write: the cases' people columns and versions, and the events."""
    cases = con.execute(
        "SELECT case_id, version, workflow_status, assignee, due_date, note FROM worklist_claims ORDER BY 1"
    ).fetchall()
    events = con.execute("SELECT count(*) FROM worklist_events").fetchall()
    return cases, events


def column(name: str) -> int:
    """1-based column of a header, as openpyxl counts."""
    return HEADERS.index(name) + 1


def row_of(ws, case_id: int) -> int:
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 1).value == case_id:
            return r
    raise AssertionError(f"case {case_id} not in the sheet")


def edit(path: Path, edits: dict[int, dict]) -> None:
    """Edit the exported workbook as a person would: {case_id: {header: value}}; text stays text."""
    wb = openpyxl.load_workbook(path)
    ws = wb["cases"]
    for case_id, values in edits.items():
        r = row_of(ws, case_id)
        for header, value in values.items():
            cell = ws.cell(r, column(header))
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # typed into a text cell: a string, even when it starts with "="
    wb.save(path)


# ------------------------------------------------------------------------------------------------ export


def test_export_layout(con, tmp_path):
    set_case(con, case_of(con, "PCN003"), actor="lee", workflow_status="waiting-payer")  # a custom status
    out = tmp_path / "sub" / "worklist.xlsx"
    result = export_worklist(con, out)

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    open_cases = con.execute(
        "SELECT count(*) FROM worklist_claims WHERE open_lines > 0 AND workflow_status <> 'closed'"
    ).fetchall()[0][0]
    assert result.cases == open_cases == 4  # PCN001, 002, 007 were recovered in February
    assert result.statuses == ("detected", "in_review", "submitted", "closed", "waiting-payer")

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["cases", "lines"]
    ws = wb["cases"]
    assert [c.value for c in ws[1]] == list(HEADERS)
    assert ws.freeze_panes == "B2"
    assert ws.max_row == 1 + 4
    # sorted by appeal deadline, then money at stake
    deadlines = [ws.cell(r, column("appeal_deadline")).value for r in range(2, 6)]
    assert deadlines == sorted(deadlines)
    # read-only columns grey, editable white
    for j, col in enumerate(CASE_COLUMNS, start=1):
        fill = ws.cell(2, j).fill.fgColor.rgb
        assert (fill == "FFEDEDED") is (not col.editable), col.header
        assert ws.cell(2, j).protection.locked is (not col.editable), col.header
    # the status drop-down lists the known statuses, the custom one too; due_date is checked as a date
    kinds = {dv.type: dv for dv in ws.data_validations.dataValidation}
    assert kinds["list"].formula1 == '"detected,in_review,submitted,closed,waiting-payer"'
    assert str(kinds["list"].sqref) == "K2:K5"
    assert str(kinds["date"].sqref) == "M2:M5"
    assert ws.column_dimensions["N"].width > ws.column_dimensions["A"].width  # the note column is wide
    first = {h: ws.cell(2, column(h)).value for h in HEADERS}
    case = con.execute(
        "SELECT amount_at_stake, version, patient_control_number FROM worklist_claims WHERE case_id = ?",
        [first["case_id"]],
    ).fetchall()[0]
    assert (first["amount_at_stake"], first["version"], first["patient_control_number"]) == (
        float(case[0]),
        case[1],
        case[2],
    )
    assert ws.cell(2, column("patient_control_number")).data_type == "s"
    lines = wb["lines"]
    assert lines.max_row == 1 + result.lines and result.lines == 4


def test_a_long_status_list_goes_to_a_hidden_sheet(con, tmp_path):
    ids = [r[0] for r in con.execute("SELECT case_id FROM worklist_claims ORDER BY 1").fetchall()]
    custom = [f"waiting-on-{'x' * 27}{i}" for i in range(len(ids))]  # 39 characters each: over Excel's 255
    for case_id, status in zip(ids, custom):
        set_case(con, case_id, actor="lee", workflow_status=status)
    out = tmp_path / "w.xlsx"
    result = export_worklist(con, out, include_closed=True)
    assert result.statuses[4:] == tuple(sorted(custom))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["cases", "lines", "statuses"] and wb["statuses"].sheet_state == "hidden"
    (dv,) = [dv for dv in wb["cases"].data_validations.dataValidation if dv.type == "list"]
    assert dv.formula1 == f"statuses!$A$1:$A${len(result.statuses)}"
    assert [r[0] for r in wb["statuses"].iter_rows(values_only=True)] == list(result.statuses)
    assert import_worklist(con, out, "dana").unchanged == len(ids)


def test_export_all_includes_closed_and_recovered(con, tmp_path):
    set_case(con, case_of(con, "PCN004"), actor="lee", workflow_status="closed")
    assert export_worklist(con, tmp_path / "open.xlsx").cases == 3
    assert export_worklist(con, tmp_path / "all.xlsx", include_closed=True).cases == 7


def test_export_refuses_other_suffix(con, tmp_path):
    with pytest.raises(UnderpayError, match=r"\.xlsx"):
        export_worklist(con, tmp_path / "worklist.csv")


# ------------------------------------------------------------------------------------------------ import


def test_export_then_import_unchanged_changes_nothing(con, tmp_path):
    out = tmp_path / "w.xlsx"
    export_worklist(con, out, include_closed=True)
    before = snapshot(con)
    result = import_worklist(con, out, "dana")
    assert (len(result.changed), len(result.conflicts), result.unchanged) == (0, 0, 7)
    assert snapshot(con) == before
    assert "0 case(s) changed, 0 conflict(s), 7 unchanged" in result.summary()


def test_edits_are_applied_with_events_and_version(con, tmp_path):
    c3, c4 = case_of(con, "PCN003"), case_of(con, "PCN004")
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    v3, v4 = (
        con.execute("SELECT version FROM worklist_claims WHERE case_id = ?", [c]).fetchall()[0][0] for c in (c3, c4)
    )
    edit(out, {
        c3: {"workflow_status": "In_Review", "assignee": " dana ", "due_date": datetime(2025, 4, 1), "note": "called"},
        c4: {"due_date": "2025-05-02"},  # typed as text: still a date
    })  # fmt: skip
    result = import_worklist(con, out, "dana")
    assert sorted(c.case_id for c in result.changed) == sorted([c3, c4]) and result.conflicts == []
    assert result.unchanged == 2

    got = con.execute(
        "SELECT workflow_status, assignee, due_date, note, version FROM worklist_claims WHERE case_id = ?", [c3]
    ).fetchall()[0]
    assert got == ("in_review", "dana", date(2025, 4, 1), "called", v3 + 1)
    got4 = con.execute("SELECT due_date, version FROM worklist_claims WHERE case_id = ?", [c4]).fetchall()[0]
    assert got4 == (date(2025, 5, 2), v4 + 1)
    events = con.execute(
        "SELECT kind, actor, old_value, new_value FROM worklist_events WHERE case_id = ? AND actor <> 'system' "
        "ORDER BY kind",
        [c3],
    ).fetchall()
    assert events == [
        ("assignee", "dana", None, "dana"),
        ("due_date", "dana", None, "2025-04-01"),
        ("note", "dana", None, "called"),
        ("workflow_status", "dana", "detected", "in_review"),
    ]
    # importing the same file again: nothing left to change
    again = import_worklist(con, out, "dana")
    assert again.changed == [] and again.unchanged == 4


def test_clearing_a_value(con, tmp_path):
    c4 = case_of(con, "PCN004")
    set_case(con, c4, actor="lee", assignee="lee", note="old")
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    edit(out, {c4: {"assignee": None, "note": None}})
    result = import_worklist(con, out, "dana")
    assert [c.changes for c in result.changed] == [{"assignee": ("lee", None), "note": ("old", None)}]
    assert con.execute("SELECT assignee, note FROM worklist_claims WHERE case_id = ?", [c4]).fetchall() == [
        (None, None)
    ]


def test_conflict_keeps_the_newer_value_and_applies_the_rest(con, tmp_path):
    c3, c4, c5 = case_of(con, "PCN003"), case_of(con, "PCN004"), case_of(con, "PCN005")
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    # after the export, someone edits cases 3 and 5 through the API
    set_case(con, c3, actor="lee", workflow_status="submitted")
    set_case(con, c5, actor="lee", assignee="lee")
    edit(out, {c3: {"workflow_status": "closed"}, c4: {"assignee": "dana"}})
    result = import_worklist(con, out, "dana")

    conflicts = {c.case_id: c for c in result.conflicts}
    assert set(conflicts) == {c3, c5}  # 5: the sheet still shows the old assignee; not written back either
    assert conflicts[c3].differences == {"workflow_status": ("closed", "submitted")}
    assert conflicts[c3].warehouse_version == conflicts[c3].sheet_version + 1
    assert conflicts[c5].differences == {"assignee": (None, "lee")}
    assert [c.case_id for c in result.changed] == [c4]
    people = {
        r[0]: r[1:] for r in con.execute("SELECT case_id, workflow_status, assignee FROM worklist_claims").fetchall()
    }
    assert people[c3] == ("submitted", None)  # the newer value stays
    assert people[c5] == ("detected", "lee")
    assert people[c4] == ("detected", "dana")  # the other row applied
    text = result.summary()
    assert "1 case(s) changed, 2 conflict(s), 1 unchanged" in text
    assert f"case {c3} (PCN003" in text and "sheet 'closed', warehouse now 'submitted'" in text


def test_dry_run_writes_nothing(con, tmp_path):
    c4 = case_of(con, "PCN004")
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    edit(out, {c4: {"workflow_status": "submitted"}})
    before = snapshot(con)
    result = import_worklist(con, out, "dana", dry_run=True)
    assert [c.case_id for c in result.changed] == [c4] and "would change" in result.summary()
    assert snapshot(con) == before


FORMULAS = ['=HYPERLINK("http://example.invalid","x")', "+1+2", "-3", "@SUM(A1)"]


def test_formula_looking_note_stays_text(con, tmp_path):
    c3, c4, c5, c6 = (case_of(con, p) for p in ("PCN003", "PCN004", "PCN005", "PCN006"))
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    edit(out, dict(zip((c3, c4, c5, c6), ({"note": f} for f in FORMULAS))))
    assert len(import_worklist(con, out, "dana").changed) == 4
    notes = dict(con.execute("SELECT case_id, note FROM worklist_claims").fetchall())
    assert [notes[c] for c in (c3, c4, c5, c6)] == FORMULAS  # literal text, nothing added or evaluated

    again = tmp_path / "again.xlsx"
    export_worklist(con, again)
    ws = openpyxl.load_workbook(again)["cases"]  # not data_only: a formula would show as data_type "f"
    for case_id, formula in zip((c3, c4, c5, c6), FORMULAS):
        cell = ws.cell(row_of(ws, case_id), column("note"))
        assert cell.data_type == "s" and cell.value == formula
        assert cell.quotePrefix  # Excel keeps it text when someone edits the cell
    assert import_worklist(con, again, "dana").changed == []  # the round trip is exact


def test_control_characters_and_escape_lookalikes_round_trip(con, tmp_path):
    c4 = case_of(con, "PCN004")
    note = "line one\nline two\ttab \x1b[31m _x0041_ done"
    set_case(con, c4, actor="lee", note=note, assignee="_x0041_")
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    result = import_worklist(con, out, "dana")
    assert result.changed == [] and result.conflicts == []
    assert con.execute("SELECT note, assignee FROM worklist_claims WHERE case_id = ?", [c4]).fetchall() == [
        (note, "_x0041_")
    ]


def _break(path: Path, how: str, tmp_path: Path) -> Path:
    """A file refused for one bad value; the breakage is on the second data row (row 3)."""
    if how == "not_xlsx":
        bad = tmp_path / "notes.xlsx"
        bad.write_text("case_id,version\n1,0\n")
        return bad
    if how == "other_workbook":  # a monthly report's XLSX
        from reports.exports import write_xlsx

        return write_xlsx({"worklist": pl.DataFrame({"claim": ["PCN003"], "owed": [1.5]})}, tmp_path / "m.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["cases"]
    if how == "status":
        ws.cell(3, column("workflow_status")).value = "Not A Status!"
    elif how == "impossible_date":
        ws.cell(3, column("due_date")).value = "2025-02-30"
    elif how == "words_date":
        ws.cell(3, column("due_date")).value = "next tuesday"
    elif how == "unknown_case":
        ws.cell(3, column("case_id")).value = 99999
    elif how == "no_header":
        ws.delete_rows(1)
    elif how == "renamed_header":
        ws.cell(1, column("workflow_status")).value = "status"
    elif how == "empty_status":
        ws.cell(3, column("workflow_status")).value = None
    elif how == "version_text":
        ws.cell(3, column("version")).value = "latest"
    ws.cell(2, column("note")).value = "this edit on row 2 must not be applied either"
    wb.save(path)
    return path


BAD = {  # how -> (row, column, words of the message)
    "status": (3, "workflow_status", "'Not A Status!'"),
    "impossible_date": (3, "due_date", "'2025-02-30'"),
    "words_date": (3, "due_date", "'next tuesday'"),
    "unknown_case": (3, "case_id", "no case 99999"),
    "no_header": (1, "case_id", "header row deleted"),
    "renamed_header": (1, "workflow_status", "found 'status'"),
    "empty_status": (3, "workflow_status", "an empty cell"),
    "version_text": (3, "version", "'latest'"),
    "not_xlsx": (None, None, "not a worklist export"),
    "other_workbook": (None, None, "no sheet 'cases'"),
}


@pytest.mark.parametrize("how", sorted(BAD))
def test_bad_file_is_refused_whole(con, tmp_path, how):
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    bad = _break(out, how, tmp_path)
    before = snapshot(con)
    with pytest.raises(InputFileError) as caught:
        import_worklist(con, bad, "dana")
    err = caught.value
    row, col, words = BAD[how]
    assert (err.row, err.column) == (row, col)
    assert str(bad) in str(err) and words in str(err) and "nothing was changed" in str(err).lower()
    if row is not None:
        assert f"row {row}, column {col!r}" in str(err)
    assert snapshot(con) == before


def test_missing_file(con, tmp_path):
    with pytest.raises(UnderpayError, match="no such file"):
        import_worklist(con, tmp_path / "nope.xlsx", "dana")


def test_import_needs_an_actor(con, tmp_path):
    out = tmp_path / "w.xlsx"
    export_worklist(con, out)
    with pytest.raises(UnderpayError, match="--by"):
        import_worklist(con, out, " ")


# ------------------------------------------------------------------------------------------------ list, show, edit


def test_list_show_and_edit(con):
    open_cases = list_cases(con)
    assert {c["patient_control_number"] for c in open_cases} == {"PCN003", "PCN004", "PCN005", "PCN006"}
    keys = [(c["appeal_deadline"], -c["amount_at_stake"]) for c in open_cases]
    assert keys == sorted(keys)
    assert len(list_cases(con, include_closed=True)) == 7
    assert list_cases(con, payer="acme1") == open_cases and list_cases(con, payer="OTHER") == []

    c4 = case_of(con, "PCN004")
    changes = edit_case(con, c4, actor="dana", workflow_status="in_review", due_date=date(2025, 4, 1),
                        write_offs=["C4-1"])  # fmt: skip
    assert [ch.describe() for ch in changes] == [
        "workflow_status: 'detected' -> 'in_review'",
        "due_date: (none) -> 2025-04-01",
        "line C4-1 payment_status: 'underpaid' -> 'written_off'",
    ]
    assert [c["case_id"] for c in list_cases(con, status="in_review")] == [c4]
    detail = case_detail(con, c4)
    assert [ln["payment_status"] for ln in detail.lines] == ["written_off"]
    assert [(e["actor"], e["kind"]) for e in detail.events][-3:] == [
        ("dana", "workflow_status"),
        ("dana", "due_date"),
        ("dana", "payment_status"),
    ]
    assert edit_case(con, c4, actor="dana", workflow_status="in_review", write_offs=["C4-1"]) == []
    with pytest.raises(UnderpayError, match="status"):
        edit_case(con, c4, actor="dana", workflow_status="Not A Status!")
    with pytest.raises(UnderpayError, match="no case 99999"):
        case_detail(con, 99999)
