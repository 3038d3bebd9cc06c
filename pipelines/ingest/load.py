"""Load 835 files into the warehouse: one file = one DuckDB transaction.

``ingest_paths`` expands files / directories / globs and loads each file:

1. read, hash and scan (``pipelines.ingest.read``), then ``prepare_file`` (envelope, counts,
   structure; ``pipelines.ingest.envelope``); done on a thread, for the next small file while the
   current one loads;
2. same sha256 as a file already loaded -> ``era_files`` row with status ``duplicate``, nothing else;
   a structurally broken file (X12Error) is recorded as ``rejected`` (reason + error_segment),
   nothing of it loaded;
3. the file's tables are built slice by slice (whole transactions, ``LoadPlan.slice_segments``
   segments, shorter first and last), ids assigned from file-wide ordinals, payments already loaded
   from another file (same TRN02, payer, BPR02) flagged ``resent_of_payment_id`` and their
   claims/lines/adjustments NOT loaded;
4. pandera models + balancing checks, a batch of slices at a time -> ``validation_issues`` rows
   (the file still loads);
5. frames inserted via Arrow (one INSERT per big table and slice; the small tables and the issues
   once), reversals linked, COMMIT. Building slices, checking them and inserting overlap on
   the threads of ``pipelines.ingest.schedule`` (docs/architecture.md, "How an ingest uses two cores").

``parse_835`` (re-exported from ``pipelines.ingest.tables``) is the pure whole-file parser.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.core.errors import Interrupted, X12Error, is_interrupt
from pipelines.core.logs import printable
from pipelines.core.money import MONEY
from pipelines.core.paths import expand_paths
from pipelines.core.sql import arrow_view, read_sql
from pipelines.core.transactions import transaction
from pipelines.core.warehouse import bulk_load, connect
from pipelines.ingest.envelope import PreparedFile
from pipelines.ingest.schedule import IngestSchedule, LoadPlan
from pipelines.ingest.tables import ParsedERA, PreparedERA, file_issues, parse_835, slice_parts, tables


class _Validate:
    """``pipelines.ingest.validate`` (pandera, ~0.1 s to import), imported when first used: an ingest
    starts importing it on a thread when it begins (``IngestSchedule.import_validation``) and the
    import lock makes a first use wait for that import."""

    def __getattr__(self, name):
        from pipelines.ingest import validate

        return getattr(validate, name)


V = _Validate()

__all__ = [
    "FileOutcome",
    "IngestResult",
    "ingest_paths",
    "ingest_file",
    "expand_paths",
    "parse_835",
    "ParsedERA",
    "PreparedFile",
    "LoadPlan",
    "IngestSchedule",
]

log = logging.getLogger(__name__)

SMALL_TABLES = ("payments", "provider_adjustments")  # a few rows per transaction
LOAD_ORDER = ("payments", "claims", "service_lines", "adjustments", "provider_adjustments", "validation_issues")


@dataclass
class FileOutcome:
    path: str
    file_id: int | None
    status: str  # loaded | duplicate | rejected
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
    return V.conform(
        issues.with_columns(
            pl.lit(file_id, pl.Int64).alias("file_id"),
            (pl.col("payment_key") + bases["payment"]).alias("payment_id"),
            (pl.col("claim_key") + bases["claim"]).alias("claim_id"),
            (pl.col("line_key") + bases["line"]).alias("line_id"),
        ),
        V.ValidationIssues,
    )


# A payment "is the same" as an earlier one when these of its claims are, as a multiset (any order).
_CLAIM_FINGERPRINT = ("patient_control_number", "payer_claim_number", "charge", "paid")
_RESENT_SCHEMA: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "earlier": pl.Int64(),
    "claim_id": pl.Int64(),
    "patient_control_number": pl.String(),
    "payer_claim_number": pl.String(),
    "charge": MONEY,
    "paid": MONEY,
}


def _same_claims(frames: dict[str, pl.DataFrame], resent: pl.DataFrame) -> pl.DataFrame:
    """Of the (payment_id, earlier) pairs in ``resent``, the ones whose claims are the same multiset
    of (CLP01, CLP07, CLP03, CLP04): one join of per-claim counts, no row-by-row comparison."""
    keys = list(_CLAIM_FINGERPRINT)
    pairs = resent.select("payment_id", "earlier").unique()
    new = (
        frames["claims"]
        .filter(pl.col("payment_id").is_in(pairs["payment_id"].implode()))
        .group_by("payment_id", *keys)
        .len("n")
    )
    old = resent.filter(pl.col("claim_id").is_not_null()).group_by("earlier", *keys).len("n")
    matched = (
        pairs.join(new, on="payment_id")
        .join(old, on=["earlier", *keys, "n"], nulls_equal=True)
        .group_by("payment_id", "earlier")
        .len("matched")
    )
    return (
        pairs.join(new.group_by("payment_id").len("new_groups"), on="payment_id", how="left")
        .join(old.group_by("earlier").len("old_groups"), on="earlier", how="left")
        .join(matched, on=["payment_id", "earlier"], how="left")
        .with_columns(pl.col("new_groups", "old_groups", "matched").fill_null(0))
        .filter((pl.col("new_groups") == pl.col("old_groups")) & (pl.col("matched") == pl.col("new_groups")))
        .select("payment_id", "earlier")
    )


def _payment_issues(pay: pl.DataFrame, rule: str, of: str, message: str) -> pl.DataFrame:
    """A warning issue per payment of ``pay`` naming the earlier payment_id in column ``of``
    (``message`` is followed by that id and must quote no file value)."""
    return V.conform(
        pay.select(
            "file_id",
            "payment_id",
            pl.lit(None, pl.Int64).alias("claim_id"),
            pl.lit(None, pl.Int64).alias("line_id"),
            "segment_number",
            pl.lit(rule).alias("rule"),
            pl.lit("warning").alias("severity"),
            pl.lit(None, pl.String).alias("expected"),
            pl.col(of).cast(pl.String).alias("actual"),
            pl.format(message, pl.col(of)).alias("message"),
        ),
        V.ValidationIssues,
    )


def flag_resent(frames: dict[str, pl.DataFrame], resent: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Mark re-sent payments and drop their claims, lines, adjustments and issues (pure).

    ``resent`` (from :func:`_resent`) pairs payments of this file with payments already loaded
    from another file with the same TRN02, payer and BPR02, listing the earlier one's claims. A
    payment whose claims are the same (as a multiset of CLP01, CLP07, CLP03, CLP04) is a re-send:
    ``resent_of_payment_id`` points at the first load, its claims are not loaded again, and it gets
    a ``resent_payment`` warning. A payment whose claims differ reuses the trace number (payers do
    so for zero-dollar notices): it is loaded in full with a ``reused_trace_number`` warning.
    """
    same = _same_claims(frames, resent) if resent.height else resent.select("payment_id", "earlier")
    first = same.group_by("payment_id").agg(pl.col("earlier").min().alias("_old"))
    pay = (
        frames["payments"]
        .join(first, on="payment_id", how="left")
        .with_columns(pl.col("_old").cast(pl.Int64).alias("resent_of_payment_id"))
        .drop("_old")
    )
    out = dict(frames, payments=pay)
    notes = []
    if resent.height:
        reused = (
            resent.join(first, on="payment_id", how="anti")
            .group_by("payment_id")
            .agg(pl.col("earlier").min().alias("_reused_of"))
        )
        if reused.height:
            notes.append(
                _payment_issues(
                    pay.join(reused, on="payment_id"),
                    "reused_trace_number",
                    "_reused_of",
                    "same TRN02 trace number, payer and BPR02 amount as payment_id {} loaded from another file, "
                    "but other claims: loaded as a separate payment (payers reuse trace numbers, e.g. for "
                    "zero-dollar notices); check with the payer if you expected a re-send",
                )
            )
    gone = pay.filter(pl.col("resent_of_payment_id").is_not_null())["payment_id"]
    if gone.len():
        keep = ~pl.col("payment_id").is_in(gone.implode())
        for t in ("claims", "service_lines", "adjustments", "provider_adjustments"):
            out[t] = frames[t].filter(keep)
        out["validation_issues"] = frames["validation_issues"].filter(pl.col("payment_id").is_null() | keep)
        notes.append(
            _payment_issues(
                pay.filter(pl.col("resent_of_payment_id").is_not_null()),
                "resent_payment",
                "resent_of_payment_id",
                "same TRN02 trace number, payer, BPR02 amount and claims as payment_id {}, already loaded "
                "from another file: its claims were not loaded again",
            )
        )
    if notes:
        out["validation_issues"] = pl.concat([out["validation_issues"], *notes])
    return out


