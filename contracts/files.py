"""Reading the files of a contracts folder in bounded time and memory, and showing their values briefly.

A contracts folder is edited by people and may hold anything: a FIFO or a device named like a
sheet would block or never end, a symlink may point out of the folder, a file may be huge. So
every contract and rate sheet is read through ``read_limited``: regular files only (checked
before and after opening, opened non-blocking so a FIFO cannot stall the check), at most
``MAX_FILE_BYTES``. ``brief`` keeps a value echoed in a message short whatever the file held.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipelines.core.errors import BRIEF_CHARS, brief  # noqa: F401  (re-exported: contracts quote values with it)

MAX_FILE_BYTES = 10 * 1024 * 1024  # a contract or rate sheet; real ones are a few hundred KB


class FileRefused(Exception):
    """A file cannot be read as a contract or sheet; ``message`` and ``expected`` say why."""

    def __init__(self, message: str, expected: str, line: int = 1):
        self.message = message
        self.expected = expected
        self.line = line
        super().__init__(message)


def read_limited(path: Path, *, follow_links: bool = True, what: str = "the file") -> bytes:
    """The bytes of ``path``: a regular file of at most MAX_FILE_BYTES, else FileRefused.

    ``follow_links=False`` opens with O_NOFOLLOW (for a path already resolved and checked to
    lie inside the contracts folder, so a link planted after that check is not followed).
    ``what`` starts each message (e.g. "rates_csv file r.csv").
    """
    try:
        info = os.stat(path) if follow_links else os.lstat(path)
    except OSError as exc:
        raise FileRefused(f"{what} is unreadable ({exc.strerror})", "a readable file") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{what} is not a regular file ({_kind(info.st_mode)})", "a regular text file")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(f"{what} is unreadable ({exc.strerror})", "a readable file") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped after the check above
            raise FileRefused(f"{what} is not a regular file ({_kind(info.st_mode)})", "a regular text file")
        try:
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise FileRefused(f"{what} is unreadable ({exc.strerror})", "a readable file") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(
            f"{what} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
            "a smaller file (split a rate sheet, or keep one contract version per file)",
        )
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def decode_utf8(data: bytes) -> str:
    """``data`` as text; FileRefused naming the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileRefused(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column} of line {line})",
            "a UTF-8 text file (save it as UTF-8)",
            line,
        ) from None
