"""The market tables (pipelines/core/ddl/market.sql) as pandera models: every column with its type and
nullability (strict), and the values each may take. tests/test_ddl_models.py checks them against the DDL;
``pipelines.market.load`` validates the rows of each import with them before its COMMIT."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

NEGOTIATED_TYPES = ("negotiated", "fee schedule", "percentage", "per diem", "derived")
BILLING_CLASSES = ("professional", "institutional", "both")
RATE_PRECISION, RATE_SCALE = 18, 4  # negotiated_rate: dollars or a percentage, as the file gives it
DOLLARS_PRECISION, DOLLARS_SCALE = 18, 2  # rate_in_dollars
N = {"nullable": True}


class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False


class MarketFiles(_Base):
    """One row per imported in-network file (its manifest)."""

    source_sha256: pl.String = pa.Field(unique=True, str_matches=r"^[0-9a-f]{64}$")
    file_name: pl.String
    bytes: pl.Int64 = pa.Field(ge=0)
    schema_version: pl.String = pa.Field(**N)
    reporting_entity: pl.String = pa.Field(**N)
    last_updated_on: pl.Date = pa.Field(**N)
    rates: pl.Int64 = pa.Field(ge=0)
    items_read: pl.Int64 = pa.Field(ge=0)
    missing_references: pl.List(pl.String) = pa.Field(**N)
    imported_at: pl.Datetime
    seconds: pl.Float64 = pa.Field(ge=0)


class MarketRates(_Base):
    """One row per negotiated price kept x the TIN of the provider groups it applies to."""

    source_sha256: pl.String = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    reporting_entity: pl.String = pa.Field(**N)
    plan_name: pl.String = pa.Field(**N)
    plan_id: pl.String = pa.Field(**N)
    last_updated_on: pl.Date = pa.Field(**N)
    billing_code_type: pl.String
    billing_code: pl.String
    modifier: pl.String
    negotiated_type: pl.String = pa.Field(isin=list(NEGOTIATED_TYPES))
    negotiated_rate: pe.Decimal = pa.Field(dtype_kwargs={"precision": RATE_PRECISION, "scale": RATE_SCALE})
    rate_in_dollars: pe.Decimal = pa.Field(dtype_kwargs={"precision": DOLLARS_PRECISION, "scale": DOLLARS_SCALE}, **N)
    dollars_basis: pl.String = pa.Field(**N)
    billing_class: pl.String = pa.Field(isin=list(BILLING_CLASSES))
    setting: pl.String = pa.Field(**N)
    service_codes: pl.List(pl.String) = pa.Field(**N)
    expiration_date: pl.Date = pa.Field(**N)
    npi_count: pl.Int32 = pa.Field(ge=0)
    tin: pl.String = pa.Field(**N)

    @pa.dataframe_check
    def dollars_or_why_not(cls, data) -> pl.LazyFrame:
        """A price in dollars has them; a percentage without dollars says why (dollars_basis)."""
        percentage = pl.col("negotiated_type") == "percentage"
        return data.lazyframe.select(
            pl.when(percentage)
            .then(pl.col("rate_in_dollars").is_not_null() | pl.col("dollars_basis").is_not_null())
            .otherwise(pl.col("rate_in_dollars").is_not_null())
        )
