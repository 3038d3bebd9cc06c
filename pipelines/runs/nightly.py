"""The unattended overnight run: inbox -> warehouse -> archive / quarantine -> variances -> reports.

Order of work, chosen so that ``kill -9`` at any moment loses nothing and doubles nothing:

1. Take the warehouse lock (``<warehouse>.lock``, fcntl.flock); a second run exits at once.
2. Mark runs a killed process left at ``running`` as ``interrupted``; their months are redone.
3. For each settled inbox file, in name order: ingest it in one transaction (``ingest_paths``);
   only after that commit, move it to the archive (loaded or duplicate) or to the quarantine
   with ``<name>.error.txt`` (rejected). A file whose load committed but was not moved yet is
   re-read next time, recognised by its sha256 as a duplicate, and archived: never loaded twice.
4. Recompute the payment months this run (and any interrupted run) loaded, plus any month with
   lines never compared (``compare_months``), and refresh their reports (``render_months``).
5. Close the ``runs`` row: ok (exit 0), quarantined (exit 1) or failed (exit 2); on Ctrl-C,
   interrupted (exit 130, the message says whether the file being loaded committed).

One bad file never stops the run: whatever its bytes cause (a parser error, a panic in polars,
rows DuckDB refuses, an unreadable file) quarantines that file and the others load. A symbolic
link in the inbox is quarantined unread (never followed), and moves never write through a link.
A note whose name would pass 255 bytes is shortened (``fitted``). Names are shown with control
characters escaped (``printable``) in the log, the summary and the notes.

Half-written files: a file modified in the last ``settle_seconds`` (default 60), a hidden file
(``.name``) or one with a temporary suffix (.tmp .part .partial .filepart .crdownload .download
.swp .lock, or ending in ``~``) is left in the inbox for the next run. Deliver files by writing
them under a temporary name and renaming them when complete.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.core.config import Settings
from pipelines.core.errors import AlreadyRunning, Interrupted, UnderpayError, is_interrupt
from pipelines.core.lock import run_lock
from pipelines.core.logs import EventLog, NullLog, printable
from pipelines.core.months import Month
from pipelines.core.outputs import private_open
from pipelines.core.warehouse import connect, drop_spill_folder
from pipelines.runs.monthly import MonthResult, compare_months, render_months
from pipelines.runs.records import (
    RunCounts,
    finish_run,
    mark_redone,
    months_loaded_by_runs,
    months_without_variances,
    owed_runs,
    recover_stale_runs,
    start_run,
    update_run,
)

TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload", ".download", ".swp", ".lock", "~")
ERROR_SUFFIX = ".error.txt"
NAME_MAX = 255  # bytes in one file name (Linux, macOS): a longer note or free name is shortened

EXIT_OK, EXIT_QUARANTINED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, Interrupted.exit_code


@dataclass
class InboxFile:
    """What the run did with one inbox file: the ingest's verdict (pipelines.ingest.load's
    ``FileOutcome``, condensed) and where the file was moved."""

    name: str  # path relative to the inbox
    status: str  # loaded | duplicate | rejected
    moved_to: Path | None = None
    reason: str | None = None
    claims: int = 0
    lines: int = 0
    sha256: str | None = None  # as computed by the ingest (the file is read once)


@dataclass
class NightlyResult:
    run_id: int | None = None
    status: str = "ok"  # ok | quarantined | failed | interrupted
    exit_code: int = EXIT_OK
    files: list[InboxFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    months: list[MonthResult] = field(default_factory=list)  # one per month recomputed
    message: str = ""
    seconds: float = 0.0

    @property
    def counts(self) -> RunCounts:
        c = RunCounts(seen=len(self.files))
        for f in self.files:
            setattr(c, f.status, getattr(c, f.status) + 1)
        return c

    def summary(self) -> str:
        c = self.counts
        head = (
            f"nightly run {self.run_id}: {self.status} (exit {self.exit_code}) in {self.seconds:.1f} s; "
            f"files {c.seen} (loaded {c.loaded}, duplicate {c.duplicate}, rejected {c.rejected}), "
            f"left for later {len(self.skipped)}; months recomputed: "
            f"{', '.join(m.month for m in self.months) or 'none'}"
        )
        lines = [head] + [f"  {m.summary()}\n    report: {m.report}" for m in self.months]
        lines += [
            f"  quarantined {printable(f.name)}: {printable(f.reason)}" for f in self.files if f.status == "rejected"
        ]
        if self.message:
            lines.append(f"  {printable(self.message)}")
        return "\n".join(lines)


def inbox_files(inbox: Path, settle_seconds: int, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """(ready, not yet): settled regular files under the inbox in name order, and the rest.

    A symbolic link (to a file or a folder) is listed as itself, never followed: ``ready`` holds
    it and the run quarantines it unread (``run_nightly``)."""
    now = time.time() if now is None else now
    ready: list[Path] = []
    waiting: list[Path] = []
    if not inbox.is_dir():
        return ready, waiting
    for path in sorted(inbox.rglob("*")):  # rglob does not enter linked folders
        rel = path.relative_to(inbox)
        if not path.is_symlink() and not path.is_file():  # a folder: its files are listed themselves
            continue
        if any(part.startswith(".") for part in rel.parts):
            waiting.append(path)
            continue
        try:
            mtime = path.lstat().st_mtime
        except FileNotFoundError:  # renamed away while we looked
            continue
        if (
            path.name.lower().endswith(TEMP_SUFFIXES)
            or path.name.endswith(ERROR_SUFFIX)
            or now - mtime < settle_seconds
        ):
            waiting.append(path)
        else:
            ready.append(path)
    return ready, waiting


def _sha256(path: Path) -> str | None:
    """SHA-256 of a regular file, opened without following a symbolic link; None for a link, a
    folder, a FIFO or a file that cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _same_bytes(a: Path, b: Path) -> bool:
    """Both regular files (not links) holding the same bytes."""
    first = _sha256(a)
    return first is not None and first == _sha256(b)


