"""ZIP5 / ZIP9 to carrier-locality files: fixed-width 80-character records (ZIP5lyout.txt, ZIP9lyout.txt)."""

from __future__ import annotations

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import frame, text_of
from fee_schedules.schemas import Zip5File, Zip9File, check
from pipelines.core.errors import InputFileError

# 1-based inclusive positions from the CMS layouts
ZIP5_POSITIONS = {
    "state": (1, 2),
    "zip5": (3, 7),
    "carrier": (8, 12),
    "locality": (13, 14),
    "rural": (15, 15),
    "plus_four_flag": (21, 21),
    "year_quarter": (76, 80),
}
ZIP9_POSITIONS = {
    "state": (1, 2),
    "zip5": (3, 7),
    "carrier": (8, 12),
    "locality": (13, 14),
    "rural": (15, 15),
    "plus_four_flag": (21, 21),
    "plus4": (22, 25),
    "year_quarter": (76, 80),
}


def _read(source: SourceFile, positions: dict[str, tuple[int, int]], layout: str) -> pl.DataFrame:
    records, rownums = [], []
    for n, line in enumerate(text_of(source).splitlines(), start=1):
        if not line.strip("\x1a \t"):
            continue
        if len(line.rstrip()) < 80:
            raise InputFileError(
                source.origin,
                "short fixed-width record",
                row=n,
                expected=f"80 characters per {layout}",
                found=f"{len(line.rstrip())} characters",
                hint="Is this the CMS ZIP code to carrier locality file?",
            )
        records.append(
            [line[a - 1 : b].strip() if k == "rural" else line[a - 1 : b] for k, (a, b) in positions.items()]
        )
        rownums.append(n)
    return frame(records, list(positions), rownums)


def load_zip5(source: SourceFile) -> pl.DataFrame:
    raw = _read(source, ZIP5_POSITIONS, "ZIP5lyout.txt")
    check(Zip5File, raw, source.origin, labels={k: f"{k} (positions {a}-{b})" for k, (a, b) in ZIP5_POSITIONS.items()})
    return raw.select(
        "state",
        "zip5",
        "carrier",
        "locality",
        "rural",
        (pl.col("plus_four_flag") == "1").alias("plus_four_flag"),
        "year_quarter",
    )


def load_zip9(source: SourceFile) -> pl.DataFrame:
    raw = _read(source, ZIP9_POSITIONS, "ZIP9lyout.txt")
    check(Zip9File, raw, source.origin, labels={k: f"{k} (positions {a}-{b})" for k, (a, b) in ZIP9_POSITIONS.items()})
    return raw.select("state", "zip5", "plus4", "carrier", "locality", "rural", "year_quarter").unique(
        ["zip5", "plus4"], keep="first", maintain_order=True
    )
