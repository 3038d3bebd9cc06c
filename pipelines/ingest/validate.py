"""pandera DataFrameModels for every ingest table, and the three 835 balancing rules.

Each model is the single statement of its table's shape (column names, types, nullability,
code sets); ``pipelines/core/ddl/ingest.sql`` holds the same columns for DuckDB, and
``tests/test_ddl_models.py`` checks that the two agree and that the 835 mapping
(:mod:`pipelines.ingest.mapping`) fills exactly these columns, apart from the ids the loader adds.
``conform`` casts a frame to its model's columns, ``validate_tables`` runs every model
lazily and turns each failed row into a ``validation_issues`` row (the file still loads:
payers do send such files). Type or required-column failures are loader bugs and raise.

Balancing rules (dataframe-level checks, amounts exact as DECIMAL):
- transaction: BPR02 = sum(CLP04) - sum(PLB amounts)
- claim: CLP03 - CLP04 = sum of the claim's CAS amounts, claim and line level
  (only where the claim has service lines or claim-level CAS)
- line: SVC02 - SVC03 = sum of that line's CAS amounts
"""

from __future__ import annotations

import functools
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe
from pandera.errors import SchemaErrors

from pipelines.core.money import (
    LINE_AMOUNT_CEILING,
    MONEY,
    MONEY_PRECISION,
    MONEY_SCALE,
    QTY_PRECISION,
    QTY_SCALE,
    RATE_PRECISION,
    RATE_SCALE,
)
from pipelines.ingest.mapping import shown_expr

GROUP_CODES = ["CO", "PR", "OA", "PI", "CR"]
CLAIM_STATUS_CODES = ["1", "2", "3", "4", "5", "10", "13", "15", "16", "17", "19", "20", "21", "22", "23", "25", "27"]
PROCEDURE_QUALIFIERS = ["HC", "AD", "ER", "IV", "N4", "NU", "HP", "WK", "ZZ", "N6", "NH"]
CREDIT_DEBIT = ["C", "D"]
PAYMENT_METHODS = ["ACH", "CHK", "BOP", "FWT", "NON"]
FILE_STATUSES = ["loaded", "duplicate", "rejected"]


def _money(**kw):
    return pa.Field(dtype_kwargs={"precision": MONEY_PRECISION, "scale": MONEY_SCALE}, **kw)


# A sum of amounts (the balancing checks): as wide as a decimal goes, so that adding up amounts near
# the column's limit (999999999999.99) is reported as unbalanced rather than overflowing.
SUM_PRECISION = 38
SUM = pl.Decimal(SUM_PRECISION, MONEY_SCALE)


def _sum(**kw):
    return pa.Field(dtype_kwargs={"precision": SUM_PRECISION, "scale": MONEY_SCALE}, **kw)


def _qty(**kw):
    return pa.Field(dtype_kwargs={"precision": QTY_PRECISION, "scale": QTY_SCALE}, **kw)


def _rate(**kw):
    return pa.Field(dtype_kwargs={"precision": RATE_PRECISION, "scale": RATE_SCALE}, **kw)


def _list(**kw):
    return pa.Field(dtype_kwargs={"inner": pl.String}, nullable=True, **kw)


N: dict[str, Any] = {"nullable": True}  # typed Any so mypy accepts pa.Field(**N)


class _Base(pa.DataFrameModel):
    class Config:
        strict = True  # exactly the table's columns
        coerce = False  # conform() casts; a type mismatch here is a loader bug


class EraFiles(_Base):
    file_id: pl.Int64
    path: pl.String
    file_name: pl.String = pa.Field(**N)
    sha256: pl.String = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    size_bytes: pl.Int64 = pa.Field(**N)
    loaded_at: pl.Datetime
    status: pl.String = pa.Field(isin=FILE_STATUSES)
    reason: pl.String = pa.Field(**N)
    error_segment: pl.Int64 = pa.Field(**N)
    duplicate_of: pl.Int64 = pa.Field(**N)
    x12_version: pl.String = pa.Field(**N)
    interchanges: pl.Int32 = pa.Field(**N)
    transactions: pl.Int32 = pa.Field(**N)
    claims: pl.Int32 = pa.Field(**N)
    service_lines: pl.Int32 = pa.Field(**N)
    total_paid: pe.Decimal = _money(nullable=True)
    tolerated: pl.List = _list()
    run_id: pl.Int64 = pa.Field(**N)


