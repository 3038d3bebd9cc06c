"""Fixtures for the pipeline tests: a small synthetic inbox, contracts, a warehouse with an MPFS release.

These tests exercise orchestration (ingest -> compare -> reports, locks, reruns), not CMS's figures:
their warehouse holds the tests' own small release (tests/tiny_mpfs.py, invented rows in CMS's file
layouts, imported by the real importer), so they run without ../shared and offline. The real CMS
release is exercised by tests/fee_schedules, tests/compare and the demo test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipelines.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"


@pytest.fixture(scope="session")
def mpfs_template(tmp_path_factory) -> Path:
    """Overrides the suite's CMS warehouse (tests/conftest.py) for this folder: the tiny release imported."""
    from tests.tiny_mpfs import build_warehouse

    folder = tmp_path_factory.mktemp("tiny-mpfs")
    return build_warehouse(folder / "mpfs.duckdb", folder / "cms")


@pytest.fixture(scope="session")
def synth_files(tmp_path_factory) -> list[Path]:
    """A month of synthetic remittances (a few hundred lines in several files), written once."""
    from pipelines.synthetic.writer import SynthSpec, write_remittances

    out = tmp_path_factory.mktemp("synth")
    result = write_remittances(
        SynthSpec(start=date(2025, 1, 1), months=1, claims_per_month=80, seed=11, reversal_rate=0.05, plb_rate=0.3),
        out / "single",
    )
    # batch them as a clearinghouse does (several interchanges per file): fewer, fuller files
    # keep the tests fast while the kill tests still have files to stop between
    files = sorted(result.files)
    batches = [files[i::8] for i in range(8)]
    written = []
    for i, batch in enumerate(batches, start=1):
        target = out / f"batch{i:02d}.835"
        target.write_bytes(b"".join(f.read_bytes() for f in sorted(batch, key=lambda p: p.name)))
        written.append(target)
    return written


def _make_site(root: Path, mpfs_db: Path, files: list[Path]) -> Settings:
    """Folders of an installation: inbox holding ``files``, contracts, the MPFS warehouse."""
    for name in ("inbox", "archive", "quarantine", "reports"):
        (root / name).mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES, root / "contracts")
    db = root / "warehouse.duckdb"
    if mpfs_db != db:
        shutil.copy(mpfs_db, db)
    for f in files:
        shutil.copy(f, root / "inbox" / f.name)
        os.utime(root / "inbox" / f.name, (0, 0))  # settled long ago
    return Settings(
        warehouse=db,
        inbox=root / "inbox",
        archive=root / "archive",
        quarantine=root / "quarantine",
        contracts=root / "contracts",
        reports=root / "reports",
        practice_zip="10001",
        settle_seconds=0,
    )


@pytest.fixture()
def site(tmp_path, mpfs_db, synth_files) -> Settings:
    return _make_site(tmp_path, mpfs_db, synth_files)


def _nightly_argv(s: Settings, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipelines.cli",
        "nightly",
        "--inbox",
        str(s.inbox),
        "--archive",
        str(s.archive),
        "--quarantine",
        str(s.quarantine),
        "--contracts",
        str(s.contracts),
        "--reports",
        str(s.reports),
        "--db",
        str(s.warehouse),
        "--settle-seconds",
        "0",
        *extra,
    ]


def _run_cli(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


TOTALS_SQL = """
SELECT
  (SELECT count(*) FROM era_files WHERE status = 'loaded')                AS files_loaded,
  (SELECT count(DISTINCT sha256) FROM era_files WHERE status = 'loaded')  AS distinct_loaded,
  (SELECT count(*) FROM payments)                                         AS payments,
  (SELECT count(*) FROM claims)                                           AS claims,
  (SELECT count(*) FROM service_lines)                                    AS lines,
  (SELECT sum(paid) FROM service_lines)                                   AS lines_paid,
  (SELECT sum(paid) FROM claims)                                          AS claims_paid,
  (SELECT count(*) FROM adjustments)                                      AS adjustments,
  (SELECT count(*) FROM provider_adjustments)                             AS plb,
  (SELECT count(*) FROM variances)                                        AS variances,
  (SELECT sum(variance) FROM variances)                                   AS variance_sum,
  (SELECT count(*) FROM variances WHERE category = 'underpaid')           AS underpaid
"""


def _totals(db: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(TOTALS_SQL)
        return dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))
    finally:
        con.close()


@pytest.fixture(scope="session")
def make_site():
    return _make_site


@pytest.fixture(scope="session")
def nightly_argv():
    return _nightly_argv


@pytest.fixture(scope="session")
def run_cli():
    return _run_cli


@pytest.fixture(scope="session")
def totals():
    return _totals
