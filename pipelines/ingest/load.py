"""Load 835 files into the warehouse: one file = one DuckDB transaction.

``ingest_paths`` expands files / directories / globs and loads each file:

1. ``read_file``: read, hash and scan (``pipelines.ingest.read``), then ``prepare`` (envelope, counts,
   structure); done on a thread, for the next small file while the current one loads;
2. same sha256 as a file already loaded -> ``era_files`` row with status ``duplicate``, nothing else;
   a structurally broken file (X12Error) is recorded as ``rejected`` (reason + error_segment),
   nothing of it loaded;
3. the file's tables are built slice by slice (whole transactions, ``SLICE_SEGMENTS`` segments,
   shorter first and last), ids assigned from file-wide ordinals, payments already loaded from
   another file (same TRN02, payer, BPR02) flagged ``resent_of_payment_id`` and their
   claims/lines/adjustments NOT loaded;
4. pandera models + balancing checks, a batch of slices at a time -> ``validation_issues`` rows
   (the file still loads);
5. frames inserted via Arrow (one INSERT per big table and slice; the small tables and the issues
   once), reversals linked, COMMIT. Building slices, checking them and inserting overlap on
   threads (docs/architecture.md, "How an ingest uses two cores").

``parse_835`` (re-exported from ``pipelines.ingest.tables``) is the pure whole-file parser.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from pipelines.ingest.tables import ParsedERA, PreparedERA, file_issues, parse_835, prepare, slice_parts, tables
from pipelines.core.errors import X12Error
from pipelines.core.paths import expand_paths
from pipelines.ingest.read import ScannedFile, read_and_scan
from pipelines.core.warehouse import bulk_load, connect, transaction
from pipelines.core.sql import read_sql

# pipelines.ingest.validate (pandera) takes ~0.1 s to import: it is imported on a thread while the first
# file is read, hashed and scanned; ``V`` waits for it on first use.
def _import_late_modules() -> None:
    importlib.import_module("pipelines.ingest.validate")


threading.Thread(target=_import_late_modules, name="import-validate").start()


class _Validate:
    """``pipelines.ingest.validate``, imported when first needed (the import lock waits for the thread)."""

    def __getattr__(self, name):
        from pipelines.ingest import validate
        return getattr(validate, name)


V = _Validate()

__all__ = ["FileOutcome", "IngestResult", "ingest_paths", "ingest_file", "expand_paths", "parse_835",
           "ParsedERA", "read_file"]

log = logging.getLogger(__name__)

SLICE_SEGMENTS = 1_500_000   # big files are parsed and loaded about this many segments (~32 MB) at a time
EDGE_SEGMENTS = 400_000      # ... but the first and last slices are this short (quicker start and finish)
BUILD_AHEAD = 2           # slices built ahead of the one being inserted (one more costs ~40 MB at peak)
CHECK_SEGMENTS = 3_000_000   # slices are checked (pandera) together in batches of about this many segments
READ_AHEAD_BYTES = 32 << 20  # files up to this size are read and scanned while the previous one loads
SMALL_TABLES = ("payments", "provider_adjustments")   # a few rows per transaction
LOAD_ORDER = ("payments", "claims", "service_lines", "adjustments", "provider_adjustments",
              "validation_issues")


@dataclass
class FileOutcome:
    path: str
    file_id: int | None
    status: str                      # loaded | duplicate | rejected
    reason: str | None = None
    error_segment: int | None = None
    claims: int = 0
    lines: int = 0
    paid: Decimal = Decimal("0.00")  # sum of BPR02 loaded (debits negative; re-sent payments excluded)
    payments: int = 0
    resent_payments: int = 0
    issues: int = 0
    size_bytes: int = 0
    seconds: float = 0.0
    sha256: str | None = None


@dataclass
class IngestResult:
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def _count(self, status):
        return sum(1 for f in self.files if f.status == status)

    @property
    def loaded(self) -> int:
        return self._count("loaded")

    @property
    def duplicate(self) -> int:
        return self._count("duplicate")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    @property
    def claims(self) -> int:
        return sum(f.claims for f in self.files)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def paid(self) -> Decimal:
        return sum((f.paid for f in self.files), Decimal("0.00"))

    @property
    def issues(self) -> int:
        return sum(f.issues for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# ----------------------------------------------------------------------------- frames with ids

def _signed(total: pl.Expr) -> pl.Expr:
    return pl.when(pl.col("credit_debit") == "D").then(-total).otherwise(total)


def assign_ids(parsed: ParsedERA, file_id: int, bases: dict[str, int]) -> dict[str, pl.DataFrame]:
    """Turn the parser's ordinal keys into warehouse ids (pure). ``bases`` = current max ids."""
    bp, bc, bl = bases["payment"], bases["claim"], bases["line"]
    fid = pl.lit(file_id, pl.Int64).alias("file_id")

    def ids(df: pl.DataFrame) -> pl.DataFrame:
        if df.width == 0:
            return df
        exprs = [fid]
        if "payment_key" in df.columns:
            exprs.append((pl.col("payment_key") + bp).alias("payment_id"))
        if "claim_key" in df.columns:
            exprs.append((pl.col("claim_key") + bc).alias("claim_id"))
        if "line_key" in df.columns:
            exprs.append((pl.col("line_key") + bl).alias("line_id"))
        return df.with_columns(exprs)

    payments = ids(parsed.payments).with_columns(pl.col("payment_key").cast(pl.Int32).alias("transaction_index"))
    issues = ids(parsed.issues)
    return {
        "payments": V.conform(payments, V.Payments),
        "claims": V.conform(ids(parsed.claims), V.Claims),
        "service_lines": V.conform(ids(parsed.service_lines), V.ServiceLines),
        "adjustments": V.conform(ids(parsed.adjustments), V.Adjustments),
        "provider_adjustments": V.conform(ids(parsed.provider_adjustments), V.ProviderAdjustments),
        "validation_issues": V.conform(issues, V.ValidationIssues),
    }


