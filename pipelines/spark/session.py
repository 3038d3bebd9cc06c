"""The Spark session the comparison runs in, with the settings that make its arithmetic DuckDB's.

``spark_session(master)``: Spark Connect when ``SPARK_REMOTE`` is set (``sc://host:15002``), else a
classic session on ``master`` (``local[*]`` by default; ``spark://…``, ``yarn`` or ``k8s://…`` on a
cluster, or whatever ``spark-submit --master`` chose when this runs under spark-submit).

Settings that matter for sameness (each is a documented Spark SQL setting):

- ``spark.sql.decimalOperations.allowPrecisionLoss=false``: a decimal product keeps every place
  (DuckDB's rule) instead of being rounded to fit 38 digits behind the comparison's back;
- ``spark.sql.ansi.enabled=true``: an overflow or a bad cast fails the run instead of becoming
  NULL silently (DuckDB fails too);
- ``spark.sql.session.timeZone=UTC``: ``computed_at`` and dates are stored as written;
- ``spark.sql.sources.partitionOverwriteMode=dynamic``: writing the variances of one month
  replaces that month's folder only.

A session this module did not start (spark-submit's, a notebook's: ``master=None``) keeps its own
master and memory, with these settings applied on top.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_MASTER", "SQL_SETTINGS", "spark_session"]

DEFAULT_MASTER = "local[*]"
APP_NAME = "underpay-compare"

SQL_SETTINGS: dict[str, str] = {
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # a month of a practice is small: a few partitions per shuffle instead of 200 near-empty ones
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}

# Only for a local session this module starts: the driver is the whole cluster, so it gets the
# memory (the JVM's heap is fixed at launch; spark-submit and Spark Connect set their own).
LOCAL_SETTINGS: dict[str, str] = {
    "spark.driver.memory": os.environ.get("UNDERPAY_SPARK_DRIVER_MEMORY", "3g"),
    "spark.ui.enabled": "false",  # no web server on the machine
    "spark.hadoop.fs.permissions.umask-mode": "077",  # output files owner-only, as everything underpay writes
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # errors only from the JVM (pipelines/spark/log4j2.properties), not Spark's start-up warnings
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties')}",
}


def _pyspark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'underpay[spark]' (and a Java 17+ runtime for local mode)"
        ) from None
    return SparkSession


def spark_session(master: str | None = None) -> SparkSession:
    """The session to run on, with :data:`SQL_SETTINGS` applied: Spark Connect when ``SPARK_REMOTE``
    is set; else a session on ``master`` (the CLI's default ``local[*]``); ``master=None``: the
    session spark-submit (or a notebook) set up."""
    SparkSession = _pyspark()
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        builder = SparkSession.builder.remote(remote).appName(APP_NAME)
    elif master is None:  # under spark-submit (or beside a running session): its master and settings
        builder = SparkSession.builder.appName(APP_NAME)
    else:
        builder = SparkSession.builder.master(master).appName(APP_NAME)
        if master.startswith("local"):
            for key, value in LOCAL_SETTINGS.items():
                builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Java missing, master unreachable: one line, what to do
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = f"Spark Connect at SPARK_REMOTE={remote}" if remote else f"Spark master {master or DEFAULT_MASTER}"
        raise ConfigError(
            f"could not start {where} ({first[:200]}); check that Java 17+ is installed (`java -version`) "
            "or that the cluster is reachable"
        ) from None
    for key, value in SQL_SETTINGS.items():
        spark.conf.set(key, value)
    if master is not None and master.startswith("local") and not remote:
        spark.sparkContext.setLogLevel("ERROR")  # the command's own summary, not Spark's warnings
    return spark
