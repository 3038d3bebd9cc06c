"""The monthly run: recompute one payment month's variances, write its review and exports.

``run_monthly`` (``underpay run --month YYYY-MM``) is the one entry point: under the warehouse
lock and recorded in ``runs``, it calls ``compare_month`` then ``render_month``. The nightly run
uses the same steps for several months: ``compare_months`` (one pass when cheaper) and
``render_months`` (worker processes). The month is the payment month (BPR16), as in
``underpay compare``, and a :class:`~pipelines.core.months.Month` throughout (``run_monthly``
also takes ``'YYYY-MM'`` or a date from a library caller). Output goes to ``<reports>/YYYY-MM/``:
the monthly review HTML and the worklist / per-code exports (CSV, XLSX), all created
owner-only by the reports package.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.core.config import Settings
from pipelines.core.errors import UnderpayError
from pipelines.core.lock import run_lock
from pipelines.core.months import Month
from pipelines.core.outputs import make_private_dirs
from pipelines.core.sql import read_sql
from pipelines.core.warehouse import connect, drop_spill_folder, limit_memory
from pipelines.runs.records import RunCounts, finish_run, start_run, update_run
from pipelines.worklist.refresh import refresh_worklist


@dataclass
class MonthResult:
    month: str  # YYYY-MM (payment month)
    lines: int = 0
    claims: int = 0
    billed: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    underpaid_lines: int = 0
    underpaid_dollars: Decimal = Decimal("0.00")
    overpaid_lines: int = 0
    denied_lines: int = 0
    denied_billed: Decimal = Decimal("0.00")
    no_contract_lines: int = 0
    not_priced_lines: int = 0
    report: Path | None = None
    exports: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    compare_seconds: float = 0.0
    report_seconds: float = 0.0
    worker_peak_mb: float | None = None  # peak RSS of the report worker process (Linux), when one was used

    def summary(self) -> str:
        return (
            f"{self.month}: {self.lines:,} lines on {self.claims:,} claims, paid ${self.paid:,}; "
            f"underpaid {self.underpaid_lines:,} lines ${self.underpaid_dollars:,}; "
            f"denied {self.denied_lines:,} lines (${self.denied_billed:,} billed); "
            f"no contract {self.no_contract_lines:,}, not priced {self.not_priced_lines:,}"
        )


def previous_month(today: date | None = None) -> Month:
    """The calendar month before ``today``'s (``underpay run``'s default)."""
    return Month.of(today or date.today()).add(-1)


def month_summary(con: duckdb.DuckDBPyConnection, month: Month) -> MonthResult:
    cur = con.execute(read_sql("pipelines.runs.sql", "month_summary.sql"), {"month_start": month.start})
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchall()[0]))
    return MonthResult(month=month.label, **row)


def _check_contracts(contracts_dir: str | Path) -> Path:
    folder = Path(contracts_dir)
    if not folder.is_dir():
        raise UnderpayError(
            f"{folder}: contracts folder not found; write your contracts there "
            "(see docs/contracts.md) or pass --contracts DIR"
        )
    return folder


def compare_month(
    con: duckdb.DuckDBPyConnection,
    month: Month,
    *,
    contracts_dir: str | Path,
    settings: Settings | None = None,
    payer: str | None = None,
) -> float:
    """Refill ``variances`` for the lines paid in the month, then the recovery worklist; returns seconds."""
    from pipelines.compare.compare import compare

    t0 = time.perf_counter()
    folder = _check_contracts(contracts_dir)
    compare(con, folder, month=month, payer=payer, settings=settings)
    refresh_worklist(con, folder)
    return time.perf_counter() - t0


def render_month(
    con: duckdb.DuckDBPyConnection,
    month: Month,
    *,
    reports_dir: str | Path,
    payer: str | None = None,
    show_phi: bool = False,
    exports: bool = True,
) -> MonthResult:
    """Write the month's review and exports into <reports>/YYYY-MM/ (reads the warehouse only)."""
    from reports.monthly import report_month

    t0 = time.perf_counter()
    out_dir = make_private_dirs(Path(reports_dir) / month.label)  # new folders 0700: reports hold PHI
    rendered = report_month(
        con, month, payer=payer, out_dir=out_dir, show_phi=show_phi, formats=("csv", "xlsx") if exports else ()
    )
    result = month_summary(con, month)
    result.report = Path(rendered.html)
    result.exports = [Path(p) for p in rendered.exports]
    result.report_seconds = result.seconds = time.perf_counter() - t0
    return result


