"""`underpay run`: the monthly pipeline over what is in the warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import MONTH, contracts_option, db_option, resolve_contracts, resolve_db, settings
from pipelines.core.process import limit_blas_threads


@click.command("run")
@click.option(
    "--month",
    "month",
    type=MONTH,
    default=None,
    help="Payment month (BPR16) to recompute [default: the previous calendar month].",
)
@contracts_option
@click.option(
    "--reports",
    "reports",
    type=click.Path(path_type=Path),
    default=None,
    help="Reports folder; the month's review and exports go to <reports>/YYYY-MM/ "
    "[default: paths.reports, else reports/out].",
)
@db_option
@click.option("--payer", default=None, help="Only this payer id (as in the 835's N1*PR / REF*2U).")
@click.option(
    "--show-phi",
    is_flag=True,
    default=False,
    help="Show patient names and member ids in the report (masked by default).",
)
def command(month, contracts, reports, db, payer, show_phi):
    """Recompute one month's variances, then write its review and exports.

    Compares every service line paid in the month against the contracts and the Medicare
    fee schedule (filling the `variances` table), renders the monthly review HTML and the
    worklist / per-code CSV and XLSX exports into <reports>/YYYY-MM/, records the run in
    the `runs` table and prints a summary. Meant for a monthly cron job or by hand:

        underpay run --month 2025-03
    """
    limit_blas_threads()  # before numpy is imported: underpay does no linear algebra
    from pipelines.runs.monthly import previous_month, run_monthly

    s = settings()
    result = run_monthly(
        resolve_db(db),
        month or previous_month(),
        contracts_dir=resolve_contracts(contracts),
        reports_dir=reports if reports is not None else s.reports,
        settings=s,
        payer=payer,
        show_phi=show_phi,
    )
    click.echo(result.summary())
    click.echo(f"report: {result.report}")
    for path in result.exports:
        click.echo(f"export: {path}")
