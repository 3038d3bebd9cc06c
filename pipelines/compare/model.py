"""The `variances` table as a pandera model: every column of pipelines/core/ddl/variances.sql with
its type and nullability (strict: no more, no fewer), and the rules every row obeys.

``Variances.validate(con.sql("SELECT * FROM variances").pl())`` checks a stored table; the
comparison SQL (pipelines/compare/sql/12_variances.sql) writes exactly these columns.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

from pipelines.core.money import MONEY_PRECISION, MONEY_SCALE, QTY_PRECISION, QTY_SCALE

# The categories, in the order the comparison decides them (first rule that holds wins; see
# pipelines/compare/sql/README.md), and the order reports list them in.
CATEGORIES = (
    "underpaid",
    "overpaid",
    "correct",
    "denied",
    "reversed",
    "secondary",
    "pending",
    "no_contract",
    "not_priced",
)
METHODS = (
    "rate",
    "rates_csv",
    "percent_of_medicare",
    "percent_of_asp",
    "percent_of_clfs",
    "percent_of_dmepos",
    "percent_of_opps",
    "percent_of_asc",
    "percent_of_charges",
)
SETTINGS = ("facility", "non-facility")


def _decimal(precision: int, scale: int, **kw):
    return pa.Field(dtype_kwargs={"precision": precision, "scale": scale}, **kw)


def _money(**kw):  # DECIMAL(14,2)
    return _decimal(MONEY_PRECISION, MONEY_SCALE, nullable=True, **kw)


def _percent(**kw):  # DECIMAL(9,3): contract, reduction and tolerance percents
    return _decimal(9, 3, nullable=True, **kw)


def _list(**kw):  # VARCHAR[]
    return pa.Field(dtype_kwargs={"inner": pl.String}, nullable=True, **kw)


class Variances(pa.DataFrameModel):
    """One row per compared service line (DDL: pipelines/core/ddl/variances.sql, same order)."""

    line_id: pl.Int64 = pa.Field(unique=True)
    claim_id: pl.Int64
    payment_id: pl.Int64 = pa.Field(nullable=True)
    file_id: pl.Int64 = pa.Field(nullable=True)
    payer_id: pl.String = pa.Field(nullable=True)
    payer_name: pl.String = pa.Field(nullable=True)
    contract: pl.String = pa.Field(nullable=True)
    contract_file: pl.String = pa.Field(nullable=True)
    contract_effective: pl.Date = pa.Field(nullable=True)
    term: pl.String = pa.Field(nullable=True)
    method: pl.String = pa.Field(isin=METHODS, nullable=True)
    patient_control_number: pl.String = pa.Field(nullable=True)
    payer_claim_number: pl.String = pa.Field(nullable=True)
    line_control_number: pl.String = pa.Field(nullable=True)
    claim_status: pl.String = pa.Field(nullable=True)
    place_of_service: pl.String = pa.Field(nullable=True)
    facility: pl.Boolean = pa.Field(nullable=True)
    service_date: pl.Date = pa.Field(nullable=True)
    payment_date: pl.Date = pa.Field(nullable=True)
    payment_month: pl.Date = pa.Field(nullable=True)
    procedure_code: pl.String = pa.Field(nullable=True)
    modifiers: pl.List = _list()
    units: pe.Decimal = _decimal(QTY_PRECISION, QTY_SCALE, nullable=True)
    billed: pe.Decimal = _money()
    expected_allowed: pe.Decimal = _money(ge=0)
    actual_allowed: pe.Decimal = _money()
    paid: pe.Decimal = _money()
    patient_responsibility: pe.Decimal = _money()
    variance: pe.Decimal = _money()
    medicare_allowed: pe.Decimal = _money()
    percent_of_medicare: pe.Decimal = _decimal(18, 2, nullable=True)  # room for any allowed / Medicare ratio
    category: pl.String = pa.Field(isin=CATEGORIES)
    explanation: pl.String = pa.Field(str_length={"min_value": 10})
    medicare_unit_amount: pe.Decimal = _money()
    medicare_year: pl.Int32 = pa.Field(nullable=True)
    medicare_locality: pl.String = pa.Field(nullable=True)
    work_rvu: pe.Decimal = _decimal(9, 2, nullable=True)
    pe_rvu: pe.Decimal = _decimal(9, 2, nullable=True)
    mp_rvu: pe.Decimal = _decimal(9, 2, nullable=True)
    work_gpci: pe.Decimal = _decimal(9, 3, nullable=True)
    pe_gpci: pe.Decimal = _decimal(9, 3, nullable=True)
    mp_gpci: pe.Decimal = _decimal(9, 3, nullable=True)
    conversion_factor: pe.Decimal = _decimal(9, 4, nullable=True)
    contract_percent: pe.Decimal = _percent()
    step_base: pe.Decimal = _money()
    step_percent: pe.Decimal = _money()
    step_modifier: pe.Decimal = _money()
    step_units: pe.Decimal = _money()
    step_lesser_of: pe.Decimal = _money()
    reduction_percent: pe.Decimal = _percent()
    reduction_reason: pl.String = pa.Field(nullable=True)
    mppr_rank: pl.Int32 = pa.Field(ge=1, nullable=True)
    not_priced_reason: pl.String = pa.Field(nullable=True)
    carc_codes: pl.List = _list()
    rarc_codes: pl.List = _list()
    recoded: pl.Boolean = pa.Field(nullable=True)
    pending: pl.Boolean = pa.Field(nullable=True)
    computed_at: pl.Datetime = pa.Field(nullable=True)
    medicare_release: pl.String = pa.Field(nullable=True)
    medicare_setting: pl.String = pa.Field(isin=SETTINGS, nullable=True)
    opps_capped: pl.Boolean = pa.Field(nullable=True)
    term_index: pl.Int32 = pa.Field(nullable=True)
    term_line: pl.Int32 = pa.Field(nullable=True)
    rate_row: pl.Int32 = pa.Field(nullable=True)
    tolerance_amount: pe.Decimal = _money()
    tolerance_percent: pe.Decimal = _percent()
    reversal_pair_claim_id: pl.Int64 = pa.Field(nullable=True)
    medicare_schedule: pl.String = pa.Field(
        isin=["mpfs", "clfs", "asp", "dmepos", "dmepos_pen", "opps", "asc_aa", "asc_bb"], nullable=True
    )

    class Config:
        strict = True  # exactly the table's columns
        coerce = False  # the SQL casts; a type mismatch here is a bug in the comparison

    @pa.dataframe_check()
    def variance_is_expected_minus_actual(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("variance").is_null() | (pl.col("variance") == pl.col("expected_allowed") - pl.col("actual_allowed"))
        )

    @pa.dataframe_check()
    def flagged_lines_have_a_signed_variance(cls, data) -> pl.LazyFrame:
        c, v = pl.col("category"), pl.col("variance")
        return data.lazyframe.select(
            ((c == "underpaid") & (v > 0)) | ((c == "overpaid") & (v < 0)) | ~c.is_in(["underpaid", "overpaid"])
        )

    @pa.dataframe_check()
    def compared_lines_have_an_expected_amount(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            ~pl.col("category").is_in(["underpaid", "overpaid", "correct"])
            | (pl.col("expected_allowed") == pl.col("step_lesser_of"))
        )


VarianceRows = Variances  # the name the tests and older callers use
