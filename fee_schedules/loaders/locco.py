"""Locality-to-county crosswalk (25LOCCO.csv).

The CSV lost leading zeros (MAC ``2102``, locality ``1``): zero-pad to 5 and 2 digits. The State
cell is blank on continuation rows (carried forward); names carry trailing spaces.
"""

from __future__ import annotations

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import column_index, find_header, frame, is_note, table_rows
from fee_schedules.schemas import LoccoFile, check


def load(source: SourceFile) -> pl.DataFrame:
    rows = table_rows(source)
    h = find_header(
        rows, source, lambda r: any("locality number" in c.lower() for c in r), "a header row with 'Locality Number'"
    )
    header = [c.lower() for c in rows[h]]
    spec = {
        "carrier": ("Medicare Adminstrative Contractor", lambda c: "contractor" in c),
        "locality": ("Locality Number", lambda c: c == "locality number"),
        "state": ("State", lambda c: c == "state"),
        "fee_schedule_area": ("Fee Schedule Area", lambda c: c == "fee schedule area"),
        "counties": ("Counties", lambda c: c == "counties"),
    }
    idx = [column_index(header, source, h, label, test) for label, test in spec.values()]
    records, rownums, state = [], [], ""
    for n, row in enumerate(rows[h + 1 :], start=h + 2):
        if is_note(row):
            continue
        rec = [row[i] if i < len(row) else "" for i in idx]
        rec[0] = rec[0].zfill(5) if rec[0].isdigit() else rec[0]
        rec[1] = rec[1].zfill(2) if rec[1].isdigit() else rec[1]
        state = rec[2] = rec[2] or state
        records.append(rec)
        rownums.append(n)
    raw = frame(records, list(spec), rownums)
    check(LoccoFile, raw, source.origin, labels={k: v[0] for k, v in spec.items()})
    return raw.drop("_row")
