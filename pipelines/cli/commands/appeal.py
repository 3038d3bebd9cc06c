"""`underpay appeal`: appeal packets (HTML letter and PDF) for worklist cases (reports.appeal.write_appeals)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db, settings


def _status(ctx, param, value):
    if value is None:
        return None
    from pipelines.worklist.cases import check_status

    try:
        return check_status(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("appeal")
@click.option(
    "--case", "case_id", type=int, default=None, help="One worklist case (its id, as `underpay worklist list` shows)."
)
@click.option("--payer", default=None, help="Every open case of this payer id, in one batch file.")
@click.option(
    "--status",
    default=None,
    callback=_status,
    help="With --payer: only cases with this workflow status (e.g. submitted) [default: every status but closed].",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the packets [default: <paths.reports>/appeals].",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Jinja HTML template to use instead of the packaged letter (context: reports/appeal.py AppealContext).",
)
@click.option(
    "--pdf/--no-pdf",
    "pdf",
    default=None,
    help="Require the PDF (error without Chromium) / write the HTML only [default: the PDF when Chromium is installed].",
)
@click.option("--show-phi", is_flag=True, help="Show the patient's name and member id (masked by default).")
@db_option
def command(case_id, payer, status, out, template, pdf, show_phi, db):
    """Write appeal packets for worklist cases: a letter to the payer as HTML and PDF.

    With --case, one letter for that claim; with --payer, one batch file holding a letter for
    each of the payer's open cases (--status to pick those in one workflow status). Each letter
    gives the lines, what was allowed and paid, what the contract allows and the amount owed,
    the contract term and its derivation, the adjustment codes with their meanings, and the
    appeal deadline with its rule. Writes appeal-PAYER-CASE.html (or appeal-PAYER-batch.html)
    and its PDF (headless Chromium; `make browser` installs it), mode 0600.
    """
    if (case_id is None) == (payer is None):
        raise click.UsageError("give --case ID or --payer ID (one of them)")
    if status is not None and payer is None:
        raise click.UsageError("--status goes with --payer (a single --case is written whatever its status)")
    from pipelines.core.warehouse import connect  # DuckDB is imported only by commands that use it
    from reports.appeal import write_appeals

    con = connect(resolve_db(db), read_only=True)
    try:
        result = write_appeals(
            con,
            out or settings().reports / "appeals",
            case_id=case_id,
            payer=payer,
            status=status,
            show_phi=show_phi,
            pdf=pdf,
            template=template,
        )
    finally:
        con.close()
    click.echo(result.summary())
