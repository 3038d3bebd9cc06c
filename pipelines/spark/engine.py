"""The comparison on Spark: the same chain of SQL files, transpiled, over the Parquet lake.

``compare_lake(spark, root, ...)`` is the engine proper; it needs only the lake (pipelines.lake:
``underpay export parquet DIR`` wrote it) and a Spark session:

1. every lake table becomes a temporary view under its warehouse name (payments, claims,
   service_lines, adjustments, the ct_* contract frames, cmp_roster);
2. each step of :data:`pipelines.compare.compare.CHAIN` runs as Spark SQL made from its DuckDB
   file by :func:`pipelines.spark.dialect.to_spark`, with the same parameter values
   (:func:`pipelines.compare.compare.chain_values`) bound as named markers; each step's result
   is materialized (a local checkpoint, memory then disk) and registered under the temp table
   name the next steps read;
3. before step 09 the Medicare pricing runs exactly as on DuckDB: the distinct pricing keys
   (cmp_price_rows) and the claim-level lines (cmp_claim_lines) are collected to the driver and
   priced by fee_schedules (``_price`` / ``_price_claims`` of pipelines.compare.compare) over an
   in-memory DuckDB holding the lake's fee-schedule tables; the prices go back as two views;
4. step 12's rows are written to ``DIR/variances`` partitioned by payment month (each month folder
   replaced whole: dynamic partition overwrite; a run over every month replaces the folder).

``compare_spark(con, root, contracts_dir, ...)`` is what ``underpay compare --engine spark`` runs:
export the lake from the warehouse (only changed months are rewritten), run the engine, load the
variances back (pipelines.lake.variances.load_variances), so the reports read them as usual.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from contracts.model import load_contracts
from pipelines.compare.compare import CHAIN, CompareResult, _price, _price_claims, _sql, chain_values
from pipelines.core.config import Settings
from pipelines.core.errors import LakeError, UnderpayError
from pipelines.core.months import Month
from pipelines.core.outputs import owner_only
from pipelines.lake import layout
from pipelines.lake.export import export_lake, read_manifest
from pipelines.lake.variances import load_variances
from pipelines.spark.dialect import to_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkRun", "compare_lake", "compare_spark", "reference_connection"]


@dataclass
class SparkRun:
    """What one Spark run over the lake did: the categories (as CompareResult counts them), the
    pricing note, the months written, seconds per step (temp table name, "medicare pricing",
    "variances": step 12 and its write, "total")."""

    rows: list[tuple]  # (category, lines, sum expected_allowed, sum actual_allowed, sum variance)
    pricing_note: str | None
    months: list[str]  # partition values written under DIR/variances
    seconds: dict[str, float]


def reference_connection(root: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the lake's fee-schedule tables (DIR/reference/<table>), which
    the fee_schedules pricers query by name."""
    ref = duckdb.connect(":memory:")
    for table in layout.REFERENCE_TABLES:
        path = layout.reference_dir(root, table) / layout.PART_FILE
        if not path.is_file():
            raise LakeError(f"{path}: missing; run `underpay export parquet {root}` again")
        # the table name is one of the layout's constants, the path is bound
        ref.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet($path)", {"path": str(path)})
    return ref


def _spark_value(value: Any) -> Any:
    """A chain parameter as Spark binds it: lists as array literals; None as a typed NULL is left
    to the SQL (every parameter is CAST where it is read)."""
    from pyspark.sql import functions as F

    if isinstance(value, list | tuple):
        return F.array(*[F.lit(v) for v in value])
    return value


def _register_lake(spark: SparkSession, root: Path) -> bool:
    """The lake's tables as temp views (payment_month, a folder value, is not a table column);
    False when the lake holds no month yet."""
    if not any(layout.table_dir(root, "service_lines").glob(f"{layout.PARTITION_KEY}=*/*.parquet")):
        return False
    for table in layout.MONTH_TABLES:
        folder = layout.table_dir(root, table)
        frame = spark.read.option("basePath", str(folder)).parquet(str(folder))
        frame.drop(layout.PARTITION_KEY).createOrReplaceTempView(table)
    for frame_name in layout.CONTRACT_TABLES:
        spark.read.parquet(str(layout.contract_dir(root, frame_name))).createOrReplaceTempView(frame_name)
    return True


@contextmanager
def _step(what: str) -> Iterator[None]:
    """A failure of Spark inside ``what`` as one LakeError naming the step (no Java stack trace)."""
    try:
        yield
    except UnderpayError:
        raise
    except Exception as exc:  # noqa: BLE001 - AnalysisException, Py4JJavaError (OutOfMemoryError ...)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise LakeError(
            f"Spark failed in {what} ({first[:300]}); for memory errors give the driver more "
            "(UNDERPAY_SPARK_DRIVER_MEMORY=6g) or run on a cluster (--spark-master); nothing was written"
        ) from None


def _owner_only_tree(folder: Path) -> None:
    """Spark's output on a local disk made owner-only (folders 0700, files 0600) like every file
    underpay writes: variances name claims and patients' control numbers. (A local session also
    writes with umask 077; a cluster's storage keeps its own permissions.)"""
    if not folder.is_dir():
        return
    os.chmod(folder, 0o700)
    for parent, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(parent, name), 0o700)
        for name in files:
            owner_only(os.path.join(parent, name))