class Payments(_Base):
    payment_id: pl.Int64 = pa.Field(unique=True)
    file_id: pl.Int64
    transaction_index: pl.Int32
    segment_number: pl.Int64
    interchange_control: pl.String = pa.Field(**N)
    group_control: pl.String = pa.Field(**N)
    transaction_control: pl.String = pa.Field(**N)
    x12_version: pl.String = pa.Field(**N)
    handling_code: pl.String = pa.Field(**N)
    total_paid: pe.Decimal = _money()
    credit_debit: pl.String = pa.Field(isin=CREDIT_DEBIT, nullable=True)
    payment_method: pl.String = pa.Field(isin=PAYMENT_METHODS, nullable=True)
    payment_format: pl.String = pa.Field(**N)
    payment_date: pl.Date = pa.Field(**N)
    trace_type: pl.String = pa.Field(**N)
    trace_number: pl.String = pa.Field(**N)
    originating_company_id: pl.String = pa.Field(**N)
    originating_company_supplemental: pl.String = pa.Field(**N)
    production_date: pl.Date = pa.Field(**N)
    receiver_id: pl.String = pa.Field(**N)
    payer_id: pl.String = pa.Field(**N)
    payer_id_qualifier: pl.String = pa.Field(**N)
    payer_n1_id: pl.String = pa.Field(**N)
    payer_ref_2u: pl.String = pa.Field(**N)
    payer_name: pl.String = pa.Field(**N)
    payer_address: pl.String = pa.Field(**N)
    payer_city: pl.String = pa.Field(**N)
    payer_state: pl.String = pa.Field(**N)
    payer_zip: pl.String = pa.Field(**N)
    payee_name: pl.String = pa.Field(**N)
    payee_id_qualifier: pl.String = pa.Field(**N)
    payee_id: pl.String = pa.Field(**N)
    payee_npi: pl.String = pa.Field(**N)
    payee_tin: pl.String = pa.Field(**N)
    payee_address: pl.String = pa.Field(**N)
    payee_city: pl.String = pa.Field(**N)
    payee_state: pl.String = pa.Field(**N)
    payee_zip: pl.String = pa.Field(**N)
    resent_of_payment_id: pl.Int64 = pa.Field(**N)
    payer_nm1_name: pl.String = pa.Field(**N)
    payer_nm1_id_qualifier: pl.String = pa.Field(**N)
    payer_nm1_id: pl.String = pa.Field(**N)
    payee_nm1_name: pl.String = pa.Field(**N)
    payee_nm1_id_qualifier: pl.String = pa.Field(**N)
    payee_nm1_id: pl.String = pa.Field(**N)