# ----------------------------------------------------------------------------- database steps


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    name = f"_new_{table}"
    con.register(name, arrow_view(frame))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # table names are constants
    except BaseException:
        # a failed INSERT aborts the transaction, and unregistering then fails too: that second
        # error must not hide the first (which says what was wrong with the file's rows)
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)


def _bases(con) -> dict[str, int]:
    row = con.execute(
        "SELECT (SELECT coalesce(max(payment_id), 0) FROM payments),"
        " (SELECT coalesce(max(claim_id), 0) FROM claims),"
        " (SELECT coalesce(max(line_id), 0) FROM service_lines)"
    ).fetchall()[0]
    return {"payment": row[0], "claim": row[1], "line": row[2]}


def _storable(text: object) -> str:
    """``text`` as UTF-8 the warehouse can hold: a byte of a file name that is not UTF-8 (Python
    keeps it as a lone surrogate) is written as ``\\xff``; everything else is kept as it is."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _era_row(
    con,
    *,
    file_id,
    path: Path,
    sha,
    size,
    status,
    reason=None,
    error_segment=None,
    duplicate_of=None,
    prep: PreparedERA | None = None,
    load: dict | None = None,
    run_id=None,
):
    row = {
        "file_id": file_id,
        "path": _storable(path),
        "file_name": _storable(path.name),
        "sha256": sha,
        "size_bytes": size,
        "loaded_at": datetime.now(UTC).replace(tzinfo=None),
        "status": status,
        "reason": None if reason is None else _storable(reason),
        "error_segment": error_segment,
        "duplicate_of": duplicate_of,
        "run_id": run_id,
    }
    if prep is not None and load is not None:
        row.update(
            x12_version=prep.info["version"],
            interchanges=prep.info["interchanges"],
            transactions=prep.info["transactions"],
            claims=load["claims"],
            service_lines=load["lines"],
            total_paid=load["paid"],
            tolerated=load["tolerated"] or None,
        )
    frame = pl.DataFrame(
        [row], schema_overrides={"total_paid": MONEY, "tolerated": pl.List(pl.String)}, infer_schema_length=None
    )
    _insert(con, "era_files", V.conform(frame, V.EraFiles))


def _load_slices(con, prep: PreparedERA, file_id: int, schedule: IngestSchedule) -> dict:
    """Build, check and insert the file's tables slice by slice (inside the caller's transaction).

    The next slices' frames are built on the schedule's builder (up to ``plan.build_ahead`` ahead)
    and checked in batches on its checker while this thread inserts, so parsing, validation and
    loading overlap; memory stays bounded by a few slices. Ids are the file-wide keys plus the
    warehouse's max ids at the start.
    """
    plan = schedule.plan
    bases = _bases(con)
    totals: dict[str, Any] = {"payments": 0, "resent": 0, "claims": 0, "lines": 0, "paid": Decimal("0.00")}
    notes: list[str] = []
    slices = prep.slices(plan.slice_segments, plan.edge_segments)
    # the builder thread asks its own DuckDB cursor which payments were loaded from other files
    # (committed data, all it needs), so the main thread does nothing but insert
    lookup = con.cursor()

    def build(i):
        """Slice i as frames with warehouse ids, re-sent payments flagged: ready to insert."""
        parts = slice_parts(prep, *slices[i])
        if i == len(slices) - 1:
            prep.release_scan()  # every slice gathered: the file's bytes are no longer needed
        lo, hi = slices[i]
        part = tables(prep, lo, hi, parts=parts, pool=schedule.lines)
        frames = assign_ids(part, file_id, bases)
        return part.tolerated, flag_resent(frames, _resent(lookup, frames["payments"], file_id))

    queued: list[Future] = []  # slices being built, in order
    checks: list[tuple] = []  # (a batch's pending check, its parser issues)
    batch: list[tuple] = []  # (narrow frames, parser issues) of slices not yet sent to be checked
    batch_segments = 0
    # the few rows of the small tables are inserted once at the end: an INSERT has a fixed cost
    # of a few ms, paid per slice otherwise
    small: dict[str, list[pl.DataFrame]] = {t: [] for t in SMALL_TABLES}

    with lookup:
        try:
            queued = [schedule.builder.submit(build, i) for i in range(min(plan.build_ahead, len(slices)))]
            for i in range(len(slices)):
                tolerated_here, frames = queued.pop(0).result()
                if i + plan.build_ahead < len(slices):
                    queued.append(schedule.builder.submit(build, i + plan.build_ahead))
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
                if batch_segments + following > plan.check_segments or i >= len(slices) - 2:
                    checks.append(
                        (
                            schedule.checker.submit(_check_batch, [b[0] for b in batch], file_id),
                            pl.concat([b[1] for b in batch]),
                        )
                    )
                    batch, batch_segments = [], 0
                for table in LOAD_ORDER[:-1]:
                    if table in small:
                        small[table].append(frames.pop(table))
                    else:
                        _insert(con, table, frames.pop(table))  # each wide frame is freed once loaded
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
        finally:
            # on an error: builds not started are dropped, and the cursor is closed only once
            # the builds and checks under way are over
            for pending in queued:
                pending.cancel()
            wait(queued + [pending for pending, _ in checks])
    totals["paid"] = totals["paid"].quantize(Decimal("0.01"))
    totals["tolerated"] = tolerated
    return totals


def _check_batch(narrow: list[dict[str, pl.DataFrame]], file_id: int) -> pl.DataFrame:
    """validation_issues rows of some slices' narrow frames, checked together (whole transactions)."""
    tables = {t: pl.concat([n[t] for n in narrow], rechunk=False) for t in narrow[0]}
    return V.validate_tables(tables, file_id)


