"""835 segments -> one polars frame per warehouse table (pure, no database).

Everything is vectorized over the segment scan from :func:`pipelines.x12.scan`:
hierarchical keys come from cumulative sums over the segment codes (transaction = count
of ST so far, claim = count of CLP while inside a claim loop, line = count of SVC while
inside a service loop), then each table is a filter on segment code + element split.

Rows carry ordinal keys (``payment_key`` = ST ordinal, ``claim_key`` = CLP ordinal,
``line_key`` = SVC ordinal, all 1-based within the file); the loader turns them into ids.
A file that cannot be read unambiguously raises :class:`pipelines.errors.X12Error`.
"""

from __future__ import annotations

import mmap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.errors import X12Error
from pipelines.x12 import Scan, scan, tag_code, tag_name

MONEY = pl.Decimal(14, 2)
QTY = pl.Decimal(12, 3)
RATE = pl.Decimal(12, 4)

C = {t: tag_code(t) for t in (
    "ISA", "GS", "ST", "SE", "GE", "IEA", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N2", "N3", "N4",
    "PER", "RDM", "LX", "TS3", "TS2", "CLP", "CAS", "NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ",
    "PLB")}
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
_CODE_TO_TID: np.ndarray | None = None    # 2**24 entries (16 MB), made on first use


def tag_ids(code: np.ndarray) -> np.ndarray:
    """The :data:`TID` of every segment from its :func:`pipelines.x12.tag_code` (0 when unknown)."""
    global _CODE_TO_TID
    if _CODE_TO_TID is None:
        # an anonymous mapping reads as zeros and only the few pages holding the tags are ever
        # touched; np.zeros would ask for huge pages for an array this size (16 MB zeroed for 30 bytes)
        lut = np.frombuffer(mmap.mmap(-1, 1 << 24), dtype=np.uint8)
        for tag, tid in TID.items():
            lut[C[tag]] = tid
        _CODE_TO_TID = lut
    return _CODE_TO_TID.take(code, mode="clip")   # -1 (no tag) is clipped to entry 0: unknown


# trailer -> (issue rule prefix, what it counts, envelope name, opener element with the control
# number, that element's name)
TRAILER_CHECKS = {
    "GE": ("ge", "transactions", "group", 6, "GS06"),
    "IEA": ("iea", "groups", "interchange", 13, "ISA13"),
}

TRANSACTION_NAMES = {
    "837": "an 837 claim", "999": "a 999 acknowledgment", "997": "a 997 acknowledgment",
    "277": "a 277 claim status response", "276": "a 276 claim status request",
    "270": "a 270 eligibility inquiry", "271": "a 271 eligibility response",
    "278": "a 278 services review", "820": "an 820 premium payment", "834": "an 834 enrollment",
    "TA1": "a TA1 acknowledgment",
}


def _exact(digits: int, scale: int) -> str:
    """A number with an optional minus, at most ``digits`` integer digits and any decimals beyond
    ``scale`` all zeros (so the value is exact at that scale), checked in one regex pass."""
    tail = r"[\d&&[^1-9]]*"
    return rf"^-?(?:\d{{1,{digits}}}(?:\.\d{{0,{scale}}}{tail})?|\.\d{{1,{scale}}}{tail})$"


_MONEY_EXACT, _QTY_EXACT, _RATE_EXACT = _exact(12, 2), _exact(9, 3), _exact(8, 4)


@dataclass
class ParsedERA:
    """One 835 file as frames, before ids are assigned (keys are 1-based ordinals)."""

    path: str
    x12_version: str | None
    interchanges: int
    transactions: int
    segments: int
    tolerated: list[str]
    payments: pl.DataFrame
    claims: pl.DataFrame
    service_lines: pl.DataFrame
    adjustments: pl.DataFrame
    provider_adjustments: pl.DataFrame
    issues: pl.DataFrame            # envelope / tolerated warnings (balancing is added by validate)
    delimiters: object = None

    @property
    def total_paid(self):
        return self.payments["total_paid"].sum() if self.payments.height else None


# ----------------------------------------------------------------------------- helpers

def _elements(df: pl.DataFrame, sep: str, n: int, first: int = 1) -> pl.DataFrame:
    """Split ``text`` into e<first>..e<n> (empty elements become null; values kept as sent).

    ``first`` is 1 for the segments of slice parts, whose text starts after the tag (see
    ``slice_parts``: the tag of a part is known, and splitting it off again cost a fifth of the
    split), 0 for whole segments (e00 is then the tag)."""
    requested = n
    if df.height > 1000 and n > 15:   # CAS (19): split no further than the longest segment needs
        most = df.select(pl.col("text").str.count_matches(sep, literal=True).max()).item() or 0
        n = max(first, min(n, int(most) + first))
    names = [f"e{i:02d}" for i in range(first, n + 1)]
    missing = [f"e{i:02d}" for i in range(n + 1, requested + 1)]
    out = df.with_columns(
        pl.col("text").str.split_exact(sep, n - first).struct.rename_fields(names).alias("_el")
    ).unnest("_el").drop("text")
    out = out.with_columns([
        pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c) for c in names if c != "e00"
    ] + [pl.lit(None, pl.String).alias(c) for c in missing])
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
        kind = {MONEY: "an amount with at most 2 decimals", QTY: "a quantity with at most 3 decimals",
                RATE: "a number with at most 4 decimals"}[dtype]
        raise X12Error(path, f"unparseable number in {what}", segment=int(seg), expected=kind,
                       found=repr(value),
                       hint=f"{bad.height} value(s) of {what} are not numbers; the payer must correct and resend the file")
    return v.cast(dtype)


def _date(col: str) -> pl.Expr:
    return pl.col(col).str.strptime(pl.Date, "%Y%m%d", strict=False)


