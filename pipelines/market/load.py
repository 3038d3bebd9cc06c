"""Step 4, the import: TiC in-network files into market_files and market_rates, one file = one transaction.

``import_market(con, paths, ...)`` (what `underpay market import` calls):

1. what to keep (``Keep``): the billing codes of the practice's loaded 835 service lines
   (sql/practice_codes.sql), or the codes given; professional prices (and "both"), institutional ones too
   on request; with NPIs or TINs given, only provider groups that have one of them;
2. each path's kind from the root keys at its start (``toc.file_kind``): a table of contents -> the
   in-network files it lists that lie beside it (the others reported as not read); a provider-reference
   file -> kept for the in-network files that name it by URL; otherwise an in-network file;
3. each in-network file: ``import_in_network``. A file refused (bad JSON or gzip, an unknown schema
   version, not an in-network file) is reported and the next file is imported.

``import_in_network(con, path, keep, ...)``:

1. the sha256 of the bytes as stored already in market_files -> a duplicate: nothing added;
2. BEGIN; the file read once (``stream.walk``): the prices kept and the provider groups they name, and
   every provider reference, staged in temporary tables (sql/stage.sql) in batches as they come;
   a provider-reference file named by URL is read when it was given or lies beside the file, else its
   URL goes to market_files.missing_references;
3. market_rates filled by sql/resolve_rates.sql (references resolved once everything was read), the new
   rows checked against the pandera models, the market_files row; COMMIT. Any error: ROLLBACK, and
   nothing of the file is kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core.errors import InputFileError, UnderpayError, brief
from pipelines.core.sql import bind, read_sql
from pipelines.core.transactions import transaction
from pipelines.market import rates as R
from pipelines.market.source import CHUNK_BYTES, LocalFile, Progress, inspect
from pipelines.market.stream import backend_name, walk
from pipelines.market.toc import IN_NETWORK, PROVIDER_REFERENCE, TABLE_OF_CONTENTS, file_kind, local_copy, read_contents

SQL = "pipelines.market.sql"
BATCH_ROWS = 20_000  # staged rows held in Python before they go to DuckDB
# Schema versions read: 1.x (provider groups inline, by id, or by URL) and 2.x (by id only).
VERSION = re.compile(r"^[12](\.\d+){0,2}$")
ROOT_DATE = "last_updated_on"

OnProgress = Callable[[str, int, int], None]  # (file name, bytes read, bytes in the file)


@dataclass
class FileImport:
    """What became of one in-network file."""

    path: str
    status: str  # imported | duplicate | refused
    sha256: str | None = None
    bytes: int = 0
    schema_version: str | None = None
    items_read: int = 0
    items_kept: int = 0
    rates: int = 0
    unknown_providers: int = 0  # rows kept with tin NULL: providers the file does not give
    missing_references: list[str] = field(default_factory=list)
    provider_files: list[str] = field(default_factory=list)  # provider-reference files read
    seconds: float = 0.0
    reason: str | None = None  # refused: the message; duplicate: what it duplicates


@dataclass
class ContentsRead:
    """A table of contents: how many in-network files it lists, which were read, which not (no local copy)."""

    path: str
    listed: int
    read: list[str]
    not_read: list[str]


@dataclass
class MarketImport:
    files: list[FileImport] = field(default_factory=list)
    contents: list[ContentsRead] = field(default_factory=list)
    codes: int = 0  # billing codes asked for
    backend: str = ""  # the ijson backend used (yajl2_c: C)

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def rates(self) -> int:
        return sum(f.rates for f in self.files)

    @property
    def exit_code(self) -> int:
        """0: every file imported or already there; 1: a file was refused (the others imported)."""
        return 1 if self.count("refused") else 0


def practice_codes(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The billing codes of the practice's loaded 835 service lines."""
    return frozenset(r[0] for r in con.execute(read_sql(SQL, "practice_codes.sql")).fetchall())


