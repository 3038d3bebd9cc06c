"""Proof of sameness: the comparison on DuckDB and on local Spark gives identical variances rows
(every column, money to the cent, category, explanation and derivation; only computed_at, the
clock time of the run, differs) over the demo practice and over a generated month of 100,000+
lines. Each engine runs on its own copy of the same warehouse."""

from __future__ import annotations

import shutil
import sys

import duckdb
import pytest

from pipelines.compare.compare import compare
from pipelines.core.warehouse import connect
from pipelines.spark.engine import compare_spark

from .conftest import _settings

# one test process builds the data sets and starts Spark once (make test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]


def _copies(source, tmp_path):
    out = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        shutil.copytree(source, folder)
        out[engine] = folder
    return out


def _differences(duck_db, spark_db) -> tuple[int, int, int, list[str]]:
    """(rows, rows only on DuckDB, rows only on Spark, the differing columns of the first such line)."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS d (READ_ONLY)", [str(duck_db)])
        con.execute("ATTACH ? AS s (READ_ONLY)", [str(spark_db)])
        cols = [r[0] for r in con.execute("DESCRIBE d.variances").fetchall() if r[0] != "computed_at"]
        sel = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute("SELECT count(*) FROM d.variances").fetchall()[0][0]
        only = {}
        for a, b in (("d", "s"), ("s", "d")):
            only[a] = con.execute(
                f"SELECT count(*) FROM (SELECT {sel} FROM {a}.variances EXCEPT ALL SELECT {sel} FROM {b}.variances)"
            ).fetchall()[0][0]
        differing: list[str] = []
        first = con.execute(
            f"SELECT line_id FROM (SELECT {sel} FROM d.variances EXCEPT ALL SELECT {sel} FROM s.variances) LIMIT 1"
        ).fetchall()
        if first:
            for c in cols:
                d, s = (
                    con.execute(
                        f'SELECT CAST("{c}" AS VARCHAR) FROM {x}.variances WHERE line_id = ?', [first[0][0]]
                    ).fetchall()
                    for x in ("d", "s")
                )
                if d != s:
                    differing.append(f"{c}: duckdb {d} spark {s}")
    finally:
        con.close()
    return rows, only["d"], only["s"], differing


def _run_both(source, tmp_path, spark, *, month=None):
    folders = _copies(source, tmp_path)
    results = {}
    con = connect(folders["duckdb"] / "warehouse.duckdb")
    try:
        # the same contracts folder for both: contract_file (its path) is compared too
        results["duckdb"] = compare(con, source / "contracts", month=month, settings=_settings(source))
    finally:
        con.close()
    con = connect(folders["spark"] / "warehouse.duckdb")
    try:
        results["spark"] = compare_spark(
            con, tmp_path / "lake", source / "contracts", month=month, settings=_settings(source), spark=spark
        )
    finally:
        con.close()
    return folders, results


def _assert_same(folders, results, *, at_least: int) -> None:
    duck, spark = results["duckdb"], results["spark"]
    assert duck.lines >= at_least
    assert (spark.lines, spark.by_category, spark.expected_total, spark.underpaid_total) == (
        duck.lines,
        duck.by_category,
        duck.expected_total,
        duck.underpaid_total,
    )
    rows, only_duckdb, only_spark, differing = _differences(
        folders["duckdb"] / "warehouse.duckdb", folders["spark"] / "warehouse.duckdb"
    )
    assert rows >= at_least
    assert (only_duckdb, only_spark) == (0, 0), differing


def test_demo_practice_variances_are_identical_on_duckdb_and_spark(demo_practice, tmp_path, spark):
    folders, results = _run_both(demo_practice, tmp_path, spark)
    _assert_same(folders, results, at_least=7_000)
    assert results["duckdb"].by_category["underpaid"] > 0 and results["duckdb"].by_category["denied"] > 0


def test_generated_month_of_100k_lines_is_identical_on_duckdb_and_spark(generated_month, tmp_path, spark):
    folders, results = _run_both(generated_month, tmp_path, spark)
    _assert_same(folders, results, at_least=100_000)
    cats = results["duckdb"].by_category
    assert cats["underpaid"] > 0 and cats["secondary"] > 0 and cats["reversed"] > 0


def test_one_month_from_the_cli_replaces_only_that_months_rows(
    demo_practice, tmp_path, spark
):  # spark: skips without Java
    """`underpay compare --engine spark --month`: the month's rows as DuckDB computes them, other
    months untouched (none computed yet here); `underpay load variances` of the same output again
    changes nothing."""
    import subprocess

    folders = _copies(demo_practice, tmp_path)
    con = connect(folders["duckdb"] / "warehouse.duckdb")
    try:
        compare(con, demo_practice / "contracts", month="2025-02", settings=_settings(demo_practice))
    finally:
        con.close()
    config = tmp_path / "underpay.toml"
    config.write_text(f'[practice]\nzip = "{_settings(demo_practice).practice_zip}"\n', encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "--config",
        str(config),
        "compare",
        "--engine",
        "spark",
        "--spark-master",
        "local[1]",
        "--month",
        "2025-02",
        "--lake",
        str(tmp_path / "lake"),
        "--db",
        str(folders["spark"] / "warehouse.duckdb"),
        "--contracts",
        str(demo_practice / "contracts"),
    ]
    load_again = [*args[:5], "load", "variances", str(tmp_path / "lake"), *args[-4:]]
    said = []
    for command in (args, load_again):  # loading the same output again neither loses nor doubles a row
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "worklist" in proc.stdout.lower()
        said.append(proc.stdout)
        rows, only_duckdb, only_spark, differing = _differences(
            folders["duckdb"] / "warehouse.duckdb", folders["spark"] / "warehouse.duckdb"
        )
        assert rows > 2_000 and (only_duckdb, only_spark) == (0, 0), differing
    assert "for 2025-02" in said[0] and "loaded" in said[1]


def test_a_lake_missing_a_table_is_one_error_naming_what_to_do(demo_practice, tmp_path, spark):
    from pipelines.core.errors import LakeError
    from pipelines.lake import layout
    from pipelines.lake.export import export_lake
    from pipelines.spark.engine import compare_lake

    con = connect(demo_practice / "warehouse.duckdb", read_only=True)
    try:
        export_lake(con, tmp_path / "lake", contracts_dir=demo_practice / "contracts")
    finally:
        con.close()
    shutil.rmtree(layout.contract_dir(tmp_path / "lake", "ct_terms"))
    with pytest.raises(LakeError) as caught:
        compare_lake(spark, tmp_path / "lake", month="2025-02", settings=_settings(demo_practice))
    message = str(caught.value)
    assert message.startswith("Spark failed in reading the lake (run `underpay export parquet` again")
    assert "\n" not in message and "ct_terms" in message
    assert not (tmp_path / "lake" / "variances").exists()  # nothing written
