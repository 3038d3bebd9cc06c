"""835 segments -> one polars frame per warehouse table (pure, no database).

Each table is a filter on segment tag + element split over the parts that
:func:`pipelines.ingest.loops.slice_parts` cut, joined on the loop keys. Which element goes to
which column, as what type, and the frame's column order are declared once in
:mod:`pipelines.ingest.mapping`; the builders here read it (``exprs`` for a segment's columns,
``nulls`` when a file has none of that segment) and compute its derived columns. Rows carry ordinal keys
(``payment_key`` = ST ordinal, ``claim_key`` = CLP ordinal, ``line_key`` = SVC ordinal, all
1-based within the file); the loader turns them into ids. A file that cannot be read
unambiguously raises :class:`pipelines.core.errors.X12Error`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import cast

import polars as pl

from pipelines.core.errors import X12Error, shown
from pipelines.core.money import MONEY, QTY
from pipelines.ingest.envelope import ISSUE_SCHEMA, PreparedERA, _empty_issues, file_issues, prepare
from pipelines.ingest.loops import slice_parts
from pipelines.ingest.mapping import (
    FIELDS,
    PARTY,
    calendar_date,
    columns,
    component,
    expr,
    exprs,
    field,
    fields,
    no_year_zero,
    nulls,
    shown_expr,
)
from pipelines.ingest.scan import Delimiters, scan
from pipelines.ingest.segments import _composite, _date, _elements, _first, _number, _sorted

__all__ = ["ParsedERA", "PreparedERA", "file_issues", "parse_835", "prepare", "slice_parts", "tables"]
_P, _C, _S, _A, _B = "payments", "claims", "service_lines", "adjustments", "provider_adjustments"
# header segments that belong to the header itself or to a party loop (1000A payer, 1000B payee);
# a header NM1 is not in the 835 guide but some payers send NM1*PR / NM1*PE there
_HEADER_TAGS = ("N1", "NM1", "N3", "N4", "REF", "DTM")
_PARTY_TAGS = ("N1", "NM1")  # segments that open a party loop: their qualifier is the party
_NO_SEGMENTS = pl.DataFrame(schema={"seg_no": pl.Int32, "txn": pl.Int32, "text": pl.String, "e00": pl.String})
_SEPARATORS = tuple("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")  # a delimiter may be quoted: never PHI
INVALID_DATE = "invalid_date"  # the validation_issues rule of a date that is no calendar date
# DTM qualifiers a message may quote (a code, never PHI): the mapped ones and other common ones
DTM_QUALIFIERS = tuple(
    sorted({f.code for f in FIELDS if f.qualifier and f.segment == "DTM"} | {"036", "009", "096", "434", "435", "582"})
)


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
    issues: pl.DataFrame  # envelope / tolerated warnings (balancing is added by validate)
    delimiters: object = None

    @property
    def total_paid(self):
        return self.payments["total_paid"].sum() if self.payments.height else None


def _issues(df: pl.DataFrame, rule: str, severity: str, expected: str | None, message, actual=None) -> pl.DataFrame:
    """Issue rows (:data:`ISSUE_SCHEMA`) for the segments of ``df`` (a slice part: seg_no and the
    txn / claim / line keys, 0 = none). ``message`` and ``actual`` are texts or column expressions;
    neither may quote a file value except through :func:`shown_expr` (it may be PHI)."""

    def key(col: str) -> pl.Expr:
        return pl.when(pl.col(col) > 0).then(pl.col(col)) if col in df.columns else pl.lit(None)

    text = lambda v: v if isinstance(v, pl.Expr) else pl.lit(v, pl.String)  # noqa: E731
    return df.select(
        key("txn").cast(pl.Int64).alias("payment_key"),
        key("claim").cast(pl.Int64).alias("claim_key"),
        key("line").cast(pl.Int64).alias("line_key"),
        pl.col("seg_no").cast(pl.Int64).alias("segment_number"),
        pl.lit(rule).alias("rule"),
        pl.lit(severity).alias("severity"),
        pl.lit(expected, pl.String).alias("expected"),
        text(actual).alias("actual"),
        text(message).alias("message"),
    )


def _bad_dates(df: pl.DataFrame | None, col: str, what, parsed: str | None = None) -> pl.DataFrame | None:
    """An ``invalid_date`` issue for each row of ``df`` whose date element ``col`` is sent but is no
    calendar date (20250231, 00000000, 20251345): the date is left empty, so the rows it dates fall
    out of every month; the issue says so instead of letting them vanish. ``what`` names the element;
    ``parsed`` is a column of ``df`` holding ``col`` already parsed (else it is parsed here)."""
    if df is None or df.height == 0:
        return None
    date = pl.col(parsed) if parsed else calendar_date(col)
    bad = df.filter(pl.col(col).is_not_null() & date.is_null())
    if bad.height == 0:
        return None
    what = what if isinstance(what, pl.Expr) else pl.lit(what)
    return _issues(
        bad,
        INVALID_DATE,
        "error",
        "a calendar date CCYYMMDD",
        pl.concat_str(
            what, pl.lit(" is not a calendar date (CCYYMMDD): the date is left empty; ask the payer to correct it")
        ),
        shown_expr(pl.col(col)),
    )


def _dtm(dtm: pl.DataFrame | None, found: list) -> pl.DataFrame | None:
    """Claim or line DTM segments with ``_date`` (DTM02 parsed once, NULL when no calendar date);
    an ``invalid_date`` issue per DTM02 sent that is none."""
    if dtm is None:
        return None
    dtm = dtm.with_columns(_date("e02").alias("_date")).with_columns(no_year_zero(pl.col("_date")).alias("_date"))
    found.append(_bad_dates(dtm, "e02", _dtm_what(), parsed="_date"))
    return dtm


def _join_dates(out: pl.DataFrame, dtm: pl.DataFrame | None, level: str, quals) -> pl.DataFrame:
    """One date column per (DTM01 qualifier, name): the first such DTM of each claim / line
    (``level`` = "claim" or "line"; ``dtm`` from :func:`_dtm`), joined on ``<level>_key``; all null
    when there is no DTM."""
    key = f"{level}_key"
    for qual, name in quals:
        if dtm is None:
            out = out.with_columns(pl.lit(None, pl.Date).alias(name))
            continue
        j = _first(dtm.filter(pl.col("e01") == qual), level).select(
            pl.col(level).alias(key), pl.col("_date").alias(name)
        )
        out = out.join(j, on=key, how="left")
    return out


def _dtm_what(qualifier: str = "e01") -> pl.Expr:
    """How an invalid-date message names a DTM: its qualifier when it is a known one."""
    return pl.concat_str(pl.lit("DTM02 (qualifier "), shown_expr(pl.col(qualifier), DTM_QUALIFIERS), pl.lit(")"))


def _extra(df: pl.DataFrame, rule: str, severity: str, message: str) -> pl.DataFrame | None:
    """An issue for every segment of ``df`` (one tag of the header, sorted) after the first of its
    transaction: the builders take the first one only."""
    later = df.filter(pl.col("txn") == pl.col("txn").shift(1))
    return _issues(later, rule, severity, None, message) if later.height else None


def _payments(parts, sep, path, isa, gs, found: list[pl.DataFrame | None]) -> pl.DataFrame:
    """One row per transaction; issues about its header are appended to ``found``."""
    st = _elements(parts["ST"], sep, 3).select(
        pl.col("txn").alias("payment_key"),
        pl.col("seg_no").alias("segment_number"),
        *exprs(fields(_P, "ST", derived=False), None, path),
        pl.col("e03").alias("st_version"),
    )
    st = (
        st.join_asof(isa, left_on="segment_number", right_on="_isa_seg", strategy="backward")
        .join_asof(gs, left_on="segment_number", right_on="_gs_seg", strategy="backward")
        .with_columns(pl.coalesce("gs_version", "st_version").alias("x12_version"))
        .drop("_isa_seg", "_gs_seg", "st_version", "gs_version")
    )

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
        raise X12Error(
            path,
            "transaction has no BPR (financial information) segment",
            segment=int(missing["segment_number"][0]),
            expected="BPR after ST*835",
            hint="An 835 without BPR carries no payment; ask the payer to resend",
        )
    assert bpr is not None
    found.append(
        _extra(
            bpr,
            "extra_bpr",
            "error",
            "a second BPR in the transaction: only the first BPR's payment (BPR02, BPR16) is loaded; ask the payer",
        )
    )
    bpr = _elements(_first(bpr, "txn"), sep, 16)
    no_amount = bpr.filter(pl.col("e02").is_null())
    if no_amount.height:
        raise X12Error(
            path,
            "BPR without BPR02 (total actual provider payment amount)",
            segment=int(no_amount["seg_no"][0]),
            expected="BPR*handling code*amount*C or D*...",
            hint="BPR02 is required (0 for a notice without payment); ask the payer to correct and resend the file",
        )
    found.append(_bad_dates(bpr, field(_P, "payment_date").source(), "BPR16 payment date"))
    bpr = bpr.select(pl.col("txn").alias("payment_key"), *exprs(fields(_P, "BPR"), bpr, path))
    out = st.join(bpr, on="payment_key", how="left")
    trn = header("TRN")
    no_trn = (
        st if trn is None else st.join(trn.select(pl.col("txn").alias("payment_key")), on="payment_key", how="anti")
    )
    if no_trn.height:
        found.append(
            _issues(
                no_trn.select(pl.col("payment_key").alias("txn"), pl.col("segment_number").alias("seg_no")),
                "missing_trn",
                "warning",
                "TRN*1*trace number*payer id after BPR",
                "the transaction has no TRN (reassociation trace number): the payment cannot be matched to "
                "its deposit nor recognised when it is sent again",
            )
        )
    if trn is not None:
        found.append(_extra(trn, "extra_trn", "warning", "a second TRN in the transaction: only the first is loaded"))
        trn = _elements(_first(trn, "txn"), sep, 4)
        out = out.join(
            trn.select(pl.col("txn").alias("payment_key"), *exprs(fields(_P, "TRN"), trn, path)),
            on="payment_key",
            how="left",
        )
    else:
        out = out.with_columns(*nulls(fields(_P, "TRN")))

    # header party loops: forward-fill the N1 (or header NM1) qualifier over header segments.
    # Outside a claim (claim key 0) these tags occur only in the header: after LX come TS3/TS2
    # and then CLP.
    frames = [
        parts[t].filter(pl.col("claim") == 0).select("seg_no", "txn", "text", pl.lit(t).alias("e00"))
        for t in _HEADER_TAGS
        if t in parts
    ]
    hdr = _elements(pl.concat(frames).sort("seg_no") if frames else _NO_SEGMENTS, sep, 9)
    hdr = hdr.with_columns(
        pl.when(pl.col("e00").is_in(["N1", "NM1"])).then(pl.col("e01")).forward_fill().over("txn").alias("party")
    )
    dtm = hdr.filter(pl.col("e00") == "DTM")
    found.append(_bad_dates(dtm, "e02", _dtm_what()))

    def pick(tag, party, qual, cols):
        """The first ``tag`` segment (with qualifier ``qual``) of the header or party loop, per payment."""
        df = hdr.filter((pl.col("e00") == tag) & (pl.col("party").fill_null("") == party))
        if qual is not None:
            df = df.filter(pl.col("e01") == qual)
        return _first(df, "txn").select(pl.col("txn").alias("payment_key"), *cols)

    # one pick per (segment, loop, qualifier) of the mapping; an N1's (NM1's) qualifier is its party
    picks: dict[tuple, list] = {}
    for f in fields(_P, derived=False):
        if f.segment in _HEADER_TAGS and f.loop in PARTY:
            qual = f.code if f.segment not in _PARTY_TAGS and f.code else None
            picks.setdefault((f.segment, PARTY[f.loop], qual), []).append(f)
    joins = [pick(tag, party, qual, exprs(rows, None, path)) for (tag, party, qual), rows in picks.items()]
    joins.append(pick("REF", "PE", "TJ", [pl.col("e02").alias("_payee_ref_tj")]))  # for payee_tin
    for j in joins:
        out = out.join(j, on="payment_key", how="left")
    out = out.with_columns(pl.coalesce(f.column, f.fallback).alias(f.column) for f in fields(_P) if f.fallback)
    out = out.with_columns(
        pl.coalesce("payer_ref_2u", "payer_n1_id", "originating_company_id").alias("payer_id"),
        pl.when(pl.col("payee_id_qualifier") == "XX").then(pl.col("payee_id")).alias("payee_npi"),
        pl.when(pl.col("payee_id_qualifier") == "FI")
        .then(pl.col("payee_id"))
        .otherwise(pl.col("_payee_ref_tj"))
        .alias("payee_tin"),
    )
    return out.select(columns(_P))


def _claims(parts, sep, comp, path, found: list) -> pl.DataFrame:
    if "CLP" not in parts:
        return pl.DataFrame()
    clp = _elements(parts.pop("CLP"), sep, 14)
    out = clp.select(
        pl.col("claim").alias("claim_key"),
        pl.col("txn").alias("payment_key"),
        pl.col("seg_no").alias("segment_number"),
        pl.col("lx"),
        *exprs(fields(_C, "CLP", derived=False), clp, path),
    )
    out = _sorted(out, "claim_key")
    if "LX" in parts:
        lx = _elements(parts.pop("LX"), sep, 1).select(
            "lx", pl.col("txn").alias("_lx_txn"), pl.col("e01").alias("lx_number")
        )
        out = (
            out.join(lx, on="lx", how="left")
            .with_columns(
                pl.when(pl.col("_lx_txn") == pl.col("payment_key")).then(pl.col("lx_number")).alias("lx_number")
            )
            .drop("_lx_txn")
        )
    else:
        out = out.with_columns(*nulls(fields(_C, "LX")))
    out = out.drop("lx")

    def claim_level(tag, n):
        df = parts.pop(tag, None)
        if df is None:
            return None
        df = df.filter((pl.col("claim") > 0) & (pl.col("line") == 0))
        return _sorted(_elements(df, sep, n), "claim") if df.height else None

    nm1 = claim_level("NM1", 9)
    names: dict[str, list] = {}  # NM1 qualifier -> its columns, in mapping order
    for f in fields(_C, "NM1"):
        names.setdefault(f.code, []).append(f)
    for qual, rows in names.items():
        if nm1 is not None:
            j = _first(nm1.filter(pl.col("e01") == qual), "claim").select(
                pl.col("claim").alias("claim_key"), *exprs(rows, None, path)
            )
            out = out.join(j, on="claim_key", how="left")
        else:
            out = out.with_columns(*nulls(rows))

    mia = claim_level("MIA", 24)
    if mia is not None:
        j = _first(mia, "claim")
        out = out.join(
            j.select(pl.col("claim").alias("claim_key"), *exprs(fields(_C, "MIA"), j, path)), on="claim_key", how="left"
        )
    else:
        out = out.with_columns(*nulls(fields(_C, "MIA")))
    moa = claim_level("MOA", 9)
    if moa is not None:
        j = _first(moa, "claim")
        out = out.join(
            j.select(pl.col("claim").alias("claim_key"), *exprs(fields(_C, "MOA"), j, path)), on="claim_key", how="left"
        )
    else:
        out = out.with_columns(*nulls(fields(_C, "MOA")))

    dtm = _dtm(claim_level("DTM", 2), found)
    out = _join_dates(out, dtm, "claim", [(f.code, f.column) for f in fields(_C, "DTM")])
    del dtm

    amt = claim_level("AMT", 2)
    by_qual, others = fields(_C, "AMT", derived=False), field(_C, "other_amounts")
    if amt is not None:
        amt = amt.with_columns(_number(amt, "e02", MONEY, path, others.label()).alias("amount"))
        for f in by_qual:
            j = _first(amt.filter(pl.col("e01") == f.code), "claim").select(
                pl.col("claim").alias("claim_key"), pl.col("amount").alias(f.column)
            )
            out = out.join(j, on="claim_key", how="left")
        j = (
            amt.filter(~pl.col("e01").is_in([f.code for f in by_qual]))
            .group_by("claim", maintain_order=True)
            .agg((pl.col("e01") + "=" + pl.col("e02")).alias(others.column))
            .rename({"claim": "claim_key"})
            .pipe(_sorted, "claim_key")
        )
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(*nulls(fields(_C, "AMT")))
    qty = claim_level("QTY", 2)
    quantities = field(_C, "quantities")
    if qty is not None:
        _number(qty, "e02", QTY, path, quantities.label())
        j = (
            qty.group_by("claim", maintain_order=True)
            .agg((pl.col("e01") + "=" + pl.col("e02")).alias(quantities.column))
            .rename({"claim": "claim_key"})
            .pipe(_sorted, "claim_key")
        )
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(*nulls([quantities]))
    ref = claim_level("REF", 2)
    if ref is not None:
        original = field(_C, "original_reference")
        j = (
            ref.group_by("claim", maintain_order=True)
            .agg(
                (pl.col("e01") + ":" + pl.col("e02").fill_null("")).alias("refs"),
                pl.col("e02").filter(pl.col("e01") == original.code).first().alias(original.column),
            )
            .rename({"claim": "claim_key"})
            .pipe(_sorted, "claim_key")
        )
        out = out.join(j, on="claim_key", how="left")
    else:
        out = out.with_columns(*nulls(fields(_C, "REF")))
    return out.select(columns(_C))


def _service_lines(parts, sep, comp, path, tolerated: list[str], found: list) -> pl.DataFrame:
    if "SVC" not in parts:
        return pl.DataFrame()
    svc = _elements(parts.pop("SVC"), sep, 7)
    stray = svc.filter(pl.col("claim") == 0)
    if stray.height:
        raise X12Error(
            path,
            "SVC service line outside a claim (before the transaction's first CLP, or after LX or PLB)",
            segment=int(stray["seg_no"][0]),
            expected="CLP before the SVC segments of its lines",
            hint="a line without its claim cannot be stored; ask the payer to correct and resend the file",
        )
    del stray
    # SVC01 sent with another component separator than ISA16 declares (seen in the wild: '>' vs ':')
    odd = svc.filter(pl.col("e01").is_not_null() & ~pl.col("e01").str.contains(comp, literal=True)).filter(
        pl.col("e01").str.contains(r"^[A-Z0-9]{2}[^A-Za-z0-9 ]")
    )  # the regex on the few left
    if odd.height:
        alt = odd["e01"].str.slice(2, 1).unique().to_list()
        if len(alt) == 1:
            sent, declared = shown(alt[0], codes=_SEPARATORS), shown(comp, codes=_SEPARATORS)
            tolerated.append(f"{odd.height} SVC composites use {sent} although ISA16 declares {declared}")
            fix = pl.when(~pl.col("e01").str.contains(comp, literal=True))
            svc = svc.with_columns(
                fix.then(pl.col("e01").str.replace_all(alt[0], comp, literal=True))
                .otherwise(pl.col("e01"))
                .alias("e01"),
                fix.then(pl.col("e06").str.replace_all(alt[0], comp, literal=True))
                .otherwise(pl.col("e06"))
                .alias("e06"),
            )
    proc, orig = list(component(_S, "SVC01", 7)), list(component(_S, "SVC06", 7))
    internal = [c for c in orig if c.startswith("_")]  # SVC06-3..7: only original_modifiers keeps them
    svc = _composite(svc, "e01", comp, proc)
    if svc.get_column("e06").null_count() < svc.height:  # SVC06 is sent only for recoded lines
        svc = _composite(svc, "e06", comp, orig)
    else:
        svc = svc.with_columns([pl.lit(None, pl.String).alias(c) for c in orig])
    first_line = (pl.col("claim") != pl.col("claim").shift(1)).fill_null(True)
    out = (
        svc.select(
            pl.col("line").alias("line_key"),
            pl.col("claim").alias("claim_key"),
            pl.col("txn").alias("payment_key"),
            pl.col("seg_no").alias("segment_number"),
            *exprs(fields(_S, "SVC", derived=False), svc, path),
            pl.col("e06").str.replace_all(comp, ":", literal=True).alias("original_composite"),
            *internal,
            pl.col("line"),
            pl.col("claim"),
        )
        .with_columns(
            *[expr(f, svc, path) for f in fields(_S, "SVC") if f.type == "list"],  # modifiers, original_modifiers
            (pl.col("line") - pl.when(first_line).then(pl.col("line")).forward_fill() + 1)
            .cast(pl.Int32)
            .alias("line_number"),
        )
        .drop(*internal, "line", "claim")
    )
    out = _sorted(out, "line_key", "claim_key")

    def line_level(tag, n):
        df = parts.pop(tag, None)
        if df is None:
            return None
        df = df.filter(pl.col("line") > 0)
        return _sorted(_elements(df, sep, n), "line") if df.height else None

    dtm = _dtm(line_level("DTM", 2), found)
    out = _join_dates(out, dtm, "line", (("472", "_d472"), ("150", "_d150"), ("151", "_d151")))
    del dtm
    # AMT and REF: the first B6 / 6R of each line is a column; any others are kept as a list.
    # Most lines have one of each, so the list is grouped over the few other rows only.
    amt = line_level("AMT", 2)
    if amt is not None:
        allowed = field(_S, "allowed")
        amt = amt.with_columns(_number(amt, "e02", MONEY, path, allowed.label()).alias("amount"))
        out = _first_and_others(
            out,
            amt,
            allowed.code,
            pl.col("amount").alias(allowed.column),
            (pl.col("e01") + "=" + pl.col("e02")).alias("other_amounts"),
        )
    else:
        out = out.with_columns(*nulls(fields(_S, "AMT")))
    ref = line_level("REF", 2)
    if ref is not None:
        control = field(_S, "line_control_number")
        out = _first_and_others(
            out,
            ref,
            control.code,
            pl.col("e02").alias(control.column),
            (pl.col("e01") + ":" + pl.col("e02").fill_null("")).alias("refs"),
        )
    else:
        out = out.with_columns(*nulls(fields(_S, "REF")))
    lq = line_level("LQ", 2)
    if lq is not None:
        j = (
            lq.group_by("line", maintain_order=True)
            .agg(
                *[pl.col("e02").filter(pl.col("e01") == f.code).alias(f.column) for f in fields(_S, "LQ")],
            )
            .rename({"line": "line_key"})
            .pipe(_sorted, "line_key")
        )
        out = out.join(j, on="line_key", how="left")
    else:
        out = out.with_columns(*nulls(fields(_S, "LQ")))
    return out


def _first_and_others(out: pl.DataFrame, seg: pl.DataFrame, qual: str, first: pl.Expr, others: pl.Expr) -> pl.DataFrame:
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
    cdates = _sorted(
        claims.select("claim_key", pl.col("statement_from").alias("_cf"), pl.col("statement_to").alias("_ct")),
        "claim_key",
    )
    return (
        lines.join(cdates, on="claim_key", how="left")
        .with_columns(
            pl.coalesce("_d472", "_d150", "_cf").alias("service_date"),
            pl.coalesce("_d151", "_d472", "_d150", "_ct", "_cf").alias("service_date_end"),
            pl.when(pl.col("_d472").is_not_null())
            .then(pl.lit("472"))
            .when(pl.col("_d150").is_not_null())
            .then(pl.lit("150"))
            .when(pl.col("_cf").is_not_null())
            .then(pl.lit("claim"))
            .alias("service_date_source"),
        )
        .select(columns(_S))
    )


def _adjustments(parts, sep, path, found: list) -> pl.DataFrame:
    if "CAS" not in parts:
        return pl.DataFrame()
    cas = parts.pop("CAS")
    stray = cas.filter(pl.col("claim") == 0)
    if stray.height:
        found.append(
            _issues(
                stray,
                "cas_outside_claim",
                "error",
                "CAS inside a claim (after its CLP)",
                "CAS outside a claim (before the transaction's first CLP, or after LX or PLB): its adjustments "
                "belong to no claim and are not loaded",
            )
        )
        cas = cas.filter(pl.col("claim") > 0)
    del stray
    if cas.height == 0:
        return pl.DataFrame()
    cas = _elements(cas, sep, 19)
    triplet = fields(_A, "CAS", derived=False)  # group_code, reason_code, amount, quantity
    pieces = []
    for i in range(6):
        r, a, q = (f.split_column(i) for f in triplet[1:])
        if r not in cas.columns:
            continue
        part = cas.select("txn", "claim", "line", "seg_no", "e01", r, a, q).filter(
            pl.col(r).is_not_null() | pl.col(a).is_not_null()
        )
        if part.height == 0:
            continue
        pieces.append(
            part.select(
                pl.col("txn").alias("payment_key"),
                pl.col("claim").alias("claim_key"),
                pl.when(pl.col("line") > 0).then(pl.col("line")).alias("line_key"),
                pl.col("seg_no").alias("segment_number"),
                pl.lit(i + 1, pl.Int32).alias("triplet_index"),
                *exprs(triplet, part, path, i),
            )
        )
    if not pieces:  # CAS*CO with no reason or amount at all
        raise X12Error(
            path,
            "CAS adjustment without reason code or amount",
            segment=int(cas["seg_no"][0]),
            expected="CAS*group*reason*amount[*quantity] (up to 6 reason/amount/quantity triplets)",
        )
    out = pl.concat(pieces)  # triplet 1 of every CAS, then triplet 2, ...: order by segment_number, triplet_index
    bad = out.filter(pl.col("group_code").is_null() | pl.col("reason_code").is_null() | pl.col("amount").is_null())
    if bad.height:
        raise X12Error(
            path,
            "CAS adjustment without group code, reason code or amount",
            segment=int(bad.select(pl.col("segment_number").min()).item()),
            expected="CAS*group*reason*amount[*quantity] (up to 6 reason/amount/quantity triplets)",
        )
    return out


def _provider_adjustments(parts, sep, comp, path, found: list) -> pl.DataFrame:
    if "PLB" not in parts:
        return pl.DataFrame()
    plb = _elements(parts.pop("PLB"), sep, 14)
    first = field(_B, "reason_code").split_column(), field(_B, "amount").split_column()
    empty = plb.filter(pl.col(first[0]).is_null() & pl.col(first[1]).is_null())
    if empty.height:
        raise X12Error(
            path,
            "PLB without an adjustment (no reason and amount after PLB02)",
            segment=int(empty["seg_no"][0]),
            expected="PLB*provider*date*reason:reference*amount pairs",
            hint="ask the payer to correct and resend the file",
        )
    found.append(_bad_dates(plb, field(_B, "fiscal_period_date").source(), "PLB02 fiscal period date"))
    pair = fields(_B, "PLB", derived=False)  # provider_id, fiscal_period_date, reason_code, reference_id, amount
    reason, amount = field(_B, "reason_code"), field(_B, "amount")
    pieces = []
    for i in range(6):
        r, a = reason.split_column(i), amount.split_column(i)
        part = plb.filter(pl.col(r).is_not_null() | pl.col(a).is_not_null())
        if part.height == 0:
            continue
        part = _composite(part, r, comp, list(component(_B, "PLB03", 2)))
        pieces.append(
            part.select(
                pl.col("txn").alias("payment_key"),
                pl.col("seg_no").alias("segment_number"),
                pl.lit(i + 1, pl.Int32).alias("pair_index"),
                *exprs(pair, part, path, i),
            )
        )
    out = pl.concat(pieces).sort("segment_number", "pair_index")
    bad = out.filter(pl.col("reason_code").is_null() | pl.col("amount").is_null())
    if bad.height:
        raise X12Error(
            path,
            "PLB adjustment without reason or amount",
            segment=int(bad["segment_number"][0]),
            expected="PLB*provider*date*reason:reference*amount pairs",
        )
    return out


def tables(
    prep: PreparedERA,
    lo: int = 0,
    hi: int | None = None,
    parts: dict[str, pl.DataFrame] | None = None,
    pool: Executor | None = None,
) -> ParsedERA:
    """The table frames of segment rows [lo, hi) (whole transactions), keys file-wide.

    ``parts`` (from ``slice_parts``) may be given so the caller can free ``prep.scan`` first.
    ``pool`` (the ingest schedule's one-thread ``lines`` executor) builds the service lines while
    this thread builds claims and adjustments; without it the tables are built one after another.
    ``issues`` of the result is empty and ``tolerated`` holds only what this slice noticed;
    file-level findings stay in ``prep``.
    """
    hi = prep.segments if hi is None else hi
    delimiters = cast(Delimiters, prep.delimiters)  # PreparedERA declares it as object
    path, sep, comp = prep.path, delimiters.element, delimiters.component
    if parts is None:
        parts = slice_parts(prep, lo, hi)
    found: list[pl.DataFrame | None] = []  # issue rows (ISSUE_SCHEMA) the builders noticed
    payments = _payments(parts, sep, path, prep.isa, prep.gs, found)
    for t in ("ST", "BPR", "TRN", "N1", "N3", "N4"):
        parts.pop(t, None)
    # split the parts shared by claim and line loops, so each builder owns (and frees) its inputs
    claim_parts: dict[str, pl.DataFrame] = {
        t: parts.pop(t) for t in ("CLP", "LX", "NM1", "MIA", "MOA", "QTY") if t in parts
    }
    line_parts: dict[str, pl.DataFrame] = {t: parts.pop(t) for t in ("SVC", "LQ") if t in parts}
    for t in ("DTM", "REF", "AMT"):
        df = parts.pop(t, None)
        if df is not None:
            claim_parts[t] = df.filter((pl.col("claim") > 0) & (pl.col("line") == 0))
            line_parts[t] = df.filter(pl.col("line") > 0)
            del df
    # the tables are independent: with a pool, service lines are built on its thread beside the
    # rest (polars releases the GIL while it works); two builders at a time bounds memory
    notes: list[str] = []
    line_found: list[pl.DataFrame | None] = []  # filled on the lines thread
    f_lines = pool.submit(_service_lines, line_parts, sep, comp, path, notes, line_found) if pool is not None else None
    try:
        adjustments = _adjustments(parts, sep, path, found)
        plb = _provider_adjustments(parts, sep, comp, path, found)
        claims = _claims(claim_parts, sep, comp, path, found)
    finally:
        # an error here must not leave the lines being built after the caller gave up
        lines = f_lines.result() if f_lines is not None else None
    if lines is None:
        lines = _service_lines(line_parts, sep, comp, path, notes, line_found)
    del parts
    lines = _service_dates(lines, claims)
    return ParsedERA(
        path=path,
        x12_version=prep.info["version"],
        interchanges=prep.info["interchanges"],
        transactions=payments.height,
        segments=hi - lo,
        tolerated=notes,
        payments=payments,
        claims=claims,
        service_lines=lines,
        adjustments=adjustments,
        provider_adjustments=plb,
        issues=_slice_issues(found + line_found),
        delimiters=prep.delimiters,
    )


def parse_835(data: bytes, path) -> ParsedERA:
    """Parse one 835 file's bytes into frames (pure: no database). Raises X12Error when broken."""
    prep = prepare(scan(data, path), path)
    parts = slice_parts(prep)
    prep.release_scan()
    out = tables(prep, parts=parts)
    tolerated = prep.tolerated + out.tolerated
    out.transactions, out.segments, out.tolerated = prep.info["transactions"], prep.segments, tolerated
    out.issues = pl.concat([out.issues, file_issues(prep, tolerated)])
    return out


def _slice_issues(found: list[pl.DataFrame | None]) -> pl.DataFrame:
    """The issue rows the builders noticed, in segment order (ISSUE_SCHEMA)."""
    frames = [f for f in found if f is not None and f.height]
    if not frames:
        return _empty_issues()
    return pl.concat([f.cast(ISSUE_SCHEMA) for f in frames]).sort("segment_number")  # type: ignore[arg-type]
