"""The warehouse's tables: create them from the DDL files, and bring a warehouse made by an older
release up to them (``ensure_schema``, called by ``warehouse.connect``).

The DDL files are the one statement of every table (``SCHEMA_FILES``); a hash of them, recorded in
``underpay_meta.ddl_state``, tells whether a warehouse is current (one SELECT). When it is not,
``migrate`` compares the live tables with the DDL applied to a scratch in-memory database and
alters or rebuilds what differs, never dropping a column that holds data.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache

import duckdb

from pipelines.core.sql import read_sql
from pipelines.core.transactions import transaction

log = logging.getLogger("underpay.warehouse")

# Where connect records the hash of the DDL it last brought the warehouse up to (its own schema,
# so the public tables in `main` stay exactly the DDL's). Bump MIGRATION_VERSION when the
# migration itself changes so that every warehouse is compared once more.
META_SCHEMA = "underpay_meta"
META_TABLE = f"{META_SCHEMA}.ddl_state"
MIGRATION_VERSION = 1

# (package, file) in the order they must run.
SCHEMA_FILES: tuple[tuple[str, str], ...] = (
    ("pipelines.core.ddl", "ingest.sql"),
    ("pipelines.core.ddl", "runs.sql"),
    ("fee_schedules.sql", "schema.sql"),
    ("pipelines.core.ddl", "variances.sql"),
    ("pipelines.core.ddl", "worklist.sql"),
    ("pipelines.core.ddl", "market.sql"),
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the warehouse up to the DDL: create what is missing, migrate what an older release made.

    Cheap when nothing changed: one SELECT of the DDL hash recorded by the last migration.
    Otherwise the tables are compared with a scratch in-memory database holding the DDL
    (``migrate``), then the DDL runs (CREATE ... IF NOT EXISTS adds new tables) and the hash is
    recorded, so the next open is cheap again.
    """
    if recorded_hash(con) == ddl_hash():
        return
    notes = migrate(con) if _has_tables(con) else []
    for package, name in SCHEMA_FILES:
        text = read_sql(package, name)
        if text.strip():
            con.execute(text)
    _record_hash(con, notes)


@cache
def ddl_hash() -> str:
    """SHA-256 of the DDL files (and of the migration's own version): the schema's identity."""
    h = hashlib.sha256(f"migration {MIGRATION_VERSION}\n".encode())
    for package, name in SCHEMA_FILES:
        h.update(f"-- {package}/{name}\n".encode())
        h.update(read_sql(package, name).encode())
    return h.hexdigest()


def recorded_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(f"SELECT ddl_sha256 FROM {META_TABLE} LIMIT 1").fetchall()
    except duckdb.CatalogException:
        return None  # made before migrations were recorded, or a new file
    return rows[0][0] if rows else None


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(_TABLES_SQL).fetchall())


def _record_hash(con: duckdb.DuckDBPyConnection, notes: list[str]) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
    con.execute(  # one statement: the table holds one row, replaced whole
        f"CREATE OR REPLACE TABLE {META_TABLE} AS SELECT ?::VARCHAR AS ddl_sha256, now()::TIMESTAMP AS applied_at, "
        "?::VARCHAR[] AS notes",
        [ddl_hash(), notes],
    )


# ---- migration: compare the live tables with the DDL applied to a scratch database ----

_TABLES_SQL = (
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
)
_COLUMNS_SQL = (
    "SELECT table_name, column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
    "WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index"
)
_CONSTRAINTS_SQL = (
    "SELECT table_name, constraint_text FROM duckdb_constraints() WHERE database_name = current_database() "
    "AND schema_name = 'main' AND constraint_type <> 'NOT NULL' ORDER BY table_name, constraint_index"
)


@dataclass
class _Column:
    name: str
    type: str
    nullable: bool
    default: str | None

    def sql(self, *, nullable: bool | None = None) -> str:
        text = f"{_q(self.name)} {self.type}"
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        if not (self.nullable if nullable is None else nullable):
            text += " NOT NULL"
        return text


@dataclass
class _Table:
    name: str
    columns: dict[str, _Column]  # in column order
    constraints: list[str]  # PRIMARY KEY / UNIQUE / CHECK / FOREIGN KEY, as DuckDB prints them


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _catalog(con: duckdb.DuckDBPyConnection) -> dict[str, _Table]:
    out = {name: _Table(name, {}, []) for (name,) in con.execute(_TABLES_SQL).fetchall()}
    for table, column, dtype, nullable, default in con.execute(_COLUMNS_SQL).fetchall():
        if table in out:
            out[table].columns[column] = _Column(column, dtype, bool(nullable), default)
    for table, text in con.execute(_CONSTRAINTS_SQL).fetchall():
        if table in out:
            out[table].constraints.append(text)
    return out


