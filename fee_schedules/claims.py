"""Medicare allowed amounts claim by claim: the MAC's claim-level payment policy over whole claims.

``price_claims(con, lines)`` prices every line of a frame of claim lines (one claim = one rendering
provider on one date; lines group by ``claim_key`` and service date, else year). The rules, their
sources and every open question with the choice made are in docs/fee-schedules.md ("Pricing whole
claims"); the order is the note's:

1. the line amount per unit (the 26/TC/53 row, the OPPS cap): :func:`fee_schedules.pricing.price_lines`,
   once per distinct key, with the TC and 26 rows of global imaging/cardiovascular/ophthalmology codes
   and the endoscopy base codes priced beside them;
2. line percentages (split care 54/55/56, 78, 62, 80/81/82/AS, NPP, CQ/CO) and by-report lines;
3. bilateral (-50, RT/LT pairs, two units);
4. the multiple-procedure families 2/3 (surgery, endoscopy), 4 (imaging sessions), 5 (therapy),
   6 (cardiovascular), 7 (ophthalmology);
5. lesser of the actual charge (an RT/LT pair's charges together); 6. status T;
7. anesthesia: (base + time units) x the locality's anesthesia conversion factor.

What the rules read of the fee schedule is gathered once per key (sql/claim_keys.sql: indicators,
shares, the TC/26/base amounts, anesthesia base units and CF). Steps 2-7 are one DuckDB statement
(sql/price_claims.sql) that reads only the lines with their keys' columns, set-based and in exact
DECIMAL arithmetic, each amount rounded half-up to the cent where the note rounds it. Whole claims go
through it in chunks of about CHUNK_LINES lines (bounded memory at any size); the derivation gets its
step-1 formula in front at the end (:func:`_render`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from fee_schedules.importer import missing_help
from fee_schedules.pricing import conform_input, price_lines
from fee_schedules.providers import NPP_TYPES, THERAPY_ASSISTANT_TYPES
from pipelines.core.money import MONEY
from pipelines.core.sql import arrow_view, bind, read_sql

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "row_id": pl.Int64(),
    "claim_key": pl.String(),
    "line": pl.Int64(),
    "procedure_code": pl.String(),
    "modifiers": pl.List(pl.String()),
    "units": pl.Decimal(14, 3),
    "minutes": pl.Decimal(14, 3),
    "charge": MONEY,
    "zip": pl.String(),
    "locality": pl.String(),
    "facility": pl.Boolean(),
    "provider_type": pl.String(),
    "year": pl.Int32(),
    "service_date": pl.Date(),
}
REQUIRED = ("row_id", "claim_key", "procedure_code")

# Modifiers that send a line to individual consideration (by report), checked in this order.
BY_REPORT = ("52", "66", "73", "74")
MEDICAL_DIRECTION = ("QK", "QX", "QY")
# The CPT anesthesia add-on codes (01953 with 01952; 01968/01969 with 01967): priced alone with their
# own minutes (the RVU file gives every status J code GLOB DAYS XXX, so ZZZ cannot be read from it).
ANESTHESIA_ADDONS = ("01953", "01968", "01969")
NO_TIME_UNITS = ("01995", "01996")  # daily management: base units only
MAX_UNITS = 9999  # more units on one line are not believed (priced by no schedule, checked by a person)
CHUNK_LINES = 250_000  # lines per pass of the claim statement (whole claims; bounds its working memory)

OUTPUT_COLUMNS: dict[str, pl.DataType] = {
    "allowed": MONEY,
    "status": pl.String(),
    "reason": pl.String(),
    "derivation": pl.String(),
    "full_amount": MONEY,
    "fee": MONEY,
    "claim_step": pl.String(),
    "mpfs_year": pl.Int32(),
    "mpfs_release": pl.String(),
    "locality_code": pl.String(),
    "mult_proc": pl.String(),
    "formula": pl.String(),
}
# The price_lines columns kept per key: what sql/claim_keys.sql reads, and the step-1 columns shown per line.
_KEY_COLUMNS = (
    "not_priced_reason",
    "amount",
    "status_code",
    "pctc",
    "global_days",
    "mult_proc",
    "bilat_surg",
    "asst_surg",
    "co_surg",
    "rvu_modifier",
    "work_rvu",
    "pe_rvu",
    "mp_rvu",
    "work_gpci",
    "pe_gpci",
    "mp_gpci",
    "conversion_factor",
    "mpfs_year",
    "mpfs_release",
    "carrier",
    "locality_code",
    "formula",
)


def _prepare(lines: pl.DataFrame) -> pl.DataFrame:
    return conform_input(lines, INPUT_SCHEMA, REQUIRED, "price_claims", " ")


# Every modifier a rule reads, as one bit of a per-line mask (one pass over the modifier lists).
_MODIFIER_BITS = {
    m: 1 << i
    for i, m in enumerate(
        ("26", "TC", "53", "50", "RT", "LT", "59", "XE", "54", "55", "56", "78", "62", "80", "81", "82", "AS",
         "CQ", "CO", "QK", "QX", "QY", "AD", "23", "52", "66", "73", "74")
    )
}  # fmt: skip


def _flags(prepared: pl.DataFrame) -> pl.DataFrame:
    """One row per line: normalized code, the RVU row its modifiers ask for, modifier flags, claim group."""
    mask = (
        pl.col("modifiers")
        .fill_null([])
        .list.eval(
            pl.element()
            .str.strip_chars()
            .str.to_uppercase()
            .replace_strict(_MODIFIER_BITS, default=0, return_dtype=pl.Int64)
            .unique()
            .sum()
        )
        .list.first()
        .fill_null(0)
    )
    df = prepared.with_columns(_mask=mask, _pos=pl.int_range(pl.len(), dtype=pl.Int64))

    def has(*codes: str) -> pl.Expr:
        bits = 0
        for c in codes:
            bits |= _MODIFIER_BITS[c]
        return (pl.col("_mask") & bits) != 0

    by_report = pl.lit(None, pl.String)
    for code in reversed(BY_REPORT):
        by_report = pl.when(has(code)).then(pl.lit(code)).otherwise(by_report)
    ptype = pl.col("provider_type").str.strip_chars().str.to_uppercase()
    # The claim group as one exact integer: the claim_key's dense rank, then the date (even) or, with no
    # date, the year (odd), so no two (claim_key, date or year) share a number.
    when = (
        pl.when(pl.col("service_date").is_not_null())
        .then(pl.col("service_date").cast(pl.Int32).cast(pl.Int64) * 2)
        .otherwise(pl.col("year").cast(pl.Int64).fill_null(0) * 2 + 1)
    )
    group = pl.col("claim_key").fill_null("").rank("dense").cast(pl.Int64) * 2**34 + when + 2**33
    return df.select(
        "row_id",
        "_pos",
        group.alias("grp"),
        pl.col("line").fill_null(0).alias("line_no"),
        pl.col("procedure_code").str.strip_chars().str.to_uppercase().alias("code"),
        pl.when(has("26") & has("TC"))
        .then(pl.lit("26+TC"))
        .when(has("26"))
        .then(pl.lit("26"))
        .when(has("TC"))
        .then(pl.lit("TC"))
        .when(has("53"))
        .then(pl.lit("53"))
        .otherwise(pl.lit(""))
        .alias("row"),
        has("50").alias("m50"),
        (has("RT") & ~has("LT")).alias("m_rt"),
        (has("LT") & ~has("RT")).alias("m_lt"),
        has("RT", "LT").alias("m_side"),
        has("59", "XE").alias("m59"),
        has("54").alias("m54"),
        has("55").alias("m55"),
        has("56").alias("m56"),
        has("78").alias("m78"),
        has("62").alias("m62"),
        has("80", "81", "82").alias("m_asst"),
        has("AS").alias("m_as"),
        has("CQ", "CO").alias("m_cq"),
        has(*MEDICAL_DIRECTION).alias("m_md"),
        has("AD").alias("m_ad"),
        has("23").alias("m23"),
        by_report.alias("by_report"),
        pl.col("units").fill_null(pl.lit(1, pl.Decimal(14, 3))).alias("units_n"),
        "minutes",
        "charge",
        ptype.is_in(list(NPP_TYPES)).fill_null(False).alias("npp"),
        ptype.is_in(list(THERAPY_ASSISTANT_TYPES)).fill_null(False).alias("assistant"),
        ptype.alias("ptype"),
        "zip",
        "locality",
        pl.col("facility").fill_null(False),
        "year",
        "service_date",
    )


_PLACE = ("zip", "locality", "facility", "year", "service_date")


def _query(
    con: duckdb.DuckDBPyConnection, name: str, values: dict | None = None, **frames: pl.DataFrame
) -> pl.DataFrame:
    """The result of the packaged statement ``name`` (fee_schedules/sql/) with its parameters from
    ``values``, over the given frames registered under their keyword names on a cursor of its own."""
    cur = con.cursor()
    try:
        for table, frame in frames.items():
            cur.register(table, arrow_view(frame))
        sql = read_sql("fee_schedules.sql", name)
        return cur.sql(sql, params=bind(sql, values) if values else None).pl()
    finally:
        cur.close()


def _companions(con: duckdb.DuckDBPyConnection, codes: pl.Series) -> tuple[list[str], pl.DataFrame]:
    """Codes whose TC and 26 rows are priced beside them (global PCTC 1 codes of families 4/6/7), and
    each endoscopy family member's base code, in any imported release."""
    rows = _query(con, "claim_companions.sql", _pc_codes=pl.DataFrame({"code": codes.unique()}))
    split = rows.filter(pl.col("kind") == "tc_pc")["hcpcs"].to_list()
    bases = rows.filter(pl.col("kind") == "endo").select(pl.col("hcpcs").alias("code"), "base")
    return split, bases


