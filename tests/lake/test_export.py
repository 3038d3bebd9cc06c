"""export_lake: the warehouse as a Parquet lake, read back equal; incremental; atomic; private."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import duckdb
import pytest

from pipelines.core.errors import LakeError
from pipelines.core.months import Month
from pipelines.core.sql import arrow_view
from pipelines.lake import export as lake_export
from pipelines.lake import layout
from pipelines.lake.export import contract_tables, export_lake, read_manifest


def _glob(root: Path, table: str) -> str:
    return str(layout.table_dir(root, table) / "*" / "*.parquet")


def _describe(con, select: str, params=None) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {select}", params or {}).fetchall()]


def _same_rows(con, a: str, b: str, params) -> None:
    """The two SELECTs return the same multiset of rows."""
    for left, right in ((a, b), (b, a)):
        extra = con.execute(f"SELECT count(*) FROM ({left} EXCEPT ALL {right})", params).fetchall()[0][0]
        assert extra == 0, f"{extra} row(s) of one side missing from the other"
    na, nb = con.execute(f"SELECT (SELECT count(*) FROM ({a})), (SELECT count(*) FROM ({b}))", params).fetchall()[0]
    assert na == nb


def _warehouse_select(table: str) -> str:
    excluded = layout.EXCLUDED_COLUMNS.get(table)
    return f"SELECT * EXCLUDE ({', '.join(excluded)}) FROM {table}" if excluded else f"SELECT * FROM {table}"


def _part_files(root: Path) -> dict[str, tuple[int, str]]:
    """relative path -> (mtime_ns, sha256) of every Parquet file of the lake (staging excluded)."""
    out = {}
    for path in sorted(root.rglob("*.parquet")):
        rel = path.relative_to(root)
        if rel.parts[0] == layout.STAGING:
            continue
        out[str(rel)] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _months_of(files: dict, table: str = "claims") -> set[str]:
    return {Path(k).parts[1] for k in files if Path(k).parts[0] == table}


def test_round_trip_equals_the_warehouse(site, con, tmp_path):
    root = tmp_path / "lake"
    result = export_lake(con, root, contracts_dir=site.contracts)
    assert result.months_written == ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
    assert not result.months_unchanged and not result.months_removed
    for table in layout.MONTH_TABLES:
        params = {"g": _glob(root, table)}
        lake = "SELECT * EXCLUDE (payment_month) FROM read_parquet($g, hive_partitioning = true)"
        ours = _warehouse_select(table)
        assert _describe(con, lake, params) == _describe(con, ours), table  # same columns, same types
        _same_rows(con, lake, ours, params)
        assert result.rows[table] == con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        # payment_month (from the folder, a DATE) is the month of the row's payment
        assert (
            dict(_describe(con, "SELECT * FROM read_parquet($g, hive_partitioning = true)", params))["payment_month"]
            == "DATE"
        )
        wrong = con.execute(
            """SELECT count(*) FROM read_parquet($g, hive_partitioning = true) f JOIN payments p USING (payment_id)
               WHERE f.payment_month <> CAST(date_trunc('month', p.payment_date) AS DATE)""",
            params,
        ).fetchall()[0][0]
        assert wrong == 0
        # the files themselves have no payment_month column, and no PHI
        for path in layout.table_dir(root, table).glob("*/*.parquet"):
            cols = {
                c
                for c, _ in _describe(
                    con, "SELECT * FROM read_parquet($f, hive_partitioning = false)", {"f": str(path)}
                )
            }
            assert layout.PARTITION_KEY not in cols
            assert not cols & set(layout.EXCLUDED_COLUMNS.get(table, ()))
    for table in layout.REFERENCE_TABLES:
        params = {"f": str(layout.reference_dir(root, table) / layout.PART_FILE)}
        lake = "SELECT * FROM read_parquet($f)"
        assert _describe(con, lake, params) == _describe(con, f"SELECT * FROM {table}"), table
        _same_rows(con, lake, f"SELECT * FROM {table}", params)
    assert con.execute("SELECT count(*) FROM mpfs_rvu").fetchall()[0][0] > 0  # the tiny release is there
    for name, frame in contract_tables(site.contracts).items():
        con.register("frame_under_test", arrow_view(frame))
        params = {"f": str(layout.contract_dir(root, name) / layout.PART_FILE)}
        lake = "SELECT * FROM read_parquet($f)"
        assert _describe(con, lake, params) == _describe(con, "SELECT * FROM frame_under_test"), name
        _same_rows(con, lake, "SELECT * FROM frame_under_test", params)
        con.unregister("frame_under_test")
    manifest = read_manifest(root)
    assert manifest["format_version"] == layout.FORMAT_VERSION and manifest["exported_at"]
    assert sorted(manifest["months"]) == result.months_written
    assert manifest["excluded_columns"] == {"claims": list(layout.EXCLUDED_COLUMNS["claims"])}
    assert not (root / layout.STAGING).exists()
    assert "4 month(s) written" in result.summary()


def test_a_second_export_rewrites_nothing(site, con, tmp_path):
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    before = _part_files(root)
    again = export_lake(con, root, contracts_dir=site.contracts)
    assert again.months_written == [] and len(again.months_unchanged) == 4 and again.months_removed == []
    assert again.reference_written == [] and again.contracts_written == []
    assert again.rows_written == {}
    assert _part_files(root) == before


def test_one_more_835_rewrites_only_its_month(site, con, tmp_path):
    from pipelines.ingest.load import ingest_paths

    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    before = _part_files(root)
    ingest_paths([site.held], con)
    month = Month.of(site.held_month).start.isoformat()
    result = export_lake(con, root, contracts_dir=site.contracts)
    assert result.months_written == [month]
    assert len(result.months_unchanged) == 3
    after = _part_files(root)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed and all(f"payment_month={month}" in k for k in changed)
    assert {k for k in changed if k.startswith("payments/")}  # the new payment is in its month's file
    n = con.execute(
        "SELECT count(*) FROM read_parquet($g, hive_partitioning = true)", {"g": _glob(root, "service_lines")}
    ).fetchall()[0][0]
    assert n == con.execute("SELECT count(*) FROM service_lines").fetchall()[0][0]


def test_an_update_of_an_older_claim_rewrites_its_month(site, con, tmp_path):
    """Ingest links a later reversal to an older claim with an UPDATE: same row count, new content."""
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    claim_id, day = con.execute(
        """SELECT c.claim_id, p.payment_date FROM claims c JOIN payments p USING (payment_id)
           WHERE c.reversed_by_claim_id IS NULL ORDER BY p.payment_date DESC, c.claim_id LIMIT 1"""
    ).fetchall()[0]
    con.execute("UPDATE claims SET reversed_by_claim_id = 999999 WHERE claim_id = ?", [claim_id])
    result = export_lake(con, root, contracts_dir=site.contracts)
    assert result.months_written == [Month.of(day).start.isoformat()]
    got = con.execute(
        "SELECT reversed_by_claim_id FROM read_parquet($g, hive_partitioning = true) WHERE claim_id = $c",
        {"g": _glob(root, "claims"), "c": claim_id},
    ).fetchall()[0][0]
    assert got == 999999


def test_a_month_gone_from_the_warehouse_is_removed(site, con, tmp_path):
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    gone = "payment_id IN (SELECT payment_id FROM payments WHERE payment_date >= DATE '2025-04-01')"
    for table in ("adjustments", "service_lines", "claims", "payments"):
        con.execute(f"DELETE FROM {table} WHERE {gone}")
    result = export_lake(con, root, contracts_dir=site.contracts)
    assert result.months_removed == ["2025-04-01"] and result.months_written == []
    for table in layout.MONTH_TABLES:
        assert not layout.month_dir(root, table, Month(2025, 4)).exists()
        assert layout.month_dir(root, table, Month(2025, 3)).exists()
    assert "2025-04-01" not in read_manifest(root)["months"]


def test_months_limit_the_export(site, con, tmp_path):
    root = tmp_path / "lake"
    result = export_lake(con, root, contracts_dir=site.contracts, months=[Month(2025, 2)])
    assert result.months_written == ["2025-02-01"]
    assert _months_of(_part_files(root)) == {"payment_month=2025-02-01"}
    full = export_lake(con, root, contracts_dir=site.contracts)
    assert full.months_written == ["2025-01-01", "2025-03-01", "2025-04-01"]
    assert full.months_unchanged == ["2025-02-01"]
    # a month asked for that is gone is removed; the others are left alone
    con.execute("DELETE FROM payments WHERE payment_date >= DATE '2025-04-01'")
    only = export_lake(con, root, contracts_dir=site.contracts, months=[Month(2025, 1)])
    assert only.months_removed == [] and only.months_unchanged == ["2025-01-01"]
    assert layout.month_dir(root, "payments", Month(2025, 4)).exists()


def test_payments_without_a_date_go_to_the_null_partition(site, con, tmp_path):
    root = tmp_path / "lake"
    pid = con.execute("SELECT min(payment_id) FROM payments").fetchall()[0][0]
    con.execute("UPDATE payments SET payment_date = NULL WHERE payment_id = ?", [pid])
    result = export_lake(con, root, contracts_dir=site.contracts)
    assert result.months_written[-1] == layout.NULL_PARTITION
    for table in layout.MONTH_TABLES:
        assert (layout.month_dir(root, table, None) / layout.PART_FILE).is_file()
    rows = con.execute(
        """SELECT count(*), count(payment_month) FROM read_parquet($g, hive_partitioning = true,
               hive_types = {'payment_month': DATE}) WHERE payment_id = $p""",
        {"g": _glob(root, "service_lines"), "p": pid},
    ).fetchall()[0]
    assert rows[0] > 0 and rows[1] == 0  # read back as NULL
    assert export_lake(con, root, contracts_dir=site.contracts, months=[Month(2025, 1)]).months_removed == []
    assert layout.month_dir(root, "payments", None).exists()


def _visible_files(root: Path) -> set[str]:
    """The files a reader of DIR/<table>/*/*.parquet sees (DuckDB's glob also matches hidden names)."""
    con = duckdb.connect()
    seen = set()
    for table in layout.MONTH_TABLES:
        for (name,) in con.execute("SELECT file FROM glob($g)", {"g": _glob(root, table)}).fetchall():
            seen.add(str(Path(name).relative_to(root)))
    return seen


def test_a_failure_mid_month_leaves_the_previous_month_whole(site, con, tmp_path, monkeypatch):
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    before = _part_files(root)
    con.execute(
        "UPDATE claims SET payer_claim_number = payer_claim_number || 'X' WHERE payment_id IN "
        "(SELECT payment_id FROM payments WHERE payment_date < DATE '2025-02-01')"
    )
    real_copy = lake_export._copy
    calls = []

    def failing_copy(con_, select, params, path):
        calls.append(path)
        if len(calls) == 2:  # the month's second table
            raise OSError(28, "No space left on device", str(path))
        return real_copy(con_, select, params, path)

    monkeypatch.setattr(lake_export, "_copy", failing_copy)
    with pytest.raises(OSError):
        export_lake(con, root, contracts_dir=site.contracts)
    assert _part_files(root) == before  # every month folder as it was, byte for byte
    assert _visible_files(root) == {k for k in before if Path(k).parts[0] in layout.MONTH_TABLES}
    monkeypatch.setattr(lake_export, "_copy", real_copy)
    rerun = export_lake(con, root, contracts_dir=site.contracts)
    assert rerun.months_written == ["2025-01-01"]
    _same_rows(
        con,
        "SELECT * EXCLUDE (payment_month) FROM read_parquet($g, hive_partitioning = true)",
        _warehouse_select("claims"),
        {"g": _glob(root, "claims")},
    )


def test_a_stop_between_the_two_renames_is_put_right(site, con, tmp_path, monkeypatch):
    """Killed after the old folder went aside and before the new one came in: the next export puts
    the old folder back first, then finishes; the staging area is never visible to readers."""
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    before = _part_files(root)
    con.execute(
        "UPDATE payments SET payee_name = 'RENAMED' WHERE payment_date >= DATE '2025-03-01' "
        "AND payment_date < DATE '2025-04-01'"
    )
    real_rename = os.rename
    renames = []

    def stopping_rename(src, dst):
        renames.append((src, dst))
        if len(renames) == 2:  # the new payments folder of the month would come in now
            raise KeyboardInterrupt
        return real_rename(src, dst)

    monkeypatch.setattr(lake_export.os, "rename", stopping_rename)
    with pytest.raises(KeyboardInterrupt):
        export_lake(con, root, contracts_dir=site.contracts)
    monkeypatch.setattr(lake_export.os, "rename", real_rename)
    march = layout.month_dir(root, "payments", Month(2025, 3))
    assert not march.exists()  # aside, in the staging area
    assert (root / layout.STAGING / "old" / "payments" / march.name).is_dir()
    assert not any("_staging" in k for k in _visible_files(root))
    lake_export._recover(root)  # what the next export does first
    assert _part_files(root) == before
    rerun = export_lake(con, root, contracts_dir=site.contracts)
    assert rerun.months_written == ["2025-03-01"]
    names = con.execute(
        "SELECT DISTINCT payee_name FROM read_parquet($f)", {"f": str(march / layout.PART_FILE)}
    ).fetchall()
    assert names == [("RENAMED",)]


def test_files_0600_folders_0700(site, con, tmp_path):
    root = tmp_path / "lake"
    old = os.umask(0o022)
    try:
        export_lake(con, root, contracts_dir=site.contracts)
    finally:
        os.umask(old)
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"


def test_refuses_a_folder_that_is_not_a_lake(site, con, tmp_path):
    root = tmp_path / "documents"
    root.mkdir()
    (root / "letter.txt").write_text("keep me")
    with pytest.raises(LakeError, match="not an underpay lake"):
        export_lake(con, root, contracts_dir=site.contracts)
    assert sorted(p.name for p in root.iterdir()) == ["letter.txt"]
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(LakeError, match="is a file"):
        export_lake(con, file, contracts_dir=site.contracts)


def test_refuses_a_manifest_of_another_format(site, con, tmp_path):
    root = tmp_path / "lake"
    export_lake(con, root, contracts_dir=site.contracts)
    manifest = json.loads((root / layout.MANIFEST).read_text())
    manifest["format_version"] = 99
    (root / layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(LakeError, match="version 99"):
        export_lake(con, root, contracts_dir=site.contracts)


def test_a_contract_change_rewrites_only_the_contracts(site, con, tmp_path):
    import shutil

    root = tmp_path / "lake"
    contracts = tmp_path / "contracts"
    shutil.copytree(site.contracts, contracts)
    export_lake(con, root, contracts_dir=contracts)
    first = sorted(contracts.glob("*.yaml"))[0]
    first.write_text(first.read_text().replace("name: ", "name: Renamed ", 1))
    result = export_lake(con, root, contracts_dir=contracts)
    assert result.contracts_written == ["ct_contracts"]
    assert result.months_written == [] and result.reference_written == []