class Claims(_Base):
    claim_id: pl.Int64 = pa.Field(unique=True)
    payment_id: pl.Int64
    file_id: pl.Int64
    segment_number: pl.Int64
    lx_number: pl.String = pa.Field(**N)
    patient_control_number: pl.String = pa.Field(**N)
    status_code: pl.String = pa.Field(isin=CLAIM_STATUS_CODES, nullable=True)
    charge: pe.Decimal = _money(nullable=True)
    paid: pe.Decimal = _money(nullable=True)
    patient_responsibility: pe.Decimal = _money(nullable=True)
    filing_indicator: pl.String = pa.Field(**N)
    payer_claim_number: pl.String = pa.Field(**N)
    place_of_service: pl.String = pa.Field(**N)
    frequency_code: pl.String = pa.Field(**N)
    patient_status: pl.String = pa.Field(**N)
    drg_code: pl.String = pa.Field(**N)
    drg_weight: pe.Decimal = _rate(nullable=True)
    discharge_fraction: pe.Decimal = _rate(nullable=True)
    yes_no_condition: pl.String = pa.Field(**N)
    patient_last_name: pl.String = pa.Field(**N)
    patient_first_name: pl.String = pa.Field(**N)
    patient_middle_name: pl.String = pa.Field(**N)
    patient_id_qualifier: pl.String = pa.Field(**N)
    patient_member_id: pl.String = pa.Field(**N)
    insured_last_name: pl.String = pa.Field(**N)
    insured_first_name: pl.String = pa.Field(**N)
    insured_member_id: pl.String = pa.Field(**N)
    corrected_last_name: pl.String = pa.Field(**N)
    corrected_first_name: pl.String = pa.Field(**N)
    corrected_member_id: pl.String = pa.Field(**N)
    rendering_provider_name: pl.String = pa.Field(**N)
    rendering_provider_id: pl.String = pa.Field(**N)
    rendering_provider_qualifier: pl.String = pa.Field(**N)
    crossover_carrier_name: pl.String = pa.Field(**N)
    crossover_carrier_id: pl.String = pa.Field(**N)
    mia_remarks: pl.List = _list()
    moa_remarks: pl.List = _list()
    moa_reimbursement_rate: pe.Decimal = _rate(nullable=True)
    moa_payable_amount: pe.Decimal = _money(nullable=True)
    statement_from: pl.Date = pa.Field(**N)
    statement_to: pl.Date = pa.Field(**N)
    received_date: pl.Date = pa.Field(**N)
    coverage_amount: pe.Decimal = _money(nullable=True)
    interest_amount: pe.Decimal = _money(nullable=True)
    other_amounts: pl.List = _list()
    quantities: pl.List = _list()
    refs: pl.List = _list()
    original_reference: pl.String = pa.Field(**N)
    reverses_claim_id: pl.Int64 = pa.Field(**N)
    reversed_by_claim_id: pl.Int64 = pa.Field(**N)


class ServiceLines(_Base):
    line_id: pl.Int64 = pa.Field(unique=True)
    claim_id: pl.Int64
    payment_id: pl.Int64
    file_id: pl.Int64
    segment_number: pl.Int64
    line_number: pl.Int32 = pa.Field(ge=1)
    qualifier: pl.String = pa.Field(isin=PROCEDURE_QUALIFIERS, nullable=True)
    procedure_code: pl.String = pa.Field(**N)
    modifiers: pl.List = _list()
    modifier_1: pl.String = pa.Field(**N)
    modifier_2: pl.String = pa.Field(**N)
    modifier_3: pl.String = pa.Field(**N)
    modifier_4: pl.String = pa.Field(**N)
    description: pl.String = pa.Field(**N)
    charge: pe.Decimal = _money(nullable=True)
    paid: pe.Decimal = _money(nullable=True)
    revenue_code: pl.String = pa.Field(**N)
    units: pe.Decimal = _qty()
    original_composite: pl.String = pa.Field(**N)
    original_qualifier: pl.String = pa.Field(**N)
    original_procedure_code: pl.String = pa.Field(**N)
    original_modifiers: pl.List = _list()
    original_units: pe.Decimal = _qty(nullable=True)
    service_date: pl.Date = pa.Field(**N)
    service_date_end: pl.Date = pa.Field(**N)
    service_date_source: pl.String = pa.Field(isin=["472", "150", "claim"], nullable=True)
    allowed: pe.Decimal = _money(nullable=True)
    line_control_number: pl.String = pa.Field(**N)
    refs: pl.List = _list()
    other_amounts: pl.List = _list()
    remark_codes: pl.List = _list()
    ncpdp_reject_codes: pl.List = _list()


class Adjustments(_Base):
    file_id: pl.Int64
    payment_id: pl.Int64
    claim_id: pl.Int64
    line_id: pl.Int64 = pa.Field(**N)
    segment_number: pl.Int64
    triplet_index: pl.Int32 = pa.Field(in_range={"min_value": 1, "max_value": 6})
    group_code: pl.String = pa.Field(isin=GROUP_CODES)
    reason_code: pl.String
    amount: pe.Decimal = _money()
    quantity: pe.Decimal = _qty(nullable=True)


