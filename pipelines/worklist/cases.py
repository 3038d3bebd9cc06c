"""People's work on the worklist: the columns a person sets on a case (and writing a line off), with an
event for every change. The remittances never write these columns (pipelines.worklist.refresh), so an
edit survives every recompare.

``set_case(con, case_id, actor=..., workflow_status=..., assignee=..., due_date=..., note=...)`` and
``write_off(con, case_id, line_key, actor=...)``. ``expected_version`` makes an edit conditional: it is
refused (``EditConflict``) when the case changed since the version the person saw (a spreadsheet
exported before someone else's edit).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import duckdb

from pipelines.core.errors import UnderpayError

# The statuses every installation has; a team may use others (one word: letters, digits, _ or -).
WORKFLOW_STATUSES = ("detected", "in_review", "submitted", "closed")
STATUS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_TEXT = 2000  # characters of a note or an assignee
PEOPLE_COLUMNS = ("workflow_status", "assignee", "due_date", "note")


class EditConflict(UnderpayError):
    """An edit made on an older version of a case than the warehouse holds."""


def check_status(value: str) -> str:
    value = value.strip().lower()
    if not STATUS_PATTERN.match(value):
        raise ValueError(
            f"status {value[:40]!r}: one word of letters, digits, _ or - (e.g. {', '.join(WORKFLOW_STATUSES)})"
        )
    return value


def set_case(
    con: duckdb.DuckDBPyConnection,
    case_id: int,
    *,
    actor: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    **changes,
) -> int:
    """Apply a person's changes to one case (only the columns given); returns the number of columns changed.
    UnderpayError for an unknown case or a bad value; EditConflict when ``expected_version`` is stale."""
    unknown = [k for k in changes if k not in PEOPLE_COLUMNS]
    if unknown:
        raise ValueError(f"not a column people set: {', '.join(unknown)} (settable: {', '.join(PEOPLE_COLUMNS)})")
    if not actor or not actor.strip():
        raise ValueError("say who made the edit (actor)")
    values = dict(changes)
    if values.get("workflow_status") is not None:
        values["workflow_status"] = check_status(values["workflow_status"])
    elif "workflow_status" in values:
        raise ValueError("a case always has a workflow status")
    if values.get("due_date") is not None and not isinstance(values["due_date"], date):
        raise ValueError("due_date must be a date")
    for key in ("assignee", "note"):
        if values.get(key) is not None:
            values[key] = str(values[key])[:MAX_TEXT]
    row = con.execute(
        f"SELECT version, {', '.join(PEOPLE_COLUMNS)} FROM worklist_claims WHERE case_id = ?", [case_id]
    ).fetchall()
    if not row:
        raise UnderpayError(f"no case {case_id} in the worklist; `underpay worklist list` shows the cases")
    version, *current = row[0]
    if expected_version is not None and version != expected_version:
        raise EditConflict(
            f"case {case_id} changed since version {expected_version} (now {version}): "
            "export the worklist again and redo the edit on the newer version"
        )
    old = dict(zip(PEOPLE_COLUMNS, current))
    changed = {k: v for k, v in values.items() if old[k] != v}
    if not changed:
        return 0
    now = now or datetime.now()
    sets = ", ".join(f"{k} = ?" for k in changed)
    con.execute(
        f"UPDATE worklist_claims SET {sets}, version = version + 1, updated_at = ? WHERE case_id = ?",
        [*changed.values(), now, case_id],
    )
    for k, v in changed.items():
        _event(con, case_id, None, now, actor.strip(), k, old[k], v)
    return len(changed)


def write_off(
    con: duckdb.DuckDBPyConnection, case_id: int, line_key: str, *, actor: str, now: datetime | None = None
) -> None:
    """A person decides a line's money will not be pursued: payment_status written_off (kept by every refresh)."""
    row = con.execute(
        "SELECT payment_status FROM worklist_lines WHERE case_id = ? AND line_key = ?", [case_id, line_key]
    ).fetchall()
    if not row:
        raise UnderpayError(f"no line {line_key!r} in case {case_id}; `underpay worklist show {case_id}` lists them")
    now = now or datetime.now()
    con.execute(
        "UPDATE worklist_lines SET payment_status = 'written_off' WHERE case_id = ? AND line_key = ?",
        [case_id, line_key],
    )
    con.execute("UPDATE worklist_claims SET version = version + 1, updated_at = ? WHERE case_id = ?", [now, case_id])
    _event(con, case_id, line_key, now, actor, "payment_status", row[0][0], "written_off")


def _event(con, case_id, line_key, at, actor, kind, old, new) -> None:
    con.execute(
        "INSERT INTO worklist_events SELECT coalesce(max(event_id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, NULL "
        "FROM worklist_events",
        [case_id, line_key, at, actor, kind, None if old is None else str(old), None if new is None else str(new)],
    )
