"""Medicare PFS allowed amount per line, vectorized in DuckDB SQL (fee_schedules/sql/price_lines.sql).

``price_lines`` is the contract with compare/reports/demo (docs/fee-schedules.md, brief pricing_api.md).
No per-row Python: the frame goes to DuckDB as Arrow and one query applies the PFS formula and the
OPPS cap to every line (joins on year/release, code/modifier, ZIP, locality, CF); the RVU/GPCI rows'
own columns are then gathered by rowid, and the policy percentages, MPPR ranking, exact half-up
rounding and the formula text are finished with polars expressions. The output keeps input order.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl

from pipelines.core import places
from pipelines.core.errors import ReferenceDataMissing
from pipelines.core.money import MONEY, to_cent
from pipelines.core.sql import arrow_view, read_sql

# The places of service priced with facility PE RVUs: one list, in pipelines.core.places (CMS POS
# code set; POS 02 facility, POS 10 non-facility).
FACILITY_POS = places.FACILITY_POS

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "row_id": pl.Int64,
    "procedure_code": pl.String,
    "modifiers": pl.List(pl.String),
    "service_date": pl.Date,
    "year": pl.Int32,
    "zip": pl.String,
    "locality": pl.String,
    "facility": pl.Boolean,
    "claim_key": pl.String,
    "units": pl.Decimal(14, 3),
    "npp": pl.Boolean,
}
REQUIRED = ("row_id", "procedure_code")

COINSURANCE_SHARE = Decimal("0.80")
SEQUESTRATION = Decimal("0.02")


# True where a place-of-service code (e.g. '11', '22', '2') is paid at the facility rate.
is_facility_pos = places.is_facility_expr


def conform_input(
    lines: pl.DataFrame, schema: dict[str, pl.DataType], required: tuple[str, ...], who: str, modifier_sep: str
) -> pl.DataFrame:
    """``lines`` with exactly the columns of ``schema`` (missing ones null, others cast; modifiers given
    as one string are split on ``modifier_sep``); ValueError naming ``who`` when a required column is
    missing, there is neither service_date nor year, or row_id repeats."""
    missing = [c for c in required if c not in lines.columns]
    if missing:
        raise ValueError(f"{who}: input frame lacks column(s) {missing}")
    if "service_date" not in lines.columns and "year" not in lines.columns:
        raise ValueError(f"{who}: input frame needs service_date or year")
    cols = []
    for name, dtype in schema.items():
        if name not in lines.columns:
            cols.append(pl.lit(None, dtype).alias(name))
        elif name == "modifiers" and lines.schema[name] == pl.String:
            cols.append(pl.col(name).str.split(modifier_sep).alias(name))
        elif lines.schema[name] != dtype:
            cols.append(pl.col(name).cast(dtype).alias(name))
        else:
            cols.append(pl.col(name))
    out = lines.select(cols)
    if out["row_id"].n_unique() != out.height:
        raise ValueError(f"{who}: row_id must be unique")
    return out


def _prepare(lines: pl.DataFrame) -> pl.DataFrame:
    return conform_input(lines, INPUT_SCHEMA, REQUIRED, "price_lines", ",")


def _normalize(prepared: pl.DataFrame) -> pl.DataFrame:
    """The columns price_lines.sql reads: codes upper-cased, ZIP/locality digits, modifier flags."""
    digits = lambda c: pl.col(c).str.replace_all(r"[^0-9]", "").replace("", None)  # noqa: E731
    sd = pl.col("service_date")
    prepared = prepared.with_columns(
        pl.col("modifiers").fill_null([]).list.eval(pl.element().str.strip_chars().str.to_uppercase()),
        digits("zip").alias("zip"),
    )
    mods = pl.col("modifiers")
    return prepared.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"),
        "row_id",
        pl.col("procedure_code").str.strip_chars().str.to_uppercase().alias("code"),
        pl.coalesce(pl.col("year"), sd.dt.year()).cast(pl.Int32).alias("eff_year"),
        pl.when(pl.col("year").is_null())
        .then(sd)
        .otherwise(pl.date(pl.col("year"), sd.dt.month(), 1) + pl.duration(days=sd.dt.day() - 1))
        .alias("ref_date"),
        digits("locality").alias("loc_given"),
        pl.col("zip").alias("zip_digits"),
        pl.col("zip").str.slice(0, 5).alias("zip5"),
        pl.when(pl.col("zip").str.len_chars() == 9).then(pl.col("zip").str.slice(5, 4)).alias("plus4"),
        pl.col("facility").fill_null(False).alias("is_facility"),
        "claim_key",
        pl.col("npp").fill_null(False).alias("is_npp"),
        pl.when(mods.list.contains("26") & mods.list.contains("TC"))
        .then(pl.lit("26+TC"))
        .when(mods.list.contains("26"))
        .then(pl.lit("26"))
        .when(mods.list.contains("TC"))
        .then(pl.lit("TC"))
        .when(mods.list.contains("53"))
        .then(pl.lit("53"))
        .otherwise(pl.lit(""))
        .alias("rvu_mod"),
        mods.list.contains("50").alias("m50"),
        (mods.list.contains("80") | mods.list.contains("81") | mods.list.contains("82")).alias("m_asst"),
        mods.list.contains("AS").alias("m_as"),
        mods.list.contains("62").alias("m62"),
        mods.list.contains("66").alias("m66"),
    )


def _formula() -> pl.Expr:
    """'(work 0.75 x 1.065 + PE 0.98 x 1.166 + MP 0.08 x 1.656) x CF 32.3465 = $67.08' (+ OPPS cap, policy)."""
    t = {
        c: pl.col(c).cast(pl.String)
        for c in (
            "work_rvu",
            "pe_rvu",
            "mp_rvu",
            "work_gpci",
            "pe_gpci",
            "mp_gpci",
            "conversion_factor",
            "fee_schedule_amount",
            "opps_pe_rvu",
            "opps_mp_rvu",
            "opps_amount",
            "amount",
        )
    }
    pfs = pl.format(
        "(work {} x {} + PE {} x {} + MP {} x {}) x CF {} = ${}",
        t["work_rvu"],
        t["work_gpci"],
        t["pe_rvu"],
        t["pe_gpci"],
        t["mp_rvu"],
        t["mp_gpci"],
        t["conversion_factor"],
        t["fee_schedule_amount"],
    )
    opps = pl.format(
        "; OPPS cap (work {} x {} + PE {} x {} + MP {} x {}) x CF {} = ${}{}",
        t["work_rvu"],
        t["work_gpci"],
        t["opps_pe_rvu"],
        t["pe_gpci"],
        t["opps_mp_rvu"],
        t["mp_gpci"],
        t["conversion_factor"],
        t["opps_amount"],
        pl.when(pl.col("opps_capped")).then(pl.lit(" (lower, used)")).otherwise(pl.lit(" (not lower)")),
    )
    percent = (pl.col("policy_percent") * 100).cast(pl.Decimal(14, 5)).cast(pl.String).str.replace(r"\.?0+$", "")
    policy = pl.format("; x {}% = ${}", percent, t["amount"])
    return (
        pl.when(pl.col("status") == "priced")
        .then(
            pl.concat_str(
                [
                    pfs,
                    pl.when(pl.col("opps_amount").is_not_null()).then(opps),
                    pl.when(pl.col("policy_percent") != 1).then(policy),
                ],
                ignore_nulls=True,
            )
        )
        .alias("formula")
    )


# Policy percentages as exact fractions (numerator, denominator): applied in integer units of 1e-10,
# every product of them is exact (the denominators divide 10**10), and the amount is rounded once.
_UNIT = 10**10
_BILATERAL = {"1": (3, 2), "3": (2, 1)}  # indicator 1: 150%; 3: 100% per side = 200%
_ASSISTANT = (4, 25)  # 80/81/82: 16%
_ASSISTANT_NPP = (17, 125)  # AS: 85% of 16% = 13.6%
_COSURGEON = (5, 8)  # 62: 62.5%
_NPP = (17, 20)  # non-physician practitioner: 85%
_MPPR_OTHER = (1, 2)  # indicator 2, not the highest: 50%


def _times(expr: pl.Expr, cond: pl.Expr, frac: tuple[int, int]) -> pl.Expr:
    return pl.when(cond).then(expr * frac[0] // frac[1]).otherwise(expr)


def _finish(out: pl.DataFrame, apply_policy: bool) -> pl.DataFrame:
    """Policy percentages, MPPR, the final amount and policy_reason, set-based and exact.

    Order (notes §8): bilateral first, then assistant / co-surgeon / NPP, then MPPR indicator 2:
    among a claim_key's priced lines with indicator 2, the highest amount after the other percentages
    (ties: lowest row_id) is paid 100%, every other one 50%.
    amount = round_half_up(capped_amount x policy_percent, 2), in integers (cents x 1e-10 units).
    """
    priced = pl.col("not_priced_reason").is_null()
    on = pl.lit(apply_policy) & priced
    pct = pl.lit(_UNIT, pl.Int64)
    for ind, frac in _BILATERAL.items():
        pct = _times(pct, on & pl.col("m50") & (pl.col("bilat_surg") == ind), frac)
    pct = _times(pct, on & pl.col("m_as"), _ASSISTANT_NPP)
    pct = _times(pct, on & pl.col("m_asst") & ~pl.col("m_as"), _ASSISTANT)
    pct = _times(pct, on & pl.col("m62"), _COSURGEON)
    pct = _times(pct, on & pl.col("is_npp") & ~pl.col("m_as"), _NPP)
    out = out.with_columns(_cents=(pl.col("capped_amount") * 100).cast(pl.Int64), _pre=pct)
    if apply_policy:
        eligible = (pl.col("mult_proc") == "2") & pl.col("claim_key").is_not_null() & pl.col("_cents").is_not_null()
        out = out.with_columns(
            _g=pl.when(eligible).then(pl.col("_claim")), _k=pl.col("_cents") * (pl.col("_pre") // 1000)
        )
        out = out.with_columns(_top_k=pl.col("_k").max().over("_g"))  # one step at a time: nested
        out = out.with_columns(  # windows are far slower
            _top_row=pl.when(pl.col("_k") == pl.col("_top_k")).then(pl.col("row_id")).min().over("_g")
        )
        out = out.with_columns(
            _mppr=pl.when(pl.col("_g").is_not_null()).then(
                pl.when(pl.col("row_id") == pl.col("_top_row")).then(pl.lit(1)).otherwise(pl.lit(2))
            )
        )
    else:
        out = out.with_columns(_mppr=pl.lit(None, pl.Int32))
    out = out.with_columns(_pct=_times(pl.col("_pre"), pl.col("_mppr") == 2, _MPPR_OTHER))
    amount_cents = (pl.col("_cents") * pl.col("_pct") + _UNIT // 2) // _UNIT  # half-up (amounts are >= 0)
    bilat_pct = (
        pl.when(pl.col("bilat_surg") == "1")
        .then(pl.lit("150%"))
        .when(pl.col("bilat_surg") == "3")
        .then(pl.lit("200% (100% per side)"))
        .otherwise(pl.lit("100%"))
    )
    reasons = [
        pl.when(on & pl.col("m50")).then(pl.format("bilateral 50 (indicator {}): {}", pl.col("bilat_surg"), bilat_pct)),
        pl.when(on & pl.col("m_as"))
        .then(pl.lit("assistant at surgery AS (NPP): 85% of 16% = 13.6%"))
        .when(on & pl.col("m_asst"))
        .then(
            pl.concat_str(
                [
                    pl.lit("assistant at surgery 80/81/82: 16%"),
                    pl.when(pl.col("asst_surg") == "0")
                    .then(pl.lit(" (indicator 0: needs documentation of medical necessity)"))
                    .otherwise(pl.lit("")),
                ]
            )
        ),
        pl.when(on & pl.col("m62")).then(pl.lit("co-surgeon 62: 62.5%")),
        pl.when(on & pl.col("is_npp") & ~pl.col("m_as")).then(pl.lit("non-physician practitioner: 85%")),
        pl.when(pl.col("_mppr") == 1)
        .then(pl.lit("multiple procedure (indicator 2): highest, 100%"))
        .when(pl.col("_mppr") == 2)
        .then(pl.lit("multiple procedure (indicator 2): not the highest, 50%")),
    ]
    return out.with_columns(
        amount=(amount_cents.cast(pl.Decimal(14, 0)) * Decimal("0.01")).cast(MONEY),
        policy_percent=pl.when(priced).then(
            (pl.col("_pct").cast(pl.Decimal(20, 0)) * Decimal("1e-10")).cast(pl.Decimal(12, 7))
        ),
        policy_reason=pl.when(priced).then(pl.concat_str(reasons, separator="; ", ignore_nulls=True).replace("", None)),
    )


def _decorate(
    out: pl.DataFrame, normalized: pl.DataFrame, rvu: pl.DataFrame, gpci: pl.DataFrame, cf: pl.DataFrame, national: bool
) -> pl.DataFrame:
    """Attach the RVU/GPCI/CF rows' columns (gathered by rowid) and the per-line inputs."""
    out = out.with_columns(
        normalized.select(
            "row_id",
            "claim_key",
            "m50",
            "m_asst",
            "m_as",
            "m62",
            "is_npp",
            "rvu_mod",
            "is_facility",
            _claim=pl.col("claim_key").cast(pl.Categorical).to_physical(),
        )
    )
    out = out.join(rvu, on="rvu_rowid", how="left", maintain_order="left")
    out = out.join(gpci, on="gpci_rowid", how="left", maintain_order="left")
    out = out.join(cf, on="cf_rowid", how="left", maintain_order="left")
    carrier = pl.coalesce(pl.col("g_carrier"), pl.col("carrier_raw"))
    locality = pl.coalesce(pl.col("g_locality"), pl.col("locality_raw"))
    fac = pl.col("is_facility")
    one = pl.lit(Decimal("1.000"), pl.Decimal(9, 3))
    return out.with_columns(
        status=pl.when(pl.col("not_priced_reason").is_null()).then(pl.lit("priced")).otherwise(pl.lit("not_priced")),
        carrier=carrier,
        locality_code=carrier + locality,
        locality_name=pl.lit("NATIONAL (all GPCIs 1.000)") if national else pl.col("g_locality_name"),
        locality_source=pl.col("loc_src").replace_strict(
            {1: "national", 2: "given", 3: "zip9", 4: "zip5"}, default=None, return_dtype=pl.String
        ),
        rvu_modifier=pl.col("rvu_mod").replace("26+TC", None),
        setting=pl.when(fac).then(pl.lit("facility")).otherwise(pl.lit("non-facility")),
        pe_rvu=pl.when(fac).then(pl.col("f_pe_rvu")).otherwise(pl.col("nf_pe_rvu")),
        opps_pe_rvu=pl.when(fac).then(pl.col("opps_f_pe_rvu")).otherwise(pl.col("opps_nf_pe_rvu")),
        work_gpci=one if national else pl.col("work_gpci"),
        pe_gpci=one if national else pl.col("pe_gpci"),
        mp_gpci=one if national else pl.col("mp_gpci"),
        opps_capped=pl.when(pl.col("fee_schedule_amount").is_not_null()).then(
            (pl.col("opps_amount") < pl.col("fee_schedule_amount")).fill_null(False)
        ),
    )


