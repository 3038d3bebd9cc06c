"""Fetch a year's CMS fee schedule release files, verify them, cache them, then (optionally) import them.

Sources
-------
* **CMS** (default). The quarterly RVU releases are zips linked from the "PFS Relative Value Files"
  page, ``CMS_RVU_PAGE``; their URLs follow ``https://www.cms.gov/files/zip/rvu<yy><a-d>[-updated-<mm-dd-yyyy>].zip``
  (e.g. ``https://www.cms.gov/files/zip/rvu25a-updated-01-10-2025.zip``) but the suffix changes with
  each correction, so the page is read and the newest link per release letter is taken. The ZIP code
  to carrier-locality files (ZIP5/ZIP9) are zips linked from ``CMS_ZIP_PAGE``
  (``https://www.cms.gov/files/zip/zip-code-carrier-locality-file-…zip``); the newest one whose name
  carries the year is taken and its ZIP5/ZIP9 text files are cached with the year's first release.
* **A mirror**: a folder or an http(s) URL laid out like ``../shared/cms``: ``<year>/`` holds the
  files of the year's first release, and sub-folders named like a release (``RVU25D/``) hold the
  later ones. Only CMS file names (PPRRVU*, GPCI*, *LOCCO*, ANES*, OPPSCAP*, ZIP5_*, ZIP9_*, rvu*.zip)
  and release-named sub-folders are fetched; anything else (notes, partial files) is ignored.
* **Anesthesia base units** ("Anesthesia Base Units by CPT Code") are not part of the RVU release. From a
  mirror they come from ``extra/anesthesia/<year>/`` (else the latest earlier year folder there holding
  one); from CMS, ``CMS_ANES_BASE_URL`` (``https://www.cms.gov/files/zip/<yyyy>-anesthesia-base-units-cpt-code.zip``)
  is tried for the year, then each earlier year down to ``ANES_BASE_FIRST_YEAR``. They are cached as the
  mirror lays them out, ``<cache>/extra/anesthesia/<yyyy>/`` with their own SHA256SUMS, where the importer
  looks for them (fee_schedules.importer.find_anes_base). Not finding them does not fail the download:
  the import then lists ``anes_base`` as missing.

* **The other schedules** (CLFS, ASP, DMEPOS, OPPS Addendum B, ASC; ``SCHEDULE_DIRS``). From a mirror they
  come from ``extra/<dir>/<year>/`` (dirs ``clfs``, ``asp``, ``dmepos``, ``opps_addendum_b``, ``asc``): the
  files ``fee_schedules.schedule_import.kind_of`` recognises as the schedule's, and the recognised members
  of the zips there; each file (each zip) is checked against the folder's SHA256SUMS or
  ``extra/SHA256SUMS`` (paths relative to ``extra/``), when the mirror has one. From cms.gov, as CMS lays
  its site out in 2024-2025 (URLs seen in public repositories' download scripts and docs):

  - CLFS: the quarterly zips ``CMS_CLFS_URL`` = ``https://www.cms.gov/files/zip/<yy>clabq<q>.zip``
    (``25clabq1.zip`` .. ``25clabq4.zip``; the zip holds the CSV/TXT/PDF of the quarter's latest version).
  - DMEPOS: ``CMS_DMEPOS_URLS``, ``https://www.cms.gov/files/zip/dme<yy>.zip`` and the quarterly
    ``dme<yy>-a.zip`` .. ``-d.zip``; when none answers (CMS sometimes adds a suffix), the DMEPOS fee
    schedule page is read as below for links carrying ``dme<yy>``.
  - ASP, OPPS Addendum B, ASC: the pages in ``CMS_SCHEDULE_PAGES`` (``.../part-b-drugs/asp-pricing-files``,
    ``.../hospital-outpatient/addendum-a-b-updates``, ``.../ambulatory-surgical-center-asc/asc-payment-rates-addenda``)
    are read as the RVU page is: their .zip/.csv/.xlsx/.txt links whose file name carries the year and the
    schedule's words (``_PAGE_FILE``: asp/payment-limit/noc but no crosswalk; addendum-b; asc/addend),
    also on the page's sub-pages whose address carries the year (CMS gives each quarter a sub-page, e.g.
    ``.../addendum-a-b-updates/april-2024-0`` linking ``/files/zip/april-2024-addendum-b.zip``), at most
    ``MAX_SUB_PAGES`` of them.

  A URL answering 404 is a quarter not (yet) published and is passed over; the first request waits at
  most ``PROBE_TIMEOUT``, so an offline machine fails within seconds. The files are cached as the mirror
  lays them out, ``<cache>/extra/<dir>/<year>/`` (a zip's members under ``<zip stem>/``), with their own
  SHA256SUMS; ``find_schedule`` looks for them in the same order as ``find_release``.

Finding a year's files: ``find_release`` is the one look-up the demo and the tests use: a mirror
(the argument, else ``$UNDERPAY_CMS_MIRROR``) used in place, then ``../shared/cms`` (``$UNDERPAY_SHARED/cms``
when set), then the cache, then a download from cms.gov into the cache (once). When cms.gov cannot be
reached it fails within seconds (``PROBE_TIMEOUT``), saying what was looked for and how to provide it.

Verification: every fetched file's size is checked against the server's Content-Length, its
sha256 is recorded in ``SHA256SUMS`` in the cache (and checked against a mirror's own SHA256SUMS when
it has one), and every release folder is read and validated with the pandera models before anything
is imported. Cache: ``$XDG_DATA_HOME/underpay/cms/<year>/`` (default ``~/.local/share/underpay/cms``).
"""

