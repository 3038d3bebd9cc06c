"""The worklist read out and edited by people: list and show cases, edit one, and the XLSX round trip
(export, edit in a spreadsheet, import).

``list_cases(con, ...)``, ``case_detail(con, case_id)``, ``edit_case(con, case_id, actor=..., ...)``,
``export_worklist(con, path, *, include_closed=False) -> ExportResult`` and
``import_worklist(con, path, actor, *, dry_run=False) -> ImportResult``; ``underpay worklist ...`` is a thin
shell over them.

The exported workbook
---------------------
Sheet ``cases``: a header row (:data:`CASE_COLUMNS`, exactly these names in this order) and one row per case.
Grey columns are read-only: ``import`` ignores whatever is typed there, except ``case_id`` (which case the row
is) and ``version`` (the case's version when exported: an edit is applied only when nobody edited the case
since, else it is reported as a conflict). White columns are the ones people edit: ``workflow_status`` (a
drop-down of the known statuses; any one-word status is accepted), ``assignee``, ``due_date`` (a date) and
``note``. Sheet ``lines``: the cases' lines, read-only, for reference.

No text becomes a formula: every text cell is written with ``write_string`` in a workbook that never turns
strings into formulas or links (``pipelines.core.spreadsheet.XLSX_OPTIONS``), marked with Excel's own
quote prefix and text format, so a note of ``=HYPERLINK(...)`` shows as text and stays text when someone edits
the cell. Unlike the one-way exports (which put a ``'`` in front of such text), nothing is added to the value:
``import`` reads back the exact text. ``import`` reads cell values (openpyxl, ``data_only=True``) and never
evaluates anything.

``import`` checks every row before it writes anything, and refuses the whole file at the first bad value
(an ``InputFileError`` naming the file, the row as the spreadsheet numbers it, the column, what was expected).
Then, in one transaction, every row whose editable values differ from the warehouse is applied with
``set_case(..., expected_version=<the row's version>)``; a case edited since the export is left as the
warehouse has it and reported (:class:`Conflict`), and the other rows still apply.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.core.errors import ConfigError, InputFileError, UnderpayError, brief
from pipelines.core.logs import printable
from pipelines.core.outputs import make_private_dirs, private_open
from pipelines.core.paths import expand_paths
from pipelines.core.spreadsheet import xlsx_workbook
from pipelines.core.transactions import transaction
from pipelines.worklist.cases import (
    MAX_TEXT,
    PEOPLE_COLUMNS,
    WORKFLOW_STATUSES,
    EditConflict,
    check_status,
    set_case,
    write_off,
)

CASES_SHEET = "cases"
LINES_SHEET = "lines"
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # an XLSX that unpacks to more is not a worklist export (zip bomb guard)


@dataclass(frozen=True)
class Column:
    """One column of an exported sheet: its header (= the warehouse column it shows), its kind
    (int, text, date, month, money), its width, whether people edit it, and its header comment."""

    header: str
    kind: str
    width: int
    editable: bool = False
    comment: str = ""


READ_ONLY = "Read-only (grey): `underpay worklist import` ignores changes here."
CASE_COLUMNS = (
    Column("case_id", "int", 8, comment="Which case this row is. Do not edit."),
    Column(
        "version",
        "int",
        8,
        comment="Do not edit: the case's version when exported. A row is imported only when nobody edited "
        "the case since; otherwise it is reported as a conflict.",
    ),
    Column("payer_id", "text", 10, comment=READ_ONLY),
    Column("patient_control_number", "text", 22, comment=READ_ONLY),
    Column("payer_claim_number", "text", 20, comment=READ_ONLY),
    Column("first_detected_month", "month", 12, comment=READ_ONLY),
    Column("appeal_deadline", "date", 12, comment=READ_ONLY),
    Column("amount_at_stake", "money", 13, comment=READ_ONLY),
    Column("recovered_amount", "money", 13, comment=READ_ONLY),
    Column("open_lines", "int", 8, comment=READ_ONLY),
    Column(
        "workflow_status",
        "text",
        16,
        editable=True,
        comment="Edit: detected, in_review, submitted, closed, or another one-word status (letters, digits, _ or -).",
    ),
    Column("assignee", "text", 16, editable=True, comment="Edit: who works the case (empty: nobody)."),
    Column("due_date", "date", 12, editable=True, comment="Edit: a date, e.g. 2025-03-31 (empty: none)."),
    Column("note", "text", 60, editable=True, comment=f"Edit: free text, at most {MAX_TEXT} characters."),
)
LINE_COLUMNS = (
    Column("case_id", "int", 8),
    Column("patient_control_number", "text", 22),
    Column("line_key", "text", 24),
    Column("procedure_code", "text", 10),
    Column("modifiers", "text", 10),
    Column("service_date", "date", 12),
    Column("category", "text", 10),
    Column("expected_allowed", "money", 13),
    Column("original_allowed", "money", 13),
    Column("current_allowed", "money", 13),
    Column("recovered_amount", "money", 13),
    Column("payment_status", "text", 20),
    Column("recovered_on", "date", 12),
)
HEADERS = tuple(c.header for c in CASE_COLUMNS)
EDITABLE = tuple(c.header for c in CASE_COLUMNS if c.editable)
assert EDITABLE == PEOPLE_COLUMNS  # the sheet's editable columns are exactly what set_case sets

# The cases people see: one row per case, most urgent first (nearest appeal deadline, then most money).
# $all: every case; else the open ones (a line still owed, not closed by a person).
CASES_SQL = """
SELECT case_id, version, payer_id, payer_name, patient_control_number, payer_claim_number, first_detected_month,
       appeal_deadline, amount_at_stake, recovered_amount, open_lines, workflow_status, assignee, due_date, note