def fitted(name: str, suffix: str = "") -> str:
    """``name + suffix``, or when that exceeds NAME_MAX bytes, ``name`` cut short plus ``~`` and 8
    hex digits of its SHA-256 plus ``suffix``: still unique, recognisable by its start, and
    creatable (a longer name fails with "File name too long")."""
    whole = name + suffix
    if len(os.fsencode(whole)) <= NAME_MAX:
        return whole
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    room = NAME_MAX - len(os.fsencode(tag + suffix))
    cut = name
    while len(os.fsencode(cut)) > room:  # whole characters only
        cut = cut[:-1]
    return cut + tag + suffix


def note_path(dest_file: Path) -> Path:
    """The quarantine note of ``dest_file``: ``<name>.error.txt``, shortened when too long."""
    return dest_file.with_name(fitted(dest_file.name, ERROR_SUFFIX))


def _free_name(dest: Path) -> Path:
    """``dest``, or ``<stem>.<n><suffix>`` beside it when that name is taken (by anything,
    a dangling symbolic link included)."""
    if not os.path.lexists(dest):
        return dest
    n = 2
    while True:
        cand = dest.with_name(fitted(dest.stem, f".{n}{dest.suffix}"))
        if not os.path.lexists(cand):
            return cand
        n += 1


def move_file(src: Path, dest: Path) -> Path:
    """Move ``src`` to ``dest`` (a free name beside it if taken by other bytes); durable.

    Same file system: one atomic rename. Across file systems: copy to a temporary name, fsync,
    rename, then delete the source (a crash in between leaves both; the next run sees the inbox
    copy as a sha256 duplicate and archives it again, so nothing is lost or loaded twice).

    No symbolic link is followed: ``src`` may be one (it is moved as a link), and a link planted
    at ``dest`` is neither read nor written through (the file gets a free name beside it).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if _same_bytes(src, dest):
        src.unlink()  # already archived by an interrupted move
        return dest
    dest = _free_name(dest)
    try:
        os.rename(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_across(src, dest)
    _fsync_dir(dest.parent)
    return dest


def _copy_across(src: Path, dest: Path) -> None:
    """Move to another file system: copy to a new temporary name (created exclusively, so never
    through a planted link), fsync, rename, delete the source."""
    tmp = dest.with_name(fitted(dest.name, ".partial"))
    if os.path.lexists(tmp):
        tmp.unlink()  # left by a crash in a previous run (a link is removed, not followed)
    if src.is_symlink():
        os.symlink(os.readlink(src), tmp)
    else:
        fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd_in, "rb") as fin:
            fd_out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd_out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
        shutil.copystat(src, tmp, follow_symlinks=False)
    os.rename(tmp, dest)
    src.unlink()


def _check_folders(root: Path, dest: Path) -> None:
    """Refuse to file into a folder reached through a symbolic link planted under ``root``
    (the archive or the quarantine): the file would land wherever the link points."""
    here = root
    for part in dest.parent.relative_to(root).parts:
        here = here / part
        if here.is_symlink():
            raise UnderpayError(
                f"{printable(here)}: a symbolic link inside {printable(root)}; underpay files inbox files only into "
                "real folders there. Remove the link (or replace it with a folder) and rerun `underpay nightly`"
            )


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error_note(dest_file: Path, outcome: InboxFile, original: Path, sha: str | None) -> Path:
    """``<name>.error.txt`` beside a quarantined file (shortened when the name is too long:
    :func:`note_path`): what was wrong and what to do next. It holds the file's name, its
    sha256 and the loader's reason (which never quotes the file's content: PHI), nothing else;
    control characters in them are escaped."""
    note = note_path(dest_file)
    note.parent.mkdir(parents=True, exist_ok=True)
    if note.is_symlink():
        note.unlink()  # a link planted under the note's name: removed, never written through
    with private_open(note, "w", encoding="utf-8") as f:
        f.write(f"file: {printable(original)}\n")
        if sha:
            f.write(f"sha256: {sha}\n")
        f.write(f"rejected at: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
        f.write(f"why: {printable(outcome.reason or 'rejected by the 835 loader (no reason given)')}\n")
        f.write("nothing of this file was loaded into the warehouse.\n")
        f.write(
            "next: ask the sender for a corrected file (or fix this one) and put it in the inbox; "
            "the next nightly run loads it.\n"
        )
    return note


def _ingest_one(con, path: Path, run_id: int) -> InboxFile:
    """Load one file in its own transaction (pipelines.ingest.load.ingest_file, which records it in
    era_files as loaded, duplicate or rejected and never raises for a bad file; it raises
    Interrupted on Ctrl-C, saying whether the file committed)."""
    from pipelines.ingest.load import ingest_file

    f = ingest_file(con, path, run_id=run_id)
    return InboxFile(name=path.name, status=f.status, reason=f.reason, claims=f.claims, lines=f.lines, sha256=f.sha256)


def _linked(path: Path) -> InboxFile:
    """A symbolic link in the inbox: quarantined unread (what it points to may be anywhere)."""
    what = "a folder" if path.is_dir() else "a file"
    return InboxFile(
        name=path.name,
        status="rejected",
        reason=(
            f"{path}: a symbolic link (to {what}); the nightly run does not follow links, it was not read. "
            "Put the file itself in the inbox"
        ),
    )


def _file_away(path: Path, rel: Path, outcome: InboxFile, archive: Path, quarantine: Path) -> Path:
    """Move a handled inbox file: to the archive (loaded, duplicate) or to the quarantine with its
    note (rejected). The note first: a kill between the two leaves the file in the inbox to redo."""
    if outcome.status != "rejected":
        dest = archive / rel
        _check_folders(archive, dest)
        return move_file(path, dest)
    dest = quarantine / rel
    _check_folders(quarantine, dest)
    if os.path.lexists(dest) and not _same_bytes(path, dest):
        dest = _free_name(dest)
    write_error_note(dest, outcome, rel, outcome.sha256)
    return move_file(path, dest)


def run_nightly(
    settings: Settings, *, log: EventLog | None = None, settle_seconds: int | None = None, show_phi: bool = False
) -> NightlyResult:
    """One unattended run. Never raises for bad files (they are quarantined); returns the result
    with its exit code. Raises AlreadyRunning when another run holds the lock, and Interrupted
    (exit 130) on Ctrl-C, after closing the run's row as ``interrupted`` (the next run redoes
    its months)."""
    log = log or NullLog()
    settle = settings.settle_seconds if settle_seconds is None else settle_seconds
    t0 = time.perf_counter()
    result = NightlyResult()
    stopped: Interrupted | None = None
    months: list[Month] = []
    with run_lock(settings.warehouse, "underpay nightly"):
        con = None
        try:
            inbox, archive, quarantine = Path(settings.inbox), Path(settings.archive), Path(settings.quarantine)
            con = _connect(settings)
            result.run_id = start_run(con, "nightly")
            log.run_id = result.run_id
            stale = recover_stale_runs(con, "nightly", result.run_id)
            owed = owed_runs(con, "nightly", result.run_id)  # interrupted / failed, work not redone
            if not inbox.is_dir():
                raise UnderpayError(
                    f"{inbox}: inbox folder not found; create it or set paths.inbox in underpay.toml / pass --inbox"
                )
            for folder in (archive, quarantine):
                folder.mkdir(parents=True, exist_ok=True)
            log.event(
                "run_start", inbox=printable(inbox), settle_seconds=settle, interrupted_runs=stale, owed_runs=owed
            )
            ready, waiting = inbox_files(inbox, settle)
            result.skipped = [str(p.relative_to(inbox)) for p in waiting]
            for p in waiting:
                log.event(
                    "file_left",
                    file=printable(p.relative_to(inbox)),
                    why=f"hidden, temporary name or modified in the last {settle} s: left for the next run",
                )
            for path in ready:
                rel = path.relative_to(inbox)
                if not os.path.lexists(path):  # taken away since we listed the inbox
                    continue
                outcome = _linked(path) if path.is_symlink() else _ingest_one(con, path, result.run_id)
                outcome.name = str(rel)
                log.event(
                    f"file_{outcome.status}",
                    file=printable(rel),
                    sha256=outcome.sha256,
                    claims=outcome.claims,
                    lines=outcome.lines,
                    reason=printable(outcome.reason) if outcome.reason else None,
                )
                if not os.path.lexists(path):  # taken away while it was read: nothing to file
                    log.event("file_left", file=printable(rel), why="removed from the inbox while it was read")
                    continue
                outcome.moved_to = _file_away(path, rel, outcome, archive, quarantine)
                log.event("file_moved", file=printable(rel), to=printable(outcome.moved_to))
                result.files.append(outcome)
                update_run(con, result.run_id, result.counts)
            months = sorted(
                set(months_loaded_by_runs(con, [result.run_id, *owed])) | set(months_without_variances(con))
            )
            update_run(con, result.run_id, result.counts, months)
            con = _recompute(con, settings, months, result, log, show_phi)
            mark_redone(con, owed, result.run_id)
        except AlreadyRunning:
            raise
        except (Interrupted, KeyboardInterrupt) as exc:
            stopped = _stopped(exc, result.run_id)
            result.status, result.exit_code, result.message = "interrupted", EXIT_INTERRUPTED, str(stopped)
            log.event("run_interrupted", error=printable(result.message))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, logged, exit 2
            if is_interrupt(exc):  # Ctrl-C that DuckDB caught while it read a frame, reported as its own error
                stopped = _stopped(KeyboardInterrupt(), result.run_id)
                result.status, result.exit_code, result.message = "interrupted", EXIT_INTERRUPTED, str(stopped)
                log.event("run_interrupted", error=printable(result.message))
            else:
                result.status, result.exit_code = "failed", EXIT_FAILED
                result.message = _failure_message(exc)
                log.event("run_failed", error=printable(result.message))
        else:
            if result.counts.rejected:
                result.status, result.exit_code = "quarantined", EXIT_QUARANTINED
                result.message = f"{result.counts.rejected} file(s) quarantined in {settings.quarantine}"
        result.seconds = time.perf_counter() - t0
        if con is not None and result.run_id is not None:
            try:
                con = _live(con, settings)
                update_run(con, result.run_id, result.counts, months)  # the counts up to a stop
                finish_run(con, result.run_id, result.status, result.message or None)
            except Exception as exc:  # noqa: BLE001 - e.g. disk full: say so, keep exit 2
                if stopped is None:
                    result.status, result.exit_code = "failed", EXIT_FAILED
                result.message += f"; could not record the run's end: {_failure_message(exc)}"
        if con is not None:
            try:
                con.close()
            except Exception:  # noqa: BLE001
                pass
            drop_spill_folder(settings.warehouse)
        c = result.counts
        log.event(
            "run_end",
            status=result.status,
            exit_code=result.exit_code,
            seconds=round(result.seconds, 3),
            files=c.seen,
            loaded=c.loaded,
            duplicate=c.duplicate,
            rejected=c.rejected,
            left=len(result.skipped),
            months=[m.month for m in result.months],
        )
    if stopped is not None:
        raise Interrupted(printable(result.message))
    return result


def _stopped(exc: BaseException, run_id: int | None) -> Interrupted:
    """The Interrupted error a Ctrl-C ends the run with: what the loader said about the file being
    loaded (committed or not), or where the run was, and that the next run finishes the work."""
    what = (
        str(exc)
        if isinstance(exc, Interrupted)
        else "interrupted (Ctrl-C) while no file was being loaded: each file handled before was committed"
    )
    run = f"nightly run {run_id}" if run_id is not None else "nightly run"
    return Interrupted(
        f"{run} {what}; the runs row is closed as interrupted and the next `underpay nightly` "
        "finishes the work (files loaded are recognised by their sha256, nothing is loaded twice)"
    )


def _recompute(con, settings: Settings, months: list[Month], result: NightlyResult, log: EventLog, show_phi: bool):
    """Compare the months (committed), then render their reports in worker processes that read
    the warehouse read-only: the read-write connection is closed meanwhile (the lock stays
    held) and a new one is returned."""
    if not months:
        return con
    took = compare_months(con, months, contracts_dir=settings.contracts, settings=settings)
    log.event("compared", months=[m.label for m in months], seconds=round(took, 3))
    con.close()  # run_nightly reopens it (_live) should rendering fail

    def done(m: MonthResult) -> None:
        log.event(
            "month_done",
            month=m.month,
            lines=m.lines,
            underpaid_lines=m.underpaid_lines,
            underpaid_dollars=m.underpaid_dollars,
            denied_lines=m.denied_lines,
            report=str(m.report),
            seconds=round(m.seconds, 3),
        )

    result.months = render_months(
        settings.warehouse,
        months,
        reports_dir=settings.reports,
        show_phi=show_phi,
        on_done=done,
        memory_limit=settings.memory_limit,
    )
    return _connect(settings)


def _connect(settings: Settings):
    """The run's read-write connection, DuckDB's memory capped at ``settings.memory_limit`` (it
    spills beyond it to ``<warehouse>.tmp/``): every stage of the run (ingest, compare, worklist)
    stays within it whatever the warehouse holds."""
    return connect(settings.warehouse, memory_limit=settings.memory_limit)


def _live(con, settings: Settings):
    """The connection, or a new one when it was closed for the report workers."""
    import duckdb

    try:
        con.execute("SELECT 1").fetchall()
        return con
    except duckdb.ConnectionException:
        return _connect(settings)


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"disk full ({exc}); free space and rerun `underpay nightly`: files not yet archived "
            "stay in the inbox and load then, nothing is lost"
        )
    if isinstance(exc, UnderpayError):
        return str(exc)
    text = str(exc)
    if "No space left" in text or "disk is full" in text.lower():
        return (
            f"disk full ({type(exc).__name__}: {text}); free space and rerun `underpay nightly`: "
            "files not yet archived stay in the inbox, nothing is lost"
        )
    return f"unexpected error {type(exc).__name__}: {text}; files not yet archived stay in the inbox"