def _join_dates(out: pl.DataFrame, dtm: pl.DataFrame | None, level: str, quals) -> pl.DataFrame:
    """One date column per (DTM01 qualifier, name): the first such DTM of each claim / line
    (``level`` = "claim" or "line"), joined on ``<level>_key``; all null when there is no DTM."""
    key = f"{level}_key"
    for qual, name in quals:
        if dtm is None:
            out = out.with_columns(pl.lit(None, pl.Date).alias(name))
            continue
        j = _first(dtm.filter(pl.col("e01") == qual), level).select(
            pl.col(level).alias(key), _date("e02").alias(name))
        out = out.join(j, on=key, how="left")
    return out


def _first(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """First row per ``key`` of a frame sorted by ``key`` (segment order)."""
    return _sorted(df.filter(pl.col(key) != pl.col(key).shift(1).fill_null(-1)), key)


def _sorted(df: pl.DataFrame, *keys: str) -> pl.DataFrame:
    """Flag key columns that are ascending (segment order) so joins / group_bys take the fast path."""
    return df.with_columns([pl.col(k).set_sorted() for k in keys])


def _empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


ISSUE_SCHEMA = {
    "payment_key": pl.Int64, "claim_key": pl.Int64, "line_key": pl.Int64, "segment_number": pl.Int64,
    "rule": pl.String, "severity": pl.String, "expected": pl.String, "actual": pl.String,
    "message": pl.String,
}


def _issue(rule, message, *, segment=None, payment=None, expected=None, actual=None, severity="warning"):
    return {"payment_key": payment, "claim_key": None, "line_key": None, "segment_number": segment,
            "rule": rule, "severity": severity, "expected": expected, "actual": actual, "message": message}


# ----------------------------------------------------------------------------- structure

def _carry(marker: np.ndarray, value: np.ndarray) -> np.ndarray:
    """At every row, ``value`` of the last row where ``marker`` is set (0 before the first).

    Counting the markers up to each row numbers the runs; one gather from the (short) array of
    marked values fills every row: three passes over the rows."""
    runs = np.cumsum(marker, dtype=np.int32)
    marked = np.zeros(int(runs[-1]) + 1 if len(runs) else 1, dtype=value.dtype)
    marked[1:] = value[marker]
    return marked.take(runs)


def _envelope(env: pl.DataFrame, n_segments: int, segs: Scan, path) -> tuple[list[dict], dict]:
    """Check ISA/GS/ST/SE/GE/IEA nesting, counts and control numbers (loops over envelope rows only).

    ``env`` holds seg_no, tag, text of the envelope segments only."""
    sep = segs.delimiters.element
    issues: list[dict] = []
    info = {"interchanges": 0, "transactions": 0, "version": None}
    stack: list[tuple] = []           # open envelopes: (tag, seg_no, elements, child_count)
    expect_close = {"ISA": "IEA", "GS": "GE", "ST": "SE"}
    parent_of = {"GS": "ISA", "ST": "GS"}
    txn = 0
    for seg_no, tag, text in env.iter_rows():
        el = text.split(sep)
        if tag in ("ISA", "GS", "ST"):
            if stack and stack[-1][0] == "ST":
                raise X12Error(path, f"transaction set {stack[-1][2][2] if len(stack[-1][2]) > 2 else ''} "
                               f"begun at segment {stack[-1][1]} has no SE trailer", segment=seg_no,
                               expected="SE before the next " + tag, found=tag,
                               hint="The file looks truncated or spliced; ask the sender to resend it")
            if tag == "ST":
                st01 = el[1] if len(el) > 1 else ""
                if st01 != "835":
                    what = TRANSACTION_NAMES.get(st01, f"a {st01 or '(blank)'} transaction")
                    raise X12Error(path, f"this is {what}, not an 835 remittance", segment=seg_no,
                                   expected="ST01 = 835", found=repr(st01),
                                   hint="Only 835 remittance advice files can be ingested")
                txn += 1
                info["transactions"] += 1
                if info["version"] is None and len(el) > 3 and el[3]:
                    info["version"] = el[3]
            if tag == "ISA":
                info["interchanges"] += 1
                if stack:
                    raise X12Error(path, f"{stack[-1][0]} begun at segment {stack[-1][1]} is not closed",
                                   segment=seg_no, expected=expect_close[stack[-1][0]], found="ISA",
                                   hint="The file looks truncated or spliced; ask the sender to resend it")
            elif segs.enveloped:
                parent = parent_of[tag]
                if not stack or stack[-1][0] != parent:
                    raise X12Error(path, f"{tag} outside its {parent} envelope", segment=seg_no,
                                   expected=f"{tag} inside {parent}", found=tag)
                stack[-1][3] += 1
            if tag == "GS" and info["version"] is None and len(el) > 8 and el[8]:
                info["version"] = el[8]
            stack.append([tag, seg_no, el, 0, txn])
            continue
        # trailers
        opener = {"SE": "ST", "GE": "GS", "IEA": "ISA"}[tag]
        if not stack or stack[-1][0] != opener:
            if opener in ("GS", "ISA") and not segs.enveloped:
                raise X12Error(path, f"{tag} without {opener}", segment=seg_no, expected=f"{opener} before {tag}")
            raise X12Error(path, f"{tag} without a matching {opener}", segment=seg_no,
                           expected=expect_close[stack[-1][0]] if stack else opener, found=tag,
                           hint="The envelope is broken; ask the sender to resend the file")
        _, open_no, open_el, children, t = stack.pop()
        count = el[1] if len(el) > 1 else ""
        ctrl = el[2] if len(el) > 2 else ""
        if tag == "SE":
            actual = seg_no - open_no + 1
            if count != str(actual):
                issues.append(_issue("se_count", f"SE01 says {count} segments, the transaction has {actual}",
                                     segment=seg_no, payment=t, expected=str(actual), actual=count))
            want = open_el[2] if len(open_el) > 2 else ""
            if ctrl != want:
                issues.append(_issue("se_control", "SE02 does not match ST02", segment=seg_no, payment=t,
                                     expected=want, actual=ctrl))
        else:   # GE / IEA: count of children and control number against the opener
            rule, children_are, envelope, ctrl_at, opener_el = TRAILER_CHECKS[tag]
            if count != str(children):
                issues.append(_issue(f"{rule}_count", f"{tag}01 says {count} {children_are}, the {envelope} "
                                     f"has {children}", segment=seg_no, expected=str(children), actual=count))
            want = open_el[ctrl_at] if len(open_el) > ctrl_at else ""
            if ctrl.strip() != want.strip():
                issues.append(_issue(f"{rule}_control", f"{tag}02 does not match {opener_el}", segment=seg_no,
                                     expected=want.strip() if tag == "IEA" else want, actual=ctrl))
    if stack:
        tag, seg_no = stack[-1][0], stack[-1][1]
        raise X12Error(path, f"{tag} begun at segment {seg_no} is never closed: the file is truncated",
                       segment=int(n_segments), expected=expect_close[tag], found="end of file",
                       hint="Ask the sender to resend the complete file")
    if info["transactions"] == 0:
        raise X12Error(path, "no ST transaction in the file", segment=1, expected="ST*835",
                       hint="The interchange is empty; nothing to load")
    return issues, info


# ----------------------------------------------------------------------------- tables

def _envelope_frames(isa_part, gs_part, sep):
    """ISA13 and GS06/GS08 keyed by their segment numbers (for the payments of any slice)."""
    isa = _elements(isa_part, sep, 13, first=0).select(pl.col("seg_no").alias("_isa_seg"),
                                              pl.col("e13").alias("interchange_control")) \
        if isa_part is not None else pl.DataFrame(schema={"_isa_seg": pl.Int32, "interchange_control": pl.String})
    gs = _elements(gs_part, sep, 8, first=0).select(pl.col("seg_no").alias("_gs_seg"), pl.col("e06").alias("group_control"),
                                           pl.col("e08").alias("gs_version")) \
        if gs_part is not None else pl.DataFrame(schema={"_gs_seg": pl.Int32, "group_control": pl.String,
                                                         "gs_version": pl.String})
    return isa, gs


def _payments(parts, sep, path, isa, gs) -> pl.DataFrame:
    st = _elements(parts["ST"], sep, 3).select(
        pl.col("txn").alias("payment_key"), pl.col("seg_no").alias("segment_number"),
        pl.col("e02").alias("transaction_control"), pl.col("e03").alias("st_version"))
    st = st.join_asof(isa, left_on="segment_number", right_on="_isa_seg", strategy="backward") \
        .join_asof(gs, left_on="segment_number", right_on="_gs_seg", strategy="backward").with_columns(
        pl.coalesce("gs_version", "st_version").alias("x12_version")).drop("_isa_seg", "_gs_seg", "st_version", "gs_version")

    def header(tag):
        df = parts.get(tag)
        if df is None:
            return None
        return df.filter(pl.col("claim") == 0)

    bpr = header("BPR")
    missing = st.select("payment_key", "segment_number")
    if bpr is not None:
        missing = missing.join(bpr.select(pl.col("txn").alias("payment_key")), on="payment_key", how="anti")
    if missing.height:
        raise X12Error(path, "transaction has no BPR (financial information) segment",
                       segment=int(missing["segment_number"][0]), expected="BPR after ST*835",
                       hint="An 835 without BPR carries no payment; ask the payer to resend")
    bpr = _elements(_first(bpr, "txn"), sep, 16)
    bpr = bpr.select(
        pl.col("txn").alias("payment_key"),
        pl.col("e01").alias("handling_code"),
        _number(bpr, "e02", MONEY, path, "BPR02 total payment").alias("total_paid"),
        pl.col("e03").alias("credit_debit"), pl.col("e04").alias("payment_method"),
        pl.col("e05").alias("payment_format"), _date("e16").alias("payment_date"))
    out = st.join(bpr, on="payment_key", how="left")
    trn = header("TRN")
    if trn is not None:
        trn = _elements(_first(trn, "txn"), sep, 4).select(
            pl.col("txn").alias("payment_key"), pl.col("e01").alias("trace_type"),
            pl.col("e02").alias("trace_number"), pl.col("e03").alias("originating_company_id"),
            pl.col("e04").alias("originating_company_supplemental"))
        out = out.join(trn, on="payment_key", how="left")
    else:
        out = out.with_columns(*[pl.lit(None, pl.String).alias(c) for c in (
            "trace_type", "trace_number", "originating_company_id", "originating_company_supplemental")])

    # header party loops: forward-fill the N1 qualifier over header segments. Outside a claim
    # (claim key 0) these tags occur only in the header: after LX come TS3/TS2 and then CLP.
    frames = [parts[t].filter(pl.col("claim") == 0).select("seg_no", "txn", "text", pl.lit(t).alias("e00"))
              for t in ("N1", "N3", "N4", "REF", "DTM") if t in parts]
    hdr = pl.concat(frames).sort("seg_no")
    hdr = _elements(hdr, sep, 5).with_columns(
        pl.when(pl.col("e00") == "N1").then(pl.col("e01")).forward_fill().over("txn").alias("party"))

    def pick(tag, party, qual=None, cols=()):
        df = hdr.filter((pl.col("e00") == tag) & (pl.col("party").fill_null("") == party))
        if qual is not None:
            df = df.filter(pl.col("e01") == qual)
        return _first(df, "txn").select(pl.col("txn").alias("payment_key"),
                                        *[pl.col(src).alias(dst) for src, dst in cols])

    joins = [
        pick("DTM", "", "405", [("e02", "_prod")]),
        pick("REF", "", "EV", [("e02", "receiver_id")]),
        pick("N1", "PR", None, [("e02", "payer_name"), ("e03", "payer_id_qualifier"), ("e04", "payer_n1_id")]),
        pick("REF", "PR", "2U", [("e02", "payer_ref_2u")]),
        pick("N3", "PR", None, [("e01", "payer_address")]),
        pick("N4", "PR", None, [("e01", "payer_city"), ("e02", "payer_state"), ("e03", "payer_zip")]),
        pick("N1", "PE", None, [("e02", "payee_name"), ("e03", "payee_id_qualifier"), ("e04", "payee_id")]),
        pick("REF", "PE", "TJ", [("e02", "_payee_ref_tj")]),
        pick("N3", "PE", None, [("e01", "payee_address")]),
        pick("N4", "PE", None, [("e01", "payee_city"), ("e02", "payee_state"), ("e03", "payee_zip")]),
    ]
    for j in joins:
        out = out.join(j, on="payment_key", how="left")
    out = out.with_columns(
        _date("_prod").alias("production_date"),
        pl.coalesce("payer_ref_2u", "payer_n1_id", "originating_company_id").alias("payer_id"),
        pl.when(pl.col("payee_id_qualifier") == "XX").then(pl.col("payee_id")).alias("payee_npi"),
        pl.when(pl.col("payee_id_qualifier") == "FI").then(pl.col("payee_id"))
        .otherwise(pl.col("_payee_ref_tj")).alias("payee_tin"),
    ).drop("_prod", "_payee_ref_tj")
    return out


def _claims(parts, sep, comp, path) -> pl.DataFrame:
    if "CLP" not in parts:
        return pl.DataFrame()
    clp = _elements(parts.pop("CLP"), sep, 14)
    out = clp.select(
        pl.col("claim").alias("claim_key"), pl.col("txn").alias("payment_key"),
        pl.col("seg_no").alias("segment_number"), pl.col("lx"),
        pl.col("e01").alias("patient_control_number"), pl.col("e02").alias("status_code"),
        _number(clp, "e03", MONEY, path, "CLP03 claim charge").alias("charge"),
        _number(clp, "e04", MONEY, path, "CLP04 claim payment").alias("paid"),
        _number(clp, "e05", MONEY, path, "CLP05 patient responsibility").alias("patient_responsibility"),
        pl.col("e06").alias("filing_indicator"), pl.col("e07").alias("payer_claim_number"),
        pl.col("e08").alias("place_of_service"), pl.col("e09").alias("frequency_code"),
        pl.col("e10").alias("patient_status"), pl.col("e11").alias("drg_code"),
        _number(clp, "e12", RATE, path, "CLP12 DRG weight").alias("drg_weight"),
        _number(clp, "e13", RATE, path, "CLP13 discharge fraction").alias("discharge_fraction"),
        pl.col("e14").alias("yes_no_condition"),
    )
    out = _sorted(out, "claim_key")
    if "LX" in parts:
        lx = _elements(parts.pop("LX"), sep, 1).select("lx", pl.col("txn").alias("_lx_txn"),
                                                   pl.col("e01").alias("lx_number"))
        out = out.join(lx, on="lx", how="left").with_columns(
            pl.when(pl.col("_lx_txn") == pl.col("payment_key")).then(pl.col("lx_number")).alias("lx_number")
        ).drop("_lx_txn")
    else:
        out = out.with_columns(pl.lit(None, pl.String).alias("lx_number"))
    out = out.drop("lx")

    def claim_level(tag, n):
        df = parts.pop(tag, None)
        if df is None:
            return None
        df = df.filter((pl.col("claim") > 0) & (pl.col("line") == 0))
        return _sorted(_elements(df, sep, n), "claim") if df.height else None

    nm1 = claim_level("NM1", 9)
    names = {
        "QC": [("e03", "patient_last_name"), ("e04", "patient_first_name"), ("e05", "patient_middle_name"),
               ("e08", "patient_id_qualifier"), ("e09", "patient_member_id")],
        "IL": [("e03", "insured_last_name"), ("e04", "insured_first_name"), ("e09", "insured_member_id")],
        "74": [("e03", "corrected_last_name"), ("e04", "corrected_first_name"), ("e09", "corrected_member_id")],
        "82": [("e03", "rendering_provider_name"), ("e09", "rendering_provider_id"),
               ("e08", "rendering_provider_qualifier")],
        "TT": [("e03", "crossover_carrier_name"), ("e09", "crossover_carrier_id")],
    }
    for qual, cols in names.items():
        if nm1 is not None:
            j = _first(nm1.filter(pl.col("e01") == qual), "claim").select(
                pl.col("claim").alias("claim_key"), *[pl.col(s).alias(d) for s, d in cols])
            out = out.join(j, on="claim_key", how="left")
        else:
            out = out.with_columns(*[pl.lit(None, pl.String).alias(d) for _, d in cols])

    mia = claim_level("MIA", 24)
    if mia is not None:
        j = _first(mia, "claim").select(
            pl.col("claim").alias("claim_key"),
            _list_of(["e05", "e20", "e21", "e22", "e23"]).alias("mia_remarks"))
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.List(pl.String)).alias("mia_remarks"))
    moa = claim_level("MOA", 9)
    if moa is not None:
        j = _first(moa, "claim")
        j = j.select(
            pl.col("claim").alias("claim_key"),
            _list_of(["e03", "e04", "e05", "e06", "e07"]).alias("moa_remarks"),
            _number(j, "e01", RATE, path, "MOA01 reimbursement rate").alias("moa_reimbursement_rate"),
            _number(j, "e02", MONEY, path, "MOA02 HCPCS payable amount").alias("moa_payable_amount"))
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.List(pl.String)).alias("moa_remarks"),
                               pl.lit(None, RATE).alias("moa_reimbursement_rate"),
                               pl.lit(None, MONEY).alias("moa_payable_amount"))

    out = _join_dates(out, claim_level("DTM", 2), "claim",
                      (("232", "statement_from"), ("233", "statement_to"), ("050", "received_date")))

    amt = claim_level("AMT", 2)
    if amt is not None:
        amt = amt.with_columns(_number(amt, "e02", MONEY, path, "claim AMT02 amount").alias("amount"))
        for qual, name in (("AU", "coverage_amount"), ("I", "interest_amount")):
            j = _first(amt.filter(pl.col("e01") == qual), "claim").select(
                pl.col("claim").alias("claim_key"), pl.col("amount").alias(name))
            out = out.join(j, on="claim_key", how="left")
        j = amt.filter(~pl.col("e01").is_in(["AU", "I"])).group_by("claim", maintain_order=True).agg(
            (pl.col("e01") + "=" + pl.col("e02")).alias("other_amounts")).rename({"claim": "claim_key"}).pipe(_sorted, "claim_key")
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, MONEY).alias("coverage_amount"),
                               pl.lit(None, MONEY).alias("interest_amount"),
                               pl.lit(None, pl.List(pl.String)).alias("other_amounts"))
    qty = claim_level("QTY", 2)
    if qty is not None:
        _number(qty, "e02", QTY, path, "claim QTY02 quantity")
        j = qty.group_by("claim", maintain_order=True).agg((pl.col("e01") + "=" + pl.col("e02")).alias("quantities")) \
            .rename({"claim": "claim_key"}).pipe(_sorted, "claim_key")
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.List(pl.String)).alias("quantities"))
    ref = claim_level("REF", 2)
    if ref is not None:
        j = ref.group_by("claim", maintain_order=True).agg(
            (pl.col("e01") + ":" + pl.col("e02").fill_null("")).alias("refs"),
            pl.col("e02").filter(pl.col("e01") == "F8").first().alias("original_reference"),
        ).rename({"claim": "claim_key"}).pipe(_sorted, "claim_key")
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.List(pl.String)).alias("refs"),
                               pl.lit(None, pl.String).alias("original_reference"))
    return out


