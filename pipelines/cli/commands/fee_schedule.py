"""`underpay fee-schedule`: import, download and list CMS Physician Fee Schedule releases."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db


@click.group("fee-schedule")
def command():
    """Medicare Physician Fee Schedule files (CMS releases) in the warehouse."""


@command.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--year", type=int, required=True, help="Calendar year of the release, e.g. 2025.")
@click.option(
    "--release",
    type=click.Choice(["A", "B", "C", "D"], case_sensitive=False),
    default=None,
    help="Quarterly release: A January, B April, C July, D October [default: from the file names].",
)
@db_option
def import_cmd(path: Path, year: int, release: str | None, db: Path | None):
    """Import one CMS release (its .zip or unpacked folder) into the warehouse; re-import replaces it."""
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect

    con = connect(resolve_db(db))
    try:
        click.echo(str(import_release(con, path, year, release)))
    finally:
        con.close()


@command.command("download")
@click.option("--year", type=int, required=True, help="Calendar year to fetch, e.g. 2025.")
@click.option(
    "--mirror",
    default=None,
    help="Folder or http(s) URL laid out like CMS-year folders (<year>/..., <year>/RVU25D/...) instead of cms.gov.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where downloaded files are kept [default: $XDG_DATA_HOME/underpay/cms or ~/.local/share/underpay/cms].",
)
@db_option
def download_cmd(year: int, mirror: str | None, cache_dir: Path | None, db: Path | None):
    """Fetch a year's CMS release files, verify and cache them, then import every release."""
    from fee_schedules.download import download_and_import
    from pipelines.core.warehouse import connect

    con = connect(resolve_db(db))
    try:
        result = download_and_import(con, year, mirror=mirror, cache_dir=cache_dir)
        click.echo(str(result))
    finally:
        con.close()


@command.command("list")
@db_option
def list_cmd(db: Path | None):
    """Show the imported years and releases, their effective dates and files."""
    from fee_schedules.importer import list_releases
    from pipelines.core.warehouse import connect

    con = connect(resolve_db(db))
    try:
        frame = list_releases(con)
    finally:
        con.close()
    if frame.height == 0:
        click.echo(
            "No fee schedule imported: run `underpay fee-schedule download --year YYYY` "
            "or `underpay fee-schedule import PATH --year YYYY`."
        )
        return
    for row in frame.iter_rows(named=True):
        click.echo(
            f"{row['year']} {row['release']}  {row['effective_from']}..{row['effective_through']}  "
            f"{row['kind']:<8} {row['file_name']:<28} {row['row_count']:>7} rows  {row['origin']}"
        )