class ProviderAdjustments(_Base):
    file_id: pl.Int64
    payment_id: pl.Int64
    segment_number: pl.Int64
    pair_index: pl.Int32 = pa.Field(in_range={"min_value": 1, "max_value": 6})
    provider_id: pl.String = pa.Field(**N)
    fiscal_period_date: pl.Date = pa.Field(**N)
    reason_code: pl.String
    reference_id: pl.String = pa.Field(**N)
    amount: pe.Decimal = _money()


class ValidationIssues(_Base):
    file_id: pl.Int64
    payment_id: pl.Int64 = pa.Field(**N)
    claim_id: pl.Int64 = pa.Field(**N)
    line_id: pl.Int64 = pa.Field(**N)
    segment_number: pl.Int64 = pa.Field(**N)
    rule: pl.String
    severity: pl.String = pa.Field(isin=["error", "warning"])
    expected: pl.String = pa.Field(**N)
    actual: pl.String = pa.Field(**N)
    message: pl.String = pa.Field(**N)


# ----------------------------------------------------------------------------- balancing models

TRANSACTION_BALANCED = pl.col("total_paid") == (pl.col("claims_paid") - pl.col("plb_total"))
CLAIM_BALANCED = (~pl.col("has_adjustable")) | ((pl.col("charge") - pl.col("paid")) == pl.col("cas_total"))
LINE_BALANCED = (pl.col("charge") - pl.col("paid")) == pl.col("cas_total")