def import_market(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | Path],
    *,
    codes: Iterable[str] | None = None,
    institutional: bool = False,
    npis: Iterable[int | str] = (),
    tins: Iterable[str] = (),
    progress: OnProgress | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> MarketImport:
    """Import in-network files (given, or listed by a table of contents given) into ``con``'s warehouse."""
    wanted = frozenset(R.normal_code(c) for c in codes) if codes is not None else practice_codes(con)
    if not wanted:
        raise UnderpayError(
            "no billing codes to keep: the warehouse has no service lines yet; load your 835s first "
            "(`underpay ingest FILES`) or give the codes with --codes 99213,99214"
        )
    keep = R.Keep.of(wanted, institutional=institutional, npis=npis, tins=tins)
    out = MarketImport(codes=len(wanted), backend=backend_name())
    files = [inspect(p) for p in paths]
    kinds = [file_kind(f) for f in files]
    given = {f.path.name: f.path for f, kind in zip(files, kinds) if kind == PROVIDER_REFERENCE}
    todo: list[LocalFile] = []
    for file, kind in zip(files, kinds):
        if kind == TABLE_OF_CONTENTS:
            listing = read_contents(file, given)
            out.contents.append(
                ContentsRead(
                    path=str(file.path),
                    listed=len(listing.locations),
                    read=[str(p) for p in listing.found.values()],
                    not_read=listing.not_read,
                )
            )
            todo.extend(inspect(p) for p in listing.found.values())
        elif kind == IN_NETWORK:
            todo.append(file)
    for file in todo:
        try:
            result = import_in_network(con, file, keep, given=given, progress=progress, chunk_bytes=chunk_bytes)
        except InputFileError as exc:
            result = FileImport(
                path=str(file.path), status="refused", sha256=file.sha256, bytes=file.size, reason=str(exc)
            )
        out.files.append(result)
    return out