def _list_of(cols: list[str]) -> pl.Expr:
    """Non-null values of ``cols`` as a list, NULL when all are null (fast: no list.drop_nulls)."""
    unit = "\x1f"
    return pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in cols])).then(
        pl.concat_str(cols, separator=unit, ignore_nulls=True).str.split(unit))


def _composite(df: pl.DataFrame, col: str, comp: str, names: list[str]) -> pl.DataFrame:
    """Split composite element ``col`` into ``names`` (empty components null), split once."""
    out = df.with_columns(
        pl.col(col).str.split_exact(comp, len(names) - 1).struct.rename_fields(names).alias("_cmp")
    ).unnest("_cmp")
    return out.with_columns([pl.when(pl.col(n).str.len_bytes() > 0).then(pl.col(n)).alias(n) for n in names])


def _service_lines(parts, sep, comp, path, tolerated: list[str]) -> pl.DataFrame:
    if "SVC" not in parts:
        return pl.DataFrame()
    svc = _elements(parts.pop("SVC"), sep, 7)
    # SVC01 sent with another component separator than ISA16 declares (seen in the wild: '>' vs ':')
    odd = svc.filter(pl.col("e01").is_not_null() & ~pl.col("e01").str.contains(comp, literal=True)) \
        .filter(pl.col("e01").str.contains(r"^[A-Z0-9]{2}[^A-Za-z0-9 ]"))   # the regex on the few left
    if odd.height:
        alt = odd["e01"].str.slice(2, 1).unique().to_list()
        if len(alt) == 1:
            tolerated.append(f"{odd.height} SVC composites use {alt[0]!r} although ISA16 declares {comp!r}")
            fix = pl.when(~pl.col("e01").str.contains(comp, literal=True))
            svc = svc.with_columns(
                fix.then(pl.col("e01").str.replace_all(alt[0], comp, literal=True)).otherwise(pl.col("e01")).alias("e01"),
                fix.then(pl.col("e06").str.replace_all(alt[0], comp, literal=True)).otherwise(pl.col("e06")).alias("e06"))
    proc = ["qualifier", "procedure_code", "modifier_1", "modifier_2", "modifier_3", "modifier_4", "description"]
    orig = ["original_qualifier", "original_procedure_code", "_om1", "_om2", "_om3", "_om4", "_odesc"]
    svc = _composite(svc, "e01", comp, proc)
    if svc.get_column("e06").null_count() < svc.height:     # SVC06 is sent only for recoded lines
        svc = _composite(svc, "e06", comp, orig)
    else:
        svc = svc.with_columns([pl.lit(None, pl.String).alias(c) for c in orig])
    first_line = (pl.col("claim") != pl.col("claim").shift(1)).fill_null(True)
    out = svc.select(
        pl.col("line").alias("line_key"), pl.col("claim").alias("claim_key"), pl.col("txn").alias("payment_key"),
        pl.col("seg_no").alias("segment_number"),
        *[pl.col(c) for c in proc],
        _number(svc, "e02", MONEY, path, "SVC02 line charge").alias("charge"),
        _number(svc, "e03", MONEY, path, "SVC03 line payment").alias("paid"),
        pl.col("e04").alias("revenue_code"),
        _number(svc, "e05", QTY, path, "SVC05 units").fill_null(pl.lit(1, QTY)).alias("units"),
        pl.col("e06").str.replace_all(comp, ":", literal=True).alias("original_composite"),
        *[pl.col(c) for c in orig],
        _number(svc, "e07", QTY, path, "SVC07 original units").alias("original_units"),
        pl.col("line"), pl.col("claim"),
    ).with_columns(
        _list_of(["modifier_1", "modifier_2", "modifier_3", "modifier_4"]).alias("modifiers"),
        _list_of(["_om1", "_om2", "_om3", "_om4"]).alias("original_modifiers"),
        (pl.col("line") - pl.when(first_line).then(pl.col("line")).forward_fill() + 1)
        .cast(pl.Int32).alias("line_number"),
    ).drop("_om1", "_om2", "_om3", "_om4", "_odesc", "line", "claim")
    out = _sorted(out, "line_key", "claim_key")

    def line_level(tag, n):
        df = parts.pop(tag, None)
        if df is None:
            return None
        df = df.filter(pl.col("line") > 0)
        return _sorted(_elements(df, sep, n), "line") if df.height else None

    out = _join_dates(out, line_level("DTM", 2), "line", (("472", "_d472"), ("150", "_d150"), ("151", "_d151")))
    # AMT and REF: the first B6 / 6R of each line is a column; any others are kept as a list.
    # Most lines have one of each, so the list is grouped over the few other rows only.
    amt = line_level("AMT", 2)
    if amt is not None:
        amt = amt.with_columns(_number(amt, "e02", MONEY, path, "line AMT02 amount").alias("amount"))
        out = _first_and_others(out, amt, "B6", pl.col("amount").alias("allowed"),
                                (pl.col("e01") + "=" + pl.col("e02")).alias("other_amounts"))
    else:
        out = out.with_columns(pl.lit(None, MONEY).alias("allowed"),
                               pl.lit(None, pl.List(pl.String)).alias("other_amounts"))
    ref = line_level("REF", 2)
    if ref is not None:
        out = _first_and_others(out, ref, "6R", pl.col("e02").alias("line_control_number"),
                                (pl.col("e01") + ":" + pl.col("e02").fill_null("")).alias("refs"))
    else:
        out = out.with_columns(pl.lit(None, pl.String).alias("line_control_number"),
                               pl.lit(None, pl.List(pl.String)).alias("refs"))
    lq = line_level("LQ", 2)
    if lq is not None:
        j = lq.group_by("line", maintain_order=True).agg(
            pl.col("e02").filter(pl.col("e01") == "HE").alias("remark_codes"),
            pl.col("e02").filter(pl.col("e01") == "RX").alias("ncpdp_reject_codes"),
        ).rename({"line": "line_key"}).pipe(_sorted, "line_key")
        out = out.join(j, on="line_key", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.List(pl.String)).alias("remark_codes"),
                               pl.lit(None, pl.List(pl.String)).alias("ncpdp_reject_codes"))
    return out


