"""Keep the recovery worklist up to date with the remittances: cases, automatic recovery, deadlines.

``refresh_worklist(con, contracts_dir)`` runs after every comparison (``underpay compare``, the nightly
run): the SQL steps in pipelines/worklist/sql/ (numbered in run order; docs/worklist.md states the rules)

1. find every service line's claim family and line key (01);
2. open a case for each claim family with a newly flagged line, and add flagged lines to their case, each
   with a 'detected' event (02, 03, 04);
3. work out what the remittances say of each case line now: replaced by a corrected claim, added to by a
   supplemental payment, cancelled by a reversal (05), record what changed (06) and update the lines (07);
4. total each case, with its interest and its appeal deadline from the payer's rule (08), record a moved
   deadline (09) and update the cases (10).

All of it in one transaction, set-based. People's columns (workflow status, assignee, due date, note)
are never written here, so a recompare never loses an edit; every automatic change is a
``worklist_events`` row with actor ``system``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import duckdb

from contracts.appeal_rules import AppealRules, load_appeal_rules
from pipelines.core.sql import arrow_view, bind, read_sql
from pipelines.core.transactions import transaction

SQL_PACKAGE = "pipelines.worklist.sql"
_TEMP = (
    "wl_family_lines",
    "wl_new_cases",
    "wl_new_lines",
    "wl_line_status",
    "wl_line_events",
    "wl_case_totals",
    "wl_case_events",
)


@dataclass
class RefreshResult:
    new_cases: int = 0
    new_lines: int = 0
    changed_lines: int = 0
    open_cases: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"worklist: {self.new_cases} new case(s), {self.new_lines} new line(s), {self.changed_lines} line(s) "
            f"changed by later remittances; {self.open_cases} case(s) open ({self.seconds:.1f} s)"
        )


def _sql(name: str) -> str:
    return read_sql(SQL_PACKAGE, name)


def _run(con: duckdb.DuckDBPyConnection, name: str, values: dict) -> None:
    sql = _sql(name)
    con.execute(sql, bind(sql, values))


def _temp(con: duckdb.DuckDBPyConnection, table: str, name: str, values: dict) -> None:
    sql = _sql(name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", bind(sql, values))


def refresh_worklist(
    con: duckdb.DuckDBPyConnection,
    contracts_dir=None,
    *,
    now: datetime | None = None,
    rules: AppealRules | None = None,
) -> RefreshResult:
    """Bring worklist_claims / worklist_lines / worklist_events up to the warehouse's remittances and variances."""
    t0 = time.perf_counter()
    now = now or datetime.now()
    rules = rules or load_appeal_rules(contracts_dir)
    values = {"now": now}
    result = RefreshResult()
    with transaction(con):
        _temp(con, "wl_family_lines", "01_family_lines.sql", values)
        _temp(con, "wl_new_cases", "02_new_cases.sql", values)
        con.execute("INSERT INTO worklist_claims BY NAME SELECT * FROM wl_new_cases")
        _temp(con, "wl_new_lines", "03_new_lines.sql", values)
        con.execute("INSERT INTO worklist_lines BY NAME SELECT * FROM wl_new_lines")
        _run(con, "04_detected_events.sql", values)
        _temp(con, "wl_line_status", "05_line_status.sql", values)
        _temp(con, "wl_line_events", "06_line_events.sql", values)
        con.execute("INSERT INTO worklist_events BY NAME SELECT * FROM wl_line_events")
        _run(con, "07_update_lines.sql", values)
        con.register("wl_rules", arrow_view(rules.frame()))
        _temp(con, "wl_case_totals", "08_case_totals.sql", values)
        con.unregister("wl_rules")
        _temp(con, "wl_case_events", "09_case_events.sql", values)
        con.execute("INSERT INTO worklist_events BY NAME SELECT * FROM wl_case_events")
        _run(con, "10_update_cases.sql", values)
        result.new_cases, result.new_lines, result.changed_lines = con.execute(
            "SELECT (SELECT count(*) FROM wl_new_cases), (SELECT count(*) FROM wl_new_lines), "
            "(SELECT count(*) FROM wl_line_events)"
        ).fetchall()[0]
        result.open_cases = con.execute(
            "SELECT count(*) FROM worklist_claims WHERE open_lines > 0 AND workflow_status <> 'closed'"
        ).fetchall()[0][0]
        for table in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    result.seconds = time.perf_counter() - t0
    return result
