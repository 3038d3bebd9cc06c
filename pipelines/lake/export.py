"""Warehouse -> Parquet lake (pipelines.lake.layout): the comparison's inputs as files.

``export_lake(con, root, contracts_dir=...)`` writes the four month tables partitioned by payment
month, every fee-schedule table and the contracts folder as the comparison sees them
(contracts.terms.contract_frames plus the provider roster), then the manifest.

- **Incremental.** Each month has a fingerprint computed in DuckDB over its rows of the four
  tables (row count, XOR and sum of a hash of each whole row, and the columns' names and types).
  A month is rewritten whole only when its fingerprint differs from the manifest's or one of its
  folders is missing; ingest can UPDATE older claims (``reverses_claim_id``, ``reversed_by_claim_id``)
  and that changes the hash. A month no longer in the warehouse is removed. Reference tables and
  contract frames are fingerprinted the same way, one table at a time.
- **Atomic per folder.** A month's four files are written under ``DIR/_staging``, then each
  ``payment_month=...`` folder is swapped in (the old one renamed aside into the staging folder,
  the new one renamed in, the old one deleted) and the manifest is replaced (tmp file +
  ``os.replace``). A reader of ``DIR/<table>/*/*.parquet`` sees a complete old or new month,
  never half of one; an export stopped between the two renames leaves the old folder in the
  staging area, and the next export puts it back before it starts. A rerun finishes the job.
- **Set-based.** One ``COPY (SELECT ...) TO file`` per table and month; DuckDB streams the rows
  (nothing is held in Python). Paths are bound parameters; identifiers come from the layout.
- **Private.** Files 0600, folders 0700 (they hold remittance data); the PHI columns of
  ``layout.EXCLUDED_COLUMNS`` are left out. One export at a time per folder
  (``DIR/_underpay_lake.lock``); every read is one DuckDB transaction, so one snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from contracts.model import load_contracts
from contracts.providers import load_roster
from contracts.terms import contract_frames
from pipelines.core.errors import LakeError
from pipelines.core.lock import run_lock
from pipelines.core.months import Month
from pipelines.core.outputs import make_private_dirs, private_open
from pipelines.core.sql import arrow_view
from pipelines.core.transactions import transaction
from pipelines.lake import layout
from pipelines.lake.layout import (
    CONTRACT_TABLES,
    EXCLUDED_COLUMNS,
    FORMAT_VERSION,
    MANIFEST,
    MONTH_TABLES,
    PART_FILE,
    REFERENCE_TABLES,
    ROSTER,
)

__all__ = ["LakeExport", "contract_tables", "export_lake", "month_fingerprints", "read_manifest"]

FORMAT_NAME = "underpay-lake"
_FRAME_VIEW = "_lake_frame_{}"  # contract frames are registered under these names while written


@dataclass
class LakeExport:
    """What one export did: months written / unchanged / removed, rows per table, seconds."""

    root: Path
    months_written: list[str] = field(default_factory=list)
    months_unchanged: list[str] = field(default_factory=list)
    months_removed: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows now in the lake, per table (month tables: all months)
    rows_written: dict[str, int] = field(default_factory=dict)  # rows this export wrote, per table
    reference_written: list[str] = field(default_factory=list)
    reference_unchanged: list[str] = field(default_factory=list)
    contracts_written: list[str] = field(default_factory=list)
    contracts_unchanged: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = self.rows.get("service_lines", 0)
        written = self.rows_written.get("service_lines", 0)
        return (
            f"lake {self.root}: {len(self.months_written)} month(s) written, {len(self.months_unchanged)} "
            f"unchanged, {len(self.months_removed)} removed ({written:,} of {lines:,} service lines written, "
            f"{self.rows.get('claims', 0):,} claims, {self.rows.get('payments', 0):,} payments); reference "
            f"{len(self.reference_written)} table(s) written, {len(self.reference_unchanged)} unchanged; contracts "
            f"{len(self.contracts_written)} frame(s) written, {len(self.contracts_unchanged)} unchanged; "
            f"{self.seconds:.1f} s"
        )


# ---------------------------------------------------------------------------------------------
# SQL over the layout's own identifiers (never a user string); values and paths are bound.


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _projection(table: str) -> str:
    """``SELECT *`` of a month table without its excluded (PHI) columns."""
    excluded = EXCLUDED_COLUMNS.get(table, ())
    if not excluded:
        return f"SELECT * FROM {_ident(table)}"
    return f"SELECT * EXCLUDE ({', '.join(map(_ident, excluded))}) FROM {_ident(table)}"


def _columns(con: duckdb.DuckDBPyConnection, select: str) -> list[list[str]]:
    """[name, type] of each column ``select`` returns (the layout part of a fingerprint)."""
    return [[row[0], row[1]] for row in con.execute(f"DESCRIBE {select}").fetchall()]


def _digest(parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _month_print_sql(table: str) -> str:
    """count, XOR and sum of the row hashes of ``table`` per payment month (NULL: no BPR16 date)."""
    rows = f"({_projection(table)}) x"
    if table != "payments":  # a row belongs to the month of its payment
        rows += " JOIN payments p ON p.payment_id = x.payment_id"
    month = "x.payment_date" if table == "payments" else "p.payment_date"
    return (
        f"SELECT CAST(date_trunc('month', {month}) AS DATE) AS m, count(*), bit_xor(hash(x)), "
        f"CAST(sum(CAST(hash(x) AS HUGEINT)) AS VARCHAR) FROM {rows} GROUP BY ALL"
    )


def month_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[Month | None, dict]:
    """Per payment month (None: payments without a BPR16 date): ``{"fingerprint": sha256 hex,
    "rows": {table: n}}`` over the exported columns of the four month tables, computed in DuckDB
    (one grouped pass per table; nothing per row in Python)."""
    per_month: dict[Month | None, dict] = {}
    schema = {t: _columns(con, _projection(t)) for t in MONTH_TABLES}
    for table in MONTH_TABLES:
        for day, n, xor, total in con.execute(_month_print_sql(table)).fetchall():
            month = None if day is None else Month.of(day)
            per_month.setdefault(month, {})[table] = [n, str(xor), total]
    out = {}
    for month, parts in per_month.items():
        full = {t: parts.get(t, [0, "0", "0"]) for t in MONTH_TABLES}
        out[month] = {
            "fingerprint": _digest({"format": FORMAT_VERSION, "schema": schema, "tables": full}),
            "rows": {t: full[t][0] for t in MONTH_TABLES},
        }
    return out


def _table_print(con: duckdb.DuckDBPyConnection, select: str) -> dict:
    """``{"fingerprint", "rows"}`` of a whole table (a reference table or a registered contract frame)."""
    n, xor, total = con.execute(
        f"SELECT count(*), bit_xor(hash(x)), CAST(sum(CAST(hash(x) AS HUGEINT)) AS VARCHAR) FROM ({select}) x"
    ).fetchall()[0]
    schema = _columns(con, select)
    return {
        "fingerprint": _digest({"format": FORMAT_VERSION, "schema": schema, "n": n, "xor": str(xor), "sum": total}),
        "rows": n,
    }


# ---------------------------------------------------------------------------------------------
# Files and folders


def _mkdir(path: Path) -> Path:
    """A folder 0700 (and any missing parents); an existing one is left as it is."""
    return make_private_dirs(path)


def _copy(con: duckdb.DuckDBPyConnection, select: str, params: dict, path: Path) -> None:
    """``COPY (select) TO path`` as Parquet, the file then made owner-only."""
    _mkdir(path.parent)
    con.execute(f"COPY ({select}) TO $lake_path (FORMAT parquet)", {**params, "lake_path": str(path)})
    os.chmod(path, 0o600)


def _swap_in(new: Path, target: Path, aside: Path) -> None:
    """Put the folder ``new`` at ``target``: the old one renamed to ``aside`` (in the staging area),
    ``new`` renamed in, the old one deleted. A reader never sees half a folder."""
    _mkdir(target.parent)
    _mkdir(aside.parent)
    if aside.exists():
        shutil.rmtree(aside)
    if target.exists():
        os.rename(target, aside)
    os.rename(new, target)
    if aside.exists():
        shutil.rmtree(aside)


def _remove(target: Path, aside: Path) -> None:
    """Delete the folder ``target`` (renamed aside first, so it disappears whole)."""
    if not target.exists():
        return
    _mkdir(aside.parent)
    if aside.exists():
        shutil.rmtree(aside)
    os.rename(target, aside)
    shutil.rmtree(aside)


def _aside(root: Path, target: Path) -> Path:
    """Where ``target`` (two levels under ``root``: <table>/<partition>, reference/<t>, contracts/<f>)
    waits while it is replaced: ``DIR/_staging/old/<same two levels>``."""
    return root / layout.STAGING / "old" / target.relative_to(root)


def _recover(root: Path) -> None:
    """Put back folders an interrupted export had renamed aside and not yet replaced; then clear
    the staging area (half-written files of that export)."""
    staging = root / layout.STAGING
    old = staging / "old"
    if old.is_dir():
        for first in sorted(old.iterdir()):
            if not first.is_dir() or first.is_symlink():
                continue
            for second in sorted(first.iterdir()):
                target = root / first.name / second.name
                if second.is_dir() and not second.is_symlink() and not target.exists():
                    _mkdir(target.parent)
                    os.rename(second, target)
    if staging.is_symlink():
        staging.unlink()
    elif staging.exists():
        shutil.rmtree(staging)


def read_manifest(root: str | os.PathLike) -> dict | None:
    """The manifest of the lake at ``root`` (None when there is none yet)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LakeError(
            f"{path}: not a readable lake manifest ({exc}); delete the folder's contents and export again"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise LakeError(f"{path}: not an underpay lake manifest; choose another folder")
    if data.get("format_version") != FORMAT_VERSION:
        raise LakeError(
            f"{path}: lake format version {data.get('format_version')!r}, this underpay writes version "
            f"{FORMAT_VERSION}; export into an empty folder (or delete this one) to rebuild it"
        )
    for section in ("months", "reference", "contracts", "tables"):
        if not isinstance(data.get(section), dict):
            data[section] = {}  # a damaged section: everything in it is written again
    return data


def _write_manifest(root: Path, manifest: dict) -> None:
    """Replace the manifest atomically (tmp file, then ``os.replace``)."""
    tmp = root / (MANIFEST + ".tmp")
    with private_open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / MANIFEST)


