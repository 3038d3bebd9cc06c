"""Fixtures for the lake tests: a small warehouse built from synthetic 835s (two payment months
and more), the tests' own tiny fee-schedule release (tests/tiny_mpfs.py) and the example
contracts, compared once per session; each test works on its own copy."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"


@dataclass(frozen=True)
class LakeSite:
    db: Path  # a private copy of the warehouse (everything but ``held`` ingested, then compared)
    contracts: Path
    held: Path  # one more 835, not yet ingested: all its payments in one month that already has others
    held_month: date  # first day of that month


@pytest.fixture(scope="session")
def lake_template(tmp_path_factory):
    """(warehouse file, contracts folder, held-back 835, its month), built once."""
    from pipelines.compare.compare import compare
    from pipelines.core.config import Settings
    from pipelines.core.warehouse import connect
    from pipelines.ingest.load import ingest_paths
    from pipelines.synthetic.writer import SynthSpec, write_remittances
    from tests.tiny_mpfs import build_warehouse

    folder = tmp_path_factory.mktemp("lake-template")
    db = build_warehouse(folder / "warehouse.duckdb", folder / "cms")
    synth = write_remittances(
        SynthSpec(start=date(2025, 1, 1), months=2, claims_per_month=40, seed=7, reversal_rate=0.05, plb_rate=0.2),
        folder / "remits",
    )
    payments = synth.payments
    reversing = set(synth.truth.filter(synth.truth["claim_status"] == "22")["file_name"].to_list())
    payments = payments.with_columns(month=payments["payment_date"].dt.truncate("1mo"))
    per_month = payments.group_by("month").len()
    busy = set(per_month.filter(per_month["len"] >= 3)["month"].to_list())
    candidates = payments.filter(payments["month"].is_in(busy) & ~payments["file_name"].is_in(reversing)).sort(
        "file_name"
    )
    held_name, held_month = candidates.row(0, named=True)["file_name"], candidates.row(0, named=True)["month"]
    held = next(p for p in synth.files if p.name == held_name)
    aside = folder / "held"
    aside.mkdir()
    held = Path(shutil.move(held, aside / held.name))
    contracts = folder / "contracts"
    shutil.copytree(EXAMPLES, contracts)
    con = connect(db)
    try:
        result = ingest_paths([folder / "remits"], con)
        assert result.loaded == len(synth.files) - 1
        compare(con, contracts, settings=Settings(practice_zip="10001"))
    finally:
        con.close()
    return db, contracts, held, held_month


@pytest.fixture()
def site(lake_template, tmp_path) -> LakeSite:
    db, contracts, held, held_month = lake_template
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(db, copy)
    return LakeSite(db=copy, contracts=contracts, held=held, held_month=held_month)


@pytest.fixture()
def con(site):
    from pipelines.core.warehouse import connect

    con = connect(site.db)
    yield con
    con.close()