def _first_and_others(out: pl.DataFrame, seg: pl.DataFrame, qual: str, first: pl.Expr,
                      others: pl.Expr) -> pl.DataFrame:
    """Join to the lines ``first`` of each line's first ``seg`` row with qualifier (e01) ``qual``,
    and the list ``others`` of its rows with another qualifier (``seg`` sorted by line)."""
    j = _first(seg.filter(pl.col("e01") == qual), "line").select(pl.col("line").alias("line_key"), first)
    out = out.join(j, on="line_key", how="left")
    rest = seg.filter(pl.col("e01") != qual)
    j = rest.group_by("line", maintain_order=True).agg(others).rename({"line": "line_key"})
    return out.join(_sorted(j, "line_key"), on="line_key", how="left")


def _service_dates(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """service_date / _end / _source: DTM*472, else DTM*150/151, else the claim's statement dates."""
    if lines.height == 0 or "claim_key" not in lines.columns:
        return lines
    cdates = _sorted(claims.select("claim_key", pl.col("statement_from").alias("_cf"),
                                   pl.col("statement_to").alias("_ct")), "claim_key")
    return lines.join(cdates, on="claim_key", how="left").with_columns(
        pl.coalesce("_d472", "_d150", "_cf").alias("service_date"),
        pl.coalesce("_d151", "_d472", "_d150", "_ct", "_cf").alias("service_date_end"),
        pl.when(pl.col("_d472").is_not_null()).then(pl.lit("472"))
        .when(pl.col("_d150").is_not_null()).then(pl.lit("150"))
        .when(pl.col("_cf").is_not_null()).then(pl.lit("claim")).alias("service_date_source"),
    ).drop("_d472", "_d150", "_d151", "_cf", "_ct")


def _adjustments(parts, sep, path) -> pl.DataFrame:
    if "CAS" not in parts:
        return pl.DataFrame()
    cas = parts.pop("CAS").filter(pl.col("claim") > 0)
    cas = _elements(cas, sep, 19)
    pieces = []
    for i in range(6):
        r, a, q = (f"e{2 + 3 * i:02d}", f"e{3 + 3 * i:02d}", f"e{4 + 3 * i:02d}")
        if r not in cas.columns:
            continue
        part = cas.select("txn", "claim", "line", "seg_no", "e01", r, a, q).filter(
            pl.col(r).is_not_null() | pl.col(a).is_not_null())
        if part.height == 0:
            continue
        pieces.append(part.select(
            pl.col("txn").alias("payment_key"), pl.col("claim").alias("claim_key"),
            pl.when(pl.col("line") > 0).then(pl.col("line")).alias("line_key"),
            pl.col("seg_no").alias("segment_number"), pl.lit(i + 1, pl.Int32).alias("triplet_index"),
            pl.col("e01").alias("group_code"), pl.col(r).alias("reason_code"),
            _number(part, a, MONEY, path, f"CAS{3 + 3 * i:02d} adjustment amount").alias("amount"),
            _number(part, q, QTY, path, f"CAS{4 + 3 * i:02d} adjustment quantity").alias("quantity"),
        ))
    out = pl.concat(pieces)   # triplet 1 of every CAS, then triplet 2, ...: order by segment_number, triplet_index
    bad = out.filter(pl.col("group_code").is_null() | pl.col("reason_code").is_null() | pl.col("amount").is_null())
    if bad.height:
        raise X12Error(path, "CAS adjustment without group code, reason code or amount",
                       segment=int(bad["segment_number"].min()),
                       expected="CAS*group*reason*amount[*quantity] (up to 6 reason/amount/quantity triplets)")
    return out


def _provider_adjustments(parts, sep, comp, path) -> pl.DataFrame:
    if "PLB" not in parts:
        return pl.DataFrame()
    plb = _elements(parts.pop("PLB"), sep, 14)
    pieces = []
    for i in range(6):
        r, a = f"e{3 + 2 * i:02d}", f"e{4 + 2 * i:02d}"
        part = plb.filter(pl.col(r).is_not_null() | pl.col(a).is_not_null())
        if part.height == 0:
            continue
        part = _composite(part, r, comp, ["reason_code", "reference_id"])
        pieces.append(part.select(
            pl.col("txn").alias("payment_key"), pl.col("seg_no").alias("segment_number"),
            pl.lit(i + 1, pl.Int32).alias("pair_index"), pl.col("e01").alias("provider_id"),
            _date("e02").alias("fiscal_period_date"),
            pl.col("reason_code"), pl.col("reference_id"),
            _number(part, a, MONEY, path, f"PLB{4 + 2 * i:02d} adjustment amount").alias("amount"),
        ))
    out = pl.concat(pieces).sort("segment_number", "pair_index")
    bad = out.filter(pl.col("reason_code").is_null() | pl.col("amount").is_null())
    if bad.height:
        raise X12Error(path, "PLB adjustment without reason or amount", segment=int(bad["segment_number"][0]),
                       expected="PLB*provider*date*reason:reference*amount pairs")
    return out


# ----------------------------------------------------------------------------- entry point

@dataclass
class PreparedERA:
    """A scanned file whose envelope and structure were checked, ready to be cut into tables.

    Holds only the scan (segment offsets and tag codes over the file's bytes): the text and the
    hierarchical keys of a slice of whole transactions are made when that slice is built, and
    keys are file-wide, so every slice yields the same rows as the whole file would.
    """

    path: str
    scan: Scan | None
    tid: np.ndarray                  # tag id (TID) of every segment
    isa: pl.DataFrame
    gs: pl.DataFrame
    issues: list[dict]
    info: dict
    tolerated: list[str]
    delimiters: object
    segments: int
    _counted: tuple[int, np.ndarray] | None = None   # (row, tag counts of the rows before it)

    def tag_counts_before(self, row: int) -> np.ndarray:
        """How many segments of each tag id come before ``row``. Slices are built in order, so each
        call counts on from the previous one instead of counting the whole prefix again."""
        start, counts = self._counted if self._counted and self._counted[0] <= row else (0, None)
        more = np.bincount(self.tid[start:row], minlength=256)
        counts = more if counts is None else counts + more
        self._counted = (row, counts)
        return counts

    def slices(self, target: int, edge: int | None = None) -> list[tuple[int, int]]:
        """[lo, hi) row ranges of about ``target`` segments, each cut at an ST (whole transactions).

        With ``edge``, the first and the last slice are only about that long: loading can start
        as soon as the first is built, and little is left to load once the last one is built.
        """
        n = self.segments
        st = np.flatnonzero(self.tid == TID["ST"])
        wanted = np.arange(target, n, target)
        if edge is not None and n > 2 * edge + target:
            wanted = np.concatenate([[edge], np.arange(edge + target, n - edge, target), [n - edge]])
        cuts = np.unique(st[np.minimum(np.searchsorted(st, wanted), len(st) - 1)])
        bounds = [0] + [int(c) for c in cuts if 0 < c < n] + [n]
        return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def _rows(sc: Scan, idx: np.ndarray, skip: int = 0, **keys: np.ndarray) -> pl.DataFrame:
    """Segments ``idx`` (ascending) as a frame: seg_no, the given key columns, text (without its
    first ``skip`` bytes)."""
    cols = {"seg_no": pl.Series("seg_no", (idx + 1).astype(np.int32))}
    cols.update({k: pl.Series(k, v) for k, v in keys.items()})
    cols["text"] = sc.texts(idx, skip)
    return pl.DataFrame(cols)


def prepare(sc: Scan, path) -> PreparedERA:
    """Envelope, counts and structure checks over the whole file (text made for few rows only)."""
    code_arr = sc.code
    n_segments = len(code_arr)
    tid = tag_ids(code_arr)
    env_idx = np.flatnonzero(_ENVELOPE_TID[tid])
    env = _rows(sc, env_idx).with_columns(pl.Series("tag", [tag_name(int(c)) for c in code_arr[env_idx]]))
    issues, info = _envelope(env.select("seg_no", "tag", "text"), n_segments, sc, path)
    tolerated = list(sc.tolerated)
    sep = sc.delimiters.element
    # content outside any ST..SE is not interpretable: a segment before the first envelope segment,
    # or after an envelope segment other than ST (SE, GE, IEA, ISA, GS) and before the next one
    outside = (np.diff(env_idx, append=n_segments) > 1) & (tid[env_idx] != TID["ST"])
    stray = 0 if env_idx[0] > 0 else (int(env_idx[np.argmax(outside)]) + 1 if outside.any() else None)
    if stray is not None:
        raise X12Error(path, "segment outside any ST..SE transaction", segment=stray + 1,
                       expected="ISA, GS, ST, SE, GE or IEA here", found=repr(tag_name(int(code_arr[stray]))),
                       hint="The file is damaged or not an 835; ask the sender to resend it")
    unknown_idx = np.flatnonzero(tid == 0)
    if len(unknown_idx):
        st_idx = np.flatnonzero(tid == TID["ST"])
        first = int(unknown_idx[0])
        tag0 = sc.texts(unknown_idx[:1])[0].split(sep)[0]
        tolerated.append(f"{len(unknown_idx)} segment(s) that are not part of an 835 ignored "
                         f"(first: segment {first + 1} {tag0!r})")
        for i, text in zip(unknown_idx[:100].tolist(), sc.texts(unknown_idx[:100]).to_list()):
            tag = text.split(sep)[0]
            t = int(np.searchsorted(st_idx, i, side="right"))
            issues.append(_issue("unknown_segment", f"segment {tag!r} is not part of an 835; ignored",
                                 segment=i + 1, payment=t or None, actual=tag))
    isa_rows = env.filter(pl.col("tag") == "ISA").drop("tag")
    gs_rows = env.filter(pl.col("tag") == "GS").drop("tag")
    isa, gs = _envelope_frames(isa_rows if isa_rows.height else None, gs_rows if gs_rows.height else None, sep)
    return PreparedERA(path=str(path), scan=sc, tid=tid, isa=isa, gs=gs, issues=issues, info=info,
                       tolerated=tolerated, delimiters=sc.delimiters, segments=n_segments)


_TABLE_TAGS = ("ST", "BPR", "TRN", "REF", "DTM", "N1", "N3", "N4", "LX", "CLP", "CAS", "NM1",
               "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB")


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
    line = _carry(is_svc | is_clp | stop, np.where(is_svc, np.cumsum(is_svc, dtype=np.int32) + base["SVC"],
                                                   np.int32(0)))
    lx = np.cumsum(tid == TID["LX"], dtype=np.int32) + base["LX"]
    del is_clp, is_svc, stop
    # one stable sort groups the rows by tag, each group in segment order
    order = np.argsort(tid, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(tid, minlength=256))])
    parts = {}
    for t in _TABLE_TAGS:
        local = order[bounds[TID[t]]:bounds[TID[t] + 1]]
        if len(local):
            keys = {"txn": txn[local], "claim": claim[local], "line": line[local]}
            if t in ("LX", "CLP"):
                keys["lx"] = lx[local]
            parts[t] = _rows(prep.scan, local + lo, skip=len(t) + 1, **keys)   # text after "TAG*"
    return parts


