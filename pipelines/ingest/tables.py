"""835 segments -> one polars frame per warehouse table (pure, no database).

Each table is a filter on segment tag + element split over the parts that
:func:`pipelines.ingest.loops.slice_parts` cut, joined on the loop keys. Rows carry ordinal keys
(``payment_key`` = ST ordinal, ``claim_key`` = CLP ordinal, ``line_key`` = SVC ordinal, all
1-based within the file); the loader turns them into ids. A file that cannot be read
unambiguously raises :class:`pipelines.core.errors.X12Error`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from pipelines.core.errors import X12Error
from pipelines.core.money import MONEY, QTY, RATE
from pipelines.ingest.envelope import PreparedERA, _empty_issues, file_issues, prepare
from pipelines.ingest.loops import slice_parts
from pipelines.ingest.scan import scan
from pipelines.ingest.segments import _composite, _date, _elements, _first, _list_of, _number, _sorted

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
