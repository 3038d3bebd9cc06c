"""The ``runs`` table: one row per nightly / monthly / demo run (start, end, files, outcome).

A run row is written at the start (status ``running``) and closed at the end (``ok``,
``quarantined`` or ``failed``, or ``interrupted`` when Ctrl-C stopped it: the run closes its own
row then). A process killed with SIGKILL leaves its row at ``running``;
the next nightly run, which holds the lock and so knows the old process is gone, marks it
``interrupted`` and recomputes the months it had touched.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from pipelines.core.months import Month
from pipelines.core.sql import read_sql

# Open a run row. $kind: nightly | monthly | demo | ingest.
INSERT_RUN = """
INSERT INTO runs (run_id, kind, started_at, status, host, pid)
VALUES (nextval('run_id_seq'), $kind, $started_at, 'running', $host, $pid)
RETURNING run_id
"""

# Progress counters of an open run (written after each file, so an interrupted run shows them).
UPDATE_RUN_COUNTS = """
UPDATE runs SET files_seen = $seen, files_loaded = $loaded, files_duplicate = $duplicate,
                files_rejected = $rejected, months_touched = $months
WHERE run_id = $run_id
"""

# Close a run: its outcome and a message a person can read (never PHI).
FINISH_RUN = """
UPDATE runs SET ended_at = $ended_at, status = $status, message = $message
WHERE run_id = $run_id
"""

# Runs of one kind still marked running: their process was killed (the caller holds the lock).
STALE_RUNS = "SELECT run_id FROM runs WHERE kind = $kind AND status = 'running' ORDER BY run_id"

MARK_INTERRUPTED = """
UPDATE runs SET status = 'interrupted', ended_at = coalesce(ended_at, $now),
       message = coalesce(message || '; ', '') || 'interrupted: the process stopped before the run ended '
                 || '(found by run ' || $by_run || ')'
WHERE run_id = $run_id
"""

# Interrupted or failed runs whose months no later run has recomputed yet.
OWED_RUNS = """
SELECT run_id FROM runs
WHERE kind = $kind AND status IN ('interrupted', 'failed') AND redone_by IS NULL AND run_id <> $run_id
ORDER BY run_id
"""

MARK_REDONE = "UPDATE runs SET redone_by = $by_run WHERE list_contains($run_ids, run_id)"


def utcnow() -> datetime:
    """Timestamps in ``runs`` are UTC, without zone (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class RunCounts:
    """Inbox files a run has handled so far, by outcome (``runs.files_*``)."""

    seen: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0


def start_run(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    row = con.execute(
        INSERT_RUN, {"kind": kind, "started_at": utcnow(), "host": socket.gethostname(), "pid": os.getpid()}
    ).fetchall()[0]
    return int(row[0])


def update_run(
    con: duckdb.DuckDBPyConnection, run_id: int, counts: RunCounts, months: list[Month] | None = None
) -> None:
    """Write a run's counters and the payment months it touched (``months_touched``, as YYYY-MM)."""
    con.execute(
        UPDATE_RUN_COUNTS,
        {
            "run_id": run_id,
            "seen": counts.seen,
            "loaded": counts.loaded,
            "duplicate": counts.duplicate,
            "rejected": counts.rejected,
            "months": [m.label for m in sorted(months or [])],
        },
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, message: str | None = None) -> None:
    con.execute(FINISH_RUN, {"run_id": run_id, "status": status, "message": message, "ended_at": utcnow()})


def recover_stale_runs(con: duckdb.DuckDBPyConnection, kind: str, by_run: int) -> list[int]:
    """Mark runs left at 'running' as interrupted; return their ids (their months are redone)."""
    ids = [int(r[0]) for r in con.execute(STALE_RUNS, {"kind": kind}).fetchall() if int(r[0]) != by_run]
    for run_id in ids:
        con.execute(MARK_INTERRUPTED, {"run_id": run_id, "now": utcnow(), "by_run": str(by_run)})
    return ids


def owed_runs(con: duckdb.DuckDBPyConnection, kind: str, run_id: int) -> list[int]:
    """Interrupted or failed runs whose months still need recomputing and reporting."""
    return [int(r[0]) for r in con.execute(OWED_RUNS, {"kind": kind, "run_id": run_id}).fetchall()]


def mark_redone(con: duckdb.DuckDBPyConnection, run_ids: list[int], by_run: int) -> None:
    if run_ids:
        con.execute(MARK_REDONE, {"run_ids": run_ids, "by_run": by_run})


def months_loaded_by_runs(con: duckdb.DuckDBPyConnection, run_ids: list[int]) -> list[Month]:
    """Payment months of the payments the given runs loaded."""
    if not run_ids:
        return []
    rows = con.execute(read_sql("pipelines.runs.sql", "months_loaded_by_runs.sql"), {"run_ids": run_ids}).fetchall()
    return [Month.parse(r[0]) for r in rows]  # the SQL gives YYYY-MM


def months_without_variances(con: duckdb.DuckDBPyConnection) -> list[Month]:
    """Payment months holding lines that were loaded but never compared."""
    rows = con.execute(read_sql("pipelines.runs.sql", "months_without_variances.sql")).fetchall()
    return [Month.parse(r[0]) for r in rows]
