"""Medicare allowed amounts from every fee schedule: which schedule prices a code, and its amount.

``price_schedules(con, lines)`` prices lines from the schedules other than the physician fee schedule
(sql/price_schedules.sql: CLFS, ASP, DMEPOS/PEN; OPPS and ASC when asked). ``price_medicare(con, lines)``
is the one entry point over all of them: each code goes to the schedule that prices it, in the order
documented in docs/fee-schedules.md ("Which schedule prices a code"):

1. the physician fee schedule (MPFS) when its status there is payable (A, R, T; J anesthesia);
2. else the ASP drug payment limits, the clinical lab schedule (CLFS), DMEPOS, then PEN: the first that
   lists the code in any imported release;
3. else the physician schedule's own answer (not priced, with its reason).

``schedule=`` forces one schedule (``mpfs``, ``clfs``, ``asp``, ``dmepos``, ``opps``, ``asc``). The output
keeps every input column and adds ``schedule`` (mpfs, clfs, asp, dmepos, dmepos_pen, opps, asc_aa, asc_bb),
``amount`` (the line's allowed for all its units), ``unit_rate``, ``status``, ``not_priced_reason`` and
``derivation`` (the schedule, its release and file, the rate and the units).
"""

from __future__ import annotations

import duckdb
import polars as pl

from fee_schedules.pricing import conform_input, price_lines
from pipelines.core.money import MONEY
from pipelines.core.sql import arrow_view, bind, read_sql

SCHEDULE_CHOICES = ("mpfs", "clfs", "asp", "dmepos", "opps", "asc")
# The kinds tried for each choice, in order; None: the professional order of price_medicare.
PROFESSIONAL = ["asp", "clfs", "dmepos", "dmepos_pen"]
KINDS_OF = {
    "clfs": ["clfs"],
    "asp": ["asp"],
    "dmepos": ["dmepos", "dmepos_pen"],
    "opps": ["opps"],
    "asc": ["asc_aa", "asc_bb"],
}
# MPFS statuses the physician schedule pays (J: anesthesia, priced claim by claim)
MPFS_PAYABLE = ("A", "R", "T", "J")

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "row_id": pl.Int64,
    "procedure_code": pl.String,
    "modifiers": pl.List(pl.String),
    "units": pl.Decimal(14, 3),
    "service_date": pl.Date,
    "year": pl.Int32,
    "zip": pl.String,
    "locality": pl.String,
    "drug": pl.String,  # the drug's name, for a NOC drug code (J3490 ...): priced from the ASP NOC file
}
# HCPCS codes of drugs not otherwise classified: a line that names its drug is priced from the ASP NOC file.
NOC_CODES = ["J3490", "J3590", "J7599", "J7699", "J7799", "J7999", "J8499", "J8999", "J9999", "C9399"]
OUTPUT_COLUMNS: dict[str, pl.DataType] = {
    "schedule": pl.String,
    "release_from": pl.Date,
    "release_file": pl.String,
    "unit_rate": pl.Decimal(18, 5),
    "amount": MONEY,
    "reason": pl.String,
    "rate_label": pl.String,
    "derivation": pl.String,
}


