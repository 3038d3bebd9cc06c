"""`underpay contracts check [DIR]`: validate contract files; exit 1 when any has an error."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_contracts, resolve_db


@click.group("contracts")
def command():
    """Payer contracts (YAML files kept in git): check them before comparing."""


@command.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@db_option
def check(folder: Path | None, db: Path | None) -> None:
    """Validate every contract under FOLDER [default: paths.contracts, else contracts/].

    Prints `file:line: what is wrong, expected ...` for each problem: malformed files,
    overlapping versions of one payer's contract, terms that can never match, codes the
    imported Medicare fee schedule does not know (when the warehouse exists), and rows of the
    provider roster (providers.csv) with a bad NPI, name or type.
    """
    from contracts.check import check_folder
    from contracts.model import contract_files
    from contracts.providers import roster_files
    from pipelines.core.warehouse import connect

    folder = resolve_contracts(folder)
    db_path = resolve_db(db)
    con = None
    if db_path.exists():
        try:
            con = connect(db_path, read_only=True)
        except Exception as exc:  # noqa: BLE001 - e.g. locked by a running ingest: skip that check
            click.echo(
                f"note: {db_path} not readable ({exc}); codes are not checked against the fee schedule", err=True
            )
    try:
        problems = check_folder(folder, con)
    finally:
        if con is not None:
            con.close()
    for p in problems:
        click.echo(str(p))
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    files = len(contract_files(folder))
    rosters = len(roster_files(folder))
    roster = f" and {rosters} provider roster(s)" if rosters else ""
    click.echo(f"{files} contract file(s){roster} checked: {errors} error(s), {warnings} warning(s)", err=bool(errors))
    if errors:
        sys.exit(1)
