"""load_variances: the variances an engine wrote in Spark's partitionBy layout, loaded back whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipelines.core.errors import LakeError
from pipelines.core.months import Month
from pipelines.lake import layout
from pipelines.lake.variances import load_variances, variance_files


def _write_layout(con, root: Path, select: str = "SELECT * FROM variances") -> Path:
    """Spark's partitionBy('payment_month') layout, made by DuckDB (the month in the folder name only)."""
    folder = layout.variances_dir(root)
    folder.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY ({select}) TO $dir (FORMAT parquet, PARTITION_BY (payment_month), FILENAME_PATTERN 'part-{{i}}')",
        {"dir": str(folder)},
    )
    return folder


def _snapshot(con) -> list[tuple]:
    return con.execute("SELECT * FROM variances ORDER BY line_id").fetchall()


def _month_file(folder: Path, month: str) -> Path:
    files = sorted((folder / f"payment_month={month}").glob("*.parquet"))
    assert len(files) == 1
    return files[0]


def _rewrite(con, path: Path, select: str) -> None:
    """Replace one file with ``select`` over its own rows (``f``)."""
    tmp = path.with_name("rewritten.tmp")
    con.execute(
        f"COPY ({select.replace('FROM f', 'FROM read_parquet($src, hive_partitioning = false)')}) TO $dst (FORMAT parquet)",
        {"src": str(path), "dst": str(tmp)},
    )
    os.replace(tmp, path)


def test_round_trip(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    (folder / "_SUCCESS").write_text("")  # what Spark leaves beside the months: skipped
    (folder / "payment_month=2025-01-01" / ".part-0.parquet.crc").write_text("")
    original = _snapshot(con)
    by_month = dict(
        con.execute("SELECT strftime(payment_month, '%Y-%m-%d'), count(*) FROM variances GROUP BY ALL").fetchall()
    )
    con.execute("DELETE FROM variances")
    result = load_variances(con, root)
    assert _snapshot(con) == original
    assert result.rows_by_month == by_month and result.rows == len(original)
    assert result.replaced == 0 and result.files == len(by_month)
    assert "loaded" in result.summary() and "2025-02" in result.summary()
    again = load_variances(con, root)  # a rerun neither loses nor doubles
    assert _snapshot(con) == original
    assert again.replaced == len(original)


def test_one_month_only(site, con, tmp_path):
    root = tmp_path / "lake"
    _write_layout(con, root)
    original = _snapshot(con)
    con.execute("DELETE FROM variances WHERE payment_month = DATE '2025-02-01'")
    result = load_variances(con, root, months=[Month(2025, 2)])
    assert list(result.rows_by_month) == ["2025-02-01"]
    assert _snapshot(con) == original
    assert variance_files(root, months=[Month(2025, 2)]) == [_month_file(layout.variances_dir(root), "2025-02-01")]


def test_a_mistyped_column_refuses_the_whole_load(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    bad = _month_file(folder, "2025-03-01")
    _rewrite(con, bad, "SELECT * REPLACE (CAST(variance AS VARCHAR) AS variance) FROM f")
    con.execute("UPDATE variances SET explanation = 'before'")  # so a partial load would show
    before = _snapshot(con)
    with pytest.raises(LakeError) as err:
        load_variances(con, root)
    message = str(err.value)
    assert str(bad) in message and "variance is VARCHAR, expected DECIMAL(14,2)" in message
    assert "nothing was loaded" in message
    assert _snapshot(con) == before


def test_a_missing_column_refuses_the_whole_load(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    bad = _month_file(folder, "2025-01-01")
    _rewrite(con, bad, "SELECT * EXCLUDE (explanation) FROM f")
    before = _snapshot(con)
    with pytest.raises(LakeError, match=r"column explanation \(VARCHAR\) is missing"):
        load_variances(con, root)
    assert _snapshot(con) == before


def test_narrower_types_and_extra_columns_are_accepted(site, con, tmp_path):
    root = tmp_path / "lake"
    _write_layout(
        con,
        root,
        "SELECT * REPLACE (CAST(medicare_year AS SMALLINT) AS medicare_year, CAST(billed AS DECIMAL(12,2)) AS billed), "
        "42 AS engine_version FROM variances",
    )
    original = _snapshot(con)
    con.execute("DELETE FROM variances")
    result = load_variances(con, root)
    assert _snapshot(con) == original
    assert result.ignored_columns == ["engine_version"]
    assert "engine_version" in result.summary()


def test_a_timestamp_with_time_zone_keeps_its_utc_wall_clock(site, con, tmp_path):
    """Spark writes TimestampType as an instant; stored as its UTC wall clock whatever the session zone."""
    root = tmp_path / "lake"
    _write_layout(con, root, "SELECT * REPLACE (timezone('UTC', computed_at) AS computed_at) FROM variances")
    original = _snapshot(con)
    con.execute("DELETE FROM variances")
    con.execute("SET TimeZone = 'America/New_York'")
    load_variances(con, root)
    assert _snapshot(con) == original


def test_a_partition_column_in_the_files_is_refused(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    _rewrite(con, _month_file(folder, "2025-01-01"), "SELECT *, DATE '2025-01-01' AS payment_month FROM f")
    with pytest.raises(LakeError, match="folder name only"):
        load_variances(con, root)


def test_rows_of_another_warehouse_are_refused(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    _rewrite(con, _month_file(folder, "2025-02-01"), "SELECT * REPLACE (line_id + 1000000000 AS line_id) FROM f")
    before = _snapshot(con)
    with pytest.raises(LakeError, match="another warehouse"):
        load_variances(con, root)
    assert _snapshot(con) == before


def test_a_line_twice_is_refused(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    month = _month_file(folder, "2025-02-01")
    con.execute(
        "COPY (SELECT * FROM read_parquet($src, hive_partitioning = false) LIMIT 1) TO $dst (FORMAT parquet)",
        {"src": str(month), "dst": str(month.with_name("part-extra.parquet"))},
    )
    with pytest.raises(LakeError, match="more than once"):
        load_variances(con, root)


def test_a_row_the_table_refuses_rolls_back_the_deletes(site, con, tmp_path):
    """The last check is the table's own (NOT NULL): the transaction leaves the old rows in place."""
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    _rewrite(con, _month_file(folder, "2025-03-01"), "SELECT * REPLACE (CAST(NULL AS VARCHAR) AS category) FROM f")
    before = _snapshot(con)
    with pytest.raises(LakeError, match="could not be stored"):
        load_variances(con, root)
    assert _snapshot(con) == before


def test_no_variances_folder(site, con, tmp_path):
    with pytest.raises(LakeError, match="run the Spark engine"):
        load_variances(con, tmp_path / "empty")
    (tmp_path / "lake" / "variances" / "stray").mkdir(parents=True)
    with pytest.raises(LakeError, match="not a payment_month=YYYY-MM-01 folder"):
        load_variances(con, tmp_path / "lake")


def test_the_files_are_read_not_changed(site, con, tmp_path):
    root = tmp_path / "lake"
    folder = _write_layout(con, root)
    before = {p: (p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode)) for p in folder.rglob("*")}
    load_variances(con, root)
    assert {p: (p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode)) for p in folder.rglob("*")} == before
