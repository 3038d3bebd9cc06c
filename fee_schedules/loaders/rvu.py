"""PPRRVU (national RVU file): CSV/XLSX with a 10-row preamble and stacked header, or fixed-width TXT.

Columns are located by their (vertically joined) header names, never by position: 2026 added
PRIC IND between TEAM SURG and ENDO BASE. The DESCRIPTION column (AMA copyright) is not read.
"""

from __future__ import annotations

import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import (
    column_index,
    data_rows,
    dec,
    find_header,
    frame,
    is_blank,
    norm,
    table_rows,
    text_of,
)
from fee_schedules.schemas import RvuFile, check
from pipelines.core.errors import InputFileError

# our column -> the CMS header (stacked cells joined), as written in the RVU25A record layout
HEADERS: dict[str, str] = {
    "hcpcs": "HCPCS",
    "modifier": "MOD",
    "status_code": "STATUS CODE",
    "work_rvu": "WORK RVU",
    "nf_pe_rvu": "NON-FAC PE RVU",
    "nf_na": "NON-FAC NA INDICATOR",
    "f_pe_rvu": "FACILITY PE RVU",
    "f_na": "FACILITY NA INDICATOR",
    "mp_rvu": "MP RVU",
    "pctc": "PCTC IND",
    "global_days": "GLOB DAYS",
    "pre_op": "PRE OP",
    "intra_op": "INTRA OP",
    "post_op": "POST OP",
    "mult_proc": "MULT PROC",
    "bilat_surg": "BILAT SURG",
    "asst_surg": "ASST SURG",
    "co_surg": "CO- SURG",
    "team_surg": "TEAM SURG",
    "pric_ind": "PRIC IND",
    "endo_base": "ENDO BASE",
    "conversion_factor": "CONV FACTOR",
    "supervision": "PHYSICIAN SUPERVISION OF DIAGNOSTIC PROCEDURES",
    "calc_flag": "CALCULATION FLAG",
    "imaging_family": "DIAGNOSTIC IMAGING FAMILY INDICATOR",
    "opps_nf_pe_rvu": "NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT",
    "opps_f_pe_rvu": "FACILITY PE USED FOR OPPS PAYMENT AMOUNT",
    "opps_mp_rvu": "MP USED FOR OPPS PAYMENT AMOUNT",
}
OPTIONAL = {"pric_ind"}  # only from 2026

# Fixed-width TXT variant, 1-based inclusive positions (RVU25A.pdf "DATA RECORD").
TXT_POSITIONS: dict[str, tuple[int, int]] = {
    "hcpcs": (1, 5),
    "modifier": (6, 7),
    "status_code": (58, 58),
    "work_rvu": (60, 65),
    "nf_pe_rvu": (67, 72),
    "nf_na": (73, 74),
    "f_pe_rvu": (76, 81),
    "f_na": (82, 83),
    "mp_rvu": (85, 89),
    "pctc": (103, 103),
    "global_days": (104, 106),
    "pre_op": (107, 109),  # written ".10": Preoperative / Intraoperative / Postoperative Percentage
    "intra_op": (110, 112),
    "post_op": (113, 115),
    "mult_proc": (116, 116),
    "bilat_surg": (117, 117),
    "asst_surg": (118, 118),
    "co_surg": (119, 119),
    "team_surg": (120, 120),
    "endo_base": (128, 132),
    "conversion_factor": (133, 140),
    "supervision": (142, 143),
    "calc_flag": (144, 144),
    "imaging_family": (146, 147),
    "opps_nf_pe_rvu": (152, 158),
    "opps_f_pe_rvu": (159, 165),
    "opps_mp_rvu": (166, 172),
}


def read_raw(source: SourceFile) -> pl.DataFrame:
    """The file as a frame of strings (our column names) plus ``_row``."""
    if source.suffix == ".txt":
        return _read_txt(source)
    rows = table_rows(source)
    h = find_header(
        rows, source, lambda r: bool(r) and r[0].upper() == "HCPCS", "a header row whose first cell is HCPCS"
    )
    stack = [
        r
        for r in rows[max(0, h - 4) : h + 1]
        if not any("RELEASED" in c.upper() or "COPYRIGHT" in c.upper() for c in r)
    ]
    width = max(len(r) for r in stack)
    joined = [norm(" ".join(r[i] for r in stack if i < len(r))) for i in range(width)]
    names, idx = [], []
    for col, label in HEADERS.items():
        want = norm(label)
        if col in OPTIONAL and want not in joined:
            continue
        idx.append(column_index(joined, source, h, label, lambda x, w=want: x == w))
        names.append(col)
    records, rownums = data_rows(rows, h, idx, skip=is_blank)
    df = frame(records, names, rownums)
    if "pric_ind" not in df.columns:
        df = df.with_columns(pric_ind=pl.lit(None, pl.String))
    return df


def _read_txt(source: SourceFile) -> pl.DataFrame:
    lines = text_of(source).splitlines()
    records, rownums = [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip("\x1a \t") or line.startswith("HDR"):
            continue
        if len(line) < 147:
            raise InputFileError(
                source.origin,
                "short fixed-width record",
                row=n,
                expected="about 200 characters per RVU25A.pdf",
                found=f"{len(line)} characters",
            )
        line = line.ljust(172)
        records.append([line[a - 1 : b].strip() for a, b in TXT_POSITIONS.values()])
        rownums.append(n)
    df = frame(records, list(TXT_POSITIONS), rownums)
    return df.with_columns(pric_ind=pl.lit(None, pl.String))


def load(source: SourceFile) -> pl.DataFrame:
    """Validated, typed RVU rows (one per HCPCS + modifier)."""
    raw = read_raw(source)
    check(RvuFile, raw, source.origin, labels=HEADERS)
    blank_none = lambda c: pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)  # noqa: E731
    return raw.select(
        "hcpcs",
        "modifier",
        "status_code",
        dec("work_rvu", 2),
        dec("nf_pe_rvu", 2),
        (pl.col("nf_na") == "NA").alias("nf_na"),
        dec("f_pe_rvu", 2),
        (pl.col("f_na") == "NA").alias("f_na"),
        dec("mp_rvu", 2),
        "pctc",
        "global_days",
        dec("pre_op", 2, 5),
        dec("intra_op", 2, 5),
        dec("post_op", 2, 5),
        "mult_proc",
        "bilat_surg",
        "asst_surg",
        "co_surg",
        "team_surg",
        blank_none("pric_ind"),
        blank_none("endo_base"),
        dec("conversion_factor", 4),
        blank_none("supervision"),
        blank_none("calc_flag"),
        blank_none("imaging_family"),
        dec("opps_nf_pe_rvu", 2),
        dec("opps_f_pe_rvu", 2),
        dec("opps_mp_rvu", 2),
    )
