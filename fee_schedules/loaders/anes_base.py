"""Anesthesia Base Units by CPT Code (CMS, PFS Anesthesiologists Center), as shipped.

Two variants of one table: ``CY_2022_Anesthesia_Base_Units_110921.xlsx`` and the
"Section 508 compliant version of …" ``.txt`` (tab-delimited, CRLF). The header spans three
rows, column B stacked: ``CODE | 2022`` / ``| BASE`` / ``| UNIT``; then one row per code: the
CPT code as text with its leading zeros (``00790``) and an integer base-unit value. The base
year (the CMS calendar year of the table) is the year in the header's second cell. No
descriptors (so no AMA text).
"""

from __future__ import annotations

import re

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import data_rows, find_header, frame, is_blank, norm, table_rows, text_of
from fee_schedules.schemas import AnesBaseFile, check
from pipelines.core.errors import InputFileError

LABELS = {"hcpcs": "CODE", "base_units": "BASE UNIT"}


def _rows(source: SourceFile) -> list[list[str]]:
    if source.suffix == ".txt":  # the 508 version: tab-delimited text
        return [[c.strip() for c in line.split("\t")] for line in text_of(source).splitlines()]
    return table_rows(source)


def source_year(rows: list[list[str]], header_row: int, source: SourceFile) -> int:
    """The CY of the table: the year in the header's base-unit cell (``2022``), else in the file name."""
    cell = rows[header_row][1] if len(rows[header_row]) > 1 else ""
    m = re.fullmatch(r"(?:CY\s*)?(20\d{2})", cell.strip(), re.I) or re.search(r"(?:^|\D)(20\d{2})(?:\D|$)", source.name)
    if not m:
        raise InputFileError(
            source.origin,
            "cannot tell which calendar year the base units are for",
            row=header_row + 1,
            column="B",
            expected="the year (e.g. 2022) beside CODE in the header, as CMS ships it",
            found=repr(cell),
            hint="Is this CMS's Anesthesia Base Units by CPT Code file?",
        )
    return int(m.group(1))


def load(source: SourceFile) -> pl.DataFrame:
    """Validated rows: hcpcs (5 characters), base_units (Int32), source_year (Int32, the table's CY)."""
    rows = _rows(source)
    h = find_header(rows, source, lambda r: bool(r) and norm(r[0]) == "CODE", "a header row whose first cell is CODE")
    year = source_year(rows, h, source)
    # the stacked header: rows below CODE with an empty first cell (BASE, UNIT)
    last = h
    while last + 1 < len(rows) and not is_blank(rows[last + 1]) and rows[last + 1][0] == "":
        last += 1
    stacked = norm("".join(r[1] for r in rows[h + 1 : last + 1] if len(r) > 1))
    if stacked != "BASEUNIT":
        raise InputFileError(
            source.origin,
            "header column missing",
            row=h + 1,
            column="B",
            expected="BASE and UNIT stacked below the year in column B",
            found=repr(stacked) if stacked else "nothing",
            hint="Is this CMS's Anesthesia Base Units by CPT Code file?",
        )
    records, rownums = data_rows(rows, last, [0, 1], skip=is_blank)
    # a code whose leading zeros were lost (a re-saved sheet storing 790 as a number) gets them back
    records = [[c.zfill(5) if c.isdigit() and len(c) < 5 else c, b] for c, b in records]
    raw = frame(records, list(LABELS), rownums)
    check(AnesBaseFile, raw, source.origin, labels=LABELS)
    return raw.select(
        "hcpcs",
        pl.col("base_units").cast(pl.Int32),
        pl.lit(year, pl.Int32).alias("source_year"),
    )