from __future__ import annotations

import hashlib
import html.parser
import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fee_schedules.files import ANES_BASE_DIR, ANES_BASE_URL, KIND_PATTERNS
from pipelines.core.errors import UnderpayError

CMS_RVU_PAGE = "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files"
CMS_ZIP_PAGE = (
    "https://www.cms.gov/medicare/payment/fee-schedules/physician-fee-schedule/zip-code-carrier-locality-files"
)
CMS_ANES_BASE_URL = ANES_BASE_URL  # format with yyyy
ANES_BASE_FIRST_YEAR = 2022  # the oldest base-unit zip tried on cms.gov (CY2022: the one CMS file we know of)
USER_AGENT = "underpay-fee-schedule-download/0.1 (+https://github.com/; open-source underpayment detection)"
TIMEOUT = 120  # seconds a transfer may stall before it fails
PROBE_TIMEOUT = 10  # seconds the first request to cms.gov may take: an offline machine fails fast
PROJECT = Path(__file__).resolve().parents[1]  # the checkout: fee_schedules/download.py
RELEASE_DIR = re.compile(r"^rvu\d{2}[a-d]", re.I)
MANIFEST = "SHA256SUMS"


class DownloadError(UnderpayError):
    """A release file could not be fetched or failed verification."""


class ReleaseNotFound(DownloadError):
    """No mirror, shared folder or cache holds a year's files, and downloading them failed (or was not asked)."""

    def __init__(self, year: int, looked: list[str], failure: str | None = None):
        self.year, self.looked, self.failure = year, looked, failure
        how = (
            f"set UNDERPAY_CMS_MIRROR to a folder holding {year}/, place ../shared beside the checkout, "
            f"or run `underpay fee-schedule download --year {year}` once while online"
        )
        tried = "; ".join(looked) + (f"; download failed: {failure}" if failure else "")
        super().__init__(f"CMS {year} release not found ({tried}): {how}")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "underpay" / "cms"


def _is_cms_file(name: str) -> bool:
    return any(p.match(name) for p in KIND_PATTERNS.values()) or bool(re.match(r"^rvu\d{2}[a-d].*\.zip$", name, re.I))


# ---------------------------------------------------------------- fetching


def _is_url(source) -> bool:
    return bool(re.match(r"^https?://", str(source)))


class _NotThere(DownloadError):
    """The server answered 404/410: no such file (not a network failure)."""


class _Unreachable(DownloadError):
    """The server could not be reached or did not answer in time (a network failure)."""


def _fetch(url: str, timeout: float = TIMEOUT) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read()
            length = resp.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        cls = _NotThere if exc.code in (404, 410) else DownloadError
        raise cls(f"{url}: download failed ({exc}); check the network or use --mirror DIR_OR_URL") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Unreachable(f"{url}: download failed ({exc}); check the network or use --mirror DIR_OR_URL") from None
    if length is not None and int(length) != len(data):
        raise DownloadError(f"{url}: truncated download, expected {length} bytes, got {len(data)}; retry")
    return data


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for k, v in attrs:
                if k == "href" and v:
                    self.hrefs.append(v)


def _links(url: str, timeout: float = TIMEOUT) -> list[str]:
    parser = _Links()
    parser.feed(_fetch(url, timeout).decode("utf-8", "replace"))
    return [urllib.parse.urljoin(url, h) for h in parser.hrefs]


def _listing(base: str) -> tuple[list[str], list[str]]:
    """(file names, sub-folder names) directly under a mirror folder or URL (http.server style listing)."""
    if not _is_url(base):
        folder = Path(base)
        if not folder.is_dir():
            raise DownloadError(f"{folder}: mirror folder not found")
        return (
            [p.name for p in sorted(folder.iterdir()) if p.is_file()],
            [p.name for p in sorted(folder.iterdir()) if p.is_dir()],
        )
    base = base.rstrip("/") + "/"
    files, dirs = [], []
    for link in _links(base):
        if not link.startswith(base):
            continue
        rest = urllib.parse.unquote(link[len(base) :])
        if not rest or "?" in rest or "/" in rest.rstrip("/"):
            continue
        (dirs if rest.endswith("/") else files).append(rest.rstrip("/"))
    return sorted(set(files)), sorted(set(dirs))


def _read(base: str, name: str) -> bytes:
    if _is_url(base):
        return _fetch(base.rstrip("/") + "/" + urllib.parse.quote(name))
    return (Path(base) / name).read_bytes()


# ---------------------------------------------------------------- cache


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")  # two test workers may fill one cache
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _manifest(year_dir: Path) -> dict[str, tuple[str, int]]:
    path = year_dir / MANIFEST
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3:
                out[parts[2]] = (parts[0], int(parts[1]))
    return out


