"""How a command ends when something stops it: one ``Error:`` line and a documented exit status.

Exit status of every command (docs/operations.md): 0 done, 1 something was rejected or
quarantined (the rest was done), 2 failed or a usage error, 130 interrupted (Ctrl-C or SIGTERM).

Nothing a user or a file can cause ends in a traceback: errors the library raises for the user
(UnderpayError) carry their own message; an operating-system error (permission, full disk, a path
under a regular file), a warehouse DuckDB cannot use, and an interrupt are described here; any
other exception is a bug, shown as its type and message with quoted values masked (a message
can quote file content, which may be PHI), its traceback written to the log at debug level
(``underpay --debug`` or UNDERPAY_DEBUG=1 shows it).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import threading
from contextlib import contextmanager

from pipelines.core.errors import Interrupted, UnderpayError, is_interrupt, shown
from pipelines.core.logs import printable

log = logging.getLogger("underpay.cli")

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = Interrupted.exit_code  # 130

# which signal stopped the command, for the message (SIGINT unless the handler saw SIGTERM)
_stopped_by: dict[str, str] = {}


def _on_sigterm(signum, frame):
    """SIGTERM (systemctl stop, kill) stops a command like Ctrl-C: KeyboardInterrupt in the main
    thread, so transactions roll back and files close on the way out."""
    _stopped_by["signal"] = "SIGTERM"
    raise KeyboardInterrupt


@contextmanager
def command_process():
    """The process settings of a command, restored afterwards (the CLI also runs in-process, in tests).

    - umask 0077 for the whole command: every file and folder it creates is owner-only, also
      those made after ``connect`` (DuckDB creates its ``.wal`` at the first write, report
      folders, quarantine notes).
    - SIGTERM raises KeyboardInterrupt, like SIGINT.
    """
    old_umask = os.umask(0o077)
    old_handler = None
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    _stopped_by.clear()
    try:
        yield
    finally:
        os.umask(old_umask)
        if main_thread:
            signal.signal(signal.SIGTERM, old_handler if old_handler is not None else signal.SIG_DFL)


def describe(exc: BaseException, command: str = "underpay") -> tuple[str, int]:
    """(the ``Error:`` line's text, exit status) for an exception that ended ``command``."""
    if isinstance(exc, UnderpayError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt) or is_interrupt(exc):  # also Ctrl-C DuckDB reported as its own error
        how = "SIGTERM" if _stopped_by.get("signal") == "SIGTERM" else "Ctrl-C"
        return (
            f"interrupted ({how}): `{command}` stopped before it finished. What it had committed to the "
            "warehouse is kept and the step in progress was rolled back (a report or export being "
            "written may be incomplete); run the command again to finish",
            EXIT_INTERRUPTED,
        )
    if _is_duckdb(exc) and _about_files(exc):
        from pipelines.core.warehouse import explain_duckdb_error

        return explain_duckdb_error(exc), EXIT_FAILED
    if isinstance(exc, MemoryError):
        return (
            f"`{command}` ran out of memory; close other programs, or give it fewer or smaller files at once",
            EXIT_FAILED,
        )
    if isinstance(exc, OSError):
        return os_error(exc), EXIT_FAILED
    log.debug("`%s` failed with an unexpected error", command, exc_info=exc)
    return (
        f"`{command}` failed: unexpected {type(exc).__name__}: {masked(str(exc))}. This is a bug in underpay: "
        "run the command again with `underpay --debug ...` to see where, and report it",
        EXIT_FAILED,
    )


def _is_duckdb(exc: BaseException) -> bool:
    return type(exc).__module__.lstrip("_").startswith("duckdb")


def _about_files(exc: BaseException) -> bool:
    """A DuckDB error about its files (I/O, permission, space, a damaged file), not about a query."""
    text = str(exc).lower()
    return type(exc).__name__ in {"IOException", "SerializationException"} or any(
        key in text
        for key in ("no space left", "permission denied", "cannot open file", "not a valid duckdb", "read-only file")
    )


_OS_HINTS = {
    errno.ENOSPC: "no space left on the device; free some space and run the command again",
    errno.EDQUOT: "the disk quota is used up; free some space and run the command again",
    errno.EACCES: "permission denied; give the user running underpay access to it (check its owner and mode "
    "with `ls -ld`), or choose another path",
    errno.EPERM: "operation not permitted; check the file's owner and mode (`ls -ld`), or choose another path",
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose a path inside a folder",
    errno.EEXIST: "this exists and is not a folder, but a folder is needed here; choose another path",
    errno.EISDIR: "this is a folder; give a file name",
    errno.EROFS: "the file system is read-only; choose a path on a writable one",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ELOOP: "a symbolic link is in the way; underpay does not follow links here: remove it or choose another path",
    errno.ENXIO: "a FIFO or device nobody is reading; choose a regular file",
    errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter path",
}


def os_error(exc: OSError) -> str:
    """``<file>: what happened; what to do`` for an operating-system error."""
    name = exc.filename if exc.filename is not None else "a file"
    hint = _OS_HINTS.get(exc.errno or 0) or f"{exc.strerror or type(exc).__name__}; check the path and try again"
    return f"{os.fsdecode(name) if isinstance(name, bytes) else name}: {hint}"


_QUOTED = re.compile(r"'([^'\n]{0,200})'")


def masked(text: str, limit: int = 300) -> str:
    """One line of an unexpected error's message: quoted values (maybe file content) described,
    not shown (``pipelines.core.errors.shown``), control characters escaped, at most ``limit``."""
    text = _QUOTED.sub(lambda m: shown(m.group(1)), " ".join(text.split()))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return printable(text)
