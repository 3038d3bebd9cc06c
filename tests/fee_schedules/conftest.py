"""Fixtures for the fee schedule tests: a read-only connection to the shared MPFS warehouse."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture(scope="module")
def mpfs_con(mpfs_template):
    con = duckdb.connect(str(mpfs_template), read_only=True)
    yield con
    con.close()