def _new_manifest() -> dict:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "exported_at": None,
        "partition_key": layout.PARTITION_KEY,
        "null_partition": layout.NULL_PARTITION,
        "month_tables": list(MONTH_TABLES),
        "excluded_columns": {t: list(c) for t, c in EXCLUDED_COLUMNS.items()},
        "months": {},
        "reference": {},
        "contracts": {},
        "tables": {},
    }


def _check_root(root: Path) -> None:
    """``root`` is a lake, an empty folder or not there yet: never write into someone's other folder."""
    if root.exists() and not root.is_dir():
        raise LakeError(f"{root}: is a file, not a folder; give `underpay export parquet` a folder")
    if not root.exists() or (root / MANIFEST).exists():
        return
    foreign = sorted(p.name for p in root.iterdir() if p.name not in layout.LAKE_NAMES and not p.name.startswith("."))
    if foreign:
        raise LakeError(
            f"{root}: not an underpay lake (no {MANIFEST}) and not empty ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); export into a new or empty folder"
        )


def _disk_months(root: Path) -> set[Month | None]:
    """Months that have a folder in any month table."""
    found: set[Month | None] = set()
    for table in MONTH_TABLES:
        folder = layout.table_dir(root, table)
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            try:
                found.add(layout.month_of_partition(child.name))
            except ValueError:  # another name: not ours
                continue
    return found


