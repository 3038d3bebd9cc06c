"""`underpay compare`: expected vs actual allowed for every loaded line -> variances (+ export)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import MONTH, contracts_option, db_option, resolve_contracts, resolve_db, settings


@click.command("compare")
@click.option(
    "--month",
    type=MONTH,
    default=None,
    help="Only remittances paid in this month (BPR16), YYYY-MM [default: every loaded line].",
)
@click.option("--payer", default=None, help="Only this payer (835 payer id, e.g. ACME1).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also export the variances to FILE.csv, FILE.parquet or FILE.xlsx (mode 0600).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where the comparison's SQL runs: in the warehouse (DuckDB), or on Spark over the Parquet lake "
    "(--lake), the variances loaded back into the warehouse (docs/scale.md).",
)
@click.option(
    "--lake",
    type=click.Path(path_type=Path),
    default=None,
    help="With --engine spark: the Parquet lake folder, brought up to date from the warehouse first "
    "(`underpay export parquet`) [default: lake/ beside the warehouse].",
)
@click.option(
    "--spark-master",
    default="local[*]",
    show_default=True,
    help="With --engine spark: the Spark master (local[N], spark://host:7077, yarn, k8s://...); "
    "SPARK_REMOTE=sc://host:15002 in the environment uses Spark Connect instead.",
)
@contracts_option
@db_option
def command(
    month,
    payer: str | None,
    out: Path | None,
    engine: str,
    lake: Path | None,
    spark_master: str,
    contracts: Path | None,
    db: Path | None,
) -> None:
    """Compare each service line with its contract and store the result in `variances`.

    Categories: underpaid, overpaid, correct (within tolerance), denied, reversed, secondary,
    pending, no_contract, not_priced; each row carries an explanation you can check by hand.
    """
    from pipelines.compare.compare import compare, export_variances
    from pipelines.core.warehouse import connect, drop_spill_folder
    from pipelines.worklist.refresh import refresh_worklist

    warehouse = resolve_db(db)
    con = connect(warehouse, memory_limit=settings().memory_limit)  # beyond it DuckDB spills to <warehouse>.tmp/
    try:
        folder = resolve_contracts(contracts)
        if engine == "spark":
            from pipelines.spark.engine import compare_spark

            lake_dir = lake if lake is not None else warehouse.parent / "lake"
            result = compare_spark(
                con, lake_dir, folder, month=month, payer=payer, settings=settings(), master=spark_master
            )
        else:
            result = compare(con, folder, month=month, payer=payer, settings=settings())
        click.echo(result.summary())
        click.echo(refresh_worklist(con, folder).summary())
        if out is not None:
            path = export_variances(con, out, month=month, payer=payer)
            click.echo(f"exported to {path}")
    finally:
        con.close()
        drop_spill_folder(warehouse)
