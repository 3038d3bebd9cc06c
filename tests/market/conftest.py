"""Fixtures of the market tests: a fresh warehouse per test, the CMS TiC examples where they lie (../shared/tic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.warehouse import connect
from tests.conftest import shared_path


@pytest.fixture()
def con(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


@pytest.fixture(scope="session")
def tic() -> Path:
    """../shared/tic: the CMS schemas and examples (v1.6.2 and v2.2.0); skips when absent."""
    return shared_path("tic")


def counts(con) -> tuple[int, int]:
    """(market_files rows, market_rates rows)."""
    return (
        con.execute("SELECT count(*) FROM market_files").fetchall()[0][0],
        con.execute("SELECT count(*) FROM market_rates").fetchall()[0][0],
    )
