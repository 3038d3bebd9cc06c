"""835 segments as tag ids and elements: the vocabulary every later ingest step uses (pure).

A segment's tag becomes a small id (:data:`TID`) so that masks over millions of segments are
byte compares; a segment's text is split into elements ``e01``.. with empty elements null;
numbers are checked to be exact at their warehouse scale before they are cast.
"""

from __future__ import annotations

import mmap
import re

import numpy as np
import polars as pl

from pipelines.core.errors import X12Error, shown
from pipelines.core.money import MONEY, QTY, RATE
from pipelines.ingest.scan import Scan, tag_code

C = {
    t: tag_code(t)
    for t in (
        "ISA",
        "GS",
        "ST",
        "SE",
        "GE",
        "IEA",
        "BPR",
        "TRN",
        "CUR",
        "REF",
        "DTM",
        "N1",
        "N2",
        "N3",
        "N4",
        "PER",
        "RDM",
        "LX",
        "TS3",
        "TS2",
        "CLP",
        "CAS",
        "NM1",
        "MIA",
        "MOA",
        "AMT",
        "QTY",
        "SVC",
        "LQ",
        "PLB",
    )
}
ENVELOPE = ("ISA", "GS", "ST", "SE", "GE", "IEA")
# A claim loop (2100) ends at the next CLP, LX, PLB, SE or any envelope segment.
CLAIM_STOP = ("LX", "PLB", "SE", "ST", "GS", "GE", "ISA", "IEA")

# Small tag ids (uint8, 0 = not an 835 segment) so that masks over millions of segments are
# byte compares and 256-entry lookups, and one stable sort groups a slice's segments by tag.
TID = {t: i for i, t in enumerate(C, start=1)}


def _tid_mask(tags) -> np.ndarray:
    mask = np.zeros(256, dtype=bool)
    mask[[TID[t] for t in tags]] = True
    return mask


_ENVELOPE_TID, _CLAIM_STOP_TID = _tid_mask(ENVELOPE), _tid_mask(CLAIM_STOP)
_CODE_TO_TID: np.ndarray | None = None  # 2**24 entries (16 MB), made on first use


def tag_ids(code: np.ndarray) -> np.ndarray:
    """The :data:`TID` of every segment from its :func:`pipelines.ingest.scan.tag_code` (0 when unknown)."""
    global _CODE_TO_TID
    if _CODE_TO_TID is None:
        # an anonymous mapping reads as zeros and only the few pages holding the tags are ever
        # touched; np.zeros would ask for huge pages for an array this size (16 MB zeroed for 30 bytes)
        lut = np.frombuffer(mmap.mmap(-1, 1 << 24), dtype=np.uint8)
        for tag, tid in TID.items():
            lut[C[tag]] = tid
        _CODE_TO_TID = lut
    return _CODE_TO_TID.take(code, mode="clip")  # -1 (no tag) is clipped to entry 0: unknown


def _exact(digits: int, scale: int) -> str:
    """A number with an optional minus, at most ``digits`` integer digits after any leading zeros
    (zero-padded amounts such as ``0000000000000150`` are real-world numbers) and any decimals
    beyond ``scale`` all zeros (so the value is exact at that scale), checked in one regex pass.
    Digits are ASCII ``[0-9]``: a regex digit class is Unicode (Arabic-Indic, full-width digits),
    which the cast then refuses."""
    return rf"^-?0*(?:[0-9]{{1,{digits}}}(?:\.[0-9]{{0,{scale}}}0*)?|\.[0-9]{{1,{scale}}}0*)$"


_MONEY_EXACT, _QTY_EXACT, _RATE_EXACT = _exact(12, 2), _exact(9, 3), _exact(8, 4)


def _elements(df: pl.DataFrame, sep: str, n: int, first: int = 1) -> pl.DataFrame:
    """Split ``text`` into e<first>..e<n> (empty elements become null; values kept as sent).

    ``first`` is 1 for the segments of slice parts, whose text starts after the tag (see
    ``slice_parts``: the tag of a part is known, and splitting it off again cost a fifth of the
    split), 0 for whole segments (e00 is then the tag)."""
    requested = n
    if df.height > 1000 and n > 15:  # CAS (19): split no further than the longest segment needs
        most = df.select(pl.col("text").str.count_matches(sep, literal=True).max()).item() or 0
        n = max(first, min(n, int(most) + first))
    names = [f"e{i:02d}" for i in range(first, n + 1)]
    missing = [f"e{i:02d}" for i in range(n + 1, requested + 1)]
    out = (
        df.with_columns(pl.col("text").str.split_exact(sep, n - first).struct.rename_fields(names).alias("_el"))
        .unnest("_el")
        .drop("text")
    )
    out = out.with_columns(
        [pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c) for c in names if c != "e00"]
        + [pl.lit(None, pl.String).alias(c) for c in missing]
    )
    return out