def tables(prep: PreparedERA, lo: int = 0, hi: int | None = None,
           parts: dict[str, pl.DataFrame] | None = None) -> ParsedERA:
    """The table frames of segment rows [lo, hi) (whole transactions), keys file-wide.

    ``parts`` (from ``slice_parts``) may be given so the caller can free ``prep.scan`` first.
    ``issues`` of the result is empty and ``tolerated`` holds only what this slice noticed;
    file-level findings stay in ``prep``.
    """
    hi = prep.segments if hi is None else hi
    path, sep, comp = prep.path, prep.delimiters.element, prep.delimiters.component
    if parts is None:
        parts = slice_parts(prep, lo, hi)
    payments = _payments(parts, sep, path, prep.isa, prep.gs)
    for t in ("ST", "BPR", "TRN", "N1", "N3", "N4"):
        parts.pop(t, None)
    # split the parts shared by claim and line loops, so each builder owns (and frees) its inputs
    claim_parts = {t: parts.pop(t) for t in ("CLP", "LX", "NM1", "MIA", "MOA", "QTY") if t in parts}
    line_parts = {t: parts.pop(t) for t in ("SVC", "LQ") if t in parts}
    for t in ("DTM", "REF", "AMT"):
        df = parts.pop(t, None)
        if df is not None:
            claim_parts[t] = df.filter((pl.col("claim") > 0) & (pl.col("line") == 0))
            line_parts[t] = df.filter(pl.col("line") > 0)
            del df
    # the tables are independent: build them on threads (polars releases the GIL while it works)
    notes: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:     # two builders at a time bounds memory
        f_lines = pool.submit(_service_lines, line_parts, sep, comp, path, notes)
        adjustments = _adjustments(parts, sep, path)
        plb = _provider_adjustments(parts, sep, comp, path)
        claims = _claims(claim_parts, sep, comp, path)
        lines = f_lines.result()
    del parts
    lines = _service_dates(lines, claims)
    return ParsedERA(
        path=path, x12_version=prep.info["version"], interchanges=prep.info["interchanges"],
        transactions=payments.height, segments=hi - lo, tolerated=notes,
        payments=payments, claims=claims, service_lines=lines, adjustments=adjustments,
        provider_adjustments=plb, issues=_empty_issues(), delimiters=prep.delimiters)


def file_issues(prep: PreparedERA, tolerated: list[str]) -> pl.DataFrame:
    """File-level issue rows: envelope counts, unknown segments and every tolerated irregularity."""
    rows = list(prep.issues) + [_issue("tolerated", note) for note in tolerated]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA) if rows else _empty_issues()


def parse_835(data: bytes, path) -> ParsedERA:
    """Parse one 835 file's bytes into frames (pure: no database). Raises X12Error when broken."""
    prep = prepare(scan(data, path), path)
    parts = slice_parts(prep)
    prep.scan = None
    out = tables(prep, parts=parts)
    tolerated = prep.tolerated + out.tolerated
    out.transactions, out.segments, out.tolerated = prep.info["transactions"], prep.segments, tolerated
    out.issues = file_issues(prep, tolerated)
    return out
