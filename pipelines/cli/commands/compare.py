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
@contracts_option
@db_option
def command(month, payer: str | None, out: Path | None, contracts: Path | None, db: Path | None) -> None:
    """Compare each service line with its contract and store the result in `variances`.

    Categories: underpaid, overpaid, correct (within tolerance), denied, reversed, secondary,
    pending, no_contract, not_priced; each row carries an explanation you can check by hand.
    """
    from pipelines.compare.compare import compare, export_variances
    from pipelines.core.warehouse import connect
    from pipelines.worklist.refresh import refresh_worklist

    con = connect(resolve_db(db))
    try:
        folder = resolve_contracts(contracts)
        result = compare(con, folder, month=month, payer=payer, settings=settings())
        click.echo(result.summary())
        click.echo(refresh_worklist(con, folder).summary())
        if out is not None:
            path = export_variances(con, out, month=month, payer=payer)
            click.echo(f"exported to {path}")
    finally:
        con.close()