def _priced_view(spark: SparkSession, name: str, frame: pl.DataFrame) -> None:
    spark.createDataFrame(frame.to_arrow()).createOrReplaceTempView(name)


def compare_lake(
    spark: SparkSession,
    root: str | Path,
    *,
    month: Month | date | str | None = None,
    payer: str | None = None,
    settings: Settings | None = None,
) -> SparkRun:
    """Run the comparison chain on ``spark`` over the lake at ``root``; write DIR/variances."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    root = Path(root)
    if read_manifest(root) is None:
        raise LakeError(f"{root}: not an underpay lake (no manifest); run `underpay export parquet {root}` first")
    asked = None if month is None else Month.coerce(month)
    values = chain_values(settings or Settings(), asked, payer)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with _step("reading the lake (run `underpay export parquet` again if a folder is missing)"):
        registered = _register_lake(spark, root)
    if not registered:
        return SparkRun(rows=[], pricing_note=None, months=[], seconds={"total": 0.0})
    kept: dict[str, DataFrame] = {}
    note = None
    out = None
    for step in CHAIN:
        if step.price_first:
            t = time.perf_counter()
            ref = reference_connection(root)
            try:
                ref.register("cmp_price_rows", kept["cmp_price_rows"].toArrow())
                ref.register("cmp_claim_lines", kept["cmp_claim_lines"].toArrow())
                prices, note = _price(ref)
                claim_prices, claim_note = _price_claims(ref)
            finally:
                ref.close()
            note = note or claim_note
            values["pricing_note"] = note
            _priced_view(spark, "cmp_prices_raw", prices)
            _priced_view(spark, "cmp_claim_prices_raw", claim_prices)
            seconds["medicare pricing"] = time.perf_counter() - t
        started = time.perf_counter()
        text = to_spark(_sql(step.file))
        args = {k: _spark_value(v) for k, v in values.items() if f":{k}" in text}
        with _step(f"step {step.file}"):
            frame = spark.sql(text, args=args)
            if step.table == "variances":
                out = frame
                break
            # materialized, lineage cut: later steps plan over this result, not over the whole
            # chain before it (Spark re-analyses a view's full plan at every use otherwise)
            frame = frame.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        frame.createOrReplaceTempView(step.table)
        kept[step.table] = frame
        seconds[step.table] = time.perf_counter() - started
        for name in step.frees:
            kept.pop(name).unpersist()
            spark.catalog.dropTempView(name)
    assert out is not None  # CHAIN ends with the variances step
    t = time.perf_counter()
    out = out.withColumn(layout.PARTITION_KEY, F.col(layout.PARTITION_KEY).cast("date")).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    target = str(layout.variances_dir(root))
    writer = out.write.partitionBy(layout.PARTITION_KEY).mode("overwrite")
    if asked is None and payer is None:  # every month recomputed: the folder is replaced whole
        writer = writer.option("partitionOverwriteMode", "static")
    with _step("step 12_variances.sql (writing DIR/variances)"):
        writer.parquet(target)
    _owner_only_tree(Path(target))
    summary = out.groupBy("category").agg(
        F.count(F.lit(1)),
        F.coalesce(F.sum("expected_allowed"), F.lit(0)),
        F.coalesce(F.sum("actual_allowed"), F.lit(0)),
        F.coalesce(F.sum("variance"), F.lit(0)),
    )
    rows = [tuple(r) for r in summary.collect()]
    months = sorted(
        layout.partition_value(None if r[0] is None else Month.of(r[0]))
        for r in out.select(layout.PARTITION_KEY).distinct().collect()
    )
    out.unpersist()
    for frame in kept.values():
        frame.unpersist()
    seconds["variances"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return SparkRun(rows=rows, pricing_note=note, months=months, seconds=seconds)


def compare_spark(
    con: duckdb.DuckDBPyConnection,
    root: str | Path,
    contracts_dir: str | Path,
    *,
    month: Month | date | str | None = None,
    payer: str | None = None,
    settings: Settings | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> CompareResult:
    """``underpay compare --engine spark``: export the lake from the warehouse ``con``, run the
    chain on Spark (:func:`compare_lake`; on ``spark``, else a session on ``master``), load the
    variances back into ``con``."""
    from pipelines.spark.session import spark_session

    t0 = time.perf_counter()
    asked = None if month is None else Month.coerce(month)
    # every month, even for one: a month's reversals link to claims paid in earlier months (step 01);
    # months unchanged since the last export are recognised by their fingerprints and left alone
    export_lake(con, root, contracts_dir=contracts_dir)
    run = compare_lake(spark or spark_session(master), root, month=asked, payer=payer, settings=settings)
    result = CompareResult(
        contracts=len(load_contracts(Path(contracts_dir))),
        month=asked.start if asked else None,
        payer=payer,
        pricing_note=run.pricing_note,
    )
    if run.months:  # the months this run wrote (a month's reversals may reach back into others)
        written = [Month.of(date.fromisoformat(v)) for v in run.months if v != layout.NULL_PARTITION]
        load_variances(con, root, months=None if asked is None else written)
    result.add_categories(run.rows)
    result.seconds = time.perf_counter() - t0
    return result
