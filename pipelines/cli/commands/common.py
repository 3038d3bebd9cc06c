"""Options shared by every command, written once."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.core.config import Settings
from pipelines.core.errors import ConfigError
from pipelines.core.months import Month


def settings(ctx: click.Context | None = None) -> Settings:
    ctx = ctx or click.get_current_context()
    return ctx.find_root().obj


def db_option(f):
    return click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path),
        default=None,
        help="Warehouse DuckDB file [default: paths.warehouse of underpay.toml, else warehouse.duckdb].",
    )(f)


def contracts_option(f):
    return click.option(
        "--contracts",
        "contracts",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder of contract YAML files [default: paths.contracts, else contracts/].",
    )(f)


class MonthType(click.ParamType):
    """``--month YYYY-MM`` -> :class:`Month`, parsed here once; a bad value is a usage error (exit 2)."""

    name = "YYYY-MM"

    def convert(self, value, param, ctx) -> Month:
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(value)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


MONTH = MonthType()


def months_option(what: str):
    """``--month YYYY-MM``, repeatable: the payment months a lake command works on (all when none)."""
    return click.option(
        "--month",
        "months",
        type=MONTH,
        multiple=True,
        help=f"Only {what}, YYYY-MM; repeat for several [default: every month].",
    )


def resolve_db(db: Path | None) -> Path:
    return db if db is not None else settings().warehouse


def resolve_contracts(contracts: Path | None) -> Path:
    return contracts if contracts is not None else settings().contracts
