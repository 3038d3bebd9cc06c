"""One run at a time: an exclusive ``fcntl.flock`` on ``<warehouse>.lock`` beside the warehouse.

The kernel drops a flock when its process dies (even by SIGKILL), so a killed run never
leaves a stale lock behind. The file keeps the holder's pid for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from pipelines.core.errors import AlreadyRunning, UnderpayError


def lock_path(warehouse: str | os.PathLike) -> Path:
    db = Path(warehouse)
    return db.with_name(db.name + ".lock")


@contextmanager
def run_lock(warehouse: str | os.PathLike, what: str = "underpay run"):
    """Hold the warehouse lock for the block, or raise AlreadyRunning at once."""
    path = lock_path(warehouse)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except (FileExistsError, NotADirectoryError):
        raise UnderpayError(
            f"{what}: cannot create the lock file {path}: a part of its folder is a file, not a folder; "
            "give --db a path inside a folder"
        ) from None
    except OSError as exc:
        raise UnderpayError(
            f"{what}: cannot create the lock file {path} ({exc.strerror}); "
            "check that the warehouse folder exists and is writable"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("ascii", "replace").strip() or "unknown"
            raise AlreadyRunning(
                f"{what}: another run (pid {holder}) is using the warehouse {warehouse} "
                f"(lock {path}); this run exits without doing anything. The next scheduled run "
                "will pick up whatever is left."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
