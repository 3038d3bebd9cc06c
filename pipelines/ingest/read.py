"""Read one file, hash it and find its segments: the first step of an ingest, numpy only.

It needs none of polars, DuckDB or pandera, so `underpay ingest` starts it on a thread for the
first file before those are imported (~0.2 s of imports that reading and scanning then overlap).

The stages of one file, one type each: :class:`ScannedFile` (here: bytes read, hashed and
scanned) -> :class:`pipelines.ingest.envelope.PreparedFile` (envelope and structure checked,
ready to be cut into tables) -> the warehouse (``pipelines.ingest.load``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.scan import Scan, scan


@dataclass
class ScannedFile:
    """A file's bytes hashed and scanned into segments (no tables yet)."""

    path: Path
    size: int
    sha256: str
    scan: Scan | None  # None when the file is not readable X12
    error: Exception | None = None  # why not (X12Error, or an unexpected scanner error)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_and_scan(
    path: str | os.PathLike, *, hasher: Executor | None = None, scan_with: Callable[[bytes, Path], Scan] = scan
) -> ScannedFile:
    """Read, hash and scan one file.

    With ``hasher`` (an executor with a free thread) the hash is computed there while the file is
    scanned (hashlib lets go of the GIL): a big file's hash takes as long as reading it.
    ``scan_with(data, path)`` scans (by default :func:`pipelines.ingest.scan.scan` on this thread;
    the ingest's schedule passes one that shares a big file with a second thread)."""
    path = Path(path)
    data = path.read_bytes()
    digest = hasher.submit(_sha256, data) if hasher is not None else None
    found, error = None, None
    try:
        found = scan_with(data, path)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded with the file; the other files go on
        error = exc
    finally:
        if digest is not None:
            wait([digest])  # not left hashing on another thread when the scan failed
    sha = digest.result() if digest is not None else _sha256(data)
    return ScannedFile(path=path, size=len(data), sha256=sha, scan=found, error=error)
