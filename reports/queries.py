"""Run the report queries kept in reports/sql/*.sql with bound parameters.

Each .sql file holds one query with a purpose line and its grain on top; values are bound
as DuckDB named parameters (``$month``), never formatted into the SQL text.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib import resources

import duckdb
import polars as pl

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=None)
def sql_text(name: str) -> str:
    """Text of reports/sql/<name>.sql."""
    return resources.files("reports.sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def _bind(sql: str, params: dict) -> dict:
    wanted = set(_PARAM.findall(sql))
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"query needs parameters {sorted(missing)}")
    return {k: v for k, v in params.items() if k in wanted}


def rows(con: duckdb.DuckDBPyConnection, name: str, **params) -> list[dict]:
    """Run a named query; one dict per result row (Decimal money, date dates)."""
    sql = sql_text(name)
    cur = con.execute(sql, _bind(sql, params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def frame(con: duckdb.DuckDBPyConnection, name: str, **params) -> pl.DataFrame:
    """Run a named query into a polars frame (DECIMAL columns stay pl.Decimal)."""
    sql = sql_text(name)
    return con.sql(sql, params=_bind(sql, params)).pl()


def add_months(month: date, n: int) -> date:
    """First day of the month ``n`` months after ``month`` (n may be negative)."""
    total = month.year * 12 + (month.month - 1) + n
    return date(total // 12, total % 12 + 1, 1)


def month_label(month: date) -> str:
    return month.strftime("%Y-%m")