# The columns of the RVU, GPCI and CF rows, joined to the priced lines by rowid (cheaper than carrying
# them through the pricing query for every line).
RVU_COLUMNS = (
    "SELECT rowid AS rvu_rowid, status_code, pctc, global_days, mult_proc, bilat_surg, asst_surg, "
    "co_surg, team_surg, work_rvu, nf_pe_rvu, f_pe_rvu, mp_rvu, opps_nf_pe_rvu, opps_f_pe_rvu, "
    "opps_mp_rvu FROM mpfs_rvu"
)
GPCI_COLUMNS = (
    "SELECT rowid AS gpci_rowid, carrier AS g_carrier, locality AS g_locality, "
    "locality_name AS g_locality_name, work_gpci, pe_gpci, mp_gpci FROM mpfs_gpci"
)
CF_COLUMNS = "SELECT rowid AS cf_rowid, conversion_factor FROM mpfs_conversion_factors"


OUTPUT_COLUMNS = (
    "status",
    "not_priced_reason",
    "amount",
    "fee_schedule_amount",
    "opps_amount",
    "opps_capped",
    "mpfs_year",
    "mpfs_release",
    "carrier",
    "locality_code",
    "locality_name",
    "locality_source",
    "locality_note",
    "release_note",
    "rvu_modifier",
    "setting",
    "work_rvu",
    "pe_rvu",
    "mp_rvu",
    "work_gpci",
    "pe_gpci",
    "mp_gpci",
    "conversion_factor",
    "status_code",
    "pctc",
    "global_days",
    "mult_proc",
    "bilat_surg",
    "asst_surg",
    "co_surg",
    "team_surg",
    "policy_percent",
    "policy_reason",
    "formula",
)


