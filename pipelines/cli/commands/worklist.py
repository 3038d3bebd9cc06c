"""`underpay worklist`: the recovery worklist (cases kept across runs): list, show, set, export, import.

A thin shell over pipelines.worklist.exchange (list_cases, case_detail, edit_case, export_worklist,
import_worklist): each command parses its options, calls one function and prints its result.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db
from pipelines.cli.failures import EXIT_REJECTED
from pipelines.core.errors import UnderpayError
from pipelines.core.logs import printable


@click.group("worklist")
def command():
    """The recovery worklist: claims with money at stake, kept across runs, with what the remittances
    recovered and what people did (status, assignee, due date, note)."""


def _open(db: Path | None, *, write: bool):
    """The warehouse, read-only unless ``write``; a warehouse that does not exist is an error, never made."""
    from pipelines.core.warehouse import connect

    path = resolve_db(db)
    if write and not path.exists():
        raise UnderpayError(f"{path}: no warehouse here; run `underpay ingest FILES --db {path}` first")
    return connect(path, read_only=not write)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return printable(value)


def _table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """Rows under their headers, columns padded; numbers (``right``) aligned right."""
    text = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[j]) for r in text]) for j, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in text)])


class _Due(click.ParamType):
    """``--due YYYY-MM-DD`` -> date; ``none`` -> clear the due date."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, date):
            return value
        if value.strip().lower() in ("", "none"):
            return _CLEAR
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"{value!r}: expected a date YYYY-MM-DD (e.g. 2025-03-31), or 'none' to clear it", param, ctx)


_CLEAR = object()  # --due none


@command.command("list")
@click.option("--status", default=None, help="Only cases with this workflow status (e.g. in_review).")
@click.option("--payer", default=None, help="Only this payer (835 payer id, e.g. ACME1).")
@click.option("--all", "include_closed", is_flag=True, default=False, help="Every case, closed and recovered ones too.")
@db_option
def list_command(status: str | None, payer: str | None, include_closed: bool, db: Path | None) -> None:
    """List the open cases (a line still owed and not closed), one line each, nearest appeal deadline first,
    then the most money at stake."""
    from pipelines.worklist.exchange import list_cases

    con = _open(db, write=False)
    try:
        cases = list_cases(con, status=status, payer=payer, include_closed=include_closed)
    finally:
        con.close()
    if not cases:
        if status or payer:
            click.echo("no case matches these filters; `underpay worklist list --all` shows every case")
        elif include_closed:
            click.echo("the worklist is empty; `underpay compare` (or `underpay nightly`) finds the cases")
        else:
            click.echo(
                "no open cases; `underpay worklist list --all` shows closed ones, and `underpay compare` "
                "(or `underpay nightly`) finds new ones"
            )
        return
    headers = ["case", "payer", "patient ctrl no", "payer claim no", "status", "assignee", "due", "appeal by",
               "at stake", "recovered", "open"]  # fmt: skip
    keys = ["case_id", "payer_id", "patient_control_number", "payer_claim_number", "workflow_status", "assignee",
            "due_date", "appeal_deadline", "amount_at_stake", "recovered_amount", "open_lines"]  # fmt: skip
    click.echo(_table(headers, [[c[k] for k in keys] for c in cases], right={0, 8, 9, 10}))
    at_stake = sum((c["amount_at_stake"] for c in cases), Decimal("0"))
    click.echo(f"{len(cases)} case(s), {at_stake:,.2f} at stake")


@command.command("show")
@click.argument("case_id", type=int)
@db_option
def show_command(case_id: int, db: Path | None) -> None:
    """Show one case: its claim, what people set, its lines (expected, allowed then and now, recovered) and
    its history of events."""
    from pipelines.worklist.exchange import case_detail

    con = _open(db, write=False)
    try:
        detail = case_detail(con, case_id)
    finally:
        con.close()
    c = detail.case
    month = c["first_detected_month"].strftime("%Y-%m") if c["first_detected_month"] else "-"
    rows = [
        ("case", f"{c['case_id']} (version {c['version']})"),
        ("payer", f"{_cell(c['payer_id'])} {_cell(c['payer_name'])}"),
        ("patient ctrl no", _cell(c["patient_control_number"])),
        ("payer claim no", _cell(c["payer_claim_number"])),
        ("detected", f"{month} (remittance of {_cell(c['detected_on'])})"),
        ("denied on", _cell(c["denied_on"])),
        ("last adjustment", _cell(c["last_adjustment_on"])),
        ("appeal deadline", f"{_cell(c['appeal_deadline'])} ({_cell(c['deadline_rule'])})"),
        ("at stake", _cell(c["amount_at_stake"])),
        ("recovered", f"{_cell(c['recovered_amount'])} (interest {_cell(c['interest_amount'])}, not recovery)"),
        ("open lines", _cell(c["open_lines"])),
        ("workflow status", _cell(c["workflow_status"])),
        ("assignee", _cell(c["assignee"])),
        ("due date", _cell(c["due_date"])),
        ("note", _cell(c["note"])),
    ]
    click.echo("\n".join(f"{k:<16} {v}" for k, v in rows))
    click.echo("\nlines")
    keys = ["line_key", "procedure_code", "category", "expected_allowed", "original_allowed", "current_allowed",
            "recovered_amount", "payment_status", "recovered_on"]  # fmt: skip
    headers = ["line", "code", "category", "expected", "allowed then", "allowed now", "recovered", "status",
               "recovered on"]  # fmt: skip
    click.echo(_table(headers, [[ln[k] for k in keys] for ln in detail.lines], right={3, 4, 5, 6}))
    click.echo("\nevents")
    events = [
        [e["event_at"], e["actor"], e["kind"] + (f" ({e['line_key']})" if e["line_key"] else ""),
         f"{_cell(e['old_value'])} -> {_cell(e['new_value'])}", e["detail"]]
        for e in detail.events
    ]  # fmt: skip
    click.echo(_table(["time", "actor", "kind", "old -> new", "detail"], events))


