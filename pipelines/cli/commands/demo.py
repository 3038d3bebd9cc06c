"""`underpay demo`: a synthetic practice end to end (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.core.process import limit_blas_threads


@click.command("demo")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder to build the demo in (its warehouse, remittances, contracts and reports are replaced on each run).",
)
@click.option(
    "--claims-per-month",
    type=int,
    default=1000,
    show_default=True,
    help="Synthetic claims per month of service (three months are written).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the synthetic data.")
@click.option(
    "--cms-mirror",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder holding the CMS releases by year (e.g. ../shared/cms) "
    "[default: $UNDERPAY_CMS_MIRROR, else ../shared/cms beside the project; "
    "downloaded from cms.gov when there is none].",
)
def command(out, claims_per_month, seed, cms_mirror):
    """Build a demo practice and run the whole pipeline on it.

    Writes a quarter (January-March 2025 dates of service) of synthetic 835 remittances for a
    small practice at ZIP 10001 (the Medicare MAC and four commercial payers, real CPT/HCPCS
    codes at their 2025 Medicare amounts, patient responsibility, denials, reversals, PLB and
    some injected underpayments) plus matching contracts, imports the 2025 CMS fee schedule,
    then runs ingest -> validate -> price -> compare -> report and prints the report path
    and a summary. Exit status 2 when any stage failed (the summary says which).
    """
    limit_blas_threads()  # before numpy is imported: underpay does no linear algebra
    from pipelines.runs.demo import run_demo

    result = run_demo(out, claims_per_month=claims_per_month, seed=seed, mirror=cms_mirror)
    click.echo(result.summary())
    if result.exit_code:
        raise SystemExit(2)