def assign_ids_issues(issues: pl.DataFrame, file_id: int, bases: dict[str, int]) -> pl.DataFrame:
    """validation_issues rows from parser issue rows (ordinal keys -> ids)."""
    return V.conform(issues.with_columns(
        pl.lit(file_id, pl.Int64).alias("file_id"),
        (pl.col("payment_key") + bases["payment"]).alias("payment_id"),
        (pl.col("claim_key") + bases["claim"]).alias("claim_id"),
        (pl.col("line_key") + bases["line"]).alias("line_id")), V.ValidationIssues)


def flag_resent(frames: dict[str, pl.DataFrame], resent: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Mark re-sent payments and drop their claims, lines, adjustments and issues (pure).

    ``resent`` has payment_id, resent_of: payments of this file already loaded from another
    file (same TRN02, payer, BPR02). Each gets a ``resent_payment`` warning issue.
    """
    pay = frames["payments"].join(resent.rename({"resent_of": "_old"}), on="payment_id", how="left") \
        .with_columns(pl.col("_old").alias("resent_of_payment_id")).drop("_old")
    gone = pay.filter(pl.col("resent_of_payment_id").is_not_null())["payment_id"]
    out = dict(frames, payments=pay)
    if gone.len() == 0:
        return out
    keep = ~pl.col("payment_id").is_in(gone.implode())
    for t in ("claims", "service_lines", "adjustments", "provider_adjustments"):
        out[t] = frames[t].filter(keep)
    notes = pay.filter(pl.col("resent_of_payment_id").is_not_null()).select(
        "file_id", "payment_id", pl.lit(None, pl.Int64).alias("claim_id"), pl.lit(None, pl.Int64).alias("line_id"),
        "segment_number", pl.lit("resent_payment").alias("rule"), pl.lit("warning").alias("severity"),
        pl.lit(None, pl.String).alias("expected"), pl.col("resent_of_payment_id").cast(pl.String).alias("actual"),
        pl.concat_str(pl.lit("payment (TRN02 "), pl.col("trace_number"),
                      pl.lit(") was already loaded as payment_id "), pl.col("resent_of_payment_id").cast(pl.String),
                      pl.lit("; its claims were not loaded again")).alias("message"))
    out["validation_issues"] = pl.concat([frames["validation_issues"].filter(pl.col("payment_id").is_null() | keep),
                                          V.conform(notes, V.ValidationIssues)])
    return out


# ----------------------------------------------------------------------------- database steps

# polars hands its strings to Arrow as they are (string views) at this level; its default converts
# each string column to large_string first, a copy that cost the inserting thread ~15 ms per slice
# of service lines. DuckDB reads string views directly.
_ARROW = pl.CompatLevel.newest()


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    name = f"_new_{table}"
    con.register(name, frame.to_arrow(compat_level=_ARROW))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # table names are constants
    finally:
        con.unregister(name)


def _bases(con) -> dict[str, int]:
    row = con.execute(
        "SELECT (SELECT coalesce(max(payment_id), 0) FROM payments),"
        " (SELECT coalesce(max(claim_id), 0) FROM claims),"
        " (SELECT coalesce(max(line_id), 0) FROM service_lines)").fetchall()[0]
    return {"payment": row[0], "claim": row[1], "line": row[2]}


def _era_row(con, *, file_id, path: Path, sha, size, status, reason=None, error_segment=None,
             duplicate_of=None, prep: PreparedERA | None = None, load: dict | None = None, run_id=None):
    row = {
        "file_id": file_id, "path": str(path), "file_name": path.name, "sha256": sha, "size_bytes": size,
        "loaded_at": datetime.now(timezone.utc).replace(tzinfo=None), "status": status, "reason": reason,
        "error_segment": error_segment, "duplicate_of": duplicate_of, "run_id": run_id,
    }
    if prep is not None:
        row.update(x12_version=prep.info["version"], interchanges=prep.info["interchanges"],
                   transactions=prep.info["transactions"], claims=load["claims"],
                   service_lines=load["lines"], total_paid=load["paid"], tolerated=load["tolerated"] or None)
    frame = pl.DataFrame([row], schema_overrides={"total_paid": pl.Decimal(14, 2), "tolerated": pl.List(pl.String)},
                         infer_schema_length=None)
    _insert(con, "era_files", V.conform(frame, V.EraFiles))


def _load_slices(con, prep: PreparedERA, file_id: int) -> dict:
    """Build, check and insert the file's tables slice by slice (inside the caller's transaction).

    The next slices' frames are built on one thread (up to BUILD_AHEAD ahead) and checked in
    batches on another while the main thread inserts, so parsing, validation and loading overlap;
    memory stays bounded by a few slices. Ids are the file-wide keys plus the warehouse's max ids
    at the start.
    """
    bases = _bases(con)
    totals = {"payments": 0, "resent": 0, "claims": 0, "lines": 0, "paid": Decimal("0.00")}
    notes: list[str] = []
    slices = prep.slices(SLICE_SEGMENTS, EDGE_SEGMENTS)
    # the builder thread asks its own DuckDB cursor which payments were loaded from other files
    # (committed data, all it needs), so the main thread does nothing but insert
    lookup = con.cursor()

    def build(i):
        """Slice i as frames with warehouse ids, re-sent payments flagged: ready to insert."""
        parts = slice_parts(prep, *slices[i])
        if i == len(slices) - 1:
            prep.scan = None     # every slice gathered: free the scan
        part = tables(prep, *slices[i], parts=parts)
        frames = assign_ids(part, file_id, bases)
        return part.tolerated, flag_resent(frames, _resent(lookup, frames["payments"], file_id))

    checks: list[tuple] = []   # (a batch's pending check, its parser issues)
    batch: list[tuple] = []    # (narrow frames, parser issues) of slices not yet sent to be checked
    batch_segments = 0
    # the few rows of the small tables are inserted once at the end: an INSERT has a fixed cost
    # of a few ms, paid per slice otherwise
    small: dict[str, list[pl.DataFrame]] = {t: [] for t in SMALL_TABLES}

    with lookup, ThreadPoolExecutor(max_workers=1) as ahead, ThreadPoolExecutor(max_workers=1) as checker:
        queued = [ahead.submit(build, i) for i in range(min(BUILD_AHEAD, len(slices)))]
        for i in range(len(slices)):
            tolerated_here, frames = queued.pop(0).result()
            if i + BUILD_AHEAD < len(slices):
                queued.append(ahead.submit(build, i + BUILD_AHEAD))
            notes += tolerated_here
            pay = frames["payments"].select("total_paid", "credit_debit", "resent_of_payment_id")
            totals["payments"] += pay.height
            totals["claims"] += frames["claims"].height
            totals["lines"] += frames["service_lines"].height
            # the checks run on a thread while slices are inserted and built, a batch of slices at a
            # time (each pandera run has ~40 ms of fixed cost); their issue rows are inserted once
            # ready, so loading never waits for them until the end
            batch.append((V.narrow(frames), frames.pop("validation_issues")))
            batch_segments += slices[i][1] - slices[i][0]
            following = slices[i + 1][1] - slices[i + 1][0] if i + 1 < len(slices) else 0
            # the last slice is checked alone: whatever is checked after it is built delays COMMIT
            if batch_segments + following > CHECK_SEGMENTS or i >= len(slices) - 2:
                checks.append((checker.submit(_check_batch, [b[0] for b in batch], file_id),
                               pl.concat([b[1] for b in batch])))
                batch, batch_segments = [], 0
            for table in LOAD_ORDER[:-1]:
                if table in small:
                    small[table].append(frames.pop(table))
                else:
                    _insert(con, table, frames.pop(table))     # each wide frame is freed once loaded
            fresh = pay.filter(pl.col("resent_of_payment_id").is_null())
            if fresh.height:
                totals["paid"] += Decimal(fresh.select(_signed(pl.col("total_paid")).sum()).item())
            totals["resent"] += pay.height - fresh.height
            del frames, pay, fresh
        for table, frames_of_table in small.items():
            if frames_of_table:
                _insert(con, table, pl.concat(frames_of_table))
        tolerated = prep.tolerated + notes
        issues = [parser_issues for _, parser_issues in checks] + [pending.result() for pending, _ in checks]
        issues.append(assign_ids_issues(file_issues(prep, tolerated), file_id, bases))
        _insert(con, "validation_issues", pl.concat(issues))
    totals["paid"] = totals["paid"].quantize(Decimal("0.01"))
    totals["tolerated"] = tolerated
    return totals


def _check_batch(narrow: list[dict[str, pl.DataFrame]], file_id: int) -> pl.DataFrame:
    """validation_issues rows of some slices' narrow frames, checked together (whole transactions)."""
    tables = {t: pl.concat([n[t] for n in narrow], rechunk=False) for t in narrow[0]}
    return V.validate_tables(tables, file_id)