def _complete(root: Path, month: Month | None) -> bool:
    return all((layout.month_dir(root, t, month) / PART_FILE).is_file() for t in MONTH_TABLES)


# ---------------------------------------------------------------------------------------------
# The export


def contract_tables(contracts_dir: str | os.PathLike) -> dict[str, pl.DataFrame]:
    """The contracts folder as the comparison registers it: contract_frames + ``cmp_roster``."""
    folder = Path(contracts_dir)
    frames = contract_frames(load_contracts(folder))
    frames[ROSTER] = load_roster(folder).select("npi", "provider_type")
    if set(frames) != set(CONTRACT_TABLES):
        raise LakeError(  # a new frame in contracts.terms must be added to layout.CONTRACT_TABLES
            f"contract frames {sorted(frames)} differ from pipelines.lake.layout.CONTRACT_TABLES {list(CONTRACT_TABLES)}"
        )
    return frames


def _month_select(table: str) -> str:
    """The rows of ``table`` whose payment is in the month [$start, $end) (both NULL: no BPR16 date)."""
    scope = (
        "SELECT payment_id FROM payments WHERE CASE WHEN CAST($start AS DATE) IS NULL THEN payment_date IS NULL "
        "ELSE payment_date >= CAST($start AS DATE) AND payment_date < CAST($end AS DATE) END"
    )
    return f"SELECT * FROM ({_projection(table)}) x WHERE x.payment_id IN ({scope})"


def _write_month(con, root: Path, month: Month | None, staging: Path) -> None:
    """Stage the month's four files, then swap each month folder in."""
    stage = staging / "new" / layout.partition_name(month)
    params = {"start": month.start if month else None, "end": month.end if month else None}
    for table in MONTH_TABLES:
        _copy(con, _month_select(table), params, stage / table / PART_FILE)
    for table in MONTH_TABLES:
        target = layout.month_dir(root, table, month)
        _swap_in(stage / table, target, _aside(root, target))


def _write_whole(con, root: Path, select: str, target: Path, staging: Path) -> None:
    """Stage one unpartitioned table and swap its folder in."""
    stage = staging / "new" / target.relative_to(root)
    _copy(con, select, {}, stage / PART_FILE)
    _swap_in(stage, target, _aside(root, target))