def _save_manifest(year_dir: Path, entries: dict[str, tuple[str, int]]) -> None:
    text = "".join(f"{sha}  {size}  {name}\n" for name, (sha, size) in sorted(entries.items()))
    _write(year_dir / MANIFEST, text.encode())


def verify_cache(year_dir: Path) -> list[str]:
    """Relative paths listed in the cache's SHA256SUMS whose bytes no longer match (empty = all good)."""
    bad = []
    for name, (sha, size) in _manifest(year_dir).items():
        p = year_dir / name
        if not p.exists() or p.stat().st_size != size or hashlib.sha256(p.read_bytes()).hexdigest() != sha:
            bad.append(name)
    return bad


@dataclass
class DownloadResult:
    year: int
    folder: Path
    files: list[tuple[str, int, str]] = field(default_factory=list)  # (relative path, bytes, sha256)
    releases: list = field(default_factory=list)  # ImportResult per imported release
    seconds: float = 0.0
    # anesthesia base units: (path relative to the cache root, bytes, sha256); empty when none was found
    anes_base: list[tuple[str, int, str]] = field(default_factory=list)
    anes_base_note: str | None = None  # why none was found (cms.gov answered nothing usable, ...)

    def __str__(self) -> str:
        lines = [f"Downloaded {len(self.files)} file(s) for {self.year} into {self.folder} in {self.seconds:.1f} s"]
        lines += [f"  {name:<40} {size:>9} bytes  sha256 {sha[:12]}…" for name, size, sha in self.files]
        lines += [f"  {name:<40} {size:>9} bytes  sha256 {sha[:12]}…" for name, size, sha in self.anes_base]
        if not self.anes_base:
            lines.append(f"  anesthesia base units not found: {self.anes_base_note or 'no file'}")
        lines += [str(r) for r in self.releases]
        return "\n".join(lines)


