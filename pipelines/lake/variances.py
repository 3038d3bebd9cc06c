"""Parquet lake -> warehouse: load the variances another engine (Spark) computed from the lake.

``load_variances(con, root)`` reads ``DIR/variances/payment_month=*/*.parquet`` (Spark's
``partitionBy('payment_month')`` layout: the month in the folder name, not in the files), checks
every file's columns and types against the warehouse ``variances`` table, then in one transaction
deletes the variances rows of the loaded line_ids and inserts the new rows by name: a rerun
neither loses nor doubles a row, and a refused load changes nothing.

Accepted types: the warehouse's own, or one that converts without loss: a narrower integer or a
DECIMAL of the same scale and fewer digits; for ``computed_at`` (TIMESTAMP) also Spark's
TIMESTAMP WITH TIME ZONE (stored as its UTC wall clock, whatever the session's time zone), INT96 or
another unit. Columns the table does not have are ignored (and reported).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.core.errors import LakeError
from pipelines.core.months import Month
from pipelines.core.transactions import transaction
from pipelines.lake import layout

__all__ = ["LoadResult", "load_variances", "variance_files"]

TABLE = "variances"
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE"}
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")  # narrow to wide
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_NEXT_STEP = "fix the engine's output (cast to the warehouse type) and run it again; nothing was loaded"


@dataclass
class LoadResult:
    """What one load did: rows per payment month, rows replaced, files, seconds."""

    root: Path
    files: int = 0
    rows_by_month: dict[str, int] = field(default_factory=dict)  # partition value -> rows loaded
    replaced: int = 0  # rows of the same line_ids that were in the warehouse before
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.rows_by_month.values())

    def summary(self) -> str:
        months = ", ".join(
            f"{m[:7] if m != layout.NULL_PARTITION else 'no payment date'} {n:,}" for m, n in self.rows_by_month.items()
        )
        text = (
            f"loaded {self.rows:,} variances row(s) from {self.files} file(s) in {layout.variances_dir(self.root)} "
            f"({months or 'no month'}); {self.replaced:,} row(s) of the same lines replaced; {self.seconds:.1f} s"
        )
        if self.ignored_columns:
            text += (
                f"\nnote: column(s) the variances table does not have were ignored: {', '.join(self.ignored_columns)}"
            )
        return text


def _partitions(root: Path, wanted: set[Month] | None) -> list[tuple[str, Path]]:
    """(partition value, folder) of each month folder under DIR/variances, in month order."""
    folder = layout.variances_dir(root)
    if not folder.is_dir():
        raise LakeError(
            f"{folder}: no variances folder; run the Spark engine on the lake {root} first "
            f"(it writes {layout.VARIANCES}/{layout.PARTITION_KEY}=YYYY-MM-01/part-*.parquet)"
        )
    found = []
    for child in sorted(folder.iterdir()):
        if layout.is_hidden(child.name):  # _SUCCESS, .crc files, staging folders
            continue
        try:
            month = layout.month_of_partition(child.name)
        except ValueError:
            raise LakeError(
                f"{child}: not a {layout.PARTITION_KEY}=YYYY-MM-01 folder; the variances folder holds only the "
                "engine's month folders: move it away and load again"
            ) from None
        if not child.is_dir():
            raise LakeError(f"{child}: a file where a month folder was expected; move it away and load again")
        if wanted is None or (month is not None and month in wanted):
            found.append((layout.partition_value(month), child))
    return found


def variance_files(root: str | os.PathLike, *, months: Iterable[Month] | None = None) -> list[Path]:
    """The Parquet files of ``DIR/variances`` (only those months' folders when given), in month order;
    hidden names (``_SUCCESS``, ``.crc``) are skipped."""
    wanted = None if months is None else {Month.coerce(m) for m in months}
    files = []
    for _, folder in _partitions(Path(root), wanted):
        files += sorted(p for p in folder.iterdir() if p.suffix == ".parquet" and not layout.is_hidden(p.name))
    return files


def _compatible(want: str, got: str) -> bool:
    """A file column of type ``got`` can be stored in a warehouse column of type ``want`` without loss."""
    if got == want:
        return True
    if want == "TIMESTAMP":
        return got in _TIMESTAMPS
    if want in _INTEGERS and got in _INTEGERS:
        return _INTEGERS.index(got) <= _INTEGERS.index(want)
    w, g = _DECIMAL.fullmatch(want), _DECIMAL.fullmatch(got)
    if w and g:
        return g.group(2) == w.group(2) and int(g.group(1)) <= int(w.group(1))
    return False


def _describe(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    try:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet($path, hive_partitioning = false)", {"path": str(path)}
        ).fetchall()
    except duckdb.Error as exc:
        raise LakeError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); {_NEXT_STEP}") from None
    return {r[0]: r[1] for r in rows}


def _check_schema(
    con: duckdb.DuckDBPyConnection, files: list[Path], table: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The file type of each warehouse column (every file agreeing), and the extra columns; a
    LakeError naming the file and column at the first column missing or mistyped."""
    file_types: dict[str, tuple[str, Path]] = {}
    extra: set[str] = set()
    for path in files:
        columns = _describe(con, path)
        if layout.PARTITION_KEY in columns:
            raise LakeError(
                f"{path}: has a {layout.PARTITION_KEY} column; the month belongs in the folder name only "
                f"(Spark's partitionBy('{layout.PARTITION_KEY}')); {_NEXT_STEP}"
            )
        for name, want in table.items():
            if name == layout.PARTITION_KEY:
                continue
            got = columns.get(name)
            if got is None:
                raise LakeError(f"{path}: column {name} ({want}) is missing; {_NEXT_STEP}")
            if not _compatible(want, got):
                raise LakeError(f"{path}: column {name} is {got}, expected {want}; {_NEXT_STEP}")
            seen = file_types.setdefault(name, (got, path))
            if seen[0] != got:
                raise LakeError(
                    f"{path}: column {name} is {got} but {seen[0]} in {seen[1]}; every file must have the same types; "
                    f"{_NEXT_STEP}"
                )
        extra |= set(columns) - set(table)
    return {n: t for n, (t, _) in file_types.items()}, sorted(extra)


def _select(table: dict[str, str], file_types: dict[str, str]) -> str:
    """The projection that turns the files' columns into the table's (types from the catalog)."""
    exprs = []
    for name, want in table.items():
        col = '"' + name.replace('"', '""') + '"'
        if name == layout.PARTITION_KEY:
            exprs.append(f"CAST({col} AS DATE) AS {col}")
        elif file_types[name] == "TIMESTAMP WITH TIME ZONE":  # an instant: its UTC wall clock
            exprs.append(f"CAST(timezone('UTC', {col}) AS {want}) AS {col}")
        else:
            exprs.append(f"CAST({col} AS {want}) AS {col}")
    return ", ".join(exprs)


_READ = (
    "read_parquet($files, hive_partitioning = true, hive_types = {'payment_month': DATE}, hive_types_autocast = false)"
)


def load_variances(
    con: duckdb.DuckDBPyConnection, root: str | os.PathLike, *, months: Iterable[Month] | None = None
) -> LoadResult:
    """Replace the warehouse variances rows of the lines in ``DIR/variances`` (only ``months``'
    folders when given) with the rows of those files: checked first, then one transaction."""
    t0 = time.perf_counter()
    root = Path(root)
    result = LoadResult(root=root)
    wanted = None if months is None else sorted({Month.coerce(m) for m in months})
    files = variance_files(root, months=wanted)
    if not files:
        scope = "" if wanted is None else " for " + ", ".join(map(str, wanted))
        raise LakeError(
            f"{layout.variances_dir(root)}: no Parquet files{scope}; run the Spark engine on the lake first"
        )
    table = {r[0]: r[1] for r in con.execute(f"DESCRIBE {TABLE}").fetchall()}
    file_types, result.ignored_columns = _check_schema(con, files, table)
    params = {"files": [str(p) for p in files]}
    rows, distinct, null_ids, months_off = con.execute(
        f"""SELECT count(*), count(DISTINCT line_id), count(*) - count(line_id),
                   count(*) FILTER (WHERE payment_month IS DISTINCT FROM CAST(date_trunc('month', payment_date) AS DATE))
            FROM {_READ}""",
        params,
    ).fetchall()[0]
    if null_ids:
        raise LakeError(f"{layout.variances_dir(root)}: {null_ids:,} row(s) without a line_id; {_NEXT_STEP}")
    if distinct != rows:
        raise LakeError(
            f"{layout.variances_dir(root)}: {rows - distinct:,} line_id(s) appear more than once across the files; "
            f"each service line has one variances row; {_NEXT_STEP}"
        )
    if months_off:
        raise LakeError(
            f"{layout.variances_dir(root)}: {months_off:,} row(s) are in a {layout.PARTITION_KEY} folder that is not "
            f"the month of their payment_date; {_NEXT_STEP}"
        )
    unknown = con.execute(
        f"SELECT count(*), min(line_id) FROM {_READ} f WHERE NOT EXISTS "
        "(SELECT 1 FROM service_lines s WHERE s.line_id = f.line_id)",
        params,
    ).fetchall()[0]
    if unknown[0]:
        raise LakeError(
            f"{layout.variances_dir(root)}: {unknown[0]:,} row(s) name service lines this warehouse does not have "
            f"(e.g. line_id {unknown[1]}); was the lake exported from another warehouse? Export it from this one "
            "and run the engine again; nothing was loaded"
        )
    by_month = con.execute(
        f"SELECT payment_month, count(*) FROM {_READ} GROUP BY ALL ORDER BY payment_month NULLS LAST", params
    ).fetchall()
    result.rows_by_month = {layout.partition_value(None if m is None else Month.of(m)): n for m, n in by_month}
    select = _select(table, file_types)
    try:
        with transaction(con):
            result.replaced = con.execute(  # DELETE returns how many rows it deleted
                f"DELETE FROM {TABLE} WHERE line_id IN (SELECT line_id FROM {_READ})", params
            ).fetchall()[0][0]
            con.execute(f"INSERT INTO {TABLE} BY NAME SELECT {select} FROM {_READ}", params)
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.InterruptException):
            raise
        first = str(exc).splitlines()[0]
        raise LakeError(f"{layout.variances_dir(root)}: the rows could not be stored ({first}); {_NEXT_STEP}") from None
    result.files = len(files)
    result.seconds = time.perf_counter() - t0
    return result
