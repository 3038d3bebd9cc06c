"""`underpay export parquet DIR`: the comparison's inputs as a Parquet lake (pipelines.lake.export)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import contracts_option, db_option, months_option, resolve_contracts, resolve_db


@click.group("export")
def command():
    """Export the warehouse for other tools: `underpay export parquet DIR` writes the remittances,
    fee schedules and contracts as Parquet files another engine (Spark) can read."""


@command.command("parquet")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@months_option("this payment month (BPR16)")
@contracts_option
@db_option
def parquet_command(folder: Path, months, contracts: Path | None, db: Path | None) -> None:
    """Write (or bring up to date) the Parquet lake in DIR: payments, claims, service lines and
    adjustments in one folder per payment month (payment_month=YYYY-MM-01), every fee-schedule
    table under reference/, the contracts under contracts/, and a manifest. Only months whose rows
    changed since the last export are rewritten, each one whole; patient names and member ids are
    left out. Files are mode 0600, folders 0700.
    """
    from pipelines.core.warehouse import connect  # DuckDB is imported only by commands that use it
    from pipelines.lake.export import export_lake

    con = connect(resolve_db(db), read_only=True)
    try:
        result = export_lake(con, folder, contracts_dir=resolve_contracts(contracts), months=list(months) or None)
    finally:
        con.close()
    click.echo(result.summary())
