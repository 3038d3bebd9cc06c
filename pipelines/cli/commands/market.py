"""`underpay market import FILE...`: payers' Transparency in Coverage in-network rates into the warehouse.

A thin shell over pipelines.market.load.import_market: the options are parsed here once (lists split,
NPIs checked), the import runs, its result is printed. Exit status: 0 every file imported (or already
there), 1 a file was refused (one ``Error:`` line each; the others were imported), 2 failed or usage
error, 130 interrupted (the file being read is rolled back; files before it stay imported).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db
from pipelines.cli.failures import EXIT_REJECTED
from pipelines.core.logs import printable

ZIP_NOTE = (
    "note: --zip {zip} is not used to filter: TiC in-network files give no location for a provider's TIN or "
    "NPI, so a ZIP code cannot place them. Give your own NPIs (--npi) and TINs (--tin) to keep only your rates."
)


class _List(click.ParamType):
    """``A,B,C`` (the option may also be repeated) -> a list of values, each checked by ``check``."""

    def __init__(self, name: str, check=None):
        self.name = name
        self.check = check

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        out = []
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if self.check is not None and (problem := self.check(part)):
                self.fail(f"{part!r}: {problem}", param, ctx)
            out.append(part)
        return out


def _npi(value: str) -> str | None:
    return None if value.isdigit() and len(value) == 10 else "an NPI is 10 digits, e.g. 1234567890"


def _flat(values) -> list[str]:
    return [v for group in values or () for v in group]


@click.group("market")
def command():
    """Payers' published in-network rates (Transparency in Coverage machine-readable files): import them
    into the warehouse, keeping only the codes and providers the practice needs."""


@command.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--codes",
    multiple=True,
    type=_List("CODE,..."),
    help="Billing codes to keep [default: every procedure code of the 835s in the warehouse].",
)
@click.option("--institutional", is_flag=True, help="Keep institutional prices too [default: professional only].")
@click.option(
    "--npi",
    "npis",
    multiple=True,
    type=_List("NPI,...", _npi),
    help="Keep only provider groups with one of these NPIs.",
)
@click.option(
    "--tin", "tins", multiple=True, type=_List("TIN,..."), help="Keep only provider groups with one of these TINs."
)
@click.option(
    "--zip",
    "zip_code",
    default=None,
    metavar="ZIP",
    help="Not a filter: TiC files carry no provider location (a note says so); use --npi/--tin.",
)
@db_option
def import_command(files, codes, institutional, npis, tins, zip_code, db) -> None:
    """Import TiC in-network rate files (.json or .json.gz, schema 1.x or 2.0) into market_rates.

    FILES are in-network files, tables of contents (the in-network files they list are read where a copy
    lies beside them; a URL without one is reported as not read) and provider-reference files (read for
    the in-network files that name them by URL). Each in-network file is one transaction; a file imported
    before (same bytes) adds nothing. Only prices for the practice's billing codes are kept.
    """
    if zip_code:
        click.echo(ZIP_NOTE.format(zip=printable(zip_code)), err=True)
    codes, npis, tins = _flat(codes), _flat(npis), _flat(tins)
    from pipelines.core.warehouse import connect  # DuckDB is imported only by commands that use it
    from pipelines.market.load import import_market

    target = resolve_db(db)
    con = connect(target)
    try:
        with _progress() as report:
            result = import_market(
                con, files, codes=codes or None, institutional=institutional, npis=npis, tins=tins, progress=report
            )
    finally:
        con.close()
    for toc in result.contents:
        click.echo(
            printable(f"table of contents {toc.path}: lists {toc.listed} in-network file(s); read {len(toc.read)}"),
            err=False,
        )
        for location in toc.not_read:
            click.echo(printable(f"  not read (no local copy beside it): {location}"))
    for f in result.files:
        if f.status == "refused":
            click.echo(f"Error: {printable(f.reason or '')}", err=True)
        elif f.status == "duplicate":
            click.echo(printable(f"duplicate: {f.path}: {f.reason}"))
        else:
            mb = f.bytes / 1e6
            speed = f" ({mb / f.seconds:,.0f} MB/s)" if f.seconds > 0 and mb >= 1 else ""
            click.echo(
                printable(
                    f"imported: {f.path}: {f.rates:,} rate row(s) from {f.items_kept:,} of {f.items_read:,} items "
                    f"(schema {f.schema_version}); {mb:,.1f} MB in {f.seconds:,.1f} s{speed}"
                )
            )
            if f.unknown_providers:
                click.echo(
                    printable(f"  {f.unknown_providers:,} row(s) with providers the file does not give (tin empty)")
                )
            for location in f.missing_references:
                click.echo(printable(f"  provider-reference file not given (recorded as missing): {location}"))
    click.echo(
        f"{len(result.files)} in-network file(s): {result.count('imported')} imported, "
        f"{result.count('duplicate')} duplicate, {result.count('refused')} refused; "
        f"{result.rates:,} rate row(s) for {result.codes:,} billing code(s); warehouse {target}"
    )
    if result.exit_code:
        sys.exit(EXIT_REJECTED)


@contextmanager
def _progress():
    """A progress bar by bytes on a terminal; none otherwise (each file prints one line when done)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("market import {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name[:40], total=total)
            bar.update(tasks[name], completed=done)

        yield report
