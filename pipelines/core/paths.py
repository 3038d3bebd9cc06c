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
    twice is kept once. A path that matches nothing raises UnderpayError.
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
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    add(f)
        elif p.is_file():
            add(p)
        elif glob.has_magic(str(raw)):
            matches = sorted(glob.glob(str(raw), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise UnderpayError(f"{raw}: no files match this pattern")
            for f in files:
                add(f)
        else:
            raise UnderpayError(f"{raw}: no such file or directory; give 835 files, folders or glob patterns")
    return out
