"""Files and folders underpay writes (reports, exports, notes, logs): owner-only, and never
written through a link someone planted where they go. They may hold PHI."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

from pipelines.core.errors import ConfigError, UnderpayError


def owner_only(path: str | os.PathLike) -> None:
    """Make a file readable and writable by its owner only (it may hold PHI)."""
    try:
        os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


def private_open(path: str | os.PathLike, mode: str = "w", **kw):
    """Open an output file for writing (``mode`` "w"/"wb", or "a" to append), created mode 0600
    (reports, exports, logs, notes).

    Never writes through a link someone planted where the file goes: a symbolic link is refused
    (O_NOFOLLOW), and so is an existing file with other hard links or not owned by this user.
    An existing regular file is truncated only after those checks (fstat of what was opened, so
    nothing can be swapped in between). A device or FIFO (e.g. /dev/stdout) is written as is.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    append = "a" in mode
    if append:
        flags |= os.O_APPEND
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnderpayError(
                f"{path}: is a symbolic link; underpay does not write through links: remove the link "
                "or choose another output path"
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            if st.st_nlink > 1:
                raise UnderpayError(
                    f"{path}: this file has other hard links, so writing it would change them too; "
                    "remove it or choose another output path"
                )
            if st.st_uid != os.geteuid() and os.geteuid() != 0:
                raise UnderpayError(f"{path}: belongs to another user; remove it or choose another output path")
            os.set_blocking(fd, True)
            if not append:  # an appended log keeps the mode its owner gave it
                os.ftruncate(fd, 0)
                os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        else:
            os.set_blocking(fd, True)
        raw = _OutputFile(fd, "a" if append else "w", path)
    except BaseException:
        os.close(fd)
        raise
    buffered = io.BufferedWriter(raw)
    if "b" in mode:
        return buffered
    return io.TextIOWrapper(
        buffered, encoding=kw.get("encoding") or "utf-8", errors=kw.get("errors"), newline=kw.get("newline")
    )


class _OutputFile(io.FileIO):
    """The file ``private_open`` returns (under its buffer): a write that fails (a full disk)
    raises an OSError naming the file, which a plain descriptor's error does not, so the user's
    `Error:` line says which file could not be written."""

    def __init__(self, fd: int, mode: str, path: str | os.PathLike):
        super().__init__(fd, mode, closefd=True)
        self.path = os.fspath(path)

    def write(self, data):
        try:
            return super().write(data)
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, self.path) from None


def make_private_dirs(folder) -> Path:
    """Create ``folder`` and any missing parents mode 0700 (exports hold PHI), whatever the umask;
    folders that already exist are left as the user made them. A path component that is a file
    is an :class:`~pipelines.core.errors.ConfigError` naming it, not a traceback."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists():
        if probe.is_symlink():  # a dangling symlink: never create through it
            raise ConfigError(f"{probe}: a broken symbolic link where an output folder goes; remove it or choose --out")
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{probe}: is a file, not a folder; choose an output folder that is not under a file")
    for part in reversed(missing):
        try:
            os.mkdir(part, 0o700)
        except FileExistsError:  # made meanwhile by another process: leave it as it is
            continue
        except OSError as exc:
            raise ConfigError(f"{part}: cannot create the output folder ({exc.strerror}); choose another one") from exc
        os.chmod(part, 0o700)  # the umask may have masked the mode
    return folder
