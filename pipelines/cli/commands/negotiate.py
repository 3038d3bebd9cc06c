"""`underpay negotiate`: the negotiation pack for one payer (reports.negotiate.negotiation_pack)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import MONTH, db_option, resolve_db, settings


@click.command("negotiate")
@click.option("--payer", required=True, help="Payer id to negotiate with (variances.payer_id).")
@click.option(
    "--proposal",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Proposed rates: CSV code,modifier,rate or YAML (percent_of_medicare, rates); see docs/reports.md.",
)
@click.option(
    "--through",
    type=MONTH,
    default=None,
    help="Last payment month of the 12-month window [default: latest in the warehouse].",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the HTML and exports [default: paths.reports, else reports/out].",
)
@click.option("--zip", "zip_code", default=None, help="Practice ZIP for Medicare amounts [default: practice.zip].")
@click.option("--locality", default=None, help="Practice carrier+locality, e.g. 1320201 [default: practice.locality].")
@click.option(
    "--market-entity",
    default=None,
    metavar="NAME",
    help="Text a published rate's reporting entity or plan name must contain (any case) to count as this "
    "payer's in the Market section [default: the payer's name on its 835s].",
)
@click.option("--show-phi", is_flag=True, help="Accepted for symmetry; the pack holds no patient data.")
@db_option
def command(payer, proposal, through, out, zip_code, locality, market_entity, show_phi, db):
    """Compare one payer's allowed amounts per code with Medicare, every other payer and the rates
    payers publish (market_rates) over 12 months, and price a proposal on last year's volume."""
    from reports.negotiate import negotiation_pack

    if zip_code and locality:
        raise click.UsageError("give --zip or --locality, not both")
    s = settings()
    if not (zip_code or locality):
        zip_code, locality = (None, s.practice_locality) if s.practice_locality else (s.practice_zip, None)
    from pipelines.core.warehouse import connect  # DuckDB is imported only by commands that use it

    con = connect(resolve_db(db), read_only=True)
    try:
        result = negotiation_pack(
            con,
            payer,
            proposal=proposal,
            through=through,
            out_dir=out or s.reports,
            show_phi=show_phi,
            zip=zip_code,
            locality=locality,
            market_entity=market_entity,
        )
    finally:
        con.close()
    click.echo(result.summary())