@command.command("set")
@click.argument("case_id", type=int)
@click.option(
    "--status", default=None, help="Workflow status: detected, in_review, submitted, closed or your own word."
)
@click.option("--assignee", default=None, help="Who works the case ('' clears it).")
@click.option("--due", type=_Due(), default=None, help="Due date YYYY-MM-DD ('none' clears it).")
@click.option("--note", default=None, help="A note on the case ('' clears it); replaces the previous note.")
@click.option(
    "--write-off",
    "write_offs",
    multiple=True,
    metavar="LINE_KEY",
    help="Write a line off: its money is not pursued (`underpay worklist show` lists line keys). Repeatable.",
)
@click.option("--by", "actor", required=True, help="Who makes the edit (recorded in the case's events).")
@db_option
def set_command(case_id, status, assignee, due, note, write_offs, actor, db) -> None:
    """Edit a case: its workflow status, assignee, due date or note, or write a line off. Prints what
    changed; every change is an event with your name."""
    from pipelines.worklist.exchange import edit_case

    changes: dict = {}
    if status is not None:
        changes["workflow_status"] = status
    if assignee is not None:
        changes["assignee"] = assignee.strip() or None
    if due is not None:
        changes["due_date"] = None if due is _CLEAR else due
    if note is not None:
        changes["note"] = note or None
    if not changes and not write_offs:
        raise click.UsageError("nothing to set: give --status, --assignee, --due, --note or --write-off")
    con = _open(db, write=True)
    try:
        done = edit_case(con, case_id, actor=actor, write_offs=write_offs, **changes)
    finally:
        con.close()
    if not done:
        click.echo(f"case {case_id}: nothing changed (it already has these values)")
    for change in done:
        click.echo(f"case {case_id}: {change.describe()}")


@command.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--all", "include_closed", is_flag=True, default=False, help="Every case, closed ones too.")
@db_option
def export_command(out: Path, include_closed: bool, db: Path | None) -> None:
    """Export the open cases to OUT.xlsx (mode 0600) to edit in a spreadsheet and bring back with
    `underpay worklist import`. Sheet "cases": grey columns are read-only (case_id and version say which
    case and which version of it you edited); edit the white ones: workflow_status (drop-down), assignee,
    due_date, note. Sheet "lines": the cases' lines, for reference."""
    from pipelines.worklist.exchange import export_worklist

    con = _open(db, write=False)
    try:
        result = export_worklist(con, out, include_closed=include_closed)
    finally:
        con.close()
    click.echo(result.summary())


@command.command("import")
@click.argument("path", metavar="IN.xlsx", type=click.Path(path_type=Path))
@click.option("--by", "actor", required=True, help="Who made the edits (recorded in the cases' events).")
@click.option("--dry-run", is_flag=True, default=False, help="Check the file and say what would change; write nothing.")
@db_option
def import_command(path: Path, actor: str, dry_run: bool, db: Path | None) -> None:
    """Apply the edits of a spreadsheet made by `underpay worklist export`. Every row is checked first: one bad
    value (an unknown case, status or date, a missing header row, a file that is not a worklist export)
    refuses the whole file and changes nothing. A case someone edited after the export is not overwritten:
    it is listed as a conflict (exit status 1) and the other rows apply."""
    from pipelines.worklist.exchange import import_worklist

    con = _open(db, write=not dry_run)
    try:
        result = import_worklist(con, path, actor, dry_run=dry_run)
    finally:
        con.close()
    click.echo(result.summary())
    if result.conflicts:
        sys.exit(EXIT_REJECTED)