def _resent(con, payments: pl.DataFrame, file_id: int) -> pl.DataFrame:
    """Payments of this slice that match one loaded from another file on TRN02, payer and BPR02,
    each with the earlier payment's claims (resent_payments.sql, then resent_claims.sql only when
    there is a candidate); :func:`flag_resent` decides."""
    con.register(
        "new_payments",
        arrow_view(payments.select("payment_id", "trace_number", "payer_id", "total_paid")),
    )
    try:
        candidates = con.sql(
            read_sql("pipelines.ingest.sql", "resent_payments.sql"), params={"file_id": file_id}
        ).to_arrow_table()
    finally:
        con.unregister("new_payments")
    if candidates.num_rows == 0:
        return pl.DataFrame(schema=_RESENT_SCHEMA)
    con.register("resent_candidates", candidates)
    try:
        found = pl.from_arrow(con.sql(read_sql("pipelines.ingest.sql", "resent_claims.sql")).to_arrow_table())
    finally:
        con.unregister("resent_candidates")
    assert isinstance(found, pl.DataFrame)
    return found.cast(dict(_RESENT_SCHEMA))  # type: ignore[arg-type]  # dict invariance


def _next_file_id(con) -> int:
    return con.execute("SELECT nextval('era_file_id_seq')").fetchall()[0][0]