def _key_dates(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame) -> pl.DataFrame:
    """Per distinct (year, service_date): key_date, the first day of the release in force (a key per
    release, not per day; sql/claim_key_dates.sql)."""
    out = _query(con, "claim_key_dates.sql", _pc_dates=flags.select("year", "service_date").unique())
    return out.select(
        pl.col("year").cast(pl.Int32), pl.col("service_date").cast(pl.Date), pl.col("key_date").cast(pl.Date)
    )


def _key_places(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame) -> pl.DataFrame:
    """Per distinct (zip, year, key date) of lines without a locality: the locality the ZIP5 file
    places it in, when only one (sql/claim_key_places.sql)."""
    zips = flags.filter(pl.col("locality").is_null() & pl.col("zip").is_not_null())
    out = _query(
        con,
        "claim_key_places.sql",
        _pc_zips=zips.select("zip", "year", pl.col("service_date").alias("key_date")).unique(),
    )
    return out.select(
        pl.col("zip").cast(pl.String),
        pl.col("year").cast(pl.Int32),
        pl.col("key_date").cast(pl.Date).alias("service_date"),
        pl.col("key_locality").cast(pl.String),
    )


def _keys(
    con: duckdb.DuckDBPyConnection, flags: pl.DataFrame, *, national: bool = False
) -> tuple[pl.DataFrame, pl.Series]:
    """The distinct step-1 keys (code, RVU row, place), each with the key ids of its companions (the
    TC and 26 rows of a global family 4/6/7 code, the endoscopy base), and each line's key id (in
    the order of ``flags``). Key ids are 0..n-1 and the keys come sorted by id."""
    split, bases = _companions(con, flags["code"])
    flags = flags.select("code", "row", *_PLACE)
    flags = flags.join(
        _key_dates(con, flags), on=["year", "service_date"], how="left", nulls_equal=True, maintain_order="left"
    )
    flags = flags.with_columns(pl.col("key_date").alias("service_date"))
    if not national:
        flags = flags.join(
            _key_places(con, flags),
            on=["zip", "year", "service_date"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        ).with_columns(
            pl.when(pl.col("key_locality").is_not_null() & pl.col("locality").is_null())
            .then(pl.lit(None, pl.String))
            .otherwise(pl.col("zip"))
            .alias("zip"),
            pl.coalesce(pl.col("locality"), pl.col("key_locality")).alias("locality"),
        )
    places = flags.select(_PLACE).unique().with_row_index("place_id")
    line_place = flags.select("code", "row", *_PLACE).join(
        places, on=list(_PLACE), how="left", nulls_equal=True, maintain_order="left"
    )
    own = (
        line_place.select("code", "row", "place_id")
        .unique()
        .join(bases, on="code", how="left")
        .with_columns((pl.col("code").is_in(split) & (pl.col("row") == "")).alias("_split"))
    )
    wanted = pl.concat(
        [
            own.select("code", "row", "place_id"),
            own.filter("_split").select("code", pl.lit("TC").alias("row"), "place_id"),
            own.filter("_split").select("code", pl.lit("26").alias("row"), "place_id"),
            own.filter(pl.col("base").is_not_null()).select(
                pl.col("base").alias("code"), pl.lit("").alias("row"), "place_id"
            ),
        ]
    ).unique()
    ids = wanted.with_row_index("key_id").with_columns(pl.col("key_id").cast(pl.Int64))
    on = ["code", "row", "place_id"]

    def companion(code: str, row: str | None, name: str, when: pl.Expr) -> pl.DataFrame:
        found = own.filter(when).select(
            *on, pl.col(code).alias("_code"), (pl.lit(row) if row is not None else pl.col("row")).alias("_row")
        )
        return found.join(
            ids.select(
                pl.col("code").alias("_code"), pl.col("row").alias("_row"), "place_id", pl.col("key_id").alias(name)
            ),
            on=["_code", "_row", "place_id"],
        ).select(*on, name)

    keys = ids
    for part in (
        companion("code", "TC", "k_tc_id", pl.col("_split")),
        companion("code", "26", "k_pc_id", pl.col("_split")),
        companion("base", "", "k_base_id", pl.col("base").is_not_null()),
    ):
        keys = keys.join(part, on=on, how="left")
    line_ids = line_place.join(ids, on=on, how="left", maintain_order="left")["key_id"]
    keys = keys.join(places, on="place_id", how="left").drop("place_id").sort("key_id")
    return keys, line_ids.alias("k_line_id")


def _price_keys(con, keys: pl.DataFrame, *, national: bool, qp: bool, on_missing: str) -> pl.DataFrame:
    frame = keys.select(
        pl.col("key_id").alias("row_id"),
        pl.col("code").alias("procedure_code"),
        pl.when(pl.col("row") == "26+TC")
        .then(pl.lit(["26", "TC"]))
        .when(pl.col("row") != "")
        .then(pl.concat_list(pl.col("row")))
        .otherwise(pl.lit([], pl.List(pl.String)))
        .alias("modifiers"),
        "zip",
        "locality",
        "facility",
        "year",
        "service_date",
    )
    priced = price_lines(con, frame, national=national, qp=qp, on_missing=on_missing)
    return priced.select(pl.col("row_id").alias("key_id"), pl.col("procedure_code").alias("code"), *_KEY_COLUMNS)


# What the claim statement reads of each line's key (sql/claim_keys.sql), and the step-1 columns shown.
_RULE_KEY_COLUMNS = (
    "anesthesia", "key_reason", "fee", "status_code", "pctc", "global_days", "mult_proc", "bilat_surg",
    "asst_surg", "co_surg", "rvu_row", "endo_base", "pre_op", "intra_op", "post_op", "pe_rvu", "reduced",
    "tc_fee", "pc_fee", "base_fee", "base_units", "anes_cf", "anes_key_reason", "addon", "no_time",
)  # fmt: skip
_SHOWN_KEY_COLUMNS = ("amount", "mpfs_year", "mpfs_release", "locality_code", "mult_proc", "formula")


def _render(steps: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """The output columns, in line order: the claim statement's results (``steps``, one row per line in
    line order) with the key's step-1 columns (``shown``); the derivation is the step-1 formula (or
    the anesthesia formula), then the texts of steps 2-7 ending in the amount."""
    step1 = (
        pl.when(pl.col("anesthesia"))
        .then(pl.col("anes_text"))
        .otherwise(pl.col("formula") + pl.when(pl.col("per_unit")).then(pl.lit(" per unit")).otherwise(pl.lit("")))
    )
    derivation = (
        pl.when(pl.col("steps_text").is_null())
        .then(step1)
        .otherwise(pl.concat_str([step1, pl.col("steps_text")], separator="; ", ignore_nulls=True))
    )
    return (
        pl.concat([steps, shown], how="horizontal")
        .with_columns(
            pl.when(pl.col("reason").is_null()).then(pl.lit("priced")).otherwise(pl.lit("not_priced")).alias("status"),
            derivation.alias("derivation"),
            pl.col("amount").alias("fee"),
        )
        .select([pl.col(c).cast(t) for c, t in OUTPUT_COLUMNS.items()])
    )


def _claim_steps(con: duckdb.DuckDBPyConnection, claim_lines: pl.DataFrame, claim_keys: pl.DataFrame) -> pl.DataFrame:
    """Steps 2-7 (sql/price_claims.sql) for every line, one row per line in line order. Whole claims go
    through the statement in chunks of about CHUNK_LINES lines, so that its working memory stays bounded
    however many lines come. A line's key columns are a gather by key id (ids are 0..n-1), not a join."""
    sql = read_sql("fee_schedules.sql", "price_claims.sql")
    params = bind(sql, {"max_units": MAX_UNITS})
    n = -(-claim_lines.height // CHUNK_LINES)
    chunk = (pl.col("grp").hash(seed=13) % n) if n > 1 else pl.lit(0)
    parts = []
    cur = con.cursor()
    try:
        for i in range(n):
            part = claim_lines.filter(chunk == i) if n > 1 else claim_lines
            part = pl.concat(
                [part.drop("k_line_id"), claim_keys.select(pl.col(_RULE_KEY_COLUMNS).gather(part["k_line_id"]))],
                how="horizontal",
            )
            cur.register("_pc_lines", arrow_view(part))
            parts.append(cur.sql(sql, params=params).pl())
            cur.unregister("_pc_lines")
            del part
    finally:
        cur.close()
    return pl.concat(parts).sort("_pos")


def price_claims(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    *,
    national: bool = False,
    qp: bool = False,
    on_missing: str = "mark",
) -> pl.DataFrame:
    """Every input column plus allowed (the line's total, all units, after every claim-level rule;
    null when not priced), status, reason, derivation, full_amount (the line alone), fee (step 1 per
    unit), claim_step (the claim-level step that changed the line), mpfs_year, mpfs_release,
    locality_code, mult_proc and formula. The output keeps the input order."""
    prepared = _prepare(lines)
    empty = {name: pl.lit(None, dtype).alias(name) for name, dtype in OUTPUT_COLUMNS.items()}
    if prepared.height == 0:
        return lines.with_columns(**{k: v for k, v in empty.items() if k not in lines.columns})
    flags = _flags(prepared)
    keys, line_ids = _keys(con, flags, national=national)
    priced = _price_keys(con, keys, national=national, qp=qp, on_missing=on_missing).join(
        keys.select("key_id", "k_tc_id", "k_pc_id", "k_base_id"), on="key_id", how="left", maintain_order="left"
    )
    claim_lines = flags.drop("zip", "locality", "year", "service_date")
    years = priced["mpfs_year"].drop_nulls().unique().to_list()
    base_help = pl.DataFrame(
        {"year": years, "help": [missing_help("anes_base", int(y)) for y in years]},
        schema={"year": pl.Int32, "help": pl.String},
    )
    key_values = {
        "national": bool(national),
        "qp": bool(qp),
        "addons": list(ANESTHESIA_ADDONS),
        "no_time": list(NO_TIME_UNITS),
    }
    claim_keys = _query(con, "claim_keys.sql", key_values, _pc_keys=priced, _pc_base_help=base_help).sort("key_id")
    # priced is in key order (keys come sorted by key_id; price_lines and the join keep that order)
    shown = priced.select(pl.col(_SHOWN_KEY_COLUMNS).gather(line_ids))
    claim_lines = claim_lines.with_columns(line_ids)
    del prepared, flags, keys, priced  # what is no longer needed goes before the big steps
    steps = _claim_steps(con, claim_lines, claim_keys)
    del claim_lines, claim_keys
    out = _render(steps, shown)
    keep = [c for c in lines.columns if c not in out.columns]
    return pl.concat([lines.select(keep), out], how="horizontal")