def compare_months(
    con: duckdb.DuckDBPyConnection, months: list[Month], *, contracts_dir: str | Path, settings: Settings | None = None
) -> float:
    """Refill ``variances`` for several payment months, in one pass when that is cheaper, then the
    recovery worklist (pipelines.worklist.refresh).

    One ``compare`` over every loaded line costs about the lines it reads; one call per month
    adds a fixed cost per call (contracts, pricing keys). When the months hold at least half
    the warehouse's lines (a first load, a backfill), one pass over everything is cheaper;
    otherwise each month is compared on its own. Either way ``compare`` cuts a scope of more than
    ``settings.compare_chunk_lines`` lines into chunks of whole payment days (bounded memory), and
    the worklist, which reads the whole warehouse, is refreshed once at the end. Returns seconds.
    """
    from pipelines.compare.compare import compare

    t0 = time.perf_counter()
    folder = _check_contracts(contracts_dir)
    by_month = dict(con.execute(read_sql("pipelines.runs.sql", "lines_by_month.sql")).fetchall())  # YYYY-MM -> lines
    touched = sum(by_month.get(m.label, 0) for m in months)
    if len(months) > 1 and touched * 2 >= sum(by_month.values()):
        compare(con, folder, settings=settings)
    else:
        for month in months:
            compare(con, folder, month=month, settings=settings)
    refresh_worklist(con, folder)
    return time.perf_counter() - t0


def _die_with_parent() -> None:
    """Linux: a report worker is killed when the run that started it dies (kill -9 included),
    so it never outlives the run that holds the warehouse lock."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory (VmHWM), in MB; None where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _read_only(db: str | Path, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    """A read-only connection for rendering, DuckDB's memory capped at ``memory_limit`` when given."""
    con = duckdb.connect(str(db), read_only=True)
    if memory_limit is not None:
        try:
            limit_memory(con, db, memory_limit)
        except BaseException:
            con.close()
            raise
    return con


def _close_read_only(con: duckdb.DuckDBPyConnection, db: str | Path) -> None:
    con.close()
    drop_spill_folder(db)


def _render_worker(db: str, month: Month, reports_dir: str, show_phi: bool, memory_limit: str | None) -> MonthResult:
    _die_with_parent()
    con = _read_only(db, memory_limit)
    try:
        result = render_month(con, month, reports_dir=reports_dir, show_phi=show_phi)
    finally:
        _close_read_only(con, db)
    result.worker_peak_mb = _peak_rss_mb()
    return result


def render_months(
    db: str | Path,
    months: list[Month],
    *,
    reports_dir: str | Path,
    show_phi: bool = False,
    workers: int | None = None,
    on_done=None,
    memory_limit: str | None = None,
) -> list[MonthResult]:
    """Render several months' reports in worker processes (one per core, at most 2 by default)
    that read the warehouse read-only; the caller must not hold a read-write connection to it.

    Rendering is mostly single-threaded Python (templates, charts, XLSX), so a second process
    nearly halves it on a 2-core machine. ``on_done(result)`` is called as each month finishes.
    A month that fails raises its error here. Results come back in the order of ``months``.
    ``memory_limit`` caps DuckDB's memory in each worker (``Settings.memory_limit``; DuckDB's
    default, 80% of the machine's memory, when None).
    """
    on_done = on_done or (lambda result: None)
    workers = workers or min(2, os.cpu_count() or 1, len(months))
    if workers <= 1 or len(months) <= 1:
        con = _read_only(db, memory_limit)
        try:
            out = []
            for m in months:
                out.append(render_month(con, m, reports_dir=reports_dir, show_phi=show_phi))
                on_done(out[-1])
            return out
        finally:
            _close_read_only(con, db)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_interrupts) as pool:
        futures = {pool.submit(_render_worker, str(db), m, str(reports_dir), show_phi, memory_limit): m for m in months}
        done: dict[Month, MonthResult] = {}
        try:
            for f in as_completed(futures):
                done[futures[f]] = f.result()
                on_done(done[futures[f]])
        except BaseException:  # Ctrl-C: months not started are dropped; the started ones finish
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return [done[m] for m in months]


def _ignore_interrupts() -> None:
    """Report workers ignore Ctrl-C: a terminal sends it to the whole process group, and the parent
    alone decides (it stops; a worker finishes the month it is writing instead of dying mid-file
    with a traceback of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_monthly(
    db: str | Path,
    month: Month | date | str,
    *,
    contracts_dir: str | Path,
    reports_dir: str | Path,
    settings: Settings | None = None,
    payer: str | None = None,
    show_phi: bool = False,
    exports: bool = True,
) -> MonthResult:
    """``underpay run``: under the warehouse lock, compare the month's lines against the contracts
    (``compare_month``), then render its review and exports (``render_month``: the HTML review
    plus worklist / per-code CSV and XLSX); the run is recorded in ``runs``."""
    month = Month.coerce(month)
    if not Path(db).exists():
        raise UnderpayError(
            f"{db}: no warehouse here; load remittances first with `underpay ingest FILES --db {db}` or pass --db"
        )
    with run_lock(db, "underpay run"):
        con = connect(db, memory_limit=(settings or Settings()).memory_limit)
        try:
            run_id = start_run(con, "monthly")
            try:
                took = compare_month(con, month, contracts_dir=contracts_dir, settings=settings, payer=payer)
                result = render_month(
                    con, month, reports_dir=reports_dir, payer=payer, show_phi=show_phi, exports=exports
                )
                result.compare_seconds = took
                result.seconds += took
            except BaseException as exc:
                finish_run(con, run_id, "failed", f"{month}: {exc}")
                raise
            update_run(con, run_id, RunCounts(), [month])
            finish_run(con, run_id, "ok", result.summary())
        finally:
            con.close()
            drop_spill_folder(db)
    return result
