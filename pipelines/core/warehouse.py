"""The DuckDB warehouse: open it (owner-only, its tables current: ``schema.ensure_schema``), say
in one line what is wrong with it when it cannot be opened, and tune it for a bulk load.

Every table's DDL lives in a .sql file (``schema.SCHEMA_FILES``); ``connect`` applies them all,
migrating a warehouse made by an older release, so any command can open any warehouse.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.core.errors import ConfigError, UnderpayError
from pipelines.core.outputs import make_private_dirs, owner_only
from pipelines.core.schema import ddl_hash, ensure_schema, recorded_hash

DEFAULT_DB = Path("warehouse.duckdb")
LOCK_WAIT_SECONDS = 10.0  # how long to wait for another process to let go of the warehouse

log = logging.getLogger("underpay.warehouse")


def connect(
    path: str | os.PathLike | None = None, *, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse at ``path`` with every table in place; with
    ``memory_limit``, DuckDB's memory capped and spilling beyond it (:func:`limit_memory`; close it
    with :func:`drop_spill_folder` after).

    A warehouse made by an older release is migrated to the current DDL first (``ensure_schema``),
    also when it is opened read-only (briefly read-write, when the file can be written). Anything
    the user can cause (a damaged file, no permission, a path under a regular file, a full disk)
    is an UnderpayError naming the file and what to do.
    """
    db = Path(path) if path is not None else DEFAULT_DB
    con = _connect(db, read_only=read_only)
    if memory_limit is not None:
        try:
            limit_memory(con, db, memory_limit)
        except BaseException:
            con.close()
            raise
    return con


