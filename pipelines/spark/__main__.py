"""The Spark engine without a warehouse, for a cluster: ``spark-submit`` (or ``python -m``) this.

    spark-submit --master yarn "$(python -c 'import pipelines.spark.__main__ as m; print(m.__file__)')" \\
        /data/lake --month 2026-01
    SPARK_REMOTE=sc://spark-connect:15002 python -m pipelines.spark /data/lake --month 2026-01

It runs :func:`pipelines.spark.engine.compare_lake` over a lake that ``underpay export parquet DIR``
wrote (the folder must be readable by the cluster: HDFS, S3 or a shared mount seen at the same
path) and writes ``DIR/variances``; ``underpay load variances DIR`` then loads them into the
warehouse. Settings (practice ZIP, tolerance) come from underpay.toml as for every command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipelines.core.config import load_settings
from pipelines.core.errors import LakeError, UnderpayError
from pipelines.core.months import Month


@click.command("underpay-spark")
@click.argument("lake", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--month", default=None, help="Only remittances paid in this month, YYYY-MM.")
@click.option("--payer", default=None, help="Only this payer (835 payer id).")
@click.option("--master", default=None, help="Spark master [default: spark-submit's, or SPARK_REMOTE's Spark Connect].")
@click.option("--config", type=click.Path(path_type=Path), default=None, help="underpay.toml to read settings from.")
def main(lake: Path, month: str | None, payer: str | None, master: str | None, config: Path | None) -> None:
    """Compare the lake's service lines on Spark; write DIR/variances (Parquet, by payment month)."""
    from pipelines.lake.export import read_manifest
    from pipelines.spark.engine import compare_lake
    from pipelines.spark.session import spark_session

    try:
        asked = None if month is None else Month.parse(month)
        if read_manifest(lake) is None:  # before a JVM is started for nothing
            raise LakeError(f"{lake}: not an underpay lake (no manifest); run `underpay export parquet {lake}` first")
        run = compare_lake(spark_session(master), lake, month=asked, payer=payer, settings=load_settings(config))
    except UnderpayError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    lines = sum(r[1] for r in run.rows)
    click.echo(
        f"compared {lines:,} service lines on Spark in {run.seconds.get('total', 0):.1f} s; variances of "
        f"{len(run.months)} month(s) written to {lake}/variances; load them with `underpay load variances {lake}`"
    )


if __name__ == "__main__":
    main()
