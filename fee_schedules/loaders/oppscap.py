"""OPPSCAP: CMS's payment amounts after the OPPS cap, per (code, modifier, carrier, locality)."""

from __future__ import annotations

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import column_index, data_rows, dec, find_header, frame, table_rows
from fee_schedules.schemas import OppsCapFile, check

HEADERS = {
    "hcpcs": "HCPCS",
    "modifier": "MOD",
    "proc_status": "PROCSTAT",
    "carrier": "CARRIER",
    "locality": "LOCALITY",
    "facility_price": "FACILITY PRICE",
    "nonfacility_price": "NON-FACILTY PRICE",
}  # [sic] in the CMS header


def load(source: SourceFile) -> pl.DataFrame:
    rows = table_rows(source)
    h = find_header(rows, source, lambda r: bool(r) and r[0].upper() == "HCPCS", "HCPCS,MOD,PROCSTAT,…")
    header = [c.upper() for c in rows[h]]
    tests = {
        "hcpcs": lambda c: c == "HCPCS",
        "modifier": lambda c: c == "MOD",
        "proc_status": lambda c: c == "PROCSTAT",
        "carrier": lambda c: c == "CARRIER",
        "locality": lambda c: c == "LOCALITY",
        "facility_price": lambda c: c == "FACILITY PRICE",
        "nonfacility_price": lambda c: c.startswith("NON-FACIL") and c.endswith("PRICE"),
    }
    idx = [column_index(header, source, h, HEADERS[k], t) for k, t in tests.items()]
    records, rownums = data_rows(rows, h, idx)
    raw = frame(records, list(tests), rownums)
    check(OppsCapFile, raw, source.origin, labels=HEADERS)
    return raw.select(
        "hcpcs",
        "modifier",
        "proc_status",
        "carrier",
        "locality",
        dec("facility_price", 2, 14),
        dec("nonfacility_price", 2, 14),
    )