def import_in_network(
    con: duckdb.DuckDBPyConnection,
    file: LocalFile | str | Path,
    keep: R.Keep,
    *,
    given: dict[str, Path] | None = None,
    progress: OnProgress | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> FileImport:
    """Import one in-network file: its kept prices into market_rates, its manifest into market_files, in
    one transaction. ``given``: provider-reference files by name, for references by URL. Raises
    InputFileError (nothing of the file kept) for a file that cannot be read as an in-network file."""
    file = file if isinstance(file, LocalFile) else inspect(file)
    t0 = time.perf_counter()
    before = con.execute(
        "SELECT file_name, imported_at, rates FROM market_files WHERE source_sha256 = ?", [file.sha256]
    ).fetchall()
    if before:
        name, at, n = before[0]
        return FileImport(
            path=str(file.path),
            status="duplicate",
            sha256=file.sha256,
            bytes=file.size,
            rates=0,
            reason=f"same bytes as {name}, imported {at:%Y-%m-%d %H:%M} UTC ({n:,} rates): nothing added",
        )
    with transaction(con):
        con.execute(read_sql(SQL, "stage.sql"))
        reader = _Reader(con, file, keep, given or {})
        read = Progress()
        tick = None if progress is None else (lambda: progress(file.path.name, read.stored, file.size))
        try:
            counts = walk(file, reader.on_item, reader.on_value, chunk_bytes=chunk_bytes, progress=read, on_chunk=tick)
        except R.BadValue as exc:
            raise _refused(file, exc) from None
        reader.finish(counts)
        result = _resolve(con, file, reader)
        result.seconds = time.perf_counter() - t0
        _record(con, file, reader, result)
        _drop_stage(con)
    return result


class _Reader:
    """The stream's handlers for an in-network file: root values checked and kept, items turned into staged
    rows (rates.py), provider references staged (provider-reference files read)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, file: LocalFile, keep: R.Keep, given: dict[str, Path]):
        self.con, self.file, self.keep, self.given = con, file, keep, given
        self.root: dict[str, Any] = {}
        self.stage = _Stage(con)
        self.items_read = self.items_kept = 0
        self.next_rate = self.next_group = self.next_price = 0
        self.missing: list[str] = []
        self.provider_files: list[str] = []
        self._by_location: dict[str, list[int] | None] = {}

    def on_value(self, key: str, value: Any) -> None:
        self.root[key] = value
        if key == "version":
            self._check_version(value)
        elif key == "in_network" and type(value) is not list:
            raise _refused(self.file, R.BadValue("in_network", "an array of items", value))

    def on_item(self, key: str, index: int, obj: Any) -> None:
        if key == "in_network":
            self._item(index, obj)
        elif key == "provider_references":
            self._reference(index, obj)
        elif key == "reporting_structure":
            raise _not_in_network(self.file, TABLE_OF_CONTENTS, "reporting_structure")
        elif key == "provider_groups":
            raise _not_in_network(self.file, PROVIDER_REFERENCE, "provider_groups")

    def _check_version(self, value: Any) -> None:
        if not isinstance(value, str) or not VERSION.match(value.strip()):
            raise InputFileError(
                self.file.path,
                f'schema version {brief(value)} (its "version") is not one this importer reads; nothing of the '
                "file was kept",
                expected="a Transparency in Coverage in-network schema version 1.x or 2.x (e.g. 1.2.0, 2.0.0)",
                hint="check that this is a TiC in-network file; a newer schema needs a newer underpay",
            )

    def _item(self, index: int, item: Any) -> None:
        self.items_read += 1
        code = R.item_code(item)
        if code is None:
            raise _refused(self.file, R.BadValue(f"in_network[{index}].billing_code", "a billing code", item))
        if code not in self.keep.codes:
            return
        kept = R.item_rates(item, f"in_network[{index}]", self.keep)
        if kept:
            self.items_kept += 1
        for rate in kept:
            rate_id = self.next_rate
            self.next_rate += 1
            for price in rate.prices:
                self.stage.add("market_stage_prices", (self.next_price, rate_id, *_price_row(price)))
                self.next_price += 1
            for group in rate.groups:
                if self.keep.wants(group):
                    self.stage.add("market_stage_rate_groups", (rate_id, self._group(group)))
            for ref in rate.references:
                self.stage.add("market_stage_rate_refs", (rate_id, ref))
            self.stage.add("market_stage_rates", (rate_id, bool(rate.groups or rate.references)))

    def _group(self, group: R.Group) -> int:
        group_id = self.next_group
        self.next_group += 1
        self.stage.add("market_stage_groups", (group_id, group.tin, list(group.npis)))
        return group_id

    def _reference(self, index: int, entry: Any) -> None:
        ref = R.reference(entry, f"provider_references[{index}]")
        if ref.groups is not None:
            ids = [self._group(g) for g in ref.groups if self.keep.wants(g)]
        else:
            ids = self._groups_at(ref.location)
            if ids is None:
                return
        for group_id in ids:
            self.stage.add("market_stage_ref_groups", (ref.group_id, group_id))
        self.stage.add("market_stage_refs_read", (ref.group_id,))

    def _groups_at(self, location: str) -> list[int] | None:
        """The staged groups of the provider-reference file at ``location`` (read once), or None when it was
        not given (its URL recorded as missing)."""
        if location in self._by_location:
            return self._by_location[location]
        path = local_copy(location, self.file.path.parent, self.given)
        if path is None:
            self.missing.append(location)
            self._by_location[location] = None
            return None
        ref_file = inspect(path)
        groups: list[R.Group] = []

        def on_item(key: str, index: int, obj: Any) -> None:
            if key == "provider_groups":
                groups.append(R.group(obj, f"provider_groups[{index}]"))

        try:
            counts = walk(ref_file, on_item)
        except R.BadValue as exc:
            raise _refused(ref_file, exc) from None
        if "provider_groups" not in counts:
            raise InputFileError(
                ref_file.path,
                f"named by {self.file.path.name} as the provider-reference file at {location}, but it has no "
                '"provider_groups"; nothing of either file was kept',
                expected="a TiC provider-reference file {provider_groups: [...], version}",
            )
        ids = [self._group(g) for g in groups if self.keep.wants(g)]
        self.provider_files.append(str(path))
        self._by_location[location] = ids
        return ids

    def finish(self, counts: dict[str, int]) -> None:
        """Checks once the whole file was read (``counts``: items of each root array); the last staged rows
        to DuckDB."""
        if "in_network" not in counts and "in_network" not in self.root:
            raise _not_in_network(self.file, None, None, keys=sorted({*self.root, *counts}))
        if "version" not in self.root:
            raise InputFileError(
                self.file.path,
                'has no "version"; nothing of the file was kept',
                expected="the TiC schema version at the root (1.x or 2.x)",
            )
        self.stage.flush()


class _Stage:
    """Rows for the staging tables, sent to DuckDB in batches of BATCH_ROWS (through Arrow)."""

    TABLES = (  # sql/stage.sql; a row is a tuple of every column, in order
        "market_stage_prices",
        "market_stage_rates",
        "market_stage_rate_groups",
        "market_stage_rate_refs",
        "market_stage_groups",
        "market_stage_ref_groups",
        "market_stage_refs_read",
    )

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.rows: dict[str, list[tuple]] = {t: [] for t in self.TABLES}
        self.schemas = {t: _arrow_schema(con, t) for t in self.TABLES}

    def add(self, table: str, row: tuple) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self._send(table)

    def flush(self) -> None:
        for table in self.rows:
            self._send(table)

    def _send(self, table: str) -> None:
        import pyarrow as pa

        rows = self.rows[table]
        if not rows:
            return
        schema = self.schemas[table]
        columns = list(zip(*rows))
        batch = pa.table([pa.array(col, type=f.type) for col, f in zip(columns, schema)], schema=schema)
        self.con.register("market_stage_batch", batch)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM market_stage_batch")  # table: a constant above
        finally:
            self.con.unregister("market_stage_batch")
        rows.clear()


def _arrow_schema(con: duckdb.DuckDBPyConnection, table: str):
    """The Arrow schema of a staging table (its columns as DuckDB hands them to Arrow)."""
    return con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema  # table: a constant


def _price_row(p: R.Price) -> tuple:
    return (
        p.billing_code_type,
        p.billing_code,
        p.modifier,
        p.negotiated_type,
        p.negotiated_rate,
        p.rate_in_dollars,
        p.dollars_basis,
        p.billing_class,
        p.setting,
        p.service_codes,
        p.expiration_date,
    )


def _resolve(con: duckdb.DuckDBPyConnection, file: LocalFile, reader: _Reader) -> FileImport:
    """market_rates rows from the staged ones (sql/resolve_rates.sql), checked against the model."""
    root = reader.root
    try:
        updated = R.root_date(root.get(ROOT_DATE), ROOT_DATE)
    except R.BadValue as exc:
        raise _refused(file, exc) from None
    values = {
        "sha256": file.sha256,
        "reporting_entity": _root_text(root.get("reporting_entity_name")),
        "plan_name": _root_text(root.get("plan_name")),
        "plan_id": _root_text(root.get("plan_id")),
        "last_updated_on": updated,
        "by_provider": reader.keep.by_provider,
    }
    sql = read_sql(SQL, "resolve_rates.sql")
    con.execute("INSERT INTO market_rates " + sql, bind(sql, values))
    rows = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE tin IS NULL) FROM market_rates WHERE source_sha256 = ?",
        [file.sha256],
    ).fetchall()[0]
    _check_rows(con, file)
    return FileImport(
        path=str(file.path),
        status="imported",
        sha256=file.sha256,
        bytes=file.size,
        schema_version=str(root["version"]).strip(),
        items_read=reader.items_read,
        items_kept=reader.items_kept,
        rates=rows[0],
        unknown_providers=rows[1],
        missing_references=list(reader.missing),
        provider_files=list(reader.provider_files),
    )


def _check_rows(con: duckdb.DuckDBPyConnection, file: LocalFile) -> None:
    """The file's market_rates rows against the pandera model (a failure is a bug: the import rolls back)."""
    import pandera.errors

    from pipelines.market.model import MarketRates

    frame = con.sql("SELECT * FROM market_rates WHERE source_sha256 = $sha", params={"sha": file.sha256}).pl()
    try:
        MarketRates.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases.head(5).to_dicts() if hasattr(exc.failure_cases, "head") else exc.failure_cases
        raise UnderpayError(
            f"{file.path}: the rates read from it fail the market_rates model ({cases}); nothing of the file "
            "was kept. This is a bug in underpay: report it with the file"
        ) from None


def _record(con: duckdb.DuckDBPyConnection, file: LocalFile, reader: _Reader, result: FileImport) -> None:
    con.execute(
        "INSERT INTO market_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            file.sha256,
            file.path.name,
            file.size,
            result.schema_version,
            _root_text(reader.root.get("reporting_entity_name")),
            R.root_date(reader.root.get(ROOT_DATE), ROOT_DATE),
            result.rates,
            result.items_read,
            result.missing_references or None,
            datetime.now(UTC).replace(tzinfo=None),
            result.seconds,
        ],
    )


def _drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    for table in _Stage.TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")  # table: a constant


def _root_text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value).strip()


def _refused(file: LocalFile, exc: R.BadValue) -> InputFileError:
    return InputFileError(
        file.path,
        f"{exc.where} cannot be kept; nothing of the file was kept",
        expected=exc.expected,
        found=brief(exc.found),
        hint="check the file against the TiC schema, or ask the payer for a corrected file",
    )


def _not_in_network(
    file: LocalFile, kind: str | None, key: str | None, keys: list[str] | None = None
) -> InputFileError:
    if kind == TABLE_OF_CONTENTS:
        what = (
            f'it has "{key}": it is a table of contents. Give it to `underpay market import` on its own: the '
            "in-network files it lists are read from beside it"
        )
    elif kind == PROVIDER_REFERENCE:
        what = (
            f'it has "{key}" at its root: it is a provider-reference file. Give it together with the in-network '
            "file that names it by URL"
        )
    else:
        shown = ", ".join(keys or []) or "none"
        what = f'it has no "in_network" (its root keys: {shown})'
    return InputFileError(
        file.path,
        f"not a TiC in-network rates file: {what}; nothing of it was kept",
        expected='a JSON object with "in_network": [...]',
    )
