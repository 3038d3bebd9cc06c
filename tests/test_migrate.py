"""Schema migration on connect: a warehouse made by an older underpay is brought up to the DDL.

Each test builds a real DuckDB file with an older schema (today's DDL changed the ways a release
changes it: a column added in the middle or at the end, a type widened, a column made NOT NULL,
a table added), puts rows in, then opens it with ``connect`` and checks that every table's
columns, types and NOT NULL are exactly those of a fresh warehouse, with the rows intact.
"""

from __future__ import annotations

import logging
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.core import schema
from pipelines.core.schema import SCHEMA_FILES
from pipelines.core.sql import read_sql
from pipelines.core.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]


def described(con, table: str) -> list[tuple]:
    """(name, type, nullable, default) of each column, in order."""
    return [(r[0], r[1], r[2], r[4]) for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A fresh warehouse: what every migrated one must look like."""
    con = connect(tmp_path_factory.mktemp("ref") / "fresh.duckdb")
    shape = {t: described(con, t) for t in tables(con)}
    constraints = {
        t: sorted(
            r[0]
            for r in con.execute(
                "SELECT constraint_text FROM duckdb_constraints() WHERE table_name = ? "
                "AND constraint_type <> 'NOT NULL'",
                [t],
            ).fetchall()
        )
        for t in shape
    }
    con.close()
    return shape, constraints


def assert_like_reference(con, reference):
    shape, constraints = reference
    assert tables(con) == set(shape)
    for table, columns in shape.items():
        assert described(con, table) == columns, table
        got = sorted(
            r[0]
            for r in con.execute(
                "SELECT constraint_text FROM duckdb_constraints() WHERE table_name = ? AND constraint_type <> 'NOT NULL'",
                [table],
            ).fetchall()
        )
        assert got == constraints[table], table


def _old_table_sql(con_ref, table: str, *, drop: set[str], retype: dict[str, str], nullable: bool) -> str:
    """CREATE TABLE for an older version of ``table``: some columns missing, some types narrower,
    no NOT NULL (apart from the primary key), the primary key kept."""
    cols = con_ref.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    pk = [
        r[0]
        for r in con_ref.execute(
            "SELECT constraint_text FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
        ).fetchall()
    ]
    parts = []
    for name, dtype, is_nullable in cols:
        if name in drop:
            continue
        notnull = "" if nullable or is_nullable else " NOT NULL"
        parts.append(f'"{name}" {retype.get(name, dtype)}{notnull}')
    return f'CREATE TABLE "{table}" ({", ".join(parts + pk)})'


def test_an_older_warehouse_is_brought_up_to_the_ddl(tmp_path, reference, caplog):
    """Columns added (middle and end), a type widened (also on a primary-key column, which DuckDB
    cannot ALTER in place), NOT NULL added where the data allows it, a table added; rows kept."""
    ref = duckdb.connect()
    for package, name in SCHEMA_FILES:
        ref.execute(read_sql(package, name))
    db = tmp_path / "old.duckdb"
    old = duckdb.connect(str(db))
    changed = {
        # a middle column and the last column missing; NOT NULL everywhere dropped
        "payments": dict(drop={"payer_name", "resent_of_payment_id"}, retype={}),
        "runs": dict(drop={"redone_by"}, retype={}),
        # a narrower money column, and the primary-key column narrower than the DDL's BIGINT
        "variances": dict(drop=set(), retype={"percent_of_medicare": "DECIMAL(5,2)", "line_id": "INTEGER"}),
        "era_files": dict(drop={"run_id"}, retype={"file_id": "INTEGER", "size_bytes": "INTEGER"}),
    }
    for table in sorted(tables(ref) - {"mpfs_conversion_factors"}):  # one table is new
        spec = changed.get(table, dict(drop=set(), retype={}))
        old.execute(_old_table_sql(ref, table, nullable=True, **spec))
    old.execute("CREATE SEQUENCE era_file_id_seq START 1")
    old.execute(
        "INSERT INTO era_files (file_id, path, file_name, sha256, size_bytes, loaded_at, status) VALUES "
        "(1, 'a.835', 'a.835', 'ab', 10, TIMESTAMP '2025-01-02 03:04:05', 'loaded'),"
        "(2, 'b.835', 'b.835', 'cd', 20, TIMESTAMP '2025-01-03 03:04:05', 'rejected')"
    )
    old.execute(
        "INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, total_paid, payer_id) VALUES "
        "(10, 1, 1, 3, 123.45, 'ACME1'), (11, 1, 2, 40, 0.00, 'ACME1')"
    )
    old.execute(
        "INSERT INTO variances (line_id, claim_id, percent_of_medicare, category, explanation) VALUES "
        "(100, 7, 123.45, 'underpaid', 'x'), (101, 7, NULL, 'not_priced', 'y')"
    )
    old.execute(
        "INSERT INTO runs (run_id, kind, started_at, status) VALUES (1, 'nightly', TIMESTAMP '2025-01-01', 'ok')"
    )
    old.close()

    with caplog.at_level(logging.INFO, logger="underpay"):
        con = connect(db)
    assert_like_reference(con, reference)
    assert con.execute("SELECT file_id, path, size_bytes, status FROM era_files ORDER BY 1").fetchall() == [
        (1, "a.835", 10, "loaded"),
        (2, "b.835", 20, "rejected"),
    ]
    assert con.execute("SELECT payment_id, total_paid, payer_id, payer_name FROM payments ORDER BY 1").fetchall() == [
        (10, Decimal("123.45"), "ACME1", None),
        (11, Decimal("0.00"), "ACME1", None),
    ]
    assert con.execute("SELECT line_id, percent_of_medicare, category FROM variances ORDER BY 1").fetchall() == [
        (100, Decimal("123.45"), "underpaid"),
        (101, None, "not_priced"),
    ]
    # the widened column now holds what the DDL allows; the primary key still holds
    con.execute("INSERT INTO variances (line_id, claim_id, category, explanation) VALUES (3000000000, 1, 'x', 'y')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO variances (line_id, claim_id, category, explanation) VALUES (100, 1, 'x', 'y')")
    con.close()
    # the second open finds nothing to do and changes nothing
    again = connect(db)
    assert_like_reference(again, reference)
    again.close()


def test_rows_that_break_a_new_not_null_leave_the_column_nullable_with_a_warning(tmp_path, reference, caplog):
    ref = duckdb.connect()
    for package, name in SCHEMA_FILES:
        ref.execute(read_sql(package, name))
    notnull = [
        r[0]
        for r in ref.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'era_files' AND NOT is_nullable "
            "AND column_name NOT IN ('file_id')"
        ).fetchall()
    ]
    assert "sha256" in notnull
    db = tmp_path / "old.duckdb"
    old = duckdb.connect(str(db))
    old.execute(_old_table_sql(ref, "era_files", drop=set(), retype={}, nullable=True))
    old.execute(
        "INSERT INTO era_files (file_id, path, sha256, loaded_at, status) VALUES "
        "(1, 'a.835', NULL, TIMESTAMP '2025-01-02', 'loaded')"
    )
    old.close()
    with caplog.at_level(logging.WARNING, logger="underpay"):
        con = connect(db)  # does not fail
    cols = {r[0]: r[2] for r in con.execute("DESCRIBE era_files").fetchall()}
    assert cols["sha256"] == "YES"  # left nullable: a row has none
    assert cols["path"] == "NO"  # the others got their NOT NULL
    assert con.execute("SELECT file_id, path, sha256 FROM era_files").fetchall() == [(1, "a.835", None)]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("era_files.sha256" in m and "NULL" in m for m in warned), warned
    con.close()


def _head_ddl(tmp_path: Path) -> list[str] | None:
    """The DDL files as committed at HEAD (the version before this working tree's changes)."""
    texts = []
    for package, name in SCHEMA_FILES:
        rel = Path(*package.split(".")) / name
        done = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            return None
        texts.append(done.stdout)
    return texts


def test_a_warehouse_made_by_the_committed_ddl_is_migrated(tmp_path, reference):
    """The 'v-old' warehouse: built by the DDL as committed (git HEAD), with rows in each ingest table."""
    texts = _head_ddl(tmp_path)
    if texts is None:
        pytest.skip("not a git checkout")
    db = tmp_path / "head.duckdb"
    old = duckdb.connect(str(db))
    for text in texts:
        old.execute(text)
    old.execute(
        "INSERT INTO era_files (file_id, path, sha256, loaded_at, status) VALUES (1, 'a.835', 'ab', now(), 'loaded')"
    )
    old.execute(
        "INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, total_paid) VALUES (1, 1, 1, 3, 5.00)"
    )
    old.execute("INSERT INTO claims (claim_id, payment_id, file_id, segment_number) VALUES (1, 1, 1, 9)")
    old.execute(
        "INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number, units, paid) "
        "VALUES (1, 1, 1, 1, 12, 1, 1, 5.00)"
    )
    old.close()
    con = connect(db)
    assert_like_reference(con, reference)
    assert con.execute("SELECT line_id, paid FROM service_lines").fetchall() == [(1, Decimal("5.00"))]
    assert con.execute("SELECT count(*) FROM era_files").fetchone() == (1,)
    con.close()


def test_an_up_to_date_warehouse_is_opened_without_running_the_ddl(tmp_path):
    """Cheap when nothing changed: connect reads the recorded DDL hash and runs no DDL (shown by
    a column dropped behind its back staying dropped: the DDL's ADD COLUMN IF NOT EXISTS did not run)."""
    db = tmp_path / "w.duckdb"
    connect(db).close()
    raw = duckdb.connect(str(db))
    raw.execute("ALTER TABLE runs DROP COLUMN redone_by")
    raw.close()
    con = connect(db)
    assert "redone_by" not in {r[0] for r in con.execute("DESCRIBE runs").fetchall()}
    con.close()
    # a changed DDL hash (a new release) brings it back
    raw = duckdb.connect(str(db))
    raw.execute(f"UPDATE {schema.META_TABLE} SET ddl_sha256 = 'older'")
    raw.close()
    con = connect(db)
    assert "redone_by" in {r[0] for r in con.execute("DESCRIBE runs").fetchall()}
    con.close()


def test_read_only_open_of_an_older_warehouse_migrates_it_first(tmp_path, reference):
    db = tmp_path / "w.duckdb"
    connect(db).close()
    raw = duckdb.connect(str(db))
    raw.execute("ALTER TABLE runs DROP COLUMN redone_by")
    raw.execute(f"DROP TABLE {schema.META_TABLE}")
    raw.close()
    con = connect(db, read_only=True)
    assert_like_reference(con, reference)
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE x (a INTEGER)")  # still read-only
    con.close()
