"""One DuckDB transaction: a file loads whole or not at all, a table migrates whole or not at all."""

from __future__ import annotations

import contextlib
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """BEGIN ... COMMIT, or ROLLBACK on any exception (a file loads whole or not at all)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        _rollback(con)
        raise
    try:
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)  # a COMMIT that failed (disk full) or was cut short (Ctrl-C) leaves it open
        raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK without hiding the error that called for it (a broken connection cannot roll back)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")