class TransactionBalance(pa.DataFrameModel):
    """One row per transaction: BPR02 against its claims and PLB."""

    payment_id: pl.Int64
    segment_number: pl.Int64
    total_paid: pe.Decimal = _money()
    claims_paid: pe.Decimal = _sum()
    plb_total: pe.Decimal = _sum()

    @pa.dataframe_check(name="balance_transaction", error="BPR02 = sum(CLP04) - sum(PLB amounts)")
    def balanced(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(TRANSACTION_BALANCED)


class ClaimBalance(pa.DataFrameModel):
    """One row per claim: CLP03 - CLP04 against every CAS of the claim."""

    claim_id: pl.Int64
    payment_id: pl.Int64
    segment_number: pl.Int64
    charge: pe.Decimal = _money()
    paid: pe.Decimal = _money()
    cas_total: pe.Decimal = _sum()
    has_adjustable: pl.Boolean

    @pa.dataframe_check(name="balance_claim", error="CLP03 - CLP04 = sum of the claim's CAS amounts")
    def balanced(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(CLAIM_BALANCED)


class LineBalance(pa.DataFrameModel):
    """One row per service line: SVC02 - SVC03 against the line's CAS."""

    line_id: pl.Int64
    claim_id: pl.Int64
    payment_id: pl.Int64
    segment_number: pl.Int64
    charge: pe.Decimal = _money()
    paid: pe.Decimal = _money()
    cas_total: pe.Decimal = _sum()

    @pa.dataframe_check(name="balance_line", error="SVC02 - SVC03 = sum of the line's CAS amounts")
    def balanced(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(LINE_BALANCED)


TABLE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "era_files": EraFiles,
    "payments": Payments,
    "claims": Claims,
    "service_lines": ServiceLines,
    "adjustments": Adjustments,
    "provider_adjustments": ProviderAdjustments,
    "validation_issues": ValidationIssues,
}


# ----------------------------------------------------------------------------- helpers


def polars_schema(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """The model's columns as a polars schema (in declaration order)."""
    return {name: col.dtype.type for name, col in model.to_schema().columns.items()}


def conform(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """The model's columns in order: missing ones null, types cast, empty lists null, extras dropped."""
    schema = polars_schema(model)
    exprs = []
    for name, dtype in schema.items():
        if name in frame.columns:
            e = pl.col(name)
            if frame.schema[name] != dtype:
                e = e.cast(dtype)
            if isinstance(dtype, pl.List):
                e = pl.when(e.list.len() > 0).then(e)
            exprs.append(e.alias(name))
        else:
            exprs.append(pl.lit(None, dtype).alias(name))
    return frame.select(exprs) if frame.height or frame.width else pl.DataFrame(schema=schema)


_KEYS = ("payment_id", "claim_id", "line_id", "segment_number")
_BALANCE_COLUMNS = ("charge", "paid", "total_paid", "amount", "allowed")  # summed, or compared to a ceiling


def checked_columns(model: type[pa.DataFrameModel]) -> list[str]:
    """Columns a model says something about beyond their type (checks, not-null, unique), plus the
    keys that locate a row and the amounts the balancing rules add up."""
    cols = model.to_schema().columns
    return [n for n, c in cols.items() if c.checks or not c.nullable or c.unique or n in _KEYS or n in _BALANCE_COLUMNS]


def narrow(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The columns ``validate_tables`` needs of each table frame (shares their buffers), so the
    wide frames can be freed as soon as they are loaded."""
    return {
        t: f.select([c for c in checked_columns(TABLE_MODELS[t]) if c in f.columns])
        for t, f in frames.items()
        if t in TABLE_MODELS
    }


@functools.lru_cache(maxsize=64)
def _schema_of(model: type[pa.DataFrameModel], columns: tuple[str, ...]) -> pa.DataFrameSchema:
    """The model's schema narrowed to ``columns`` (pandera deep-copies a schema to narrow it: ~8 ms,
    paid once per table rather than once per slice)."""
    schema = model.to_schema()
    if set(columns) != set(schema.columns):
        schema = schema.select_columns([c for c in schema.columns if c in columns])
    return schema


def _failure_issues(frame: pl.DataFrame, model, table: str, file_id: int) -> list[pl.DataFrame]:
    """Value checks of one table model: each failed row becomes a warning issue row.

    ``frame`` may hold only some of the model's columns (see ``narrow``); those are checked.
    """
    schema = _schema_of(model, tuple(frame.columns))
    try:
        schema.validate(frame, lazy=True)
        return []
    except SchemaErrors as exc:
        fc = exc.failure_cases
    structural = fc.filter(pl.col("index").is_null() & ~pl.col("check").str.starts_with("isin"))
    if structural.height:
        raise RuntimeError(f"{table} frame does not match its model: {structural.head(5)}")
    fc = fc.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64))
    keys = [c for c in ("payment_id", "claim_id", "line_id", "segment_number") if c in frame.columns]
    located = frame.select(keys).with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    out = fc.join(located, on="index", how="left").select(
        pl.lit(file_id, pl.Int64).alias("file_id"),
        *[
            (pl.col(k) if k in keys else pl.lit(None, pl.Int64)).alias(k)
            for k in ("payment_id", "claim_id", "line_id", "segment_number")
        ],
        pl.concat_str(
            pl.lit(f"{table}."),
            pl.col("column").fill_null(""),
            pl.lit(":"),
            pl.col("check").cast(pl.String).str.replace(r"\(.*", ""),
        ).alias("rule"),
        pl.lit("warning").alias("severity"),
        pl.col("check").cast(pl.String).alias("expected"),
        # a value outside a code set is shown by its length and kind only: a misaligned segment
        # can put a patient's name where a code belongs
        pl.when(pl.col("check").cast(pl.String).str.starts_with("isin"))
        .then(shown_expr(pl.col("failure_case").cast(pl.String)))
        .otherwise(pl.col("failure_case").cast(pl.String))
        .alias("actual"),
        pl.concat_str(
            pl.lit("value outside the expected code set or range in "), pl.col("column").fill_null(table)
        ).alias("message"),
    )
    return [out]


def _balance_failures(frame, model, rule, expected, actual, file_id, keys, message) -> pl.DataFrame | None:
    try:
        model.validate(frame, lazy=True)
        return None
    except SchemaErrors as exc:
        fc = exc.failure_cases
    idx = fc.filter(pl.col("index").is_not_null())["index"].cast(pl.Int64).unique()
    bad = (
        frame.with_row_index("index")
        .with_columns(pl.col("index").cast(pl.Int64))
        .filter(pl.col("index").is_in(idx.implode()))
    )
    return bad.select(
        pl.lit(file_id, pl.Int64).alias("file_id"),
        *[(pl.col(k) if k in keys else pl.lit(None, pl.Int64)).alias(k) for k in ("payment_id", "claim_id", "line_id")],
        pl.col("segment_number"),
        pl.lit(rule).alias("rule"),
        pl.lit("error").alias("severity"),
        expected.cast(pl.String).alias("expected"),
        actual.cast(pl.String).alias("actual"),
        pl.lit(message).alias("message"),
    )


def balance_frames(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The three balancing frames (one row per transaction / claim / line) from table frames.

    Built as lazy queries (each reads only the columns it needs) and collected together."""
    pay, cl, sl = frames["payments"].lazy(), frames["claims"].lazy(), frames["service_lines"].lazy()
    adj, plb = frames["adjustments"].lazy(), frames["provider_adjustments"].lazy()
    zero, no_sum = pl.lit(0, MONEY), pl.lit(0, SUM)
    srt = lambda df, *keys: df.sort(*keys).with_columns([pl.col(k).set_sorted() for k in keys])  # noqa: E731
    claims_paid = srt(cl.group_by("payment_id").agg(pl.col("paid").sum().alias("claims_paid")), "payment_id")
    plb_total = srt(plb.group_by("payment_id").agg(pl.col("amount").sum().alias("plb_total")), "payment_id")
    tx = (
        srt(pay.select("payment_id", "segment_number", "total_paid"), "payment_id")
        .join(claims_paid, on="payment_id", how="left", maintain_order="left")
        .join(plb_total, on="payment_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("claims_paid").cast(SUM).fill_null(no_sum),
            pl.col("plb_total").cast(SUM).fill_null(no_sum),
            pl.col("total_paid").fill_null(zero),
        )
    )
    cas_claim = srt(
        adj.group_by("claim_id").agg(
            pl.col("amount").sum().cast(SUM).alias("cas_total"), pl.col("line_id").is_null().any().alias("_claim_cas")
        ),
        "claim_id",
    )
    line_count = srt(sl.group_by("claim_id").agg(pl.len().alias("_lines")), "claim_id")
    cb = (
        srt(cl.select("claim_id", "payment_id", "segment_number", "charge", "paid"), "claim_id")
        .join(cas_claim, on="claim_id", how="left", maintain_order="left")
        .join(line_count, on="claim_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("charge").fill_null(zero),
            pl.col("paid").fill_null(zero),
            pl.col("cas_total").fill_null(no_sum),
            ((pl.col("_lines").fill_null(0) > 0) | pl.col("_claim_cas").fill_null(False)).alias("has_adjustable"),
        )
        .drop("_lines", "_claim_cas")
    )
    cas_line = srt(
        adj.filter(pl.col("line_id").is_not_null())
        .group_by("line_id")
        .agg(pl.col("amount").sum().cast(SUM).alias("cas_total")),
        "line_id",
    )
    lb = (
        srt(sl.select("line_id", "claim_id", "payment_id", "segment_number", "charge", "paid"), "line_id")
        .join(cas_line, on="line_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("charge").fill_null(zero), pl.col("paid").fill_null(zero), pl.col("cas_total").fill_null(no_sum)
        )
    )
    tx, cb, lb = pl.collect_all([tx, cb, lb])
    return {"transaction": tx, "claim": cb, "line": lb}


def balancing_issues(frames: dict[str, pl.DataFrame], file_id: int) -> pl.DataFrame:
    """validation_issues rows for every transaction, claim and line that does not balance."""
    b = balance_frames(frames)
    parts = [
        _balance_failures(
            b["transaction"],
            TransactionBalance,
            "balance_transaction",
            pl.col("claims_paid") - pl.col("plb_total"),
            pl.col("total_paid"),
            file_id,
            ("payment_id",),
            "BPR02 total payment differs from sum(CLP04) - sum(PLB)",
        ),
        _balance_failures(
            b["claim"],
            ClaimBalance,
            "balance_claim",
            pl.col("charge") - pl.col("paid"),
            pl.col("cas_total"),
            file_id,
            ("payment_id", "claim_id"),
            "CLP03 - CLP04 differs from the sum of the claim's CAS",
        ),
        _balance_failures(
            b["line"],
            LineBalance,
            "balance_line",
            pl.col("charge") - pl.col("paid"),
            pl.col("cas_total"),
            file_id,
            ("payment_id", "claim_id", "line_id"),
            "SVC02 - SVC03 differs from the sum of the line's CAS",
        ),
    ]
    found = [p for p in parts if p is not None and p.height]
    if not found:
        return conform(pl.DataFrame(), ValidationIssues)
    return conform(pl.concat(found, how="vertical_relaxed"), ValidationIssues)


# A claim's charge or payment at or above this is not believed either: ten times a line's ceiling
# (an inpatient claim of many lines may legitimately pass the line ceiling, not this one).
CLAIM_AMOUNT_CEILING = LINE_AMOUNT_CEILING * 10
IMPLAUSIBLE_AMOUNT = "implausible_amount"  # the validation_issues rule
# (table, column, element named in the message, ceiling, key columns of the issue)
_CEILINGS = (
    ("service_lines", "charge", "SVC02 line charge", LINE_AMOUNT_CEILING, ("payment_id", "claim_id", "line_id")),
    ("service_lines", "paid", "SVC03 line payment", LINE_AMOUNT_CEILING, ("payment_id", "claim_id", "line_id")),
    ("service_lines", "allowed", "AMT*B6 allowed amount", LINE_AMOUNT_CEILING, ("payment_id", "claim_id", "line_id")),
    ("claims", "charge", "CLP03 claim charge", CLAIM_AMOUNT_CEILING, ("payment_id", "claim_id")),
    ("claims", "paid", "CLP04 claim payment", CLAIM_AMOUNT_CEILING, ("payment_id", "claim_id")),
)


def implausible_issues(frames: dict[str, pl.DataFrame], file_id: int) -> pl.DataFrame | None:
    """An ``implausible_amount`` issue per amount at or above its ceiling, either sign (a $10M
    allowed on an office visit is a typo, not a price): the comparison leaves such a line unpriced.
    One column comparison per amount over the whole frame."""
    found = []
    for table, column, element, ceiling, keys in _CEILINGS:
        frame = frames.get(table)
        if frame is None or column not in frame.columns:
            continue
        limit = pl.lit(ceiling, MONEY)
        bad = frame.filter((pl.col(column) >= limit) | (pl.col(column) <= -limit))
        if bad.height == 0:
            continue
        found.append(
            bad.select(
                pl.lit(file_id, pl.Int64).alias("file_id"),
                *[(pl.col(k) if k in keys else pl.lit(None, pl.Int64)).alias(k) for k in _KEYS[:3]],
                pl.col("segment_number"),
                pl.lit(IMPLAUSIBLE_AMOUNT).alias("rule"),
                pl.lit("error").alias("severity"),
                pl.lit(f"less than {ceiling} either way").alias("expected"),
                pl.col(column).cast(pl.String).alias("actual"),
                pl.lit(
                    f"{element} ({column}) is {ceiling} or more: not believed (a typo?), so not priced; "
                    "check the amount with the payer"
                ).alias("message"),
            )
        )
    return conform(pl.concat(found), ValidationIssues) if found else None


def validate_tables(frames: dict[str, pl.DataFrame], file_id: int) -> pl.DataFrame:
    """Run every table model on ``frames`` (already conformed) plus the balancing checks.

    Returns the validation_issues rows found (code sets, ranges, balancing). Raises
    RuntimeError when a frame's columns or types do not match its model (a loader bug).
    """
    found = [balancing_issues(frames, file_id)]
    implausible = implausible_issues(frames, file_id)
    if implausible is not None:
        found.append(implausible)
    for table in ("payments", "claims", "service_lines", "adjustments", "provider_adjustments"):
        for issues in _failure_issues(frames[table], TABLE_MODELS[table], table, file_id):
            found.append(conform(issues, ValidationIssues))
    return pl.concat(found, how="vertical_relaxed")
