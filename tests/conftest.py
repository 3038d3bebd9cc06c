"""Fixtures shared by every test folder.

Third-party data (CMS releases, sample 835s) is read where it lies in ../shared/; it is
never copied into the project.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# CI shares 2 cores between two test workers: time limits per example would only make
# property tests flaky, so no deadline (sizes are bounded by each test's strategies).
settings.register_profile("underpay", deadline=None)
settings.load_profile("underpay")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared"))
ERA_SAMPLES = SHARED / "samples" / "era"
CMS = SHARED / "cms"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.fail(f"{SHARED} not found: the tests read ../shared beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def cms_dir(shared_dir) -> Path:
    return shared_dir / "cms"


@pytest.fixture(scope="session")
def era_samples_dir(shared_dir) -> Path:
    return shared_dir / "samples" / "era"


@pytest.fixture(scope="session")
def mpfs_template(tmp_path_factory, cms_dir) -> Path:
    """A warehouse file with every CMS release in ../shared/cms imported (built once)."""
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect

    path = tmp_path_factory.mktemp("mpfs") / "mpfs.duckdb"
    con = connect(path)
    import_release(con, cms_dir / "2025", 2025, "A")
    import_release(con, cms_dir / "2025" / "RVU25D", 2025, "D")
    import_release(con, cms_dir / "2026", 2026, "C")
    con.close()
    return path


@pytest.fixture()
def mpfs_db(mpfs_template, tmp_path) -> Path:
    """A private copy of the fee-schedule warehouse for one test."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(mpfs_template, path)
    return path
