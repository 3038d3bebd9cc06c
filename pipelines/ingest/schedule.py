"""Every thread of an ingest and the sizes its work is cut into: the one place that decides them.

An ingest keeps both cores of a small machine busy (docs/architecture.md, "How an ingest uses two
cores"). :class:`LoadPlan` holds the sizes (slices, read-ahead, scan pieces); :class:`IngestSchedule`
owns the single-thread pools below, made when an ingest starts and shut down when it ends. The
other ingest modules take an executor or a size as a parameter and start no thread of their own.

    reader    reads, hashes, scans and prepares the next file (the first one while the libraries
              import; a next one while the current one loads, when it is small)
    hasher    a file's SHA-256 while it is scanned (hashlib lets go of the GIL)
    scanner   the second half of a big file's scan (numpy lets go of the GIL)
    builder   the next slices' frames (polars) while the main thread inserts the current one
    lines     a slice's service lines beside its claims, on the builder's behalf
    checker   pandera checks of a batch of slices
    + a thread importing pipelines.ingest.validate (pandera, ~0.1 s) when the ingest begins

Each pool has one thread because the machine has two cores: the main thread inserts (DuckDB) while
the builder builds; the others fill the gaps. Importing this module starts nothing; it needs numpy
only (through ``pipelines.ingest.read``), so `underpay ingest` can start reading before polars loads.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.ingest.read import ScannedFile, read_and_scan
from pipelines.ingest.scan import BLOCK_SEGMENTS, SCAN_CHUNK_BYTES, Scan, scan

if TYPE_CHECKING:  # polars is imported by envelope: read_ahead imports it when first used
    from pipelines.ingest.envelope import PreparedFile

VALIDATE_MODULE = "pipelines.ingest.validate"


@dataclass(frozen=True)
class LoadPlan:
    """How an ingest cuts its work. The defaults were measured on the 2-core machine with the
    146 MB / 1M-line benchmark file; any plan loads the same rows (tests use tiny ones)."""

    slice_segments: int = 1_500_000  # big files are built and loaded about this many segments (~32 MB) at a time
    edge_segments: int = 400_000  # ... but the first and last slices are this short (quicker start and finish)
    build_ahead: int = 2  # slices built ahead of the one being inserted (one more: ~40 MB more peak)
    check_segments: int = 3_000_000  # slices are checked (pandera) together in batches of about this many segments
    read_ahead_bytes: int = 32 << 20  # a next file up to this size is read and prepared while the current one loads
    scan_two_threads_bytes: int = 8 << 20  # files at least this big are scanned on two threads
    scan_chunk_bytes: int = SCAN_CHUNK_BYTES  # bytes compared at a time when finding terminators
    scan_block_segments: int = BLOCK_SEGMENTS  # segments trimmed and coded at a time

    def __post_init__(self) -> None:
        small = [
            name
            for name in ("slice_segments", "build_ahead", "check_segments", "scan_chunk_bytes", "scan_block_segments")
            if getattr(self, name) < 1
        ]
        if small:
            raise ValueError(f"LoadPlan: {', '.join(small)} must be at least 1")


class IngestSchedule:
    """The pools of one ingest (see the module docstring), used as a context manager.

    On a normal exit every pool is shut down after its work; on an error (or Ctrl-C) work that
    has not started is dropped and nothing is waited for.
    """

    def __init__(self, plan: LoadPlan | None = None):
        self.plan = plan or LoadPlan()
        # a pool starts its thread at its first task: one an ingest does not use costs nothing
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read")
        self.hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-hash")
        self.scanner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-scan")
        self.builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-build")
        self.lines = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-lines")
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-check")
        self._importer: threading.Thread | None = None
        self._first: tuple[Path, Future[ScannedFile]] | None = None

    def __enter__(self) -> IngestSchedule:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)

    def close(self, wait: bool = True) -> None:
        for pool in (self.reader, self.hasher, self.scanner, self.builder, self.lines, self.checker):
            pool.shutdown(wait=wait, cancel_futures=not wait)
        if wait and self._importer is not None:
            self._importer.join()

    # ------------------------------------------------------------------ imports

    def import_validation(self) -> None:
        """Start importing pipelines.ingest.validate (pandera, ~0.1 s) on a thread, so that it is
        ready when the first slice is checked; done once, and not when it is imported already.
        Called when an ingest begins (after polars and DuckDB are imported: importing them at the
        same time on two threads would only contend)."""
        if self._importer is None and VALIDATE_MODULE not in sys.modules:
            self._importer = threading.Thread(
                target=importlib.import_module, args=(VALIDATE_MODULE,), name="ingest-import-validate", daemon=True
            )
            self._importer.start()

    # ------------------------------------------------------------------ reading

    def scan(self, data: bytes, path) -> Scan:
        """:func:`pipelines.ingest.scan.scan` with this plan's pieces, on two threads for a big file."""
        two = self.scanner if len(data) >= self.plan.scan_two_threads_bytes else None
        return scan(
            data, path, pool=two, chunk_bytes=self.plan.scan_chunk_bytes, block_segments=self.plan.scan_block_segments
        )

    def read_and_scan(self, path: str | os.PathLike) -> ScannedFile:
        """Read, hash (on the hasher) and scan one file (on this thread and the scanner)."""
        return read_and_scan(path, hasher=self.hasher, scan_with=self.scan)

    def read(self, path: str | os.PathLike) -> PreparedFile:
        """Read, hash, scan and prepare one file (no database work), on the calling thread.
        Never raises for a bad file: see :func:`prepared`."""
        return prepared(path, lambda: self.read_and_scan(path))

    def start_reading(self, path: str | os.PathLike) -> Future[ScannedFile]:
        """Read, hash and scan ``path`` on the reader now (numpy only: `underpay ingest` calls this
        before polars, DuckDB and pandera are imported). :meth:`read_ahead` then takes it up when
        ``path`` is its first file."""
        future = self.reader.submit(self.read_and_scan, path)
        self._first = (Path(path), future)
        return future

    def read_ahead(self, files: list[Path]) -> _ReadAhead:
        """Each of ``files`` read and prepared in turn on the reader: the first one at once (while
        the warehouse opens), each next one while the current one loads when it is at most
        ``plan.read_ahead_bytes`` (two big files at once would double the peak memory for little
        gain). Iterate to get them; closing the iterator drops a read nobody will use."""
        return _ReadAhead(self, files)