def price_lines(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    *,
    national: bool = False,
    qp: bool = False,
    apply_policy: bool = False,
    on_missing: str = "raise",
) -> pl.DataFrame:
    """Every input column plus status, amount (one unit, Decimal(14,2)) and the derivation columns.

    on_missing="raise": a line needing a fee schedule file that is not imported raises
    ReferenceDataMissing naming the file and how to get it; "mark": such lines are not_priced.
    """
    if on_missing not in ("raise", "mark"):
        raise ValueError("on_missing must be 'raise' or 'mark'")
    normalized = _normalize(_prepare(lines))
    # A cursor of its own: the caller's connection may hold an unfinished result (DuckDB 2 refuses new
    # work on it until fetched), and the registered input stays private to this call. One read
    # transaction, so the rowids gathered below are those the pricing query saw.
    cur = con.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        cur.register("_price_lines_input", arrow_view(normalized))
        out = cur.sql(
            read_sql("fee_schedules.sql", "price_lines.sql"),
            params={"national": bool(national), "qp": bool(qp), "apply_policy": bool(apply_policy)},
        ).pl()
        rvu = cur.sql(RVU_COLUMNS).pl()
        gpci = cur.sql(GPCI_COLUMNS).pl()
        cf = cur.sql(CF_COLUMNS).pl()
        cur.execute("COMMIT")
    finally:
        cur.close()
    flagged = out.filter(pl.col("_missing_ref"))
    if flagged.height and on_missing == "raise":
        reasons = flagged["not_priced_reason"].unique(maintain_order=True).to_list()
        more = (
            f" ({flagged.height} line(s); {len(reasons) - 1} other missing file(s))"
            if len(reasons) > 1
            else f" ({flagged.height} line(s))"
        )
        raise ReferenceDataMissing(reasons[0] + more)
    if not out["_pos"].is_sorted():
        out = out.sort("_pos")
    out = _decorate(out, normalized, rvu, gpci, cf, national)
    out = _finish(out, apply_policy).with_columns(_formula()).select(OUTPUT_COLUMNS)
    keep = [c for c in lines.columns if c not in out.columns]
    return pl.concat([lines.select(keep), out], how="horizontal")


