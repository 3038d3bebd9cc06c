"""GPCI (Addendum E): title, blank, header row, data, then footnote rows with an empty MAC cell.

The work GPCI is the column whose header says "with 1.0 Floor" (and not "without"); a file
with a single "PW GPCI" column uses it.
"""

from __future__ import annotations

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import column_index, data_rows, dec, find_header, frame, table_rows
from fee_schedules.schemas import GpciFile, check


def _work_col(header: list[str]) -> str:
    low = [h.lower() for h in header]
    floor = [h for h in low if "pw gpci" in h and "with 1.0 floor" in h and "without" not in h]
    return floor[0] if floor else "pw gpci"


def load(source: SourceFile) -> pl.DataFrame:
    rows = table_rows(source)
    h = find_header(
        rows, source, lambda r: any("locality number" in c.lower() for c in r), "a header row with 'Locality Number'"
    )
    header = [c.lower() for c in rows[h]]
    work = _work_col(header)
    spec = {
        "carrier": ("Medicare Administrative Contractor (MAC)", lambda c: "contractor" in c or c == "mac"),
        "state": ("State", lambda c: c == "state"),
        "locality": ("Locality Number", lambda c: c == "locality number"),
        "locality_name": ("Locality Name", lambda c: c == "locality name"),
        "work_gpci": (
            "PW GPCI (with 1.0 Floor)",
            (lambda c: c == work) if work != "pw gpci" else (lambda c: "pw gpci" in c),
        ),
        "pe_gpci": ("PE GPCI", lambda c: "pe gpci" in c),
        "mp_gpci": ("MP GPCI", lambda c: "mp gpci" in c),
    }
    idx = [column_index(header, source, h, label, test) for label, test in spec.values()]
    labels = {k: rows[h][i] for k, i in zip(spec, idx)}
    records, rownums = data_rows(rows, h, idx)  # skips blank rows and footnotes ("*Work GPCI reflects…")
    raw = frame(records, list(spec), rownums)
    check(GpciFile, raw, source.origin, labels=labels)
    return raw.select(
        "carrier",
        "locality",
        "state",
        pl.col("locality_name").str.strip_chars_end("* ").alias("locality_name"),
        dec("work_gpci", 3),
        dec("pe_gpci", 3),
        dec("mp_gpci", 3),
    )
