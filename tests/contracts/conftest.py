"""Fixtures for the contract tests: the checker needs *an* imported fee schedule, not CMS's figures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mpfs_template(tmp_path_factory) -> Path:
    """Overrides the suite's CMS warehouse (tests/conftest.py): the tests' own small release
    (tests/tiny_mpfs.py, every code of pipelines.synthetic.codes, 99213 among them), so these
    tests run without ../shared and offline."""
    from tests.tiny_mpfs import build_warehouse

    folder = tmp_path_factory.mktemp("tiny-mpfs")
    return build_warehouse(folder / "mpfs.duckdb", folder / "cms")
