"""pandera model of the ``runs`` table (``pipelines/core/ddl/runs.sql``): one row per run.

The single statement in Python of the table's shape; ``tests/test_ddl_models.py`` checks it
against the table a fresh warehouse has.
"""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl

RUN_KINDS = ["ingest", "nightly", "monthly", "demo"]
RUN_STATUSES = ["running", "ok", "quarantined", "failed", "interrupted"]

N: dict[str, Any] = {"nullable": True}  # typed Any so mypy accepts pa.Field(**N)


class Runs(pa.DataFrameModel):
    """One row per ingest / nightly / monthly / demo run."""

    class Config:
        strict = True
        coerce = False

    run_id: pl.Int64 = pa.Field(unique=True)
    kind: pl.String = pa.Field(isin=RUN_KINDS)
    started_at: pl.Datetime
    ended_at: pl.Datetime = pa.Field(**N)
    status: pl.String = pa.Field(isin=RUN_STATUSES)
    files_seen: pl.Int32 = pa.Field(**N)
    files_loaded: pl.Int32 = pa.Field(**N)
    files_duplicate: pl.Int32 = pa.Field(**N)
    files_rejected: pl.Int32 = pa.Field(**N)
    months_touched: pl.List = pa.Field(dtype_kwargs={"inner": pl.String}, **N)  # 'YYYY-MM'
    message: pl.String = pa.Field(**N)
    host: pl.String = pa.Field(**N)
    pid: pl.Int32 = pa.Field(**N)
    redone_by: pl.Int64 = pa.Field(**N)  # the later run that redid an interrupted / failed one
