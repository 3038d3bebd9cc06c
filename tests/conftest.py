"""Fixtures shared by every test folder.

Third-party data is read where it lies; it is never copied into the project. CMS releases come
from where `make demo` finds them (fee_schedules.download.find_release: $UNDERPAY_CMS_MIRROR,
../shared/cms, the download cache, else cms.gov once); sample 835s, tic/ and reference/ come
from ../shared ($UNDERPAY_SHARED). A test whose material is absent skips with one line naming
what is missing and how to provide it; everything else runs on a bare clone, offline.
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
CMS_YEARS = (2025, 2026)  # the releases the fee-schedule tests read


def shared_path(*parts: str) -> Path:
    """A path under ../shared (or $UNDERPAY_SHARED); the test skips, saying so in one line, when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} not found: third-party reference material; "
            f"place ../shared beside the checkout or set UNDERPAY_SHARED"
        )
    return path


def needs_shared(*parts: str) -> pytest.MarkDecorator:
    """Skip marker for a test (or module) that reads ``../shared/<parts>`` directly at collection time."""
    path = SHARED.joinpath(*parts)
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"{path} not found: third-party reference material; "
        f"place ../shared beside the checkout or set UNDERPAY_SHARED",
    )


def cms_root(years=CMS_YEARS) -> Path:
    """The folder holding the CMS releases by year, found as `make demo` finds them.

    fee_schedules.download.find_release: $UNDERPAY_CMS_MIRROR, ../shared/cms ($UNDERPAY_SHARED/cms),
    the download cache, else cms.gov once (fails within seconds offline). Every year must sit
    in the same folder (the tests read ``<root>/2025/...`` and ``<root>/2026/...``); otherwise skip.
    """
    from fee_schedules.download import ReleaseNotFound, find_release

    root = None
    for year in years:
        try:
            folder = find_release(year)
        except ReleaseNotFound as exc:
            offline = "; cms.gov unreachable" if exc.failure else ""
            pytest.skip(
                f"CMS {year} release not found ({', '.join(exc.looked)}{offline}): "
                f"set UNDERPAY_CMS_MIRROR or place ../shared beside the checkout"
            )
        if root is not None and folder.parent != root:
            pytest.skip(
                f"CMS {year} release found in {folder.parent}, not beside {root}/{years[0]}: "
                f"set UNDERPAY_CMS_MIRROR to one folder holding {', '.join(map(str, years))}"
            )
        root = folder.parent
    return root


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def cms_dir() -> Path:
    """The CMS releases by year (2025/, 2026/): a mirror, ../shared/cms, or the download cache."""
    return cms_root()


@pytest.fixture(scope="session")
def era_samples_dir() -> Path:
    return shared_path("samples", "era")


@pytest.fixture(scope="session")
def mpfs_template(tmp_path_factory, cms_dir) -> Path:
    """A warehouse file with every CMS release the tests read imported (built once; skips without them)."""
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
