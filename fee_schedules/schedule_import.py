"""Import the other Medicare fee schedules (CLFS, ASP, DMEPOS, OPPS, ASC) as CMS ships them, quarter-aware.

Each CMS file is one release of one schedule kind, in force from the ``effective_from`` its name or
preamble states (``fee_schedules.loaders.<schedule>``). The warehouse keeps every release with its
file name, sha256 and row count (``schedule_releases``). A file for a period already imported is a
re-release: when CMS issued it later (``issued``, or a higher CLFS version) it replaces the earlier
one and the import says so; the same bytes again change nothing; an older issue is not imported and
the output says which release stays. A release is in force until the day before the next imported
release of the same kind in its year, else to 31 December; ASP limits (payment limits per quarter)
only for the dates the file states.

Every file given is read and validated before anything is written; then all go in in one transaction.
A bad file stops the import with an ``Error:`` naming it, its row and what was expected: nothing of
any file is kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath

import duckdb
import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders import asc, asp, clfs, dmepos, opps
from fee_schedules.loaders.common import Period
from pipelines.core.errors import InputFileError
from pipelines.core.sql import arrow_view, read_sql
from pipelines.core.transactions import transaction


@dataclass(frozen=True)
class Kind:
    """One kind of CMS schedule file: how it is recognised and read, and the table its rows go to."""

    kind: str
    schedule: str  # the --schedule name it belongs to
    pattern: re.Pattern
    read: Callable[[SourceFile], tuple[pl.DataFrame, Period]]
    table: str
    stated_through: bool = False  # in force only for the dates the file states (ASP)
    tagged: bool = False  # the table holds several kinds: a `schedule` column says which


def _read_clfs(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    frame = clfs.load(source)
    return frame, clfs.period(source, frame)


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("clfs", "clfs", clfs.NAME_PATTERN, _read_clfs, "clfs_rates"),
        Kind("asp", "asp", asp.NAME_PATTERN, asp.read, "asp_limits", stated_through=True),
        Kind("asp_noc", "asp", asp.NOC_NAME_PATTERN, asp.read_noc, "asp_noc_limits", stated_through=True),
        Kind("dmepos", "dmepos", dmepos.NAME_PATTERN, dmepos.read, "dmepos_fees", tagged=True),
        Kind("dmepos_pen", "dmepos", dmepos.PEN_NAME_PATTERN, dmepos.read_pen, "dmepos_fees", tagged=True),
        Kind("dmepos_rural", "dmepos", dmepos.RURAL_NAME_PATTERN, dmepos.read_rural, "dmepos_rural_zips"),
        Kind("opps", "opps", opps.NAME_PATTERN, opps.read, "opps_rates"),
        Kind("asc_aa", "asc", asc.AA_NAME_PATTERN, asc.read_aa, "asc_rates", tagged=True),
        Kind("asc_bb", "asc", asc.BB_NAME_PATTERN, asc.read_bb, "asc_rates", tagged=True),
    )
}
SCHEDULES = ("mpfs", *dict.fromkeys(k.schedule for k in KINDS.values()))
# Which kind a file is read as when --schedule names the schedule but the file's name says nothing.
MAIN_KIND = {"clfs": "clfs", "asp": "asp", "dmepos": "dmepos", "opps": "opps", "asc": "asc_aa"}
_SECTION_508 = re.compile(r"^(section[ _])?508[ _-](compliant[ _-])?(version[ _-])?(of[ _-])?", re.I)
_EXT_RANK = {".csv": 0, ".txt": 1, ".xlsx": 2}


def kind_of(name: str) -> str | None:
    """The schedule kind a CMS file name says (None: not a file of these schedules)."""
    hits = [k.kind for k in KINDS.values() if k.pattern.search(name)]
    # NOC before the drug file (a NOC name may also read as an ASP pricing file)
    for first in ("asp_noc", "dmepos_pen", "dmepos_rural"):
        if first in hits:
            return first
    return hits[0] if hits else None


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        out = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
        return out
    raise InputFileError(path, "no such file or folder", hint="Check the path")


def _candidates(path: Path) -> list[tuple[str, str, Callable[[], bytes]]]:
    """(name, origin, reader) of every file under ``path``; a .zip (as CMS ships most of these files)
    is opened and its members are the files."""
    out: list[tuple[str, str, Callable[[], bytes]]] = []
    for f in _walk(path):
        if f.suffix.lower() == ".zip" and zipfile.is_zipfile(f):
            zf = zipfile.ZipFile(f)
            for info in zf.infolist():
                if not info.is_dir():
                    name = PurePosixPath(info.filename).name
                    out.append((name, f"{f}!{info.filename}", lambda i=info, z=zf: z.read(i)))
        else:
            out.append((f.name, str(f), f.read_bytes))
    return out


def find_schedule_files(path: Path, schedule: str | None = None) -> list[SourceFile]:
    """Every file of the non-MPFS schedules at ``path`` (a file, a .zip, or a folder read recursively),
    one per (kind, file stem) with CSV preferred over TXT over XLSX. With ``schedule``, only that
    schedule's files; a single file whose name says nothing is read as the schedule's main kind."""
    path = Path(path)
    single = path.is_file() and path.suffix.lower() != ".zip"
    chosen: dict[tuple[str, str], tuple[str, str, Callable[[], bytes]]] = {}
    for name, origin, read in _candidates(path):
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in _EXT_RANK:
            continue
        kind = kind_of(name)
        if single and schedule in MAIN_KIND and (kind is None or KINDS[kind].schedule != schedule):
            kind = MAIN_KIND[schedule]  # a file given as this schedule is read as one (its header decides)
        if kind is None or (schedule and KINDS[kind].schedule != schedule):
            continue
        folder = origin[: -len(name)]
        key = (kind, folder + _SECTION_508.sub("", PurePosixPath(name).stem).strip().upper())
        if key not in chosen or _EXT_RANK[suffix] < _EXT_RANK[PurePosixPath(chosen[key][0]).suffix.lower()]:
            chosen[key] = (name, origin, read)
    return [
        SourceFile(kind, name, origin, read())
        for (kind, _), (name, origin, read) in sorted(chosen.items(), key=lambda kv: (kv[0][0], kv[1][1]))
    ]


@dataclass
class ImportedRelease:
    kind: str
    file_name: str
    effective_from: date
    rows: int
    sha256: str
    action: str  # imported | replaced | unchanged | older
    note: str = ""

    def __str__(self) -> str:
        head = f"  {self.kind:<13} {self.effective_from}  {self.rows:>7} rows  {self.action:<9} {self.file_name}"
        return f"{head}{' (' + self.note + ')' if self.note else ''}"


@dataclass
class ScheduleImportResult:
    source: str
    releases: list[ImportedRelease] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        if not self.releases:
            return f"No CLFS, ASP, DMEPOS, OPPS or ASC file found in {self.source}"
        lines = [f"Imported {len(self.releases)} schedule file(s) from {self.source} in {self.seconds:.1f} s"]
        lines += [str(r) for r in self.releases]
        return "\n".join(lines)


@dataclass
class _Read:
    source: SourceFile
    kind: Kind
    frame: pl.DataFrame
    period: Period
    version: int | None

    @property
    def order(self) -> tuple:
        return (self.period.issued or date.min, self.version or 0)


def _version(source: SourceFile) -> int | None:
    """The CLFS version of a quarter (V1, V2 ...): a later version replaces an earlier one."""
    return (clfs.version(source) or None) if source.kind == "clfs" else None


def read_files(sources: list[SourceFile]) -> list[_Read]:
    """Read and validate every file (no database); the releases of one period in the order CMS issued them."""
    out = []
    for s in sources:
        kind = KINDS[s.kind]
        frame, period = kind.read(s)
        out.append(_Read(s, kind, frame, period, _version(s)))
    return sorted(out, key=lambda r: (r.kind.kind, r.period.effective_from, r.order, r.source.name))


def import_schedules(con: duckdb.DuckDBPyConnection, path, schedule: str | None = None) -> ScheduleImportResult:
    """Import every CLFS/ASP/DMEPOS/OPPS/ASC file at ``path`` (file or folder) in one transaction."""
    t0 = time.perf_counter()
    sources = find_schedule_files(Path(path), schedule)
    if not sources and schedule in MAIN_KIND:
        raise InputFileError(
            path,
            f"no {schedule.upper()} file found",
            expected=f"a file CMS ships for the {schedule.upper()} schedule (see docs/fee-schedules.md)",
            hint="Pass the file itself, or check --schedule",
        )
    reads = read_files(sources)
    result = ScheduleImportResult(str(path))
    with transaction(con):
        for r in reads:
            result.releases.append(_write(con, r))
        for kind in dict.fromkeys(r.kind.kind for r in reads):
            _refresh_through(con, KINDS[kind])
    result.seconds = time.perf_counter() - t0
    return result


def _write(con: duckdb.DuckDBPyConnection, r: _Read) -> ImportedRelease:
    kind, src, eff = r.kind, r.source, r.period.effective_from
    sha = hashlib.sha256(src.data).hexdigest()
    found = con.execute(
        "SELECT file_name, sha256, issued, version FROM schedule_releases WHERE schedule = ? AND effective_from = ?",
        [kind.kind, eff],
    ).fetchall()  # fetchall: DuckDB 2 keeps a result open until fetched
    old = found[0] if found else None
    base = ImportedRelease(kind.kind, src.name, eff, r.frame.height, sha, "imported")
    if old is not None:
        old_name, old_sha, old_issued, old_version = old
        if old_sha == sha:
            base.action = "unchanged"
            base.note = "the same bytes are imported already"
            return base
        if (old_issued or date.min, old_version or 0) > r.order:
            base.action = "older"
            base.note = f"CMS issued {old_name} later for the same period; it stays"
            return base
        base.action = "replaced"
        base.note = f"re-release of {eff}: replaces {old_name} (sha256 {old_sha[:12]})"
    where = "effective_from = ?" + (" AND schedule = ?" if kind.tagged else "")
    params: list = [eff, kind.kind] if kind.tagged else [eff]
    con.execute(f"DELETE FROM {kind.table} WHERE {where}", params)
    con.execute("DELETE FROM schedule_releases WHERE schedule = ? AND effective_from = ?", [kind.kind, eff])
    frame = r.frame.drop("schedule", strict=False)
    con.register("_schedule_frame", arrow_view(frame))
    try:
        tag = "?::VARCHAR AS schedule, " if kind.tagged else ""
        con.execute(
            f"INSERT INTO {kind.table} BY NAME SELECT {tag}?::DATE AS effective_from, * FROM _schedule_frame",
            [kind.kind, eff] if kind.tagged else [eff],
        )
    finally:
        con.unregister("_schedule_frame")
    through = r.period.effective_through or date(eff.year, 12, 31)
    con.execute(
        "INSERT INTO schedule_releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            kind.kind,
            eff,
            through,
            r.period.issued,
            r.version,
            src.name,
            sha,
            len(src.data),
            r.frame.height,
            src.origin,
            datetime.now(),
            f"{old[0]} ({old[1][:12]})" if old is not None else None,
        ],
    )
    return base


def _refresh_through(con: duckdb.DuckDBPyConnection, kind: Kind) -> None:
    """effective_through of every release of ``kind``: the stated end (ASP), else the day before the
    next release of the kind in the same year, else 31 December."""
    if kind.stated_through:
        return
    rows = con.execute(
        "SELECT effective_from FROM schedule_releases WHERE schedule = ? ORDER BY effective_from", [kind.kind]
    ).fetchall()
    froms = [r[0] for r in rows]
    for i, eff in enumerate(froms):
        nxt = froms[i + 1] if i + 1 < len(froms) else None
        through = nxt - timedelta(days=1) if nxt is not None and nxt.year == eff.year else date(eff.year, 12, 31)
        con.execute(
            "UPDATE schedule_releases SET effective_through = ? WHERE schedule = ? AND effective_from = ?",
            [through, kind.kind, eff],
        )


def list_schedule_releases(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What is imported of the other schedules: one row per release."""
    return con.sql(read_sql("fee_schedules.sql", "list_schedule_releases.sql")).pl()
