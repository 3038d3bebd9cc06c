"""Import one CMS quarterly release (zip or folder) into the mpfs_* tables, in one transaction.

Re-importing a release replaces it (never doubles). A release that does not ship some file
(RVU25D ships only PPRRVU + OPPSCAP) inherits it from the latest earlier release of the same
year; the manifest (mpfs_release_files.inherited_from) says so. Every shipped file's sha256,
size and row count is recorded.

CMS's anesthesia base units ("Anesthesia Base Units by CPT Code") are not part of the RVU release.
When the release does not hold that file, it is looked for beside the release: in the CMS root's
``extra/anesthesia/<year>/``, else the latest earlier ``extra/anesthesia/<year>/`` there (the root
is the folder holding the ``<year>/`` folder the release sits in, e.g. ``../shared/cms`` for
``../shared/cms/2025`` and ``../shared/cms/2025/RVU25D``). Found nowhere, the import still succeeds
and ``ImportResult.missing`` lists ``anes_base``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from fee_schedules.files import (
    ANES_BASE_DIR,
    ANES_BASE_URL,
    KINDS,
    RELEASES,
    SourceFile,
    file_label,
    find_release_files,
    infer_release,
)
from fee_schedules.loaders import LOADERS
from fee_schedules.loaders.anes import national_cf
from pipelines.core.errors import InputFileError
from pipelines.core.sql import arrow_view, read_sql
from pipelines.core.transactions import transaction

# kind -> the warehouse table(s) its rows live in (the CF rows come from the RVU file)
KIND_TABLES: dict[str, tuple[str, ...]] = {
    "rvu": ("mpfs_rvu", "mpfs_conversion_factors"),
    "gpci": ("mpfs_gpci",),
    "locco": ("mpfs_locality_counties",),
    "anes": ("mpfs_anesthesia_cf",),
    "oppscap": ("mpfs_opps_cap",),
    "zip5": ("mpfs_zip5",),
    "zip9": ("mpfs_zip9",),
    "anes_base": ("mpfs_anesthesia_base_units",),
}
RELEASE_MONTH = {"A": 1, "B": 4, "C": 7, "D": 10}

# Conversion factors not carried by a file we import (sources in docs/fee-schedules.md and
# shared notes §6). QP: qualifying APM participant; years before 2026 have a single CF.
KNOWN_QP_CF: dict[int, tuple[Decimal, str]] = {
    2026: (Decimal("33.5675"), "CY2026 PFS final rule (CMS-1832-F): qualifying APM participant CF"),
}
KNOWN_ANESTHESIA_CF: dict[int, Decimal] = {2025: Decimal("20.3178"), 2026: Decimal("20.4976")}

_YEAR_IN_NAME = {
    "rvu": r"^PPRRVU(\d{2}|\d{4})_",
    "gpci": r"^GPCI(\d{4})",
    "locco": r"^(\d{2})LOCCO",
    "anes": r"^ANES(\d{4})",
    "zip5": r"(\d{4})\.txt$",
    "zip9": r"(\d{4})\.txt$",
}


@dataclass
class ImportedFile:
    kind: str
    name: str
    rows: int
    sha256: str
    inherited_from: str | None = None


@dataclass
class ImportResult:
    year: int
    release: str
    source: str
    effective_from: date
    files: list[ImportedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # kinds neither shipped nor inheritable
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"Imported MPFS {self.year} release {self.release} (effective {self.effective_from}) "
            f"from {self.source} in {self.seconds:.1f} s"
        ]
        for f in self.files:
            how = f"inherited from release {f.inherited_from}" if f.inherited_from else f"sha256 {f.sha256[:12]}…"
            lines.append(f"  {f.kind:<9} {f.name:<28} {f.rows:>7} rows  {how}")
        for kind in self.missing:
            why = (
                missing_help(kind, self.year)
                if kind == "anes_base"
                else f"not shipped and no earlier {self.year} release to inherit it from"
            )
            lines.append(f"  {kind:<9} {file_label(kind, self.year):<28} missing: {why}")
        return "\n".join(lines)


def missing_help(kind: str, year: int) -> str:
    """Why a file kind is missing and how to provide it (for messages and not-priced reasons)."""
    if kind != "anes_base":
        return f"{file_label(kind, year)} is not imported for {year}: import the {year} release that ships it"
    return (
        f"CMS's Anesthesia Base Units by CPT Code file is not imported for {year} (neither in the release folder "
        f"nor in extra/anesthesia/<{year} or earlier>/ beside its year folder): run "
        f"`underpay fee-schedule download --year {year}`, or fetch {ANES_BASE_URL.format(yyyy=year)} "
        f"(or an earlier year's) into <cms root>/extra/anesthesia/<year>/ and import the release again"
    )


def cms_root(path: Path, year: int) -> Path | None:
    """The folder holding the ``<year>/`` folder a release sits in (the release itself, or its parent
    for a later release's sub-folder ``RVU25D/`` or a release zip); None when neither is named ``<year>``."""
    path = Path(path).resolve()
    for cand in (path, path.parent):
        if cand.name == str(year):
            return cand.parent
    return None


def find_anes_base(path: Path, year: int) -> list[SourceFile]:
    """The base-unit file beside a release: ``<root>/extra/anesthesia/<year>/``, else the latest
    earlier year folder there holding one; [] when there is none."""
    root = cms_root(path, year)
    base = root.joinpath(*ANES_BASE_DIR) if root is not None else None
    if base is None or not base.is_dir():
        return []
    years = sorted(
        (int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) <= year),
        reverse=True,
    )
    for y in years:
        found = find_release_files(base / str(y)).get("anes_base")
        if found:
            return found
    return []


