"""`underpay load variances DIR`: variances computed by another engine, loaded back (pipelines.lake.variances)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import contracts_option, db_option, months_option, resolve_contracts, resolve_db


@click.group("load")
def command():
    """Load results computed outside the warehouse: `underpay load variances DIR` stores the
    variances a Spark engine wrote into a Parquet lake."""


@command.command("variances")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@months_option("this payment month's folder")
@contracts_option
@db_option
def variances_command(folder: Path, months, contracts: Path | None, db: Path | None) -> None:
    """Load DIR/variances/payment_month=YYYY-MM-01/*.parquet into the warehouse's variances table.
    Every file's columns and types are checked first (a missing or mistyped column refuses the
    whole load); then, in one transaction, the rows of those service lines are replaced, so a rerun
    neither loses nor doubles a row. The worklist is then brought up to date, as after `compare`.
    """
    from pipelines.core.warehouse import connect
    from pipelines.lake.variances import load_variances
    from pipelines.worklist.refresh import refresh_worklist

    con = connect(resolve_db(db))
    try:
        result = load_variances(con, folder, months=list(months) or None)
        click.echo(result.summary())
        click.echo(refresh_worklist(con, resolve_contracts(contracts)).summary())
    finally:
        con.close()
