"""`underpay`: one console command, a thin shell over the library.

Each subcommand lives in pipelines/cli/commands/<name>.py. Whatever stops a command (an error
the user can act on, an OS or warehouse error, Ctrl-C or SIGTERM, a bug) becomes one ``Error:``
line and a documented exit status (pipelines.cli.failures): 0 ok, 1 something rejected or
quarantined, 2 failed or usage error, 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from pipelines import __version__
from pipelines.cli.commands import (
    appeal,
    compare,
    contracts,
    demo,
    export,
    fee_schedule,
    ingest,
    load,
    market,
    negotiate,
    nightly,
    price,
    report,
    run,
    worklist,
)
from pipelines.cli.failures import command_process, describe
from pipelines.core.config import load_settings
from pipelines.core.errors import UnderpayError
from pipelines.core.logs import printable

# click's own ends of a command (usage errors, --help, exit codes): not ours to describe
_CLICK_ENDS = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader closed the pipe


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing what is left at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (tests capture it): nothing to quiet
        pass


class _Group(click.Group):
    def invoke(self, ctx):
        with command_process():  # umask 0077, SIGTERM like Ctrl-C, for the whole command
            try:
                return super().invoke(ctx)
            except _CLICK_ENDS:
                raise
            except BrokenPipeError:  # the reader of the output went away (`underpay worklist list | head`)
                _quiet_stdout()
                sys.exit(EXIT_BROKEN_PIPE)
            except BaseException as exc:  # noqa: BLE001 - every end is one Error: line (a polars panic too)
                name = " ".join(["underpay", ctx.invoked_subcommand or ""]).strip()
                message, code = describe(exc, name)
                click.echo(f"Error: {printable(message)}", err=True)
                sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="underpay")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings file [default: ./underpay.toml when present]. Flags override it.",
)
@click.option(
    "--debug",
    is_flag=True,
    default=False,
    help="Log debug messages to stderr, with the traceback of an unexpected error [also: UNDERPAY_DEBUG=1].",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None, debug: bool) -> None:
    """underpay: find where payers paid less than their contracts say.

    Flow: ingest 835 remittances -> warehouse -> validate -> price (Medicare
    fee schedule, contracts) -> compare -> report.
    """
    if debug or os.environ.get("UNDERPAY_DEBUG", "") not in ("", "0"):
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        ctx.obj = load_settings(config)
    except UnderpayError as exc:
        raise click.ClickException(str(exc)) from exc


for _module in (
    ingest,
    fee_schedule,
    price,
    contracts,
    compare,
    worklist,
    appeal,
    report,
    negotiate,
    market,
    run,
    nightly,
    demo,
    export,
    load,
):
    main.add_command(_module.command)


def entry() -> None:  # pragma: no cover - run in subprocesses by the CLI, nightly and demo tests
    """The `underpay` console script: run the command, then leave without the interpreter's teardown.

    By the time a command returns, its warehouse is committed and closed and its files written;
    tearing down the interpreter (collecting a gigabyte of frames, unloading pandera/polars/DuckDB)
    then took ~0.1 s of a 4 s ingest. Output and logs are flushed first.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # Ctrl-C before a command started (or after it ended)
        print("Error: interrupted (Ctrl-C); nothing more was done", file=sys.stderr)
        code = 130
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)
