"""`underpay ingest PATH... [--db]`: load 835 remittance files into the warehouse."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db

LOG_EVERY = 50  # without a terminal: one log line per this many files


def _money(value) -> str:
    return f"${value:,.2f}"


def _reporter():
    """A progress callback: a rich bar on a terminal, a line every LOG_EVERY files otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            transient=True,
            console=Console(stderr=True),
        )
        state = {"task": None}

        def report(outcome, done, total):
            if state["task"] is None:
                progress.start()
                state["task"] = progress.add_task("", total=total)
            progress.update(state["task"], completed=done, description=Path(outcome.path).name[:40])
            if done == total:
                progress.stop()

        return report

    def report(outcome, done, total):
        if done % LOG_EVERY == 0 or done == total:
            click.echo(f"ingest: {done}/{total} files", err=True)

    return report


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@db_option
def command(paths: tuple[str, ...], db: Path | None) -> None:
    """Load X12 835 remittance files into the warehouse.

    PATHS are files, folders (read recursively) or glob patterns (quote them: '*.835').
    Each file loads whole in one transaction or not at all. A file already loaded (same
    bytes) is recorded as a duplicate; a broken file is rejected with the reason.
    Exit status 0 when every file loaded or was a duplicate, 1 when any was rejected, 2 when
    the ingest failed (a path that cannot be read, a warehouse that cannot be written), 130
    when interrupted (Ctrl-C, SIGTERM): files committed before stay loaded.
    """
    from pipelines.core.process import tune_for_ingest

    # allocator and BLAS settings, before numpy and polars are imported (pipelines.core.process)
    tuning = tune_for_ingest()
    from pipelines.core.paths import expand_paths
    from pipelines.ingest.schedule import IngestSchedule

    files = expand_paths(paths)
    with IngestSchedule() as schedule:
        if files:
            schedule.start_reading(files[0])  # reads and scans while the rest imports
        from pipelines.ingest.load import ingest_paths

        tuning.freeze_imports()  # what was just imported is not walked by every full GC again

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        target = resolve_db(db)
        result = ingest_paths(files, target, progress=_reporter(), schedule=schedule)
    from pipelines.core.logs import printable  # a file name is shown, never obeyed by the terminal

    for f in result.files:
        if f.status == "rejected":
            click.echo(printable(f"rejected: {f.reason}"), err=True)
        elif f.reason:
            click.echo(printable(f"{f.status}: {f.path}: {f.reason}"), err=True)
    mb = result.bytes / 1e6
    click.echo(
        f"{len(result.files)} file(s): {result.loaded} loaded, {result.duplicate} duplicate, "
        f"{result.rejected} rejected\n"
        f"{result.claims:,} claims, {result.lines:,} service lines, {_money(result.paid)} paid\n"
        f"{result.issues:,} validation issue(s) recorded; warehouse {target} "
        f"({mb:.1f} MB in {result.seconds:.1f} s)"
    )
    sys.exit(result.exit_code)