FROM worklist_claims
WHERE (CAST($all AS BOOLEAN) OR (open_lines > 0 AND workflow_status <> 'closed'))
  AND (CAST($status AS VARCHAR) IS NULL OR workflow_status = CAST($status AS VARCHAR))
  AND (CAST($payer AS VARCHAR) IS NULL OR upper(payer_id) = upper(CAST($payer AS VARCHAR)))
ORDER BY appeal_deadline NULLS LAST, amount_at_stake DESC, case_id
"""

# The lines of the cases CASES_SQL returns (same filter, same order), one row per case line.
LINES_SQL = """
SELECT l.case_id, c.patient_control_number, l.line_key, l.procedure_code,
       array_to_string(l.modifiers, ' ') AS modifiers, l.service_date, l.category, l.expected_allowed,
       l.original_allowed, l.current_allowed, l.recovered_amount, l.payment_status, l.recovered_on
FROM worklist_lines l JOIN worklist_claims c USING (case_id)
WHERE (CAST($all AS BOOLEAN) OR (c.open_lines > 0 AND c.workflow_status <> 'closed'))
ORDER BY c.appeal_deadline NULLS LAST, c.amount_at_stake DESC, l.case_id, l.line_key
"""

# One case in full (every column of worklist_claims).
CASE_SQL = "SELECT * FROM worklist_claims WHERE case_id = ?"

# A case's lines, one row each, in line key order.
CASE_LINES_SQL = """
SELECT line_key, procedure_code, array_to_string(modifiers, ' ') AS modifiers, service_date, category,
       expected_allowed, original_allowed, current_allowed, recovered_amount, payment_status, recovered_on