def download(year: int, mirror: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch and verify the year's release files into the cache; return the year folder (layout as the mirror)."""
    return _download(int(year), mirror, cache_dir).folder


def _download(year: int, mirror, cache_dir) -> DownloadResult:
    t0 = time.perf_counter()
    year_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    year_dir = year_dir / str(year)
    wanted = _from_mirror(str(mirror), year) if mirror is not None else _from_cms(year)
    if not wanted:
        where = mirror if mirror is not None else CMS_RVU_PAGE
        raise DownloadError(
            f"{where}: no {year} fee schedule files found "
            f"(expected a {year}/ folder with PPRRVU*/GPCI*/… files, or rvu{year % 100:02d}a.zip)"
        )
    result = DownloadResult(year, year_dir)
    result.files.extend(_store(year_dir, wanted))
    _cache_anes_base(result, year_dir.parent, mirror)
    result.seconds = time.perf_counter() - t0
    return result


def _cache_anes_base(result: DownloadResult, cache_root: Path, mirror) -> None:
    """Fetch the base-unit file (mirror or cms.gov) into ``<cache_root>/extra/anesthesia/<yyyy>/``."""
    try:
        found = (
            _anes_base_from_mirror(str(mirror), result.year) if mirror is not None else _anes_base_from_cms(result.year)
        )
    except DownloadError as exc:
        result.anes_base_note = str(exc)
        return
    if found is None:
        where = f"{str(mirror).rstrip('/')}/{'/'.join(ANES_BASE_DIR)}/" if mirror is not None else "cms.gov"
        result.anes_base_note = f"none for {result.year} or an earlier year on {where}"
        return
    src_year, files = found
    folder = cache_root.joinpath(*ANES_BASE_DIR, str(src_year))
    for name, size, sha in _store(folder, files):
        result.anes_base.append(("/".join((*ANES_BASE_DIR, str(src_year), name)), size, sha))


def _store(folder: Path, files) -> list[tuple[str, int, str]]:
    """Write fetched ``(name, data, expected_sha)`` files into a cache folder, check each against the
    mirror's sha256 when it gave one, record them in the folder's SHA256SUMS and verify the folder.
    Returns ``(name, bytes, sha256)`` per file."""
    manifest = _manifest(folder)
    stored = []
    for name, data, expected_sha in files:
        sha = hashlib.sha256(data).hexdigest()
        if expected_sha and expected_sha != sha:
            raise DownloadError(
                f"{name}: sha256 {sha} does not match the mirror's SHA256SUMS ({expected_sha}); "
                f"the mirror copy is corrupt, fetch it again"
            )
        _write(folder / name, data)
        manifest[name] = (sha, len(data))
        stored.append((name, len(data), sha))
    _save_manifest(folder, manifest)
    bad = verify_cache(folder)
    if bad:
        raise DownloadError(
            f"{folder}: cached file(s) {', '.join(bad)} do not match {MANIFEST}; delete them and download again"
        )
    return stored


def _bad_anes_base(cache_root: Path) -> list[str]:
    """Cached base-unit files (``extra/anesthesia/<yyyy>/``) that no longer match their SHA256SUMS."""
    folder = cache_root.joinpath(*ANES_BASE_DIR)
    if not folder.is_dir():
        return []
    return [f"{sub.name}/{name}" for sub in sorted(folder.iterdir()) if sub.is_dir() for name in verify_cache(sub)]


def _is_anes_base(name: str) -> bool:
    return bool(KIND_PATTERNS["anes_base"].match(name))


def _anes_base_from_mirror(mirror: str, year: int) -> tuple[int, list[tuple[str, bytes, str | None]]] | None:
    """(CY, files) of the newest ``extra/anesthesia/<CY>/`` on the mirror with CY <= year holding a base-unit file."""
    base = (
        "/".join([mirror.rstrip("/"), *ANES_BASE_DIR])
        if _is_url(mirror)
        else str(Path(mirror).joinpath(*ANES_BASE_DIR))
    )
    try:
        _, dirs = _listing(base)
    except DownloadError:
        return None  # the mirror has no extra/anesthesia/
    for y in sorted((int(d) for d in dirs if d.isdigit() and int(d) <= year), reverse=True):
        sub = f"{base.rstrip('/')}/{y}"
        files, _ = _listing(sub)
        names = [n for n in files if _is_anes_base(n)]
        if names:
            sums = _sums(sub, files)
            return y, [(n, _read(sub, n), sums.get(n)) for n in names]
    return None


def _anes_base_from_cms(year: int) -> tuple[int, list[tuple[str, bytes, str | None]]] | None:
    """(CY, files) of the newest CMS base-unit zip for the year or an earlier one (down to ANES_BASE_FIRST_YEAR).

    A year CMS has no zip for (404, or a page that is not a zip) is passed over; a network failure
    stops the search (DownloadError)."""
    for y in range(year, ANES_BASE_FIRST_YEAR - 1, -1):
        url = CMS_ANES_BASE_URL.format(yyyy=y)
        try:
            data = _fetch(url)
        except _NotThere:
            continue
        try:
            members = _unzip(url.rsplit("/", 1)[-1], data)
        except DownloadError:
            continue
        files = [(n, d, None) for n, d in members if _is_anes_base(n)]
        if files:
            return y, files
    return None


def _from_mirror(mirror: str, year: int) -> list[tuple[str, bytes, str | None]]:
    base = mirror.rstrip("/") + "/" + str(year) if _is_url(mirror) else str(Path(mirror) / str(year))
    files, dirs = _listing(base)
    sums = _sums(base, files)
    out = [(name, _read(base, name), sums.get(name)) for name in files if _is_cms_file(name)]
    for sub in dirs:
        if not RELEASE_DIR.match(sub):  # e.g. PFREV25C/, partial_unverified/: not a release
            continue
        sub_base = base.rstrip("/") + "/" + sub
        sub_files, _ = _listing(sub_base)
        out += [
            (f"{sub}/{name}", _read(sub_base, name), sums.get(f"{sub}/{name}"))
            for name in sub_files
            if _is_cms_file(name)
        ]
    return out


def _sums(base: str, files: list[str]) -> dict[str, str]:
    """name -> sha256 from the folder's SHA256SUMS, when it has one."""
    sums: dict[str, str] = {}
    if MANIFEST in files:
        for line in _read(base, MANIFEST).decode().splitlines():
            # sha256sum's "<sha>  <name>" (names may hold spaces), or ours: "<sha>  <bytes>  <name>"
            m = re.match(r"^([0-9a-fA-F]{64})\s+(?:\d+\s+)?\*?(.+?)\s*$", line)
            if m:
                sums[m.group(2)] = m.group(1).lower()
    return sums


def _from_cms(year: int) -> list[tuple[str, bytes, str | None]]:
    yy = f"{year % 100:02d}"
    newest: dict[str, str] = {}
    for link in _links(CMS_RVU_PAGE, PROBE_TIMEOUT):
        m = re.search(rf"/files/zip/(rvu{yy}([a-d])[^/]*\.zip)$", link, re.I)
        if m:
            newest[m.group(2).upper()] = link  # the page lists newer corrections later
    out: list[tuple[str, bytes, str | None]] = []
    first = min(newest) if newest else None
    for letter, url in sorted(newest.items()):
        name = urllib.parse.urlparse(url).path.rsplit("/", 1)[-1]
        folder = "" if letter == first else f"RVU{yy}{letter}/"
        out += [(folder + n, d, None) for n, d in _unzip(name, _fetch(url))]
    zips = [
        link
        for link in _links(CMS_ZIP_PAGE)
        if re.search(r"/files/zip/zip-code[^/]*\.zip$", link, re.I) and str(year) in link
    ]
    if zips:
        out += [(n, d, None) for n, d in _unzip("zip-code-carrier-locality.zip", _fetch(zips[-1]))]
    return out


def _unzip(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """CMS files inside a downloaded zip (nested zips opened one level)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DownloadError(f"{name}: not a zip file (CMS returned something else; try again later)") from None
    out = []
    for info in zf.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if base.lower().endswith(".zip"):
            out += _unzip(base, zf.read(info))
        elif any(p.match(base) for p in KIND_PATTERNS.values()):
            out.append((base, zf.read(info)))
    return out


def release_folders(year_dir: Path) -> list[Path]:
    """The year folder (first release) and its release-named sub-folders, in release order."""
    subs = sorted(
        (p for p in year_dir.iterdir() if p.is_dir() and RELEASE_DIR.match(p.name)), key=lambda p: p.name.lower()
    )
    zips = sorted(p for p in year_dir.iterdir() if p.is_file() and re.match(r"^rvu\d{2}[a-d].*\.zip$", p.name, re.I))
    has_top = any(p.is_file() and any(k.match(p.name) for k in KIND_PATTERNS.values()) for p in year_dir.iterdir())
    return ([year_dir] if has_top else []) + subs + zips


def download_and_import(con, year: int, mirror=None, cache_dir=None) -> DownloadResult:
    """download(), validate every release folder, then import each one (one transaction per release)."""
    from fee_schedules.importer import import_release, load_release

    result = _download(int(year), mirror, cache_dir)
    t0 = time.perf_counter()
    folders = release_folders(result.folder)
    for folder in folders:  # verify shapes of everything before importing anything
        load_release(folder, int(year))
    for folder in folders:
        result.releases.append(import_release(con, folder, int(year)))
    result.seconds += time.perf_counter() - t0
    return result


# ---------------------------------------------------------------- finding a year's release


def shared_cms_dirs() -> list[Path]:
    """Where ``../shared/cms`` may be: ``$UNDERPAY_SHARED/cms`` when set, else beside the checkout or the cwd."""
    if os.environ.get("UNDERPAY_SHARED"):
        return [Path(os.environ["UNDERPAY_SHARED"]) / "cms"]
    return list(dict.fromkeys([PROJECT.parent / "shared" / "cms", Path.cwd().resolve().parent / "shared" / "cms"]))


def local_mirror(year: int, mirror: str | os.PathLike | None = None) -> Path | None:
    """The first local folder holding ``<year>/``: ``mirror``, ``$UNDERPAY_CMS_MIRROR``, then ``../shared/cms``.

    A ``mirror`` given explicitly must hold ``<year>/`` (DownloadError otherwise); the environment
    variable and the shared folder are skipped when they do not. URL mirrors are not local: None.
    """
    if mirror is not None and not _is_url(mirror):
        if not (Path(mirror) / str(year)).is_dir():
            raise DownloadError(
                f"{mirror}: no {year}/ folder of CMS files there; point the mirror at the folder that holds {year}/"
            )
        return Path(mirror)
    env = os.environ.get("UNDERPAY_CMS_MIRROR")
    for cand in ([env] if env and not _is_url(env) else []) + shared_cms_dirs():
        if (Path(cand) / str(year)).is_dir():
            return Path(cand)
    return None


def find_release(
    year: int,
    mirror: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    fetch: bool = True,
) -> Path:
    """The folder of the year's CMS files (first release on top, later ones in ``RVU<yy><x>/``).

    Looked for in order: a local mirror (``local_mirror``: the argument, ``$UNDERPAY_CMS_MIRROR``,
    ``../shared/cms``), used in place; the cache (``cache_dir``, default ``default_cache_dir()``)
    when it holds the year and its files still match SHA256SUMS; else downloaded into the cache
    from a URL mirror (the argument or ``$UNDERPAY_CMS_MIRROR``) or cms.gov (``fetch=False``: not
    downloaded). Raises DownloadError naming every place looked at and how to provide the files.
    """
    year = int(year)
    local = local_mirror(year, mirror)
    if local is not None:
        return local / str(year)
    env = os.environ.get("UNDERPAY_CMS_MIRROR")
    url = str(mirror) if mirror is not None else (env if env and _is_url(env) else None)
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache_root / str(year)
    if cached.is_dir() and release_folders(cached) and not verify_cache(cached) and not _bad_anes_base(cache_root):
        return cached
    looked = [
        f"no {year}/ in {' or '.join(map(str, [*([env] if env else []), *shared_cms_dirs()]))}",
        f"not in the cache {cached}",
    ]
    if not fetch:
        raise ReleaseNotFound(year, looked)
    try:
        return download(year, mirror=url, cache_dir=cache_root)
    except DownloadError as exc:
        raise ReleaseNotFound(year, looked, str(exc)) from None


# ---------------------------------------------------------------- the other schedules: CLFS, ASP, DMEPOS, OPPS, ASC

SCHEDULE_DIRS = {"clfs": "clfs", "asp": "asp", "dmepos": "dmepos", "opps": "opps_addendum_b", "asc": "asc"}
SCHEDULE_LABELS = {"clfs": "CLFS", "asp": "ASP", "dmepos": "DMEPOS", "opps": "OPPS Addendum B", "asc": "ASC"}
# cms.gov, as of 2025 (see the module docstring's Sources): zips at fixed URLs, tried per quarter ...
CMS_CLFS_URL = "https://www.cms.gov/files/zip/{yy}clabq{q}.zip"  # q = 1..4
CMS_DMEPOS_URLS = ("https://www.cms.gov/files/zip/dme{yy}.zip", "https://www.cms.gov/files/zip/dme{yy}-{x}.zip")
# ... or linked from a page (or from its sub-pages, one level down, whose address carries the year)
CMS_SCHEDULE_PAGES = {
    "asp": "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files",
    "opps": "https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient/addendum-a-b-updates",
    "asc": "https://www.cms.gov/medicare/payment/prospective-payment-systems/ambulatory-surgical-center-asc/"
    "asc-payment-rates-addenda",
    "dmepos": "https://www.cms.gov/medicare/payment/fee-schedules/dmepos/dmepos-fee-schedule",  # when no pattern hits
}
# which linked file names (lower case, year aside) are the schedule's
_PAGE_FILE = {
    "asp": re.compile(r"^(?!.*crosswalk).*(asp|payment-limit|noc)"),
    "opps": re.compile(r"addendum-?b(?![a-z])"),
    "asc": re.compile(r"asc|addend"),
    "dmepos": re.compile(r"dme"),
}
MAX_SUB_PAGES = 8  # sub-pages of a CMS page followed per schedule and year


class ScheduleNotFound(ReleaseNotFound):
    """No mirror, shared folder or cache holds a schedule's files for a year, and downloading them failed
    (or was not asked). ``unreachable``: the download failed because the server could not be reached."""

    def __init__(self, schedule: str, year: int, looked: list[str], failure: str | None = None, *, unreachable=False):
        self.schedule, self.year, self.looked, self.failure, self.unreachable = (
            schedule,
            year,
            looked,
            failure,
            unreachable,
        )
        folder = f"extra/{SCHEDULE_DIRS[schedule]}/{year}/"
        how = (
            f"set UNDERPAY_CMS_MIRROR to a folder holding {folder}, place ../shared beside the checkout, "
            f"or run `underpay fee-schedule download --schedule {schedule} --year {year}` once while online"
        )
        tried = "; ".join(looked) + (f"; download failed: {failure}" if failure else "")
        DownloadError.__init__(self, f"{SCHEDULE_LABELS[schedule]} {year} files not found ({tried}): {how}")


def _schedule(schedule: str) -> str:
    name = str(schedule).lower()
    if name not in SCHEDULE_DIRS:
        raise DownloadError(f"unknown fee schedule {schedule!r}: one of {', '.join(SCHEDULE_DIRS)}")
    return name


def _is_schedule_file(schedule: str, name: str) -> bool:
    """A CMS file of ``schedule``, by its name (fee_schedules.schedule_import.kind_of)."""
    from fee_schedules.schedule_import import KINDS, kind_of

    kind = kind_of(name)
    return kind is not None and KINDS[kind].schedule == schedule


def _schedule_rel(schedule: str, year: int) -> tuple[str, str, str]:
    return ("extra", SCHEDULE_DIRS[schedule], str(year))


def _holds_schedule(folder: Path, schedule: str) -> bool:
    return folder.is_dir() and any(
        p.is_file() and (_is_schedule_file(schedule, p.name) or p.suffix.lower() == ".zip") for p in folder.iterdir()
    )


@dataclass
class ScheduleResult:
    """Where a schedule's files for a year came from, what was fetched, and (after an import) what went in."""

    schedule: str
    year: int
    folder: Path
    source: str  # the mirror, cms.gov, "the cache" or the shared folder
    files: list[tuple[str, int, str]] = field(default_factory=list)  # (relative path, bytes, sha256) fetched
    seconds: float = 0.0
    imported: object = None  # fee_schedules.schedule_import.ScheduleImportResult

    def __str__(self) -> str:
        label = SCHEDULE_LABELS[self.schedule]
        if self.files:
            lines = [
                f"Downloaded {len(self.files)} {label} file(s) for {self.year} from {self.source} "
                f"into {self.folder} in {self.seconds:.1f} s"
            ]
            lines += [f"  {name:<60} {size:>9} bytes  sha256 {sha[:12]}…" for name, size, sha in self.files]
        else:
            lines = [f"{label} {self.year}: using {self.folder} ({self.source})"]
        if self.imported is not None:
            lines.append(str(self.imported))
        return "\n".join(lines)


def _join(base: str, *parts: str) -> str:
    if _is_url(base):
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).joinpath(*parts))


