"""Process settings for a long, allocation-heavy run: one explicit call, never on import.

`underpay ingest` calls :func:`tune_for_ingest` first thing, before numpy and polars are imported,
and ``.freeze_imports()`` on its result once the ingest's modules are imported. What each setting
buys (the 146 MB / 1M-line benchmark file on the 2-core machine; docs/architecture.md):

- allocator decay: polars' allocator (jemalloc) hands freed memory back to the system after 0.5 s.
  An ingest frees and takes again slice-sized buffers every few tenths of a second, and each page
  handed back and taken again costs a page fault and zeroing (a fifth of an ingest's CPU went to
  the kernel). Keeping freed pages 5 s: 0.9 instead of 1.2 kernel CPU-s, ~3-4% faster, for ~100 MB
  more peak memory. polars appends ``_RJEM_MALLOC_CONF`` to its own defaults when it is imported
  (jemalloc takes the last value of each option), so it must be set before. Not for the other
  commands: a nightly run's compare and reports would just hold more memory.
- BLAS threads: underpay does no linear algebra, but numpy starts OpenBLAS worker threads that were
  measured spinning for ~0.1 CPU-s of a 4 s ingest on 2 cores. One thread; read when numpy loads.
- ``gc.freeze()``: the objects of the libraries just imported live as long as the process; set
  aside, the garbage collector stops walking them on every full collection (55 -> 32 ms of GC per
  1M lines).

A setting the user made in the environment is always left alone, and nothing is set once it can no
longer take effect (the library already imported: it would only leak into child processes).
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass

INGEST_ALLOCATOR = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"  # polars' jemalloc
BLAS_VARIABLE = "OPENBLAS_NUM_THREADS"


@dataclass(frozen=True)
class ProcessTuning:
    """What :func:`tune_for_ingest` set: each field is the value set, or None when it was left as
    it was (the user's own setting, or too late: the library already imported)."""

    allocator: str | None
    blas_threads: str | None

    def freeze_imports(self) -> None:
        """``gc.freeze()``: call once the run's modules are imported (see the module docstring)."""
        gc.freeze()


def _set_unless_given(variable: str, value: str, read_by: str) -> str | None:
    """Set ``variable`` to ``value`` unless the user has set it or module ``read_by`` (which reads it
    when it loads) is imported already. Returns the value set, or None."""
    if variable in os.environ or read_by in sys.modules:
        return None
    os.environ[variable] = value
    return value


def limit_blas_threads() -> str | None:
    """OpenBLAS (numpy) on one thread unless the user chose otherwise; before numpy is imported."""
    return _set_unless_given(BLAS_VARIABLE, "1", "numpy")


def keep_freed_memory(conf: str = INGEST_ALLOCATOR) -> str | None:
    """polars' allocator keeps freed pages 5 s unless the user chose otherwise; before polars is imported."""
    return _set_unless_given(ALLOCATOR_VARIABLE, conf, "polars")


def tune_for_ingest() -> ProcessTuning:
    """Allocator decay and one BLAS thread for an ingest (call before numpy and polars are imported),
    then ``.freeze_imports()`` on the result once the ingest's modules are imported."""
    return ProcessTuning(allocator=keep_freed_memory(), blas_threads=limit_blas_threads())
