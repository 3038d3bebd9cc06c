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
@click.option(
    "--schedule",
    type=click.Choice(["mpfs", "clfs", "asp", "dmepos", "opps", "asc"], case_sensitive=False),
    default=None,
    help="Which fee schedule PATH holds [default: from the file names]: mpfs (physician), clfs (lab), asp "
    "(drugs), dmepos (DME, PEN, rural ZIPs), opps (Addendum B), asc (addenda AA/BB).",
)
@click.option("--year", type=int, default=None, help="Calendar year of a physician fee schedule release, e.g. 2025.")
@click.option(
    "--release",
    type=click.Choice(["A", "B", "C", "D"], case_sensitive=False),
    default=None,
    help="Physician fee schedule quarterly release: A January, B April, C July, D October [default: from the file names].",
)
@db_option
def import_cmd(path: Path, schedule: str | None, year: int | None, release: str | None, db: Path | None):
    """Import CMS fee schedule files into the warehouse: a physician fee schedule release (its .zip or
    folder, with --year), or CLFS, ASP, DMEPOS, OPPS and ASC files (a file or a folder, read recursively;
    each file's period comes from its name or preamble). A re-import replaces; a re-released quarter
    replaces the earlier release and the output says so."""
    from fee_schedules.files import find_release_files
    from fee_schedules.importer import import_release
    from fee_schedules.schedule_import import import_schedules
    from pipelines.core.warehouse import connect

    schedule = schedule.lower() if schedule else None
    if schedule is None and (path.is_dir() or path.suffix.lower() == ".zip"):
        schedule = "mpfs" if find_release_files(path) else None
    if schedule == "mpfs" and year is None:
        raise click.UsageError("a physician fee schedule release needs --year YYYY")
    if schedule != "mpfs" and (year is not None or release is not None):
        raise click.UsageError("--year and --release are for physician fee schedule releases (--schedule mpfs)")
    con = connect(resolve_db(db))
    try:
        if schedule == "mpfs":
            click.echo(str(import_release(con, path, year, release)))
        else:
            click.echo(str(import_schedules(con, path, schedule)))
    finally:
        con.close()


@command.command("download")
@click.option("--year", type=int, required=True, help="Calendar year to fetch, e.g. 2025.")
@click.option(
    "--schedule",
    type=click.Choice(["mpfs", "clfs", "asp", "dmepos", "opps", "asc", "all"], case_sensitive=False),
    default="mpfs",
    show_default=True,
    help="Which fee schedule to fetch: mpfs (physician), clfs (lab), asp (drugs), dmepos (DME, PEN, rural "
    "ZIPs), opps (Addendum B), asc (addenda AA/BB), or all: mpfs, then every other schedule with files "
    "for the year (one without is reported, not an error).",
)
@click.option(
    "--mirror",
    default=None,
    help="Folder or http(s) URL laid out like ../shared/cms (<year>/..., <year>/RVU25D/..., "
    "extra/<clfs|asp|dmepos|opps_addendum_b|asc>/<year>/...) instead of cms.gov.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where downloaded files are kept [default: $XDG_DATA_HOME/underpay/cms or ~/.local/share/underpay/cms].",
)
@db_option
def download_cmd(year: int, schedule: str, mirror: str | None, cache_dir: Path | None, db: Path | None):
    """Fetch a year's CMS fee schedule files, verify and cache them, then import them: the physician fee
    schedule's releases (default), or the CLFS, ASP, DMEPOS, OPPS or ASC files of the year (without
    --mirror these are taken from $UNDERPAY_CMS_MIRROR, ../shared/cms or the cache when there, else cms.gov)."""
    from fee_schedules.download import (
        SCHEDULE_DIRS,
        SCHEDULE_LABELS,
        ScheduleNotFound,
        download_and_import,
        download_and_import_schedule,
    )
    from pipelines.core.warehouse import connect

    schedule = schedule.lower()
    con = connect(resolve_db(db))
    try:
        if schedule in ("mpfs", "all"):
            click.echo(str(download_and_import(con, year, mirror=mirror, cache_dir=cache_dir)))
        if schedule not in ("mpfs", "all"):
            click.echo(str(download_and_import_schedule(con, schedule, year, mirror=mirror, cache_dir=cache_dir)))
        elif schedule == "all":
            fetch = True
            for name in SCHEDULE_DIRS:
                try:
                    result = download_and_import_schedule(con, name, year, mirror, cache_dir, fetch=fetch)
                except ScheduleNotFound as exc:
                    click.echo(f"{SCHEDULE_LABELS[name]} {year}: no files found, nothing imported ({exc})")
                    fetch = fetch and not exc.unreachable  # cms.gov is not tried again for the others
                    continue
                click.echo(str(result))
    finally:
        con.close()


@command.command("list")
@db_option
def list_cmd(db: Path | None):
    """Show the imported years and releases, their effective dates and files."""
    from fee_schedules.importer import list_releases
    from fee_schedules.schedule_import import list_schedule_releases
    from pipelines.core.warehouse import connect

    con = connect(resolve_db(db))
    try:
        frame = list_releases(con)
        others = list_schedule_releases(con)
    finally:
        con.close()
    if frame.height == 0 and others.height == 0:
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
    for row in others.iter_rows(named=True):
        click.echo(
            f"{row['schedule']:<13} {row['effective_from']}..{row['effective_through']}  {row['row_count']:>7} rows  "
            f"sha256 {row['sha256_prefix']}  {row['file_name']}{'  (' + row['note'] + ')' if row['note'] else ''}"
        )
