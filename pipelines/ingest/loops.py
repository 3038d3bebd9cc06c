"""Loop keys: which transaction (2000 payment), claim (2100) and service line (2110) each segment
belongs to, for a slice of whole transactions (pure, numpy over the tag ids).

Keys are file-wide 1-based ordinals (``txn`` = count of ST so far, ``claim`` = count of CLP while
inside a claim loop, ``line`` = count of SVC while inside a service loop), so every slice yields the
same keys the whole file would.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.ingest.envelope import PreparedERA
from pipelines.ingest.segments import _CLAIM_STOP_TID, TID, _carry, _rows

_TABLE_TAGS = (
    "ST",
    "BPR",
    "TRN",
    "REF",
    "DTM",
    "N1",
    "N3",
    "N4",
    "LX",
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


def slice_parts(prep: PreparedERA, lo: int = 0, hi: int | None = None) -> dict[str, pl.DataFrame]:
    """The segments of rows [lo, hi) (starting at an ST or the file start) that feed the tables,
    one frame per tag: seg_no, txn, claim, line (, lx), text (after the tag and its separator), with
    file-wide keys."""
    hi = prep.segments if hi is None else hi
    tid = prep.tid[lo:hi]
    before = prep.tag_counts_before(lo)
    base = {t: np.int32(before[TID[t]]) for t in ("ST", "CLP", "SVC", "LX")}
    is_clp = tid == TID["CLP"]
    is_svc = tid == TID["SVC"]
    stop = _CLAIM_STOP_TID[tid]
    txn = np.cumsum(tid == TID["ST"], dtype=np.int32) + base["ST"]
    claim = _carry(is_clp | stop, np.where(is_clp, np.cumsum(is_clp, dtype=np.int32) + base["CLP"], np.int32(0)))
    line = _carry(
        is_svc | is_clp | stop, np.where(is_svc, np.cumsum(is_svc, dtype=np.int32) + base["SVC"], np.int32(0))
    )
    lx = np.cumsum(tid == TID["LX"], dtype=np.int32) + base["LX"]
    del is_clp, is_svc, stop
    # one stable sort groups the rows by tag, each group in segment order
    order = np.argsort(tid, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(tid, minlength=256))])
    sc = prep.scan
    if sc is None:
        raise RuntimeError(f"{prep.path}: slice_parts after release_scan(): the file's segments are gone")
    parts = {}
    for t in _TABLE_TAGS:
        local = order[bounds[TID[t]] : bounds[TID[t] + 1]]
        if len(local):
            keys = {"txn": txn[local], "claim": claim[local], "line": line[local]}
            if t in ("LX", "CLP"):
                keys["lx"] = lx[local]
            parts[t] = _rows(sc, local + lo, skip=len(t) + 1, **keys)  # text after "TAG*"
    return parts