def medicare_payment(allowed: Decimal, *, deductible_remaining: Decimal = Decimal("0")) -> dict[str, Decimal]:
    """What Medicare pays on an allowed amount: 80% after the Part B deductible, less 2% sequestration.

    Each step is rounded half-up to the cent (notes §8: Manhattan 99213 NF 2025, allowed $101.06
    -> 80% = $80.85 -> sequestration $1.62 -> paid $79.23).
    """
    allowed = Decimal(allowed)
    deductible = min(max(Decimal(deductible_remaining), Decimal(0)), allowed)
    medicare_share = to_cent((allowed - deductible) * COINSURANCE_SHARE)
    sequestration = to_cent(medicare_share * SEQUESTRATION)
    return {
        "allowed": allowed,
        "deductible": deductible,
        "coinsurance": allowed - deductible - medicare_share,
        "medicare_share": medicare_share,
        "sequestration": sequestration,
        "paid": medicare_share - sequestration,
    }


def medicare_payment_expr(allowed: pl.Expr) -> pl.Expr:
    """Vectorized ``medicare_payment(...)["paid"]`` (deductible ignored), exact in integer cents."""
    cents = (allowed * 100).cast(pl.Int64)
    share = (cents * 80 + 50) // 100  # 80%, half-up to the cent
    seq = (share * 2 + 50) // 100  # 2% sequestration, half-up to the cent
    return ((share - seq).cast(pl.Decimal(14, 0)) * Decimal("0.01")).cast(MONEY)
