"""Fixtures of the report tests (helpers live in report_helpers.py beside this file)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_helpers import WarehouseBuilder, build_sample  # noqa: E402


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    return build_sample(WarehouseBuilder()).write(tmp_path_factory.mktemp("reports") / "sample.duckdb")


@pytest.fixture()
def sample_db(sample_template, tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_template, path)
    path.chmod(0o600)
    return path


@pytest.fixture()
def sample_con(sample_template):
    import duckdb

    con = duckdb.connect(str(sample_template), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def mpfs_db_or_skip(request):
    """The shared fee-schedule warehouse, when fee_schedules can build it (being written)."""
    try:
        from fee_schedules import importer, pricing  # noqa: F401

        assert hasattr(pricing, "price_lines") and hasattr(importer, "import_release")
    except (ImportError, AssertionError):
        pytest.skip("fee_schedules.pricing / importer not built yet: Medicare pricing at a location untested")
    return request.getfixturevalue("mpfs_db")