def _number(df: pl.DataFrame, col: str, dtype, path, what: str) -> pl.Expr:
    """Check that every non-null value of ``col`` is an exact number for ``dtype``; raise otherwise."""
    exact = {MONEY: _MONEY_EXACT, QTY: _QTY_EXACT, RATE: _RATE_EXACT}[dtype]
    v = pl.col(col)
    if df.height == 0 or df.get_column(col).null_count() == df.height:
        return v.cast(dtype)
    bad = df.select("seg_no", col).filter(v.is_not_null() & ~v.str.contains(exact))
    if bad.height:
        seg, value = bad.row(0)
        kind = {
            MONEY: "an amount of at most 12 integer digits and 2 decimals",
            QTY: "a quantity of at most 9 integer digits and 3 decimals",
            RATE: "a number of at most 8 integer digits and 4 decimals",
        }[dtype]
        raise X12Error(
            path,
            f"unparseable number in {what}",
            segment=int(seg),
            expected=kind,
            found=_not_a_number(value),
            hint=f"{bad.height} value(s) of {what} are not numbers; the payer must correct and resend the file",
        )
    return v.cast(dtype)


_ASCII_NUMBER = re.compile(r"-?[0-9]*(\.[0-9]*)?")


def _not_a_number(value: str) -> str:
    """Why ``value`` is not an exact number, without quoting it: a misaligned segment (a lost
    terminator, say) puts a patient's name or member id where an amount belongs."""
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        return f"{shown(value)}, with digits that are not ASCII digits 0-9"
    number = _ASCII_NUMBER.fullmatch(value)
    if number and any(ch.isdigit() for ch in value):
        whole, _, decimals = value.lstrip("-").partition(".")
        return f"a number with {len(whole.lstrip('0'))} integer digits and {len(decimals.rstrip('0'))} decimals"
    return shown(value)


def _date(col: str) -> pl.Expr:
    return pl.col(col).str.strptime(pl.Date, "%Y%m%d", strict=False)


def _first(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """First row per ``key`` of a frame sorted by ``key`` (segment order)."""
    return _sorted(df.filter(pl.col(key) != pl.col(key).shift(1).fill_null(-1)), key)


def _sorted(df: pl.DataFrame, *keys: str) -> pl.DataFrame:
    """Flag key columns that are ascending (segment order) so joins / group_bys take the fast path."""
    return df.with_columns([pl.col(k).set_sorted() for k in keys])


def _carry(marker: np.ndarray, value: np.ndarray) -> np.ndarray:
    """At every row, ``value`` of the last row where ``marker`` is set (0 before the first).

    Counting the markers up to each row numbers the runs; one gather from the (short) array of
    marked values fills every row: three passes over the rows."""
    runs = np.cumsum(marker, dtype=np.int32)
    marked = np.zeros(int(runs[-1]) + 1 if len(runs) else 1, dtype=value.dtype)
    marked[1:] = value[marker]
    return marked.take(runs)


def _list_of(cols: list[str]) -> pl.Expr:
    """Non-null values of ``cols`` as a list, NULL when all are null (fast: no list.drop_nulls)."""
    unit = "\x1f"
    return pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in cols])).then(
        pl.concat_str(cols, separator=unit, ignore_nulls=True).str.split(unit)
    )


def _composite(df: pl.DataFrame, col: str, comp: str, names: list[str]) -> pl.DataFrame:
    """Split composite element ``col`` into ``names`` (empty components null), split once."""
    out = df.with_columns(
        pl.col(col).str.split_exact(comp, len(names) - 1).struct.rename_fields(names).alias("_cmp")
    ).unnest("_cmp")
    return out.with_columns([pl.when(pl.col(n).str.len_bytes() > 0).then(pl.col(n)).alias(n) for n in names])


def _rows(sc: Scan, idx: np.ndarray, skip: int = 0, **keys: np.ndarray) -> pl.DataFrame:
    """Segments ``idx`` (ascending) as a frame: seg_no, the given key columns, text (without its
    first ``skip`` bytes)."""
    cols = {"seg_no": pl.Series("seg_no", (idx + 1).astype(np.int32))}
    cols.update({k: pl.Series(k, v) for k, v in keys.items()})
    cols["text"] = sc.texts(idx, skip)
    return pl.DataFrame(cols)
