"""`underpay report`: the monthly review HTML plus CSV/XLSX exports (reports.monthly.report_month)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import MONTH, db_option, resolve_db, settings


@click.command("report")
@click.option("--month", required=True, type=MONTH, help="Payment month (BPR16), YYYY-MM.")
@click.option("--payer", default=None, help="Only this payer id (as in variances.payer_id).")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the HTML and exports [default: paths.reports, else reports/out].",
)
@click.option("--show-phi", is_flag=True, help="Show patient names and member ids (masked by default).")
@click.option("--no-export", is_flag=True, help="Write the HTML only (no CSV/XLSX).")
@db_option
def command(month, payer, out, show_phi, no_export, db):
    """Render the monthly revenue-cycle review for one payment month.

    Writes monthly-YYYY-MM[-PAYER].html (one self-contained file: works offline, prints
    cleanly) and the worklist and per-code tables as CSV and XLSX. Files are mode 0600.
    """
    from pipelines.core.warehouse import connect  # DuckDB is imported only by commands that use it
    from reports.monthly import report_month

    con = connect(resolve_db(db), read_only=True)
    try:
        result = report_month(
            con,
            month,
            payer=payer,
            out_dir=out or settings().reports,
            show_phi=show_phi,
            formats=() if no_export else ("csv", "xlsx"),
        )
    finally:
        con.close()
    click.echo(result.summary())
