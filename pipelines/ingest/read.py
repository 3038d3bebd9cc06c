"""Read one file, hash it and find its segments: the first step of an ingest, numpy only.

It needs none of polars, DuckDB or pandera, so `underpay ingest` starts it on a thread for the
first file before those are imported (~0.2 s of imports that reading and scanning then overlap).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.scan import Scan, scan


@dataclass
class ScannedFile:
    """A file's bytes hashed and scanned into segments (no tables yet)."""

    path: Path
    size: int
    sha256: str
    scan: Scan | None                 # None when the file is not readable X12
    error: Exception | None = None    # why not (X12Error, or an unexpected scanner error)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_and_scan(path: str | os.PathLike) -> ScannedFile:
    """Read, hash and scan one file. The hash is computed on a second thread while the file is
    scanned (hashlib lets go of the GIL): a big file's hash takes as long as reading it."""
    path = Path(path)
    data = path.read_bytes()
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digest = hasher.submit(_sha256, data)
        found, error = None, None
        try:
            found = scan(data, path)
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded with the file; the other files go on
            error = exc
        return ScannedFile(path=path, size=len(data), sha256=digest.result(), scan=found, error=error)


def start(path: str | os.PathLike) -> Future:
    """:func:`read_and_scan` on a background thread; ``.result()`` waits for it (and re-raises)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-first")
    future = pool.submit(read_and_scan, path)
    pool.shutdown(wait=False)       # the thread ends with its one task
    return future
