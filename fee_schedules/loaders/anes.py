"""Anesthesia conversion factors by locality (ANES2025.csv): cells carry trailing spaces.

The header's last cell names the national anesthesia CF ("National Anes CF of 20.3178").
"""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import column_index, data_rows, dec, find_header, frame, table_rows
from fee_schedules.schemas import AnesFile, check


def national_cf(source: SourceFile) -> Decimal | None:
    rows = table_rows(source)
    for row in rows[:10]:
        for cell in row:
            m = re.search(r"national anes cf of\s*([\d.]+)", cell, re.I)
            if m:
                return Decimal(m.group(1))
    return None


def load(source: SourceFile) -> pl.DataFrame:
    rows = table_rows(source)
    h = find_header(
        rows, source, lambda r: bool(r) and r[0].lower() == "contractor", "a header row starting 'Contractor'"
    )
    header = [c.lower() for c in rows[h]]
    spec = {
        "carrier": ("Contractor", lambda c: c == "contractor"),
        "locality": ("Locality", lambda c: c == "locality"),
        "locality_name": ("Locality Name", lambda c: c == "locality name"),
        "anesthesia_cf": ("National Anes CF of …", lambda c: "anes cf" in c),
    }
    idx = [column_index(header, source, h, label, test) for label, test in spec.values()]
    records, rownums = data_rows(rows, h, idx)
    raw = frame(records, list(spec), rownums)
    check(AnesFile, raw, source.origin, labels={k: v[0] for k, v in spec.items()})
    return raw.select("carrier", "locality", pl.col("locality_name").str.strip_chars_end("* "), dec("anesthesia_cf", 2))