def _check_year(source: SourceFile, year: int) -> None:
    pattern = _YEAR_IN_NAME.get(source.kind)
    m = re.search(pattern, source.name, re.I) if pattern else None
    if not m:
        return
    got = int(m.group(1))
    got = 2000 + got if got < 100 else got
    if got != year:
        raise InputFileError(
            source.origin,
            f"file is for {got}, not {year}",
            hint=f"Import it with --year {got}, or import the {year} release",
        )


def load_release(path: Path, year: int, release: str | None = None):
    """Read and validate every file of a release (no database). Returns (release, {kind: (files, frame)})."""
    path = Path(path)
    files = find_release_files(path)
    if not files:
        raise InputFileError(
            path,
            "no CMS fee schedule files found",
            expected="PPRRVU*, GPCI*, *LOCCO*, ANES*, OPPSCAP*, ZIP5_*/ZIP9_* files",
            hint="Pass the unpacked release folder or the release .zip",
        )
    if "anes_base" not in files:  # not part of the RVU release: look beside it
        beside = find_anes_base(path, year)
        if beside:
            files = {**files, "anes_base": beside}
    release = (release or infer_release(path, files) or "").upper()
    if release not in RELEASES:
        raise InputFileError(
            path,
            "cannot tell which quarterly release this is",
            expected="--release A, B, C or D (A January, B April, C July, D October)",
        )
    frames: dict[str, tuple[list[SourceFile], pl.DataFrame]] = {}
    for kind, sources in files.items():
        for s in sources:
            _check_year(s, year)
        if kind == "rvu":
            main = [s for s in sources if not s.is_qp] or sources
            frames[kind] = (sources, LOADERS[kind](main[0]))
        else:
            frames[kind] = (sources, LOADERS[kind](sources[0]))
    if "anes_base" in frames:
        got = frames["anes_base"][1]["source_year"]
        if got.len() and int(got[0]) > year:
            raise InputFileError(
                frames["anes_base"][0][0].origin,
                f"anesthesia base units for CY {int(got[0])}, newer than {year}",
                hint=f"Use the base-unit file of {year} or an earlier year for the {year} release",
            )
    return release, frames


def _cf_rows(year: int, sources: list[SourceFile], rvu: pl.DataFrame, anes_national: Decimal | None) -> pl.DataFrame:
    from fee_schedules.loaders import rvu as rvu_loader

    anes = anes_national if anes_national is not None else KNOWN_ANESTHESIA_CF.get(year)
    rows: dict[bool, tuple[Decimal, str]] = {}
    for s in sources:
        frame = rvu if not s.is_qp else rvu_loader.load(s)
        cfs = frame["conversion_factor"].unique().to_list()
        if len(cfs) != 1:
            raise InputFileError(
                s.origin,
                "more than one conversion factor in the CONV FACTOR column",
                found=", ".join(str(c) for c in cfs),
            )
        rows[s.is_qp] = (cfs[0], f"CONV FACTOR column of {s.name}")
    if True not in rows:
        rows[True] = KNOWN_QP_CF.get(year) or (rows[False][0], "single conversion factor for the year")
    return pl.DataFrame(
        {
            "qp": [False, True],
            "conversion_factor": [rows[False][0], rows[True][0]],
            "anesthesia_cf": [anes, anes],
            "source": [rows[False][1], rows[True][1]],
        },
        schema={
            "qp": pl.Boolean,
            "conversion_factor": pl.Decimal(9, 4),
            "anesthesia_cf": pl.Decimal(9, 4),
            "source": pl.String,
        },
    )


