"""Find the CMS files inside a release as CMS ships it (a zip or an unpacked folder).

A release folder holds the files of ONE quarterly release at its top level (sub-folders
such as ``RVU25D/`` are other releases and are not read). Each file is recognised by its
CMS name; where CMS ships several variants of one file, CSV is preferred over XLSX over TXT.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipelines.core.errors import InputFileError

# kind -> CMS file-name pattern (case-insensitive). Layout files (ZIP5lyout.txt) never match.
KIND_PATTERNS: dict[str, re.Pattern] = {
    "rvu": re.compile(r"^PPRRVU\w*\.(csv|xlsx|txt)$", re.I),
    "gpci": re.compile(r"^GPCI\d{4}\w*\.(csv|xlsx|txt)$", re.I),
    "locco": re.compile(r"^\d{2}LOCCO\w*\.(csv|xlsx|txt)$", re.I),
    "anes": re.compile(r"^ANES\d{4}\w*\.(csv|xlsx|txt)$", re.I),
    "oppscap": re.compile(r"^OPPSCAP\w*\.(csv|xlsx|txt)$", re.I),
    "zip5": re.compile(r"^ZIP5_\w*\.txt$", re.I),
    "zip9": re.compile(r"^ZIP9_\w*\.txt$", re.I),
    # "Anesthesia Base Units by CPT Code": CY_2022_Anesthesia_Base_Units_110921.xlsx and its
    # "Section 508 compliant version of …" .txt. Not the locality-adjusted anesthesia CF workbook.
    "anes_base": re.compile(r"^.*anesthesia[ _-]*base[ _-]*units?(?![a-z]).*\.(csv|xlsx|txt)$", re.I),
}
KINDS = tuple(KIND_PATTERNS)
# What each kind is called in messages, and the file CMS ships for it (format with yy/yyyy).
KIND_FILES = {
    "rvu": "PPRRVU{yyyy}_<Mon>.csv",
    "gpci": "GPCI{yyyy}.csv",
    "locco": "{yy}LOCCO.csv",
    "anes": "ANES{yyyy}.csv",
    "oppscap": "OPPSCAP_<Mon>.csv",
    "zip5": "ZIP5_<MON>{yyyy}.txt",
    "zip9": "ZIP9_<MON>{yyyy}.txt",
    "anes_base": "CY_<yyyy>_Anesthesia_Base_Units.xlsx",
}
# Where cms.gov publishes the base-unit file of a year (the zip holds the .xlsx and its 508 .txt)
ANES_BASE_URL = "https://www.cms.gov/files/zip/{yyyy}-anesthesia-base-units-cpt-code.zip"
ANES_BASE_DIR = ("extra", "anesthesia")  # where it sits under a CMS root: extra/anesthesia/<year>/
# CMS ships a "Section 508 compliant version of <name>.txt" beside <name>.xlsx: the same file
_SECTION_508 = re.compile(r"^section[ _]508[ _](compliant[ _])?version[ _]of[ _]", re.I)
_EXT_RANK = {".csv": 0, ".xlsx": 1, ".txt": 2}
_MONTH_RELEASE = {"JAN": "A", "APR": "B", "JUL": "C", "OCT": "D"}
RELEASES = ("A", "B", "C", "D")


@dataclass(frozen=True)
class SourceFile:
    kind: str
    name: str  # the file's own name, e.g. GPCI2025.csv
    origin: str  # where it was read from (path, or zip!member), for messages
    data: bytes

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_qp(self) -> bool:
        """A PPRRVU file carrying the qualifying-APM conversion factor (…_QPP.csv, not …_nonQPP)."""
        return bool(re.search(r"(?<!non)QPP", self.name, re.I))


def file_label(kind: str, year: int) -> str:
    return KIND_FILES[kind].format(yyyy=year, yy=f"{year % 100:02d}")


def _kind_of(name: str) -> str | None:
    for kind, pattern in KIND_PATTERNS.items():
        if pattern.match(name):
            return kind
    return None


def _entries(path: Path) -> list[tuple[str, str, callable]]:
    """(name, origin, reader) of every top-level file of a folder or member of a zip."""
    if path.is_dir():
        return [(p.name, str(p), p.read_bytes) for p in sorted(path.iterdir()) if p.is_file()]
    if path.is_file() and zipfile.is_zipfile(path):
        zf = zipfile.ZipFile(path)
        out = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename).name
            out.append((name, f"{path}!{info.filename}", lambda i=info: zf.read(i)))
        return out
    if path.exists():
        raise InputFileError(
            path,
            "not a CMS release",
            expected="a release .zip or an unpacked release folder",
            hint="Pass the folder or zip CMS ships, e.g. rvu25a.zip",
        )
    raise InputFileError(path, "no such file or folder", hint="Check the path")


def find_release_files(path: Path) -> dict[str, list[SourceFile]]:
    """Every recognised CMS file of the release at ``path``, by kind, preferred variant first.

    Several files of one kind are kept only for ``rvu`` (non-QP and QP variants); for other
    kinds only the preferred variant is returned.
    """
    found: dict[str, list[tuple]] = {}
    for name, origin, read in _entries(Path(path)):
        kind = _kind_of(name)
        if kind is None:
            continue
        found.setdefault(kind, []).append((name, origin, read))
    out: dict[str, list[SourceFile]] = {}
    for kind, items in found.items():
        # group variants of one file by stem: PPRRVU25_JAN.csv / .txt / .xlsx
        by_stem: dict[str, list] = {}
        for item in items:
            by_stem.setdefault(_SECTION_508.sub("", PurePosixPath(item[0]).stem).upper(), []).append(item)
        chosen = [min(v, key=lambda i: _EXT_RANK[PurePosixPath(i[0]).suffix.lower()]) for v in by_stem.values()]
        if kind != "rvu":
            chosen = chosen[:1] if len(chosen) == 1 else _single(kind, chosen, path)
        out[kind] = [SourceFile(kind, n, o, r()) for n, o, r in sorted(chosen)]
    return out


def _single(kind, chosen, path):
    names = ", ".join(sorted(c[0] for c in chosen))
    raise InputFileError(
        path,
        f"several {kind} files in one release ({names})",
        hint="A release holds one file of each kind; import each release folder separately",
    )


def infer_release(path: Path, files: dict[str, list[SourceFile]]) -> str | None:
    """The quarterly letter from the release name (rvu25d…) or the RVU file's month (…_Oct.csv)."""
    m = re.match(r"^rvu\d{2}([a-d])", Path(path).name, re.I)
    if m:
        return m.group(1).upper()
    for f in files.get("rvu", []):
        m = re.search(r"_(JAN|APR|JUL|OCT)", f.name, re.I)
        if m:
            return _MONTH_RELEASE[m.group(1).upper()]
    return None