def _connect(db: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only:
        if not db.exists():
            raise UnderpayError(f"{db}: no warehouse here; run `underpay ingest FILES --db {db}` first")
        con = _open(db, read_only=True)
        if recorded_hash(con) == ddl_hash():
            return con
        con.close()
        _migrate_before_reading(db)
        return _open(db, read_only=True)
    _make_parent(db)
    old = os.umask(0o077)  # the database and its WAL are created owner-only
    try:
        con = _open(db, read_only=False)
    finally:
        os.umask(old)
    owner_only(db)
    try:
        ensure_schema(con)
    except duckdb.Error as exc:
        con.close()
        raise UnderpayError(explain_duckdb_error(exc, db)) from None
    return con


def _make_parent(db: Path) -> None:
    """The warehouse's folder: created when missing; it must be a writable folder (DuckDB writes
    its journal ``<name>.wal`` beside the file)."""
    parent = db.parent if str(db.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UnderpayError(
            f"{db}: cannot create the warehouse there: {_file_in(parent)} is a file, not a folder; "
            "give --db a path inside a folder"
        ) from None
    except NotADirectoryError:
        raise UnderpayError(
            f"{db}: cannot create the warehouse there: {_file_in(parent)} is a file, not a folder; "
            "give --db a path inside a folder"
        ) from None
    except OSError as exc:
        raise UnderpayError(
            f"{db}: cannot create the folder {parent} ({exc.strerror}); create it yourself or give --db another path"
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnderpayError(
            f"{db}: the folder {parent} is not writable, and the warehouse writes its journal "
            f"({db.name}.wal) beside the file; make the folder writable by this user or move the warehouse"
        )


def _file_in(path: Path) -> Path:
    """The first part of ``path`` that exists and is not a folder (what blocks a mkdir)."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return path


def _migrate_before_reading(db: Path) -> None:
    """Bring an older warehouse up to the DDL before a read-only command reads it. When the file
    cannot be opened for writing, the command reads it as it is (a warning says so)."""
    try:
        con = _open(db, read_only=False)
    except UnderpayError as exc:
        log.warning("%s; reading it without updating its tables to this release", exc)
        return
    try:
        ensure_schema(con)
    except duckdb.Error as exc:
        log.warning("%s: made by an older underpay and could not be updated (%s); reading it as it is", db, exc)
    finally:
        con.close()


def explain_duckdb_error(exc: BaseException, db: str | os.PathLike | None = None) -> str:
    """One line for a DuckDB error about the warehouse file: what happened and what to do."""
    detail = " ".join(str(exc).split())
    for prefix in ("IO Error: ", "TransactionContext Error: ", "Serialization Error: ", "Invalid Input Error: "):
        detail = detail.replace(prefix, "")
    where = f"{db}: " if db is not None else ""
    low = detail.lower()
    if "no space left" in low or "disk full" in low or "quota" in low:
        return (
            f"{where}the disk is full ({detail}); free some space and run the command again "
            "(what was committed before is kept)"
        )
    if "permission denied" in low or "read-only file system" in low:
        return (
            f"{where}permission denied ({detail}); the warehouse file and its folder must be writable by "
            "the user running underpay: fix their owner or mode, or give --db another file"
        )
    if "not a directory" in low:
        return f"{where}a part of the path is a file, not a folder ({detail}); give --db a path inside a folder"
    if "not a valid duckdb database" in low or "corrupt" in low or "checksum" in low or "serializ" in low:
        return (
            f"{where}not a usable warehouse: the file is damaged or is not a DuckDB database ({detail}); "
            "restore it from a backup, or give --db another file (a new warehouse is made when it does not exist)"
        )
    return f"{where}the warehouse could not be used ({detail}); check the file, or give --db another file"


def _locked(exc: BaseException) -> bool:
    """DuckDB's error for a file another process holds ("Could not set lock ... Conflicting lock")."""
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text


def _open(db: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting up to LOCK_WAIT_SECONDS while another process holds the file
    (e.g. a report worker of a run that was just killed, still exiting)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(db), read_only=read_only)
        except duckdb.IOException as exc:
            if not _locked(exc):
                raise UnderpayError(explain_duckdb_error(exc, db)) from None
            if time.monotonic() >= deadline:
                raise UnderpayError(
                    f"{db}: the warehouse is in use by another process ({exc}); wait for it to "
                    "finish (or stop it) and run the command again"
                ) from exc
            time.sleep(0.2)
        except duckdb.Error as exc:
            raise UnderpayError(explain_duckdb_error(exc, db)) from None


def spill_folder(db: str | os.PathLike) -> Path:
    """Where this process's DuckDB spills beyond its memory limit: ``<warehouse>.tmp/<pid>/`` beside
    the warehouse (one folder per process: a run and its report workers must not share DuckDB's
    temporary file names)."""
    return Path(f"{os.fspath(db)}.tmp") / str(os.getpid())


def limit_memory(con: duckdb.DuckDBPyConnection, db: str | os.PathLike, memory_limit: str) -> Path:
    """Cap DuckDB's buffer memory on ``con`` at ``memory_limit`` (e.g. "2GB"; DuckDB's default is 80%
    of the machine's memory) and let it spill beyond that into :func:`spill_folder`, created
    owner-only (spilled pages hold remittance data). Bigger sorts, joins and temporary tables then
    go to disk instead of growing the process. Returns the folder (:func:`drop_spill_folder`
    removes it when the connection is closed)."""
    folder = make_private_dirs(spill_folder(db))
    try:
        con.execute("SET memory_limit = $limit", {"limit": str(memory_limit)})
    except duckdb.Error as exc:
        raise ConfigError(
            f"setting memory_limit: {memory_limit!r} is not a size DuckDB understands ({exc}); "
            'give e.g. "2GB" or "1500MB" ([limits] memory in underpay.toml, UNDERPAY_MEMORY_LIMIT)'
        ) from None
    con.execute("SET temp_directory = $folder", {"folder": str(folder)})
    return folder


def drop_spill_folder(db: str | os.PathLike) -> None:
    """Remove this process's spill folder (DuckDB deletes its files when the connection closes) and
    ``<warehouse>.tmp`` itself when no other process uses it."""
    folder = spill_folder(db)
    for path in (folder, folder.parent):
        try:
            path.rmdir()
        except OSError:  # missing, or still holding another process's files
            return


# DuckDB settings while a big file loads (see ``bulk_load``), restored afterwards.
BULK_LOAD_SETTINGS = {"threads": 1, "write_buffer_row_group_count": 1}


@contextmanager
def bulk_load(con: duckdb.DuckDBPyConnection):
    """Settings for loading one big file while the loader's own threads parse and check the next part.

    Measured on 1M service lines (2 cores): one DuckDB thread inserts in the same wall time as two
    but with a third less CPU, which the parser threads then get; and writing each row group to
    disk as soon as it is full (instead of buffering five) leaves COMMIT only the last one, cutting
    it from 0.6 s to 0.2 s. Both settings are database-wide, so they are put back on exit.
    """
    names = list(BULK_LOAD_SETTINGS)
    old = con.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchall()[0]
    try:
        for name, value in BULK_LOAD_SETTINGS.items():
            con.execute(f"SET {name} = {int(value)}")  # names and values are constants above
        yield con
    finally:
        for name, value in zip(names, old):
            con.execute(f"SET {name} = {int(value)}")