def _in_scope(month: Month | None, wanted: set[Month] | None) -> bool:
    return wanted is None or (month is not None and month in wanted)


def export_lake(
    con: duckdb.DuckDBPyConnection,
    root: str | os.PathLike,
    *,
    contracts_dir: str | os.PathLike,
    months: Iterable[Month] | None = None,
) -> LakeExport:
    """Write (or bring up to date) the lake at ``root`` from the warehouse ``con`` and the contracts
    folder ``contracts_dir``. ``months``: only those payment months are compared, written or
    removed (None: every month, and the month of payments without a BPR16 date)."""
    t0 = time.perf_counter()
    root = Path(root)
    wanted = None if months is None else {Month.coerce(m) for m in months}
    result = LakeExport(root=root)
    frames = contract_tables(contracts_dir)  # a broken contract fails before anything is written
    _check_root(root)
    _mkdir(root)
    with run_lock(root / layout.LOCK_STEM, what=f"underpay export parquet {root}"):
        _recover(root)
        manifest = read_manifest(root) or _new_manifest()
        staging = _mkdir(root / layout.STAGING)
        views = {}
        try:
            for name, frame in frames.items():
                views[name] = _FRAME_VIEW.format(name)
                con.register(views[name], arrow_view(frame))
            with transaction(con):  # one snapshot of the warehouse for the whole export
                _export_months(con, root, manifest, staging, wanted, result)
                _export_tables(con, root, manifest, staging, result, views)
        finally:
            for view in views.values():
                try:
                    con.unregister(view)
                except Exception:  # noqa: BLE001 - not registered when registering failed
                    pass
        manifest["exported_at"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        manifest["tables"] = _totals(manifest)
        _write_manifest(root, manifest)
        shutil.rmtree(staging, ignore_errors=True)
    result.rows = dict(manifest["tables"])
    result.seconds = time.perf_counter() - t0
    return result


def _export_months(con, root: Path, manifest: dict, staging: Path, wanted, result: LakeExport) -> None:
    current = {m: v for m, v in month_fingerprints(con).items() if _in_scope(m, wanted)}
    recorded = manifest["months"]
    order = sorted(current, key=lambda m: (m is None, m or Month(1, 1)))
    for month in order:
        value = layout.partition_value(month)
        entry = current[month]
        if recorded.get(value, {}).get("fingerprint") == entry["fingerprint"] and _complete(root, month):
            result.months_unchanged.append(value)
            continue
        _write_month(con, root, month, staging)
        recorded[value] = entry
        _write_manifest(root, manifest)
        result.months_written.append(value)
        for table, n in entry["rows"].items():
            result.rows_written[table] = result.rows_written.get(table, 0) + n
    known: set[Month | None] = _disk_months(root)
    for value in list(recorded):
        try:
            known.add(layout.month_of_partition(f"{layout.PARTITION_KEY}={value}"))
        except ValueError:  # a damaged entry: dropped
            recorded.pop(value)
    gone = sorted(
        (m for m in known if m not in current and _in_scope(m, wanted)), key=lambda m: (m is None, m or Month(1, 1))
    )
    for month in gone:
        for table in MONTH_TABLES:
            target = layout.month_dir(root, table, month)
            _remove(target, _aside(root, target))
        recorded.pop(layout.partition_value(month), None)
        _write_manifest(root, manifest)
        result.months_removed.append(layout.partition_value(month))


def _export_tables(con, root: Path, manifest: dict, staging: Path, result: LakeExport, views: dict) -> None:
    jobs = [("reference", t, f"SELECT * FROM {_ident(t)}", layout.reference_dir(root, t)) for t in REFERENCE_TABLES]
    jobs += [
        ("contracts", f, f"SELECT * FROM {_ident(views[f])}", layout.contract_dir(root, f)) for f in CONTRACT_TABLES
    ]
    for section, name, select, target in jobs:
        entry = _table_print(con, select)
        if (
            manifest[section].get(name, {}).get("fingerprint") == entry["fingerprint"]
            and (target / PART_FILE).is_file()
        ):
            getattr(result, f"{section}_unchanged").append(name)
            continue
        _write_whole(con, root, select, target, staging)
        manifest[section][name] = entry
        getattr(result, f"{section}_written").append(name)
        result.rows_written[name] = entry["rows"]
    _write_manifest(root, manifest)


def _totals(manifest: dict) -> dict[str, int]:
    totals = {t: 0 for t in MONTH_TABLES}
    for entry in manifest["months"].values():
        for table, n in entry["rows"].items():
            totals[table] = totals.get(table, 0) + n
    for section in ("reference", "contracts"):
        for name, entry in manifest[section].items():
            totals[name] = entry["rows"]
    return totals
