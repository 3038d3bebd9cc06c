"""Fixtures for the ingest tests: small hand-written 835 files and fresh warehouses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture()
def con():
    """A fresh in-memory warehouse with every table."""
    from pipelines.core.schema import ensure_schema

    c = duckdb.connect()
    ensure_schema(c)
    yield c
    c.close()


def table_counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in (
            "era_files",
            "payments",
            "claims",
            "service_lines",
            "adjustments",
            "provider_adjustments",
            "validation_issues",
        )
    }