FROM worklist_lines WHERE case_id = ? ORDER BY line_key
"""

# A case's history, one row per event, oldest first.
CASE_EVENTS_SQL = """
SELECT event_at, actor, kind, line_key, old_value, new_value, detail
FROM worklist_events WHERE case_id = ? ORDER BY event_at, event_id
"""


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# ---------------------------------------------------------------------------------------------------- read


def list_cases(
    con: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    payer: str | None = None,
    include_closed: bool = False,
) -> list[dict]:
    """The cases (open ones unless ``include_closed``), one dict each (CASES_SQL's columns), nearest appeal
    deadline first, then the most money at stake."""
    params = {"all": include_closed, "status": status.strip().lower() if status else None, "payer": payer or None}
    return _dicts(con.execute(CASES_SQL, params))


@dataclass
class CaseDetail:
    case: dict  # every column of worklist_claims
    lines: list[dict] = field(default_factory=list)  # CASE_LINES_SQL's columns
    events: list[dict] = field(default_factory=list)  # CASE_EVENTS_SQL's columns


def case_detail(con: duckdb.DuckDBPyConnection, case_id: int) -> CaseDetail:
    """One case, its lines and its events; UnderpayError for an unknown case."""
    found = _dicts(con.execute(CASE_SQL, [case_id]))
    if not found:
        raise UnderpayError(f"no case {case_id} in the worklist; `underpay worklist list --all` shows every case")
    return CaseDetail(
        found[0], _dicts(con.execute(CASE_LINES_SQL, [case_id])), _dicts(con.execute(CASE_EVENTS_SQL, [case_id]))
    )


# ---------------------------------------------------------------------------------------------------- edit


@dataclass(frozen=True)
class Change:
    """One thing an edit changed: a case column (line_key None) or a line's payment status."""

    case_id: int
    column: str
    old: object
    new: object
    line_key: str | None = None

    def describe(self) -> str:
        what = f"line {self.line_key} {self.column}" if self.line_key else self.column
        return f"{what}: {_text(self.old)} -> {_text(self.new)}"


def edit_case(
    con: duckdb.DuckDBPyConnection,
    case_id: int,
    *,
    actor: str,
    write_offs: tuple[str, ...] | list[str] = (),
    now: datetime | None = None,
    **changes,
) -> list[Change]:
    """A person's edit of one case in one transaction: ``set_case`` with ``changes`` (workflow_status,
    assignee, due_date, note; None clears), then ``write_off`` of each line key. Returns what changed (a value
    already as asked is not a change). UnderpayError for an unknown case or line, or a bad value."""
    if not actor or not actor.strip():
        raise UnderpayError("say who made the edit (--by NAME)")
    now = now or datetime.now()
    out: list[Change] = []
    with transaction(con):
        before = case_detail(con, case_id)
        try:
            if changes:
                set_case(con, case_id, actor=actor, now=now, **changes)
        except ValueError as exc:
            raise UnderpayError(f"case {case_id}: {exc}") from None
        after = case_detail(con, case_id).case
        out += [Change(case_id, k, before.case[k], after[k]) for k in PEOPLE_COLUMNS if before.case[k] != after[k]]
        status = {ln["line_key"]: ln["payment_status"] for ln in before.lines}
        for key in dict.fromkeys(write_offs):  # each line once, in the order given
            if status.get(key) == "written_off":
                continue
            write_off(con, case_id, key, actor=actor.strip(), now=now)
            out.append(Change(case_id, "payment_status", status[key], "written_off", key))
    return out


# ---------------------------------------------------------------------------------------------------- export


@dataclass
class ExportResult:
    path: Path
    cases: int = 0
    lines: int = 0
    statuses: tuple[str, ...] = ()  # the drop-down's choices
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"exported {self.cases} case(s) and {self.lines} line(s) to {self.path} ({self.seconds:.1f} s); "
            f"edit the white columns ({', '.join(EDITABLE)}), then "
            f"`underpay worklist import {self.path} --by NAME`"
        )