class _ReadAhead:
    """The iterator of :meth:`IngestSchedule.read_ahead` (it starts the first read when made)."""

    def __init__(self, schedule: IngestSchedule, files: list[Path]):
        self.schedule, self.files = schedule, files
        self.ahead: Future[PreparedFile] | None = None
        first, schedule._first = schedule._first, None
        if first is not None and files and first[0] == Path(files[0]):
            scanned = first[1]  # the first file's read and scan, already started
            self.ahead = schedule.reader.submit(prepared, files[0], scanned.result)
        elif files:
            self.ahead = schedule.reader.submit(schedule.read, files[0])

    def __iter__(self) -> Iterator[PreparedFile]:
        plan, reader = self.schedule.plan, self.schedule.reader
        try:
            for i, f in enumerate(self.files):
                got = self.ahead.result() if self.ahead is not None else self.schedule.read(f)
                self.ahead = None
                if i + 1 < len(self.files) and _size(self.files[i + 1]) <= plan.read_ahead_bytes:
                    self.ahead = reader.submit(self.schedule.read, self.files[i + 1])
                yield got
        finally:
            self.close()

    def close(self) -> None:
        """Stop (an error, Ctrl-C): a read not started is dropped; one running is not waited for."""
        if self.ahead is not None:
            self.ahead.cancel()
            self.ahead = None


# What stops the command rather than spoils one file.
_STOP = (KeyboardInterrupt, SystemExit, GeneratorExit)


class LibraryPanic(Exception):
    """A file made a library panic (polars' Rust code raises ``PanicException``, a BaseException
    and not an Exception, so that ``except Exception`` does not catch it). Kept as the file's
    error like any other; the panic is its ``__cause__``."""


def _as_error(exc: BaseException) -> Exception:
    if isinstance(exc, Exception):
        return exc
    error = LibraryPanic(type(exc).__name__)
    error.__cause__ = exc
    return error


def prepared(path: str | os.PathLike, read: Callable[[], ScannedFile]) -> PreparedFile:
    """``read()`` (read, hash, scan) then ``prepare_file``, with anything the file's bytes cause
    kept as the file's ``error`` instead of raised: an unreadable file (OSError: ``sha256`` is ""
    then, nothing was read), a panic in polars (a BaseException, not an Exception), a
    RecursionError, MemoryError. A poison file is rejected; it must never stop the other files.
    Only an interrupt (Ctrl-C, exit) propagates."""
    from pipelines.ingest.envelope import PreparedFile, prepare_file

    try:
        got = read()
    except _STOP:
        raise
    except BaseException as exc:  # noqa: BLE001 - recorded with the file (see the docstring)
        return PreparedFile(
            path=Path(path), size=_size(Path(path)), sha256=_sha256_or_empty(path), prep=None, error=_as_error(exc)
        )
    try:
        return prepare_file(got)
    except _STOP:
        raise
    except BaseException as exc:  # noqa: BLE001 - recorded with the file (see the docstring)
        return PreparedFile(path=got.path, size=got.size, sha256=got.sha256, prep=None, error=_as_error(exc))


def _sha256_or_empty(path: str | os.PathLike) -> str:
    """The file's SHA-256 read again in blocks (after its scan failed), or "" when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone: reading it will say so when its turn comes