# ----------------------------------------------------------------------------- faults

# Exceptions that stop the command rather than reject the file being loaded.
_STOP = (KeyboardInterrupt, SystemExit, GeneratorExit)

# DuckDB errors raised by the rows of the file being inserted (text that is not UTF-8, a value out
# of range, a broken constraint): that file's rejection, the other files go on. Any other DuckDB
# error (I/O, disk full, out of memory, a fatal or internal error) means the warehouse itself is in
# trouble: it stops the command (`underpay nightly` ends `failed`, exit 2).
_FILE_DATA_ERRORS = (duckdb.DataError, duckdb.InvalidInputException, duckdb.IntegrityError)


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C as it arrives here (pipelines.core.errors.is_interrupt; an Interrupted is already worded)."""
    return not isinstance(exc, Interrupted) and is_interrupt(exc)


def _unexpected_reason(path, exc: BaseException, size: int, *, read: bool) -> str:
    """Why a file failed in a way the parser did not foresee (``read``: its bytes were read).
    Only the error's type is shown: the text of an error raised by polars or DuckDB can quote a
    value of the file (PHI)."""
    name = type(exc).__name__
    if isinstance(exc, MemoryError):
        return (
            f"{path}: not enough memory to load this file ({size:,} bytes); nothing of it was loaded. "
            "Load it when the machine has more memory free, or ask the sender to split it"
        )
    if isinstance(exc, OSError) and not read:
        why = exc.strerror or name
        return (
            f"{path}: could not be read ({why}); nothing of it was loaded. Check that the file exists "
            "and that the user running underpay may read it, then put it back in the inbox"
        )
    if isinstance(exc, duckdb.Error):
        return (
            f"{path}: the warehouse refused its rows ({name}: a value it cannot store, e.g. text that is "
            "not valid UTF-8 or an out-of-range number); nothing of it was loaded. Ask the sender for "
            "a corrected file"
        )
    return (
        f"{path}: could not be read as an 835 ({name}); nothing of it was loaded. "
        "Report this with the file to the underpay maintainers"
    )


def _interrupted(con, out: FileOutcome, path) -> Interrupted:
    """The Interrupted error of a Ctrl-C while ``path`` was being loaded: whether its transaction
    committed is asked of the warehouse (the interrupt can land after COMMIT wrote it)."""
    status: str | None = "none"  # none: nothing of the file was committed; None: unknown
    if out.file_id is not None:
        status = None
        with contextlib.suppress(duckdb.Error, RuntimeError):
            rows = con.execute("SELECT status FROM era_files WHERE file_id = ?", [out.file_id]).fetchall()
            status = rows[0][0] if rows else "none"
    name = printable(path)
    if status is None:
        what = (
            f"could not tell whether {name} committed; the next run recognises it by its sha256 "
            "if it did (nothing is loaded twice)"
        )
    elif status == "none":
        what = f"nothing of {name} was committed (rolled back)"
    else:
        what = f"{name} was committed as {status} (file_id {out.file_id}) before the stop"
    return Interrupted(f"interrupted: {what}; files after it were not loaded. Run the command again to go on")


def _rejected(con, out: FileOutcome, path, sha, size, run_id, *, reason, segment=None) -> None:
    out.status, out.reason, out.error_segment = "rejected", reason, segment
    if sha:  # a file that could not be read has no sha256 to record it by
        _record_outcome(con, out, path, sha, size, run_id, error_segment=segment)
    out.claims = out.lines = 0
    out.paid = Decimal("0.00")


# ----------------------------------------------------------------------------- files


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike | PreparedFile,
    *,
    run_id: int | None = None,
    plan: LoadPlan | None = None,
    schedule: IngestSchedule | None = None,
) -> FileOutcome:
    """Load one file in one transaction and say what happened (never raises for a bad file).

    Whatever the file's bytes cause (a parser error, a library panic, rows DuckDB refuses) rejects
    that file: an ``era_files`` row with the reason, nothing else. A file that cannot be read at
    all is rejected without an ``era_files`` row (it has no sha256). It raises only when the
    command must stop: :class:`Interrupted` on Ctrl-C (saying whether the file committed; a
    committed file is never recorded as rejected), or a DuckDB error of the warehouse itself.

    ``path`` may be a :class:`PreparedFile` already read (see ``ingest_paths``). The work runs on
    the threads of ``schedule``, or of a schedule made for this file with ``plan`` (the default
    :class:`LoadPlan` when None); give one or the other."""
    if schedule is None:
        with IngestSchedule(plan) as made:
            made.import_validation()
            return ingest_file(con, path, run_id=run_id, schedule=made)
    if plan is not None:
        raise TypeError("ingest_file: give a plan or a schedule (which has its plan), not both")
    t0 = time.perf_counter()
    try:
        got = path if isinstance(path, PreparedFile) else schedule.read(path)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: nothing of {printable(path)} was committed (it was being read); "
            "files after it were not loaded. Run the command again to go on"
        ) from None
    path, sha, size = got.path, got.sha256, got.size
    out = FileOutcome(path=str(path), file_id=None, status="rejected", size_bytes=size, sha256=sha or None)
    try:
        if not sha:  # not readable (IngestSchedule.read says why)
            raise got.error if got.error is not None else OSError(f"{path}: not read")
        if _duplicate(con, out, path, sha, size, run_id):
            out.seconds = time.perf_counter() - t0
            return out
        if got.error is not None:
            raise got.error
        prep = got.prep
        assert prep is not None  # prepare_file sets one of prep and error
        with bulk_load(con), transaction(con):
            out.file_id = file_id = _next_file_id(con)
            load = _load_slices(con, prep, file_id, schedule)
            reason, n_issues = _finish_file(con, prep, load, file_id, path, sha, size, run_id)
        out.status, out.reason = "loaded", reason
        out.claims, out.lines, out.paid = load["claims"], load["lines"], load["paid"]
        out.payments, out.resent_payments, out.issues = load["payments"], load["resent"], n_issues
    except X12Error as exc:
        _rejected(con, out, path, sha, size, run_id, reason=str(exc), segment=exc.segment)
    except BaseException as exc:
        if _is_interrupt(exc):
            raise _interrupted(con, out, path) from None
        if isinstance(exc, _STOP) or (isinstance(exc, duckdb.Error) and not isinstance(exc, _FILE_DATA_ERRORS)):
            raise
        # a panic in a library (a BaseException), a RecursionError, rows DuckDB refuses, an
        # unreadable file: this file's problem only; the other files must go on
        if sha:  # (an unreadable file is reason enough)
            log.error("%s: rejected after an unexpected %s", printable(path), type(exc).__name__)
        _rejected(con, out, path, sha, size, run_id, reason=_unexpected_reason(path, exc, size, read=bool(sha)))
    out.seconds = time.perf_counter() - t0
    return out


def _duplicate(con, out: FileOutcome, path: Path, sha: str, size: int, run_id) -> bool:
    """Same bytes as a file already loaded: record it as a duplicate (nothing else) and say so."""
    rows = con.execute(
        "SELECT file_id, path FROM era_files WHERE sha256 = ? AND status = 'loaded' ORDER BY file_id LIMIT 1", [sha]
    ).fetchall()
    if not rows:
        return False
    first = rows[0]
    out.status, out.reason = "duplicate", f"same bytes as file_id {first[0]} ({first[1]}); nothing loaded"
    _record_outcome(con, out, path, sha, size, run_id, duplicate_of=first[0])
    return True


def _finish_file(con, prep: PreparedERA, load: dict, file_id: int, path: Path, sha: str, size: int, run_id):
    """After the slices (inside the file's transaction): reversals linked, repeated payments noted,
    the ``era_files`` row written. Returns (reason, number of validation issues)."""
    pairs = con.sql(
        read_sql("pipelines.ingest.sql", "reversal_pairs.sql"), params={"file_id": file_id}
    ).to_arrow_table()
    if pairs.num_rows:
        con.register("reversal_pairs", pairs)
        try:
            con.execute(read_sql("pipelines.ingest.sql", "link_reversals.sql"))
        finally:
            con.unregister("reversal_pairs")
    con.execute(
        "INSERT INTO validation_issues BY NAME " + read_sql("pipelines.ingest.sql", "repeated_payments.sql"),
        {"file_id": file_id},
    )
    reason = None
    if load["resent"]:
        reason = (
            f"{load['resent']} of {load['payments']} payment(s) already loaded from another file "
            "(same TRN02, payer and amount): flagged in payments.resent_of_payment_id, "
            "their claims not loaded again"
        )
    _era_row(
        con,
        file_id=file_id,
        path=path,
        sha=sha,
        size=size,
        status="loaded",
        reason=reason,
        prep=prep,
        load=load,
        run_id=run_id,
    )
    n_issues = con.execute("SELECT count(*) FROM validation_issues WHERE file_id = ?", [file_id]).fetchall()[0][0]
    return reason, n_issues


def _record_outcome(con, out: FileOutcome, path, sha, size, run_id, **columns) -> None:
    """The ``era_files`` row of a file that loaded nothing (``out.status`` duplicate or rejected),
    in its own transaction; ``out.file_id`` is the id it got."""
    with transaction(con):
        out.file_id = _next_file_id(con)
        _era_row(
            con,
            file_id=out.file_id,
            path=path,
            sha=sha,
            size=size,
            status=out.status,
            reason=out.reason,
            run_id=run_id,
            **columns,
        )


def ingest_paths(
    paths,
    db_or_con,
    *,
    progress: Callable[[FileOutcome, int, int], None] | None = None,
    run_id: int | None = None,
    plan: LoadPlan | None = None,
    schedule: IngestSchedule | None = None,
) -> IngestResult:
    """Load every 835 file named by ``paths`` (files, folders, globs) into the warehouse.

    ``db_or_con`` is a warehouse path or an open DuckDB connection (left open). ``progress``,
    when given, is called after each file as ``progress(outcome, done, total)``. The work runs on
    the threads of ``schedule`` (which may already be reading the first file: see
    :meth:`IngestSchedule.start_reading`), or of one made for this call with ``plan`` (the default
    :class:`LoadPlan` when None); give one or the other.

    Ctrl-C stops it with :class:`Interrupted` (exit 130), whose message says which files were
    done (each committed) and whether the one being loaded was.
    """
    if schedule is None:
        with IngestSchedule(plan) as made:
            return ingest_paths(paths, db_or_con, progress=progress, run_id=run_id, schedule=made)
    if plan is not None:
        raise TypeError("ingest_paths: give a plan or a schedule (which has its plan), not both")
    t0 = time.perf_counter()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    schedule.import_validation()
    reads = schedule.read_ahead(files)  # the first file is read and prepared while the warehouse opens
    own = not isinstance(db_or_con, duckdb.DuckDBPyConnection)
    try:
        con = connect(db_or_con) if own else db_or_con
    except BaseException:
        reads.close()
        raise
    result = IngestResult()
    try:
        for i, got in enumerate(reads, 1):
            outcome = ingest_file(con, got, run_id=run_id, schedule=schedule)
            result.files.append(outcome)
            if outcome.status == "rejected":
                log.info("rejected %s: %s", printable(got.path), printable(outcome.reason))
            if progress is not None:
                progress(outcome, i, len(files))
    except Interrupted as exc:
        raise Interrupted(f"{exc} ({_done(result, len(files))})") from None
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted between files: {_done(result, len(files))}") from None
    finally:
        if own:
            con.close()
    result.seconds = time.perf_counter() - t0
    return result


def _done(result: IngestResult, total: int) -> str:
    """What an interrupted ingest had done: the files finished, each committed."""
    if not result.files:
        return f"none of the {total} file(s) was finished"
    last = result.files[-1]
    return (
        f"{len(result.files)} of {total} file(s) finished and committed, the last {printable(last.path)} "
        f"({last.status}); run the command again for the rest: files already loaded are recognised as duplicates"
    )