def _resent(con, payments: pl.DataFrame, file_id: int) -> pl.DataFrame:
    con.register("new_payments", payments.select("payment_id", "trace_number", "payer_id", "total_paid")
                 .to_arrow(compat_level=_ARROW))
    try:
        found = pl.from_arrow(con.sql(read_sql("pipelines.ingest.sql", "resent_payments.sql"),
                                      params={"file_id": file_id}).to_arrow_table())
    finally:
        con.unregister("new_payments")
    if not isinstance(found, pl.DataFrame) or found.width == 0:
        return pl.DataFrame(schema={"payment_id": pl.Int64, "resent_of": pl.Int64})
    return found.cast({"payment_id": pl.Int64, "resent_of": pl.Int64})


def _next_file_id(con) -> int:
    return con.execute("SELECT nextval('era_file_id_seq')").fetchall()[0][0]


@dataclass
class ReadFile:
    """One file read, hashed and checked for structure, before any database work."""

    path: Path
    size: int
    sha256: str
    prep: PreparedERA | None          # None when the file could not be read as an 835
    error: Exception | None = None    # why not (X12Error, or an unexpected parser error)


def read_file(path: str | os.PathLike | ScannedFile) -> ReadFile:
    """Read, hash and scan one file (or take one already scanned), then check its structure
    (envelopes, counts, segments outside transactions). No database work."""
    got = path if isinstance(path, ScannedFile) else read_and_scan(path)
    prep, error = None, got.error
    if error is None:
        try:
            prep = prepare(got.scan, got.path)
            got.scan.code = None     # only prepare reads the tag codes (prep.tid has what slices need)
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded with the file; the other files go on
            error = exc
    return ReadFile(path=got.path, size=got.size, sha256=got.sha256, prep=prep, error=error)


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | os.PathLike | ReadFile, *,
                run_id: int | None = None) -> FileOutcome:
    """Load one file in one transaction and say what happened (never raises for a bad file).

    ``path`` may be a :class:`ReadFile` already made by :func:`read_file` (see ``ingest_paths``)."""
    t0 = time.perf_counter()
    got = path if isinstance(path, ReadFile) else read_file(path)
    path, sha, size = got.path, got.sha256, got.size
    out = FileOutcome(path=str(path), file_id=None, status="rejected", size_bytes=size, sha256=sha)

    first = con.execute("SELECT file_id, path FROM era_files WHERE sha256 = ? AND status = 'loaded' "
                        "ORDER BY file_id LIMIT 1", [sha]).fetchall()
    first = first[0] if first else None
    if first is not None:
        with transaction(con):
            out.file_id = _next_file_id(con)
            out.status, out.reason = "duplicate", f"same bytes as file_id {first[0]} ({first[1]}); nothing loaded"
            _era_row(con, file_id=out.file_id, path=path, sha=sha, size=size, status="duplicate",
                     reason=out.reason, duplicate_of=first[0], run_id=run_id)
        out.seconds = time.perf_counter() - t0
        return out

    try:
        if got.error is not None:
            raise got.error
        prep = got.prep
        with bulk_load(con), transaction(con):
            out.file_id = file_id = _next_file_id(con)
            load = _load_slices(con, prep, file_id)
            pairs = con.sql(read_sql("pipelines.ingest.sql", "reversal_pairs.sql"),
                            params={"file_id": file_id}).to_arrow_table()
            if pairs.num_rows:
                con.register("reversal_pairs", pairs)
                try:
                    con.execute(read_sql("pipelines.ingest.sql", "link_reversals.sql"))
                finally:
                    con.unregister("reversal_pairs")
            con.execute("INSERT INTO validation_issues BY NAME "
                        + read_sql("pipelines.ingest.sql", "repeated_payments.sql"), {"file_id": file_id})
            reason = None
            if load["resent"]:
                reason = (f"{load['resent']} of {load['payments']} payment(s) already loaded from another file "
                          "(same TRN02, payer and amount): flagged in payments.resent_of_payment_id, "
                          "their claims not loaded again")
            _era_row(con, file_id=file_id, path=path, sha=sha, size=size, status="loaded", reason=reason,
                     prep=prep, load=load, run_id=run_id)
            n_issues = con.execute("SELECT count(*) FROM validation_issues WHERE file_id = ?",
                                   [file_id]).fetchall()[0][0]
        out.status, out.reason = "loaded", reason
        out.claims, out.lines, out.paid = load["claims"], load["lines"], load["paid"]
        out.payments, out.resent_payments, out.issues = load["payments"], load["resent"], n_issues
    except X12Error as exc:
        out.status, out.reason, out.error_segment = "rejected", str(exc), exc.segment
        _record_rejection(con, out, path, sha, size, run_id)
    except (duckdb.Error, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file must not stop the other files
        log.error("unexpected error reading %s", path, exc_info=exc)
        out.status = "rejected"
        out.reason = (f"{path}: could not be read ({type(exc).__name__}: {exc}); "
                      "the file was not loaded - report this with the file to the underpay maintainers")
        out.error_segment = None
        _record_rejection(con, out, path, sha, size, run_id)
    out.seconds = time.perf_counter() - t0
    return out


def _record_rejection(con, out: FileOutcome, path, sha, size, run_id):
    with transaction(con):
        out.file_id = _next_file_id(con)
        _era_row(con, file_id=out.file_id, path=path, sha=sha, size=size, status="rejected",
                 reason=out.reason, error_segment=out.error_segment, run_id=run_id)
    out.claims = out.lines = 0
    out.paid = Decimal("0.00")


class _ReadAhead:
    """:func:`read_file` of each file in turn, on a thread: the first file as soon as this is made
    (while the warehouse is opened), each next one while the current one loads when it is small
    (at most READ_AHEAD_BYTES: two big files at once would double the peak memory for little gain)."""

    def __init__(self, files: list[Path], first: Future | None = None):
        self.files = files
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self.ahead = None
        if first is not None:       # the first file's read and scan, already started by the caller
            self.ahead = self.reader.submit(lambda: read_file(first.result()))
        elif files:
            self.ahead = self.reader.submit(read_file, files[0])

    def __iter__(self):
        try:
            for i, f in enumerate(self.files):
                got = self.ahead.result() if self.ahead is not None else read_file(f)
                self.ahead = None
                if i + 1 < len(self.files) and _size(self.files[i + 1]) <= READ_AHEAD_BYTES:
                    self.ahead = self.reader.submit(read_file, self.files[i + 1])
                yield got
        finally:
            self.close()

    def close(self) -> None:
        """Stop (an error, Ctrl-C): do not wait for a read nobody will use."""
        self.reader.shutdown(wait=False, cancel_futures=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0      # gone: read_file will say so when its turn comes


def ingest_paths(paths, db_or_con, *, progress: Callable[[FileOutcome, int, int], None] | None = None,
                 run_id: int | None = None, first: Future | None = None) -> IngestResult:
    """Load every 835 file named by ``paths`` (files, folders, globs) into the warehouse.

    ``db_or_con`` is a warehouse path or an open DuckDB connection (left open). ``progress``,
    when given, is called after each file as ``progress(outcome, done, total)``. ``first`` may be
    :func:`pipelines.ingest.read.start` of the first file, begun before this module was imported.
    """
    t0 = time.perf_counter()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    reads = _ReadAhead(files, first)   # the first file is read and scanned while the warehouse opens
    own = not isinstance(db_or_con, duckdb.DuckDBPyConnection)
    try:
        con = connect(db_or_con) if own else db_or_con
    except BaseException:
        reads.close()
        raise
    result = IngestResult()
    try:
        for i, got in enumerate(reads, 1):
            outcome = ingest_file(con, got, run_id=run_id)
            result.files.append(outcome)
            if outcome.status == "rejected":
                log.info("rejected %s: %s", got.path, outcome.reason)
            if progress is not None:
                progress(outcome, i, len(files))
    finally:
        if own:
            con.close()
    result.seconds = time.perf_counter() - t0
    return result