def _input(lines: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    prepared = conform_input(lines, INPUT_SCHEMA, ("row_id", "procedure_code"), "price_schedules", ",")
    sd = pl.col("service_date")
    return prepared.select(
        "row_id",
        pl.col("procedure_code").str.strip_chars().str.to_uppercase().alias("code"),
        pl.col("modifiers").fill_null([]).list.eval(pl.element().str.strip_chars().str.to_uppercase()).alias("mods"),
        pl.col("units").fill_null(pl.lit(1, pl.Decimal(14, 3))).alias("units"),
        # a year given (a contract frozen at 2025 Medicare) moves the date into that year, as price_lines does
        pl.when(pl.col("year").is_null())
        .then(sd)
        .otherwise(pl.date(pl.col("year"), sd.dt.month(), 1) + pl.duration(days=sd.dt.day() - 1))
        .alias("ref_date"),
        pl.coalesce(pl.col("year"), sd.dt.year()).cast(pl.Int32).alias("eff_year"),
        pl.col("zip").str.replace_all(r"[^0-9]", "").str.slice(0, 5).replace("", None).alias("zip5"),
        pl.col("locality").str.replace_all(r"[^0-9]", "").replace("", None).alias("loc"),
        pl.col("drug").str.strip_chars().replace("", None).alias("drug"),
        pl.lit(kinds, pl.List(pl.String)).alias("wanted"),
    )


def price_schedules(
    con: duckdb.DuckDBPyConnection, lines: pl.DataFrame, kinds: list[str] | None = None
) -> pl.DataFrame:
    """One row per input line (input order): OUTPUT_COLUMNS from the first of ``kinds`` (default: ASP,
    CLFS, DMEPOS, PEN) that lists the line's code; schedule NULL when none does."""
    frame = _input(lines, kinds or PROFESSIONAL)
    cur = con.cursor()
    try:
        cur.register("_sched_input", arrow_view(frame))
        sql = read_sql("fee_schedules.sql", "price_schedules.sql")
        out = cur.sql(sql, params=bind(sql, {"noc_codes": NOC_CODES})).pl()
    finally:
        cur.close()
    out = frame.select("row_id").join(out, on="row_id", how="left", maintain_order="left")
    return out.select("row_id", *[pl.col(c).cast(t) for c, t in OUTPUT_COLUMNS.items()])


def price_medicare(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    *,
    schedule: str | None = None,
    national: bool = False,
    qp: bool = False,
    apply_policy: bool = False,
    on_missing: str = "mark",
) -> pl.DataFrame:
    """price_lines' columns for every line, plus ``schedule``, ``unit_rate`` and ``line_amount`` (all units),
    with the other schedules' answer where the physician schedule does not pay the code (or where
    ``schedule`` forces one). ``amount`` stays per unit for MPFS lines; ``line_amount`` is the whole line."""
    if schedule is not None and schedule not in SCHEDULE_CHOICES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULE_CHOICES)}")
    units = (
        lines["units"].cast(pl.Decimal(14, 3)).fill_null(1)
        if "units" in lines.columns
        else pl.Series("units", [1] * lines.height, pl.Decimal(14, 3))
    )
    mpfs = price_lines(con, lines, national=national, qp=qp, apply_policy=apply_policy, on_missing=on_missing)
    mpfs = mpfs.with_columns(
        pl.lit("mpfs").alias("schedule"),
        pl.col("amount").cast(pl.Decimal(18, 5)).alias("unit_rate"),
        (pl.col("amount").cast(pl.Decimal(28, 3)) * units.cast(pl.Decimal(14, 3)))
        .round(2, mode="half_away_from_zero")
        .cast(MONEY)
        .alias("line_amount"),
    )
    mpfs = mpfs.with_columns(_mpfs_derivation(units))
    if schedule == "mpfs":
        return mpfs
    # the other schedules see only the lines the physician schedule does not pay (all, when one is forced)
    asked = lines if schedule else lines.filter(~mpfs["status_code"].fill_null("").is_in(list(MPFS_PAYABLE)))
    other = price_schedules(con, asked, KINDS_OF.get(schedule) if schedule else None)
    joined = mpfs.join(
        other.rename(lambda c: c if c == "row_id" else c + "_o"), on="row_id", how="left", maintain_order="left"
    )
    found = pl.col("schedule_o").is_not_null()
    use = pl.lit(True) if schedule else found  # forced: a code the schedule does not list is not priced by it
    missing = pl.format("{} does not list {}", pl.lit((schedule or "").upper()), pl.col("procedure_code"))
    return joined.with_columns(
        pl.when(use).then(pl.coalesce("schedule_o", pl.lit(schedule))).otherwise("schedule").alias("schedule"),
        pl.when(use).then(pl.col("unit_rate_o")).otherwise("unit_rate").alias("unit_rate"),
        pl.when(use).then(pl.col("amount_o")).otherwise("line_amount").alias("line_amount"),
        pl.when(use)
        .then(pl.when(pl.col("amount_o").is_not_null()).then(pl.lit("priced")).otherwise(pl.lit("not_priced")))
        .otherwise("status")
        .alias("status"),
        pl.when(use)
        .then(pl.when(found).then(pl.col("reason_o")).otherwise(missing))
        .otherwise("not_priced_reason")
        .alias("not_priced_reason"),
        pl.when(use).then(pl.col("derivation_o")).otherwise("formula").alias("formula"),
        pl.when(use).then(pl.col("derivation_o")).otherwise("derivation").alias("derivation"),
        pl.when(use).then(pl.col("release_file_o")).otherwise(pl.lit(None, pl.String)).alias("release_file"),
        pl.when(use).then(pl.col("rate_label_o")).otherwise(pl.lit(None, pl.String)).alias("rate_label"),
    ).drop([c + "_o" for c in OUTPUT_COLUMNS])


def _mpfs_derivation(units: pl.Series) -> pl.Expr:
    """'MPFS 2025 A: <formula>' and, for several units, ' x 3 units = $201.24' (the line's amount)."""
    n = units.cast(pl.Decimal(14, 3))
    shown = (
        pl.when(pl.lit(n) == pl.lit(n).floor())
        .then(pl.lit(n).cast(pl.Int64).cast(pl.String))
        .otherwise(pl.lit(n).cast(pl.String))
    )
    return (
        pl.when(pl.col("status") == "priced")
        .then(
            pl.concat_str(
                [
                    pl.format("MPFS {} {}: ", pl.col("mpfs_year"), pl.col("mpfs_release")),
                    pl.col("formula"),
                    pl.when(pl.lit(n) != 1).then(pl.format(" x {} units = ${}", shown, pl.col("line_amount"))),
                ],
                ignore_nulls=True,
            )
        )
        .alias("derivation")
    )
