"""`underpay nightly`: the unattended inbox run, for cron or a systemd timer."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipelines.cli.commands.common import contracts_option, db_option, settings
from pipelines.core.process import limit_blas_threads

# In text mode a line per file and per month as they happen; the summary closes the run.
TEXT_EVENTS = frozenset({"file_loaded", "file_duplicate", "file_rejected", "file_left", "month_done", "month_failed"})


def _path_option(name: str, what: str, key: str, default: str):
    return click.option(
        f"--{name}",
        name,
        type=click.Path(path_type=Path),
        default=None,
        help=f"{what} [default: paths.{key} of underpay.toml, else {default}].",
    )


@click.command("nightly")
@_path_option("inbox", "Folder new 835 files arrive in (subfolders included)", "inbox", "inbox/")
@_path_option("archive", "Folder loaded and duplicate files are moved to", "archive", "archive/")
@_path_option(
    "quarantine", "Folder rejected files are moved to, each with <name>.error.txt", "quarantine", "quarantine/"
)
@contracts_option
@_path_option("reports", "Reports folder; refreshed months go to <reports>/YYYY-MM/", "reports", "reports/out")
@db_option
@click.option(
    "--settle-seconds",
    type=int,
    default=None,
    help="Leave files modified in the last N seconds for the next run (half-written) "
    "[default: nightly.settle_seconds, else 60].",
)
@click.option(
    "--json-log",
    is_flag=True,
    default=False,
    help="Print one JSON line per event (for log collectors) instead of text. No PHI in either.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also append the JSON-lines events to this file (created mode 0600).",
)
def command(inbox, archive, quarantine, contracts, reports, db, settle_seconds, json_log, log_file):
    """Load new inbox files, file them away, refresh the months they touched.

    Each settled file in the inbox is loaded in one transaction, then moved: to the archive
    when loaded or a duplicate (same sha256), to the quarantine with <name>.error.txt when
    rejected. The payment months touched are recompared and their reports rewritten under
    <reports>/YYYY-MM/. The run is recorded in the `runs` table.

    Exit status: 0 all good, 1 something was quarantined, 2 the run failed (or another run
    holds the lock <warehouse>.lock; this one then exits at once), 130 interrupted (Ctrl-C,
    SIGTERM: `systemctl stop`). Safe to kill at any moment:
    the next run finishes the work with nothing lost and nothing loaded twice. Files with a
    temporary suffix (.tmp, .part, ...), hidden files and files modified in the last
    --settle-seconds are left for the next run.
    """
    limit_blas_threads()  # before numpy is imported: underpay does no linear algebra
    from pipelines.core.logs import EventLog
    from pipelines.runs.nightly import run_nightly

    s = settings().override(
        inbox=inbox,
        archive=archive,
        quarantine=quarantine,
        contracts=contracts,
        reports=reports,
        warehouse=db,
        settle_seconds=settle_seconds,
    )
    log = EventLog(json_lines=json_log, path=log_file, text_events=TEXT_EVENTS)
    try:
        result = run_nightly(s, log=log)  # any failure: one `Error:` line, exit 2 (pipelines.cli.failures)
    finally:
        log.close()
    if not json_log:
        click.echo(result.summary())
    if result.exit_code == 2 and result.message:  # the one line worth alerting on (stderr)
        from pipelines.core.logs import printable

        click.echo(f"Error: {printable(' '.join(result.message.split()))}", err=True)
    sys.exit(result.exit_code)