def _members(schedule: str, name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The schedule's files in a zip, as ``<zip stem>/<member>`` (nested zips opened; other members skipped)."""
    stem = PurePosixPath(name).stem
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DownloadError(f"{name}: not a zip file (CMS returned something else; try again later)") from None
    out: dict[str, bytes] = {}
    for info in zf.infolist():
        base = PurePosixPath(info.filename).name
        if info.is_dir() or not base:
            continue
        if base.lower().endswith(".zip"):
            out.update((f"{stem}/{n.rsplit('/', 1)[-1]}", d) for n, d in _members(schedule, base, zf.read(info)))
        elif _is_schedule_file(schedule, base):
            out[f"{stem}/{base}"] = zf.read(info)
    return sorted(out.items())


def _schedule_from_mirror(mirror: str, schedule: str, year: int) -> list[tuple[str, bytes, str | None]]:
    """The schedule's files in the mirror's ``extra/<dir>/<year>/`` (zips opened), each with the sha256 the
    mirror's SHA256SUMS gives (that folder's own, else ``extra/SHA256SUMS`` listing ``<dir>/<year>/<name>``).
    A zip is checked against the sums itself; its members are then taken."""
    rel = _schedule_rel(schedule, year)
    base = _join(mirror, *rel)
    missing = ScheduleNotFound(schedule, year, [f"no {'/'.join(rel)}/ on the mirror {mirror}"])
    if not _is_url(base) and not Path(base).is_dir():
        raise missing
    try:
        files, _ = _listing(base)
    except _NotThere:
        raise missing from None
    sums = {f"{rel[1]}/{year}/{n}": sha for n, sha in _sums(base, files).items()}
    extra = _join(mirror, "extra")
    try:
        extra_files, _ = _listing(extra)
        sums = {**_sums(extra, extra_files), **sums}
    except DownloadError:
        pass
    out: list[tuple[str, bytes, str | None]] = []
    for name in files:
        expected = sums.get(f"{rel[1]}/{year}/{name}")
        if _is_schedule_file(schedule, name):
            out.append((name, _read(base, name), expected))
        elif name.lower().endswith(".zip"):
            data = _read(base, name)
            _check_sha(name, data, expected)
            out += [(n, d, None) for n, d in _members(schedule, name, data)]
    if not out:
        raise ScheduleNotFound(schedule, year, [f"no {SCHEDULE_LABELS[schedule]} file in {base}"])
    return out


def _check_sha(name: str, data: bytes, expected: str | None) -> None:
    sha = hashlib.sha256(data).hexdigest()
    if expected and expected != sha:
        raise DownloadError(
            f"{name}: sha256 {sha} does not match the mirror's SHA256SUMS ({expected}); "
            f"the mirror copy is corrupt, fetch it again"
        )


def _schedule_from_cms(schedule: str, year: int) -> list[tuple[str, bytes, str | None]]:
    """The schedule's files for the year from cms.gov (see the module docstring for the URL rules).

    The first request waits at most PROBE_TIMEOUT seconds, so an offline machine fails fast
    (_Unreachable); a URL that answers 404 is a quarter CMS has not published and is passed over."""
    yy = f"{year % 100:02d}"
    timeout = [PROBE_TIMEOUT]

    def get(url: str) -> bytes | None:
        try:
            return _fetch(url, timeout[0])
        except _NotThere:
            return None
        finally:
            timeout[0] = TIMEOUT  # cms.gov answered (or the first failure ended the search)

    urls: list[str] = []
    if schedule == "clfs":
        urls = [CMS_CLFS_URL.format(yy=yy, q=q) for q in range(1, 5)]
    elif schedule == "dmepos":  # the year's file, then its quarterly releases
        urls = [u.format(yy=yy, x=x) for u in CMS_DMEPOS_URLS for x in ("abcd" if "{x}" in u else "a")]
    out: list[tuple[str, bytes, str | None]] = []
    for url in urls:
        data = get(url)
        if data is not None:
            out += _cms_file(schedule, url, data)
    if not out and schedule in CMS_SCHEDULE_PAGES:
        for url in _page_files(schedule, year, get):
            data = get(url)
            if data is not None:
                out += _cms_file(schedule, url, data)
    if not out:
        where = CMS_SCHEDULE_PAGES.get(schedule) or CMS_CLFS_URL.format(yy=yy, q="1..4")
        raise ScheduleNotFound(schedule, year, [f"cms.gov has no {year} file at {where}"])
    return out


def _cms_file(schedule: str, url: str, data: bytes) -> list[tuple[str, bytes, str | None]]:
    name = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
    if name.lower().endswith(".zip"):
        try:
            return [(n, d, None) for n, d in _members(schedule, name, data)]
        except DownloadError:
            return []  # an HTML page where the zip should be: not a file of the quarter
    return [(name, data, None)] if _is_schedule_file(schedule, name) else []


def _page_files(schedule: str, year: int, get) -> list[str]:
    """Links to the year's files on the schedule's CMS page, and on its sub-pages whose address carries
    the year (CMS lists a quarter per sub-page): .zip/.csv/.xlsx/.txt links whose file name carries the
    year (``dme<yy>`` for DMEPOS) and the schedule's words (_PAGE_FILE)."""
    page = CMS_SCHEDULE_PAGES[schedule].rstrip("/")
    year_re = re.compile(
        rf"(?<!\d)({year}|dme{year % 100:02d})(?!\d)" if schedule == "dmepos" else rf"(?<!\d){year}(?!\d)"
    )

    def links(url: str) -> list[str]:
        data = get(url)
        if data is None:
            return []
        parser = _Links()
        parser.feed(data.decode("utf-8", "replace"))
        return [urllib.parse.urljoin(url, h).split("#", 1)[0] for h in parser.hrefs]

    def wanted(link: str) -> bool:
        name = urllib.parse.unquote(urllib.parse.urlparse(link).path.rsplit("/", 1)[-1]).lower()
        return (
            name.endswith((".zip", ".csv", ".xlsx", ".txt"))
            and bool(year_re.search(name))
            and bool(_PAGE_FILE[schedule].search(name.replace("_", "-").replace(" ", "-")))
        )

    top = links(page)
    subs = [
        link
        for link in dict.fromkeys(top)
        if link.startswith(page + "/") and year_re.search(link[len(page) :]) and not wanted(link)
    ]
    found = [link for link in top if wanted(link)]
    for sub in subs[:MAX_SUB_PAGES]:
        found += [link for link in links(sub) if wanted(link)]
    return list(dict.fromkeys(found))


def _schedule_download(schedule: str, year: int, mirror, cache_dir) -> ScheduleResult:
    t0 = time.perf_counter()
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = cache_root.joinpath(*_schedule_rel(schedule, year))
    if mirror is not None:
        wanted, source = _schedule_from_mirror(str(mirror), schedule, year), str(mirror)
    else:
        wanted, source = _schedule_from_cms(schedule, year), "cms.gov"
    fresh = {name for name, _, _ in wanted}
    stale = [name for name in verify_cache(folder) if name not in fresh] if folder.is_dir() else []
    if stale:  # cached files that no longer match and are not fetched again: dropped
        manifest = _manifest(folder)
        for name in stale:
            manifest.pop(name, None)
            (folder / name).unlink(missing_ok=True)
        _save_manifest(folder, manifest)
    result = ScheduleResult(schedule, year, folder, source, _store(folder, wanted))
    result.seconds = time.perf_counter() - t0
    return result


def download_schedule(
    schedule: str,
    year: int,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Fetch and verify a schedule's files for the year (from ``mirror``, else cms.gov) into the cache;
    return ``<cache>/extra/<dir>/<year>/``. Raises ScheduleNotFound when the source has none."""
    return _schedule_download(_schedule(schedule), int(year), mirror, cache_dir).folder


def _find_schedule(schedule: str, year: int, mirror, cache_dir, fetch: bool) -> ScheduleResult:
    schedule, year = _schedule(schedule), int(year)
    rel = _schedule_rel(schedule, year)
    if mirror is not None and not _is_url(mirror):
        folder = Path(mirror).joinpath(*rel)
        if not _holds_schedule(folder, schedule):
            raise ScheduleNotFound(schedule, year, [f"no {SCHEDULE_LABELS[schedule]} file in {folder}"])
        return ScheduleResult(schedule, year, folder, "the mirror, used in place")
    env = os.environ.get("UNDERPAY_CMS_MIRROR")
    local = [*([env] if env and not _is_url(env) else []), *map(str, shared_cms_dirs())]
    for cand in local:
        folder = Path(cand).joinpath(*rel)
        if _holds_schedule(folder, schedule):
            return ScheduleResult(schedule, year, folder, "used in place")
    url = str(mirror) if mirror is not None else (env if env and _is_url(env) else None)
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache_root.joinpath(*rel)
    bad = verify_cache(cached) if cached.is_dir() else []
    if cached.is_dir() and _manifest(cached) and not bad:
        return ScheduleResult(schedule, year, cached, "the cache, verified against its SHA256SUMS")
    looked = [
        f"no {'/'.join(rel)}/ in {' or '.join(local)}",
        f"not in the cache {cached}" + (f" ({', '.join(bad)} no longer match {MANIFEST})" if bad else ""),
    ]
    if not fetch:
        raise ScheduleNotFound(schedule, year, looked)
    try:
        return _schedule_download(schedule, year, url, cache_root)
    except ScheduleNotFound as exc:
        raise ScheduleNotFound(schedule, year, looked + exc.looked) from None
    except DownloadError as exc:
        raise ScheduleNotFound(schedule, year, looked, str(exc), unreachable=isinstance(exc, _Unreachable)) from None


def find_schedule(
    schedule: str,
    year: int,
    mirror: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    fetch: bool = True,
) -> Path:
    """The folder holding a schedule's CMS files for the year (``<root>/extra/<dir>/<year>/``, SCHEDULE_DIRS).

    Looked for as find_release does: a local mirror (the argument, which must hold the folder, else
    ``$UNDERPAY_CMS_MIRROR``), ``../shared/cms``, used in place; the cache
    (``<cache>/extra/<dir>/<year>/``) when its files still match its SHA256SUMS; else downloaded into
    the cache from a URL mirror (the argument or ``$UNDERPAY_CMS_MIRROR``) or cms.gov (``fetch=False``:
    not downloaded). Raises ScheduleNotFound (a ReleaseNotFound) naming every place looked at and how
    to provide the files; an unreachable cms.gov fails within PROBE_TIMEOUT seconds.
    """
    return _find_schedule(schedule, year, mirror, cache_dir, fetch).folder


def download_and_import_schedule(con, schedule: str, year: int, mirror=None, cache_dir=None, *, fetch=True):
    """Fetch a schedule's files for the year (a mirror given: copied and verified into the cache; else
    find_schedule), then import them all (fee_schedules.schedule_import.import_schedules). Returns a
    ScheduleResult whose text says what was fetched from where, then what was imported."""
    from fee_schedules.schedule_import import import_schedules

    schedule, year = _schedule(schedule), int(year)
    if mirror is not None:
        result = _schedule_download(schedule, year, mirror, cache_dir)
    else:
        result = _find_schedule(schedule, year, None, cache_dir, fetch)
    result.imported = import_schedules(con, result.folder, schedule)
    return result
