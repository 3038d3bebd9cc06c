"""The lake layout is declared once and agrees with the DDL, the contracts and the comparison's SQL."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from pipelines.core.logs import PHI_KEYS
from pipelines.core.months import Month
from pipelines.lake import layout

ROOT = Path(__file__).resolve().parents[2]


def _ddl_tables(path: Path) -> list[str]:
    return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", path.read_text(encoding="utf-8"))


def _ddl_columns(path: Path, table: str) -> list[tuple[str, str]]:
    """(column, the rest of its line) of ``table`` in a DDL file."""
    text = path.read_text(encoding="utf-8")
    body = text.split(f"CREATE TABLE IF NOT EXISTS {table} (", 1)[1].split("\n);", 1)[0]
    out = []
    for line in body.splitlines():
        m = re.match(r"\s+(\w+)\s+(.*)", line)
        if m and not m.group(1).upper().startswith(("PRIMARY", "CHECK")):
            out.append((m.group(1), m.group(2)))
    return out


def test_paths():
    root = Path("/lake")
    m = Month(2026, 1)
    assert layout.month_dir(root, "claims", m) == Path("/lake/claims/payment_month=2026-01-01")
    assert layout.month_dir(root, "claims", None) == Path("/lake/claims/payment_month=__HIVE_DEFAULT_PARTITION__")
    assert layout.reference_dir(root, "mpfs_rvu") == Path("/lake/reference/mpfs_rvu")
    assert layout.contract_dir(root, "ct_terms") == Path("/lake/contracts/ct_terms")
    assert layout.variances_dir(root) == Path("/lake/variances")
    assert layout.month_of_partition("payment_month=2026-01-01") == m
    assert layout.month_of_partition("payment_month=__HIVE_DEFAULT_PARTITION__") is None
    for bad in ("payment_month=2026-01-02", "month=2026-01-01", "payment_month=2026-13-01", "_staging"):
        with pytest.raises(ValueError):
            layout.month_of_partition(bad)
    assert all(layout.is_hidden(n) for n in (layout.MANIFEST, layout.STAGING, layout.LOCK_STEM + ".lock"))
    assert not any(layout.is_hidden(n) for n in (*layout.MONTH_TABLES, layout.REFERENCE, layout.CONTRACTS))


def test_reference_tables_are_every_fee_schedule_table():
    assert set(layout.REFERENCE_TABLES) == set(_ddl_tables(ROOT / "fee_schedules" / "sql" / "schema.sql"))


def test_month_tables_exist_in_the_ingest_ddl():
    assert set(layout.MONTH_TABLES) <= set(_ddl_tables(ROOT / "pipelines" / "core" / "ddl" / "ingest.sql"))


def test_contract_tables_are_what_the_comparison_registers(tmp_path):
    from pipelines.lake.export import contract_tables

    frames = contract_tables(ROOT / "contracts" / "examples")
    assert set(frames) == set(layout.CONTRACT_TABLES)
    assert frames[layout.ROSTER].columns == ["npi", "provider_type"]


def test_every_phi_column_is_excluded():
    """Every column the DDL marks (PHI), the columns after it in its group (first/middle names),
    and every PHI key of the logs, when a month table has it, is left out of the lake."""
    ddl = ROOT / "pipelines" / "core" / "ddl" / "ingest.sql"
    for table in layout.MONTH_TABLES:
        columns = _ddl_columns(ddl, table)
        names = {c for c, _ in columns}
        marked = {c for c, rest in columns if "(PHI)" in rest}
        marked |= {c for c in names if c.startswith(("patient_", "insured_", "corrected_")) and "name" in c}
        marked |= {c for c in names if c.endswith("member_id")}
        marked |= names & PHI_KEYS
        excluded = set(layout.EXCLUDED_COLUMNS.get(table, ()))
        assert marked <= excluded, f"{table}: PHI columns not excluded from the lake: {sorted(marked - excluded)}"
        assert excluded <= names, f"{table}: excluded columns the table does not have: {sorted(excluded - names)}"
    assert layout.EXCLUDED_COLUMNS["claims"]  # the claims table has them


def test_the_comparison_reads_no_excluded_column():
    """The lake can leave them out because no step of the comparison reads them."""
    excluded = {c for cols in layout.EXCLUDED_COLUMNS.values() for c in cols}
    sql_dir = ROOT / "pipelines" / "compare" / "sql"
    files = sorted(sql_dir.glob("*.sql"))
    assert files
    found = []
    for path in files:
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))  # comments may name anything
        for column in excluded:
            if re.search(rf"\b{column}\b", text, flags=re.IGNORECASE):
                found.append(f"{path.name}: {column}")
    assert not found, f"the comparison reads columns the lake leaves out: {found}"


def test_partition_value():
    assert layout.partition_value(Month(2025, 12)) == "2025-12-01"
    assert layout.partition_value(None) == "__HIVE_DEFAULT_PARTITION__"
    assert Month.of(date(2025, 12, 31)).start.isoformat() == "2025-12-01"
