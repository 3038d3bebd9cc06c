"""Which files a command was given: files, folders (recursive) and glob patterns, in a stable order."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from pipelines.core.errors import UnderpayError


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, directories recursively (hidden files skipped), glob patterns expanded.

    Order is stable (each argument in turn, sorted within a directory or glob); a file named
    twice is kept once. A path that matches nothing, a folder that cannot be listed and a file
    that cannot be read raise UnderpayError naming it (before anything is loaded: a folder read
    only in part would load a part of what the user meant).
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path):
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in _walk(p):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    add(_readable(f))
        elif p.is_file():
            add(_readable(p))
        elif glob.has_magic(str(raw)):
            matches = sorted(glob.glob(str(raw), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise UnderpayError(f"{raw}: no files match this pattern")
            for f in files:
                add(_readable(f))
        else:
            raise UnderpayError(f"{raw}: no such file or directory; give 835 files, folders or glob patterns")
    return out


def _walk(folder: Path) -> list[Path]:
    """Every path under ``folder``, sorted; a subfolder that cannot be listed raises (rglob
    would skip it without a word)."""

    def refuse(exc: OSError):
        where = exc.filename or folder
        raise UnderpayError(
            f"{where}: cannot list this folder ({exc.strerror}); give the user running underpay read "
            "access to it (`ls -ld` shows its owner and mode) or leave it out"
        )

    out: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=refuse):
        base = Path(root)
        out += [base / d for d in dirs]
        out += [base / n for n in names]
    return sorted(out)


def _readable(path: Path) -> Path:
    """``path`` when this process can open it for reading, else UnderpayError naming it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UnderpayError(
            f"{path}: cannot be read ({exc.strerror}); give the user running underpay read access to "
            "it (`ls -l` shows its owner and mode) or leave it out"
        ) from None
    os.close(fd)
    return path
