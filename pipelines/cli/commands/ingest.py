"""`underpay ingest PATH... [--db]`: load 835 remittance files into the warehouse."""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db

LOG_EVERY = 50   # without a terminal: one log line per this many files

# polars' allocator hands freed memory back to the system after 0.5 s. An ingest frees and takes
# again slice-sized buffers every few tenths of a second, and each page handed back and taken again
# costs a page fault and zeroing (a fifth of an ingest's CPU went to the kernel). Keeping freed
# pages 5 s measured ~3-4% faster on 1M service lines for ~100 MB more peak memory, so this command
# (not the others: a nightly run's compare and reports would just hold more memory) sets it.
# polars appends it to its own defaults when it is imported; a user's own setting is left alone.
INGEST_ALLOCATOR = "dirty_decay_ms:5000,muzzy_decay_ms:5000"


def _money(value) -> str:
    return f"${value:,.2f}"


def _reporter():
    """A progress callback: a rich bar on a terminal, a line every LOG_EVERY files otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            TextColumn("{task.description}"), transient=True,
                            console=Console(stderr=True))
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
    Exit status 0 when every file loaded or was a duplicate, 1 when any was rejected.
    """
    os.environ.setdefault("_RJEM_MALLOC_CONF", INGEST_ALLOCATOR)   # before polars is imported
    from pipelines.ingest import read as reading
    from pipelines.core.paths import expand_paths

    files = expand_paths(paths)
    first = reading.start(files[0]) if files else None   # reads and scans while the rest imports
    from pipelines.ingest.load import ingest_paths

    # the objects of the libraries just imported live as long as the process: set aside, the
    # garbage collector stops walking them on every full collection (55 -> 32 ms per 1M lines)
    gc.freeze()

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    target = resolve_db(db)
    result = ingest_paths(files, target, progress=_reporter(), first=first)
    for f in result.files:
        if f.status == "rejected":
            click.echo(f"rejected: {f.reason}", err=True)
        elif f.reason:
            click.echo(f"{f.status}: {f.path}: {f.reason}", err=True)
    mb = result.bytes / 1e6
    click.echo(
        f"{len(result.files)} file(s): {result.loaded} loaded, {result.duplicate} duplicate, "
        f"{result.rejected} rejected\n"
        f"{result.claims:,} claims, {result.lines:,} service lines, {_money(result.paid)} paid\n"
        f"{result.issues:,} validation issue(s) recorded; warehouse {target} "
        f"({mb:.1f} MB in {result.seconds:.1f} s)")
    sys.exit(result.exit_code)