def _reference() -> dict[str, _Table]:
    """The tables as the DDL makes them, in a scratch in-memory database."""
    scratch = duckdb.connect(":memory:")
    try:
        for package, name in SCHEMA_FILES:
            text = read_sql(package, name)
            if text.strip():
                scratch.execute(text)
        return _catalog(scratch)
    finally:
        scratch.close()


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Alter every live table that differs from the DDL; returns the warnings it logged.

    Per table, in one transaction: columns the DDL adds at the end are added; a type the DDL
    changed is altered (widened); NOT NULL is set where no row breaks it (else the column stays
    nullable and a warning says which column and how many rows). When that cannot be done in
    place (a column added in the middle keeps the DDL's order for positional INSERTs, a changed
    constraint, or DuckDB refusing to alter e.g. a primary-key column), the table is rebuilt
    from the DDL and its rows copied by name. Columns the DDL no longer has are kept (never
    dropped: they hold someone's data). A table that cannot be migrated is left as it was,
    with a warning, so connect never fails over it.
    """
    live = _catalog(con)
    notes: list[str] = []
    for name, want in _reference().items():
        have = live.get(name)
        if have is None or _same(have, want):
            continue
        log.info("warehouse: migrating table %s to the current DDL", name)
        notes += _migrate_table(con, have, want)
    return notes


def _same(have: _Table, want: _Table) -> bool:
    mine = [(c.name, c.type, c.nullable, c.default) for c in have.columns.values() if c.name in want.columns]
    theirs = [(c.name, c.type, c.nullable, c.default) for c in want.columns.values()]
    return mine == theirs and sorted(have.constraints) == sorted(want.constraints)


def _null_rows(con, table: str, columns: list[str]) -> dict[str, int]:
    """How many rows hold NULL in each of ``columns`` (one scan)."""
    if not columns:
        return {}
    counts = ", ".join(f"count(*) FILTER (WHERE {_q(c)} IS NULL)" for c in columns)
    row = con.execute(f"SELECT {counts} FROM {_q(table)}").fetchall()[0]
    return dict(zip(columns, row))


def _migrate_table(con, have: _Table, want: _Table) -> list[str]:
    existing = [c for c in want.columns if c in have.columns]
    needs_notnull = [c for c in existing if not want.columns[c].nullable and have.columns[c].nullable]
    broken = {c: n for c, n in _null_rows(con, have.name, needs_notnull).items() if n}
    new_notnull = [c for c, col in want.columns.items() if c not in have.columns and not col.nullable]
    if new_notnull and con.execute(f"SELECT count(*) FROM {_q(have.name)}").fetchall()[0][0]:
        broken.update({c: -1 for c in new_notnull if want.columns[c].default is None})
    notes = [
        (
            f"warehouse: {have.name}.{c} stays nullable: {n} row(s) hold NULL where the current DDL says "
            "NOT NULL (fill or delete them, then open the warehouse again)"
            if n > 0
            else f"warehouse: {have.name}.{c} is added nullable: existing rows have no value for it"
        )
        for c, n in broken.items()
    ]
    try:
        in_place = _in_place_statements(have, want, set(broken))
    except _Rebuild:
        in_place = None
    done = False
    if in_place is not None:
        done = _run(con, in_place, have.name, quiet=True)
    if not done:
        done = _run(con, _rebuild_statements(have, want, set(broken)), have.name, quiet=False)
    if not done:
        notes.append(f"warehouse: table {have.name} could not be brought up to the current DDL; it is left as it was")
    for note in notes:
        log.warning("%s", note)
    return notes


class _Rebuild(Exception):
    """The table's change cannot be made with ALTER TABLE in place."""


def _in_place_statements(have: _Table, want: _Table, keep_nullable: set[str]) -> list[str]:
    if sorted(have.constraints) != sorted(want.constraints):
        raise _Rebuild
    order = [c for c in have.columns if c in want.columns]
    wanted = list(want.columns)
    if order != wanted[: len(order)]:
        raise _Rebuild  # a column added in the middle (or reordered): keep the DDL's order
    t = _q(have.name)
    out = []
    for name, col in want.columns.items():
        old = have.columns.get(name)
        if old is None:
            out.append(f"ALTER TABLE {t} ADD COLUMN {col.sql(nullable=True)}")
            if not col.nullable and name not in keep_nullable:
                out.append(f"ALTER TABLE {t} ALTER COLUMN {_q(name)} SET NOT NULL")
            continue
        if old.type != col.type:
            out.append(f"ALTER TABLE {t} ALTER COLUMN {_q(name)} SET DATA TYPE {col.type}")
        if old.default != col.default:
            raise _Rebuild
        if old.nullable and not col.nullable and name not in keep_nullable:
            out.append(f"ALTER TABLE {t} ALTER COLUMN {_q(name)} SET NOT NULL")
        elif not old.nullable and col.nullable:
            out.append(f"ALTER TABLE {t} ALTER COLUMN {_q(name)} DROP NOT NULL")
    return out


def _rebuild_statements(have: _Table, want: _Table, keep_nullable: set[str]) -> list[str]:
    """Create the table anew from the DDL (plus any columns only the old one has), copy the rows
    by name, drop the old one and give the new one its name."""
    t = _q(have.name)
    tmp = _q(have.name + "__underpay_migrating")
    cols = [c.sql(nullable=True if c.name in keep_nullable else None) for c in want.columns.values()]
    extra = [c for c in have.columns.values() if c.name not in want.columns]
    cols += [c.sql() for c in extra]
    copied = ", ".join(_q(c) for c in have.columns)
    return [
        f"DROP TABLE IF EXISTS {tmp}",
        f"CREATE TABLE {tmp} ({', '.join(cols + want.constraints)})",
        f"INSERT INTO {tmp} BY NAME SELECT {copied} FROM {t}",
        f"DROP TABLE {t}",
        f"ALTER TABLE {tmp} RENAME TO {t}",
    ]


def _run(con, statements: list[str], table: str, *, quiet: bool) -> bool:
    """Run ``statements`` in one transaction; False (rolled back) when DuckDB refuses one."""
    try:
        with transaction(con):
            for sql in statements:
                con.execute(sql)
    except duckdb.Error as exc:
        (log.debug if quiet else log.warning)("warehouse: migrating %s: %s", table, exc)
        return False
    return True