def import_release(con: duckdb.DuckDBPyConnection, path, year: int, release: str | None = None) -> ImportResult:
    """Load the release at ``path`` (zip or folder) as (year, release), replacing any earlier import of it."""
    t0 = time.perf_counter()
    year = int(year)
    release, frames = load_release(Path(path), year, release)
    tables: dict[str, pl.DataFrame] = {}
    for kind, (_sources, frame) in frames.items():
        tables[KIND_TABLES[kind][0]] = frame
    if "rvu" in frames:
        anes_nat = national_cf(frames["anes"][0][0]) if "anes" in frames else None
        tables["mpfs_conversion_factors"] = _cf_rows(year, frames["rvu"][0], frames["rvu"][1], anes_nat)
    with transaction(con):
        for names in KIND_TABLES.values():
            for table in names:
                con.execute(f"DELETE FROM {table} WHERE year = ? AND release = ?", [year, release])
        con.execute("DELETE FROM mpfs_release_files WHERE year = ? AND release = ?", [year, release])
        con.execute("DELETE FROM mpfs_releases WHERE year = ? AND release = ?", [year, release])
        for table, frame in tables.items():
            con.register("_mpfs_frame", arrow_view(frame))
            try:
                con.execute(
                    f"INSERT INTO {table} BY NAME SELECT ?::INTEGER AS year, ?::VARCHAR AS release, * FROM _mpfs_frame",
                    [year, release],
                )
            finally:
                con.unregister("_mpfs_frame")
        for kind, (sources, frame) in frames.items():
            names = ", ".join(s.name for s in sources)
            sha = ", ".join(s.sha256 for s in sources)
            con.execute(
                "INSERT INTO mpfs_release_files VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                [year, release, kind, names, sha, sum(len(s.data) for s in sources), frame.height],
            )
        con.execute(
            "INSERT INTO mpfs_releases VALUES (?, ?, ?, ?, ?, ?)",
            [year, release, date(year, RELEASE_MONTH[release], 1), date(year, 12, 31), str(path), datetime.now()],
        )
        refresh_year(con, year)
    return _result(con, year, release, str(path), time.perf_counter() - t0)


def refresh_year(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """Recompute inherited files and effective dates of every release of ``year`` (inside a transaction)."""
    letters = [
        r[0]
        for r in con.execute("SELECT release FROM mpfs_releases WHERE year = ? ORDER BY release", [year]).fetchall()
    ]
    for i, rel in enumerate(letters):
        for kind, tables in KIND_TABLES.items():
            shipped = con.execute(
                "SELECT count(*) FROM mpfs_release_files WHERE year = ? AND release = ? AND kind = ? "
                "AND inherited_from IS NULL",
                [year, rel, kind],
            ).fetchall()[0][0]
            if shipped:
                continue
            for table in tables:
                con.execute(f"DELETE FROM {table} WHERE year = ? AND release = ?", [year, rel])
            con.execute("DELETE FROM mpfs_release_files WHERE year = ? AND release = ? AND kind = ?", [year, rel, kind])
            earlier = [
                e
                for e in letters[:i]
                if con.execute(
                    "SELECT count(*) FROM mpfs_release_files WHERE year = ? AND release = ? AND kind = ?",
                    [year, e, kind],
                ).fetchall()[0][0]
            ]
            if not earlier:
                continue
            src = earlier[-1]
            for table in tables:
                con.execute(
                    f"INSERT INTO {table} SELECT * REPLACE (?::VARCHAR AS release) FROM {table} "
                    f"WHERE year = ? AND release = ?",
                    [rel, year, src],
                )
            con.execute(
                "INSERT INTO mpfs_release_files SELECT * REPLACE (?::VARCHAR AS release, "
                "coalesce(inherited_from, ?) AS inherited_from) FROM mpfs_release_files "
                "WHERE year = ? AND release = ? AND kind = ?",
                [rel, src, year, src, kind],
            )
    for i, rel in enumerate(letters):
        through = (
            date(year, RELEASE_MONTH[letters[i + 1]], 1) - timedelta(days=1)
            if i + 1 < len(letters)
            else date(year, 12, 31)
        )
        con.execute(
            "UPDATE mpfs_releases SET effective_through = ? WHERE year = ? AND release = ?", [through, year, rel]
        )
        con.execute(read_sql("fee_schedules.sql", "opps_cap_gpci_carrier.sql"), {"year": year, "release": rel})


def _result(con, year: int, release: str, source: str, seconds: float) -> ImportResult:
    eff = con.execute(
        "SELECT effective_from FROM mpfs_releases WHERE year = ? AND release = ?", [year, release]
    ).fetchall()[0][0]
    got = con.execute(
        "SELECT kind, file_name, row_count, sha256, inherited_from FROM mpfs_release_files "
        "WHERE year = ? AND release = ?",
        [year, release],
    ).fetchall()
    by_kind = {k: ImportedFile(k, n, r, s, i) for k, n, r, s, i in got}
    files = [by_kind[k] for k in KINDS if k in by_kind]
    missing = [k for k in KINDS if k not in by_kind and k != "zip9"]
    return ImportResult(year, release, source, eff, files, missing, seconds)


def list_releases(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What is imported: one row per (year, release, kind)."""
    return con.sql(read_sql("fee_schedules.sql", "list_releases.sql")).pl()
