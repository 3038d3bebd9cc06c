"""`underpay`: one console command, a thin shell over the library.

Each subcommand lives in pipelines/cli/commands/<name>.py. Errors the user can act on
(UnderpayError) become one ``Error:`` line and a non-zero exit status.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipelines import __version__
from pipelines.cli.commands import (
    compare,
    contracts,
    demo,
    fee_schedule,
    ingest,
    negotiate,
    nightly,
    price,
    report,
    run,
)
from pipelines.core.config import load_settings
from pipelines.core.errors import UnderpayError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UnderpayError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="underpay")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings file [default: ./underpay.toml when present]. Flags override it.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """underpay: find where payers paid less than their contracts say.

    Flow: ingest 835 remittances -> warehouse -> validate -> price (Medicare
    fee schedule, contracts) -> compare -> report.
    """
    try:
        ctx.obj = load_settings(config)
    except UnderpayError as exc:
        raise click.ClickException(str(exc)) from exc


for _module in (ingest, fee_schedule, price, contracts, compare, report, negotiate, run, nightly, demo):
    main.add_command(_module.command)


def entry() -> None:  # pragma: no cover - run in subprocesses by the CLI, nightly and demo tests
    """The `underpay` console script: run the command, then leave without the interpreter's teardown.

    By the time a command returns, its warehouse is committed and closed and its files written;
    tearing down the interpreter (collecting a gigabyte of frames, unloading pandera/polars/DuckDB)
    then took ~0.1 s of a 4 s ingest. Output and logs are flushed first.
    """
    import logging
    import os

    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
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
