"""Run the report queries kept in reports/sql/*.sql with bound parameters.

Each .sql file holds one query with a purpose line and its grain on top; values are bound
as DuckDB named parameters (``$month``), never formatted into the SQL text. Reading and
binding are :mod:`pipelines.core.sql`'s (a missing parameter raises ``KeyError``). Dates are
bound as dates: callers pass ``Month.start`` for a month, never the Month itself.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.core.sql import bind, read_sql


def sql_of(name: str) -> str:
    """Text of reports/sql/<name>.sql."""
    return read_sql("reports.sql", f"{name}.sql")


def _macros(con: duckdb.DuckDBPyConnection) -> None:
    """The report queries' helpers (reports/sql/macros.sql: exact money per unit) on ``con``."""
    con.execute(sql_of("macros"))


def rows(con: duckdb.DuckDBPyConnection, name: str, **params) -> list[dict]:
    """Run a named query; one dict per result row (Decimal money, date dates)."""
    _macros(con)
    sql = sql_of(name)
    cur = con.execute(sql, bind(sql, params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def frame(con: duckdb.DuckDBPyConnection, name: str, **params) -> pl.DataFrame:
    """Run a named query into a polars frame (DECIMAL columns stay pl.Decimal)."""
    _macros(con)
    sql = sql_of(name)
    return con.sql(sql, params=bind(sql, params)).pl()