def known_statuses(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The built-in workflow statuses, then every other status the warehouse's cases use (sorted)."""
    used = [r[0] for r in con.execute("SELECT DISTINCT workflow_status FROM worklist_claims ORDER BY 1").fetchall()]
    return WORKFLOW_STATUSES + tuple(s for s in used if s not in WORKFLOW_STATUSES)


def export_worklist(con: duckdb.DuckDBPyConnection, path, *, include_closed: bool = False) -> ExportResult:
    """Write the worklist to ``path`` (.xlsx, mode 0600, new folders 0700) for people to edit and import:
    sheets ``cases`` (the open cases, or every case with ``include_closed``) and ``lines``. The layout is
    this module's docstring."""
    t0 = time.perf_counter()
    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise ConfigError(f"{out}: expected a file name ending in .xlsx")
    cases = list_cases(con, include_closed=include_closed)
    lines = _dicts(con.execute(LINES_SQL, {"all": include_closed}))
    statuses = known_statuses(con)
    buf = io.BytesIO()
    with xlsx_workbook(buf) as wb:
        styles = _Styles(wb)
        ws = wb.add_worksheet(CASES_SHEET)
        _write_sheet(ws, styles, CASE_COLUMNS, cases)
        ws.freeze_panes(1, 1)  # the header and the case id stay in view
        ws.autofilter(0, 0, max(len(cases), 1), len(CASE_COLUMNS) - 1)
        lw = wb.add_worksheet(LINES_SHEET)
        _write_sheet(lw, styles, LINE_COLUMNS, lines)
        lw.freeze_panes(1, 1)
        lw.autofilter(0, 0, max(len(lines), 1), len(LINE_COLUMNS) - 1)
        _case_validations(wb, ws, len(cases), statuses)  # after the sheets: a long status list gets a hidden third
        ws.activate()
    make_private_dirs(out.parent)
    with private_open(out, "wb") as fh:
        fh.write(buf.getvalue())
    return ExportResult(out, len(cases), len(lines), statuses, time.perf_counter() - t0)


class _Styles:
    """The cell formats of an export, one per (kind, editable) and per header kind, made once."""

    NUM_FORMATS = {"int": "0", "text": "@", "date": "yyyy-mm-dd", "month": "yyyy-mm", "money": "#,##0.00"}

    def __init__(self, wb):
        self.wb = wb
        self.cells: dict[tuple[str, bool], object] = {}
        base = {"bold": True, "border": 1, "text_wrap": True, "valign": "top"}
        self.header_ro = wb.add_format({**base, "bg_color": "#BFBFBF"})
        self.header_edit = wb.add_format({**base, "bg_color": "#FFF2CC"})

    def cell(self, kind: str, editable: bool):
        key = (kind, editable)
        if key not in self.cells:
            props = {"num_format": self.NUM_FORMATS[kind], "locked": not editable}
            if kind == "text":
                props["quote_prefix"] = True  # Excel's mark for text: shown as text, kept as text when edited
            if not editable:
                props |= {"bg_color": "#EDEDED", "font_color": "#404040"}
            self.cells[key] = self.wb.add_format(props)
        return self.cells[key]


def _write_sheet(ws, styles: _Styles, columns: tuple[Column, ...], rows: list[dict]) -> None:
    ws.set_row(0, 30)
    for j, col in enumerate(columns):
        ws.set_column(j, j, col.width, styles.cell(col.kind, col.editable))
        ws.write_string(0, j, col.header, styles.header_edit if col.editable else styles.header_ro)
        if col.comment:
            ws.write_comment(0, j, col.comment, {"x_scale": 2, "y_scale": 1.2})
    for i, row in enumerate(rows, start=1):
        for j, col in enumerate(columns):
            _write_cell(ws, i, j, row[col.header], styles.cell(col.kind, col.editable))


def _write_cell(ws, i: int, j: int, value, fmt) -> None:
    if value is None:
        ws.write_blank(i, j, None, fmt)
    elif isinstance(value, str):
        ws.write_string(i, j, value, fmt)  # a string is a string: never a formula, a number or a link
    elif isinstance(value, (date, datetime)):
        ws.write_datetime(i, j, value, fmt)
    elif isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        ws.write_number(i, j, value, fmt)
    else:
        ws.write_string(i, j, str(value), fmt)


def _case_validations(wb, ws, n: int, statuses: tuple[str, ...]) -> None:
    """Drop-down of the statuses, a date check on due_date and a length check on the text columns."""
    last = max(n, 1)
    col = {c.header: j for j, c in enumerate(CASE_COLUMNS)}
    source: list[str] | str = list(statuses)
    if len(",".join(statuses)) > 250:  # Excel's limit for a list typed in the validation itself
        sheet = wb.add_worksheet("statuses")
        for i, s in enumerate(statuses):
            sheet.write_string(i, 0, s)
        sheet.hide()
        source = f"=statuses!$A$1:$A${len(statuses)}"
    j = col["workflow_status"]
    ws.data_validation(
        1,
        j,
        last,
        j,
        {
            "validate": "list",
            "source": source,
            "input_title": "Workflow status",
            "input_message": "Pick one, or type another one-word status (letters, digits, _ or -).",
            "error_type": "warning",
            "error_title": "Not a known status",
            "error_message": "Import accepts a new status only as one word of letters, digits, _ or -.",
        },
    )
    j = col["due_date"]
    ws.data_validation(
        1,
        j,
        last,
        j,
        {
            "validate": "date",
            "criteria": "between",
            "minimum": date(2000, 1, 1),
            "maximum": date(2099, 12, 31),
            "error_title": "Not a date",
            "error_message": "Type a date, e.g. 2025-03-31, or leave the cell empty.",
        },
    )
    for name in ("assignee", "note"):
        j = col[name]
        ws.data_validation(
            1,
            j,
            last,
            j,
            {
                "validate": "length",
                "criteria": "<=",
                "value": MAX_TEXT,
                "error_title": "Too long",
                "error_message": f"At most {MAX_TEXT} characters.",
            },
        )


# ---------------------------------------------------------------------------------------------------- import


@dataclass
class SheetRow:
    """One data row of an imported ``cases`` sheet, checked: its case, version and editable values."""

    row: int  # as the spreadsheet numbers it (the header is row 1)
    case_id: int
    version: int
    values: dict  # workflow_status, assignee, due_date, note


@dataclass
class CaseChange:
    case_id: int
    row: int
    patient_control_number: str | None
    changes: dict  # column -> (old, new)

    def describe(self) -> str:
        what = "; ".join(f"{k} {_text(o)} -> {_text(n)}" for k, (o, n) in self.changes.items())
        return f"case {self.case_id} ({_pcn(self.patient_control_number)}, row {self.row}): {what}"


@dataclass
class Conflict:
    """A row not applied: its case was edited after the export (its version moved on)."""

    case_id: int
    row: int
    patient_control_number: str | None
    sheet_version: int
    warehouse_version: int
    differences: dict  # column -> (what the sheet says, what the warehouse has now)

    def describe(self) -> str:
        what = "; ".join(f"{k}: sheet {_text(s)}, warehouse now {_text(w)}" for k, (s, w) in self.differences.items())
        return (
            f"case {self.case_id} ({_pcn(self.patient_control_number)}, row {self.row}) was edited after this "
            f"export (version {self.sheet_version}, now {self.warehouse_version}); not applied: {what}"
        )


@dataclass
class ImportResult:
    path: Path
    changed: list[CaseChange] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        out = [
            f"{self.path}: {len(self.changed)} case(s) {verb}, {len(self.conflicts)} conflict(s), "
            f"{self.unchanged} unchanged ({self.seconds:.1f} s)"
        ]
        out += [f"  {'would change' if self.dry_run else 'changed'} {c.describe()}" for c in self.changed]
        out += [f"  conflict: {c.describe()}" for c in self.conflicts]
        if self.conflicts:
            out.append("  conflicts keep the warehouse's values: `underpay worklist export` again and redo those edits")
        if self.dry_run:
            out.append("  dry run: nothing was written")
        return "\n".join(out)


NOTHING_CHANGED = "nothing was changed in the warehouse: fix the file and import it again"


def import_worklist(
    con: duckdb.DuckDBPyConnection, path, actor: str, *, dry_run: bool = False, now: datetime | None = None
) -> ImportResult:
    """Apply the edits of a workbook made by :func:`export_worklist` (the module docstring says how).
    ``dry_run``: check and report, write nothing. InputFileError (nothing written) for a file that is not a
    worklist export or has a bad value; edits of cases changed since the export come back as conflicts."""
    t0 = time.perf_counter()
    path = Path(path)
    if not actor or not actor.strip():
        raise UnderpayError("say who made the edits (--by NAME)")
    rows = read_cases_sheet(path)
    now = now or datetime.now()
    result = ImportResult(path, dry_run=dry_run)
    with transaction(con):
        current = {
            r["case_id"]: r
            for r in _dicts(
                con.execute(
                    f"SELECT case_id, version, patient_control_number, {', '.join(EDITABLE)} FROM worklist_claims"
                )
            )
        }
        for r in rows:  # every row is checked before anything is written
            if r.case_id not in current:
                raise InputFileError(
                    path,
                    f"no case {r.case_id} in the warehouse",
                    row=r.row,
                    column="case_id",
                    expected="a case id as exported by `underpay worklist export` from this warehouse",
                    hint=NOTHING_CHANGED,
                )
        for r in rows:
            now_has = current[r.case_id]
            diff = {k: (r.values[k], now_has[k]) for k in EDITABLE if r.values[k] != now_has[k]}
            pcn = now_has["patient_control_number"]
            if not diff:
                result.unchanged += 1
                continue
            if r.version != now_has["version"]:
                result.conflicts.append(Conflict(r.case_id, r.row, pcn, r.version, now_has["version"], diff))
                continue
            if not dry_run:
                try:
                    set_case(con, r.case_id, actor=actor, expected_version=r.version, now=now, **r.values)
                except EditConflict:  # edited meanwhile (another connection): the same as a stale version
                    result.conflicts.append(Conflict(r.case_id, r.row, pcn, r.version, now_has["version"], diff))
                    continue
            result.changed.append(CaseChange(r.case_id, r.row, pcn, {k: (w, s) for k, (s, w) in diff.items()}))
    result.seconds = time.perf_counter() - t0
    return result


def read_cases_sheet(path) -> list[SheetRow]:
    """The data rows of the ``cases`` sheet of ``path``, every value checked (InputFileError at the first bad
    one: file, row, column, what was expected). Values are read, never evaluated (``data_only``)."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(path, "is a folder", expected="the .xlsx file made by `underpay worklist export`")
    if not path.exists():
        raise UnderpayError(f"{path}: no such file; give the .xlsx file made by `underpay worklist export`")
    (path,) = expand_paths([path])  # readable, or an error saying so
    _check_is_xlsx(path)
    import openpyxl  # local import: only an import needs it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - whatever openpyxl makes of a broken file, it is not a worklist export
        raise _not_an_export(path, "it is not a readable XLSX workbook") from None
    try:
        if CASES_SHEET not in wb.sheetnames:
            raise _not_an_export(path, f"it has no sheet {CASES_SHEET!r}")
        return _rows(path, wb[CASES_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()


def _check_is_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_an_export(path, "it is not an XLSX workbook") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise _not_an_export(path, f"it unpacks to {unpacked // 2**20} MB, far more than a worklist export")


def _not_an_export(path: Path, why: str) -> InputFileError:
    return InputFileError(
        path,
        f"not a worklist export: {why}",
        expected=f"an .xlsx file made by `underpay worklist export` (a sheet {CASES_SHEET!r} with its header row)",
        hint=NOTHING_CHANGED,
    )


def _column_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _rows(path: Path, values) -> list[SheetRow]:
    out: list[SheetRow] = []
    seen: dict[int, int] = {}
    header_ok = False
    for n, raw in enumerate(values, start=1):  # openpyxl yields empty rows too: n is the sheet's row number
        cells = list(raw) + [None] * max(0, len(HEADERS) - len(raw))
        if not header_ok:
            _check_header(path, cells)
            header_ok = True
            continue
        if all(_blank(v) for v in cells):
            continue
        out.append(_row(path, n, cells, seen))
    if not header_ok:
        raise _not_an_export(path, f"its sheet {CASES_SHEET!r} is empty (no header row)")
    return out


def _check_header(path: Path, cells: list) -> None:
    for j, cell in enumerate(cells):
        want = HEADERS[j] if j < len(HEADERS) else None
        got = cell.strip() if isinstance(cell, str) else cell
        if want is None and _blank(got):
            continue
        if got != want:
            if _blank(got):
                found = "an empty cell"
            elif isinstance(got, str):
                found = brief(got)
            else:
                found = "a number or date"
            raise InputFileError(
                path,
                f"not the worklist's header row at column {_column_letter(j)} "
                "(the header row deleted, or a column renamed, moved or added)",
                row=1,
                column=str(want or _column_letter(j)),
                expected=f"the header {want!r}" if want else "no column after 'note'",
                found=found,
                hint="nothing was changed in the warehouse: put the header row back as exported, or export "
                "again with `underpay worklist export` and edit that file",
            )


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _bad(path: Path, row: int, column: str, message: str, expected: str, found) -> InputFileError:
    return InputFileError(path, message, row=row, column=column, expected=expected, found=found, hint=NOTHING_CHANGED)


def _whole(path: Path, n: int, column: str, value) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise _bad(
            path,
            n,
            column,
            f"not a {column.replace('_', ' ')}",
            "the whole number exported there",
            "an empty cell" if _blank(value) else brief(value if isinstance(value, str) else str(value)),
        )
    return value


def _row(path: Path, n: int, cells: list, seen: dict[int, int]) -> SheetRow:
    at = dict(zip(HEADERS, cells))
    case_id = _whole(path, n, "case_id", at["case_id"])
    if case_id in seen:
        raise _bad(path, n, "case_id", f"case {case_id} is also on row {seen[case_id]}", "each case once", None)
    seen[case_id] = n
    version = _whole(path, n, "version", at["version"])
    values = {
        "workflow_status": _status(path, n, at["workflow_status"]),
        "assignee": _text_cell(path, n, "assignee", at["assignee"], strip=True),
        "due_date": _date(path, n, at["due_date"]),
        "note": _text_cell(path, n, "note", at["note"], strip=False),
    }
    return SheetRow(n, case_id, version, values)


def _status(path: Path, n: int, value) -> str:
    if _blank(value):
        raise _bad(path, n, "workflow_status", "a case always has a workflow status", _STATUS_EXPECTED, "an empty cell")
    text = value if isinstance(value, str) else str(value)
    try:
        return check_status(text)
    except ValueError:
        raise _bad(path, n, "workflow_status", "not a workflow status", _STATUS_EXPECTED, brief(text)) from None


_STATUS_EXPECTED = f"{', '.join(WORKFLOW_STATUSES)} or another one word of letters, digits, _ or -"


def _text_cell(path: Path, n: int, column: str, value, *, strip: bool) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    text = _control_characters(value) if isinstance(value, str) else str(value)
    if strip:
        text = text.strip()
    if len(text) > MAX_TEXT:
        raise _bad(path, n, column, "too long", f"at most {MAX_TEXT} characters", f"{len(text)} characters")
    return text


# A control character of a text is stored as _xHHHH_ (OOXML: Excel and xlsxwriter write it so, and a literal
# "_x0041_" as "_x005F_x0041_"). openpyxl only drops every "x005F_" (a literal "_x005F_" comes back as "_"), so
# decode the escapes of the characters that get escaped (control characters, U+FFFE, U+FFFF), as Excel shows them.
_ESCAPED = re.compile(r"_x(00[01][0-9A-Fa-f]|FFF[EFef])_")


def _control_characters(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _date(path: Path, n: int, value) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date()
    elif isinstance(value, date):
        return value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:  # 2025-02-30
            pass
    shown = brief(value) if isinstance(value, str) else f"{type(value).__name__} {brief(str(value))}"
    raise _bad(path, n, "due_date", "not a date", "a calendar date like 2025-03-31, or an empty cell", shown)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _pcn(value: str | None) -> str:
    return printable(value) if value else "no patient control number"


def _text(value) -> str:
    """A value as a message shows it: none, a date as YYYY-MM-DD, a long text shortened."""
    if value is None:
        return "(none)"
    return printable(brief(value) if isinstance(value, str) else str(value))
