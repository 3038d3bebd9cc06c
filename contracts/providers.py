"""The provider roster: who rendered a service (NPI -> name and provider type).

Medicare pays some practitioners less than a physician (NP, PA and CNS 85 %, services a PTA or
OTA furnishes 85 % with CQ/CO): the pricer needs the type of the line's rendering provider, and
an 835 carries only its NPI (NM1*82, else the payee). The roster says what each NPI is.

It lives in the contracts folder (kept in git beside the contracts): every file named
``providers.csv`` (the usual form: header ``npi,name,type``) or ``providers.yaml`` /
``providers.yml`` (a list of ``{npi, name, type}``) under the folder, read like a rate sheet:
a regular file inside the folder (a link leading out is refused before anything is read), at
most ``files.MAX_FILE_BYTES``, UTF-8. Every problem is a ``Problem`` naming the file, the row
(its line) and the column; ``read_roster`` returns them, ``load_roster`` raises ContractError.
The format is documented in docs/contracts.md ("Who rendered the service").
"""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import polars as pl

from contracts.files import FileRefused, brief, decode_utf8, read_limited
from contracts.model import ROSTER_FILE_NAMES, Problem, contracts_root, raise_problems
from contracts.yamlfile import LineDict, LineList, YamlSyntaxError, load_yaml
from fee_schedules.providers import PROVIDER_TYPES

ROSTER_NAMES = ROSTER_FILE_NAMES  # file names, any case (contract_files skips them)
ROSTER_SCHEMA = {"npi": pl.Utf8, "name": pl.Utf8, "provider_type": pl.Utf8}
MAX_PROVIDERS = 100_000  # rows of one roster (a large group has a few thousand)
MAX_NAME_CHARS = 200
NPI_PREFIX = "80840"  # ISO 7812 issuer prefix the NPI check digit is computed with (CMS)

COLUMNS = {  # roster field -> header names accepted (case-insensitive)
    "npi": ("npi",),
    "name": ("name", "provider_name"),
    "type": ("type", "provider_type"),
}
_TYPES_TEXT = ", ".join(PROVIDER_TYPES)


def npi_check_digit_ok(npi: str) -> bool:
    """True when the 10-digit ``npi`` carries a valid check digit: Luhn over 80840 + the NPI."""
    if len(npi) != 10 or not all("0" <= ch <= "9" for ch in npi):
        return False
    total = 0
    for i, ch in enumerate(reversed(NPI_PREFIX + npi)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def roster_files(folder: Path) -> list[Path]:
    """The roster files of a contracts folder (recursively, stable order); for a single contract
    file, the roster files beside it. None when the folder does not exist."""
    folder = Path(folder)
    if folder.is_file():
        candidates = list(folder.parent.iterdir())
    elif folder.is_dir():
        candidates = list(folder.rglob("*"))
    else:
        return []
    return sorted(p for p in candidates if p.name.lower() in ROSTER_NAMES and not p.is_dir())


class _Roster:
    """Collects the rows and problems of every roster file of one folder."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.problems: list[Problem] = []
        self.first: dict[str, tuple[Path, int]] = {}  # npi -> (file, line) where first listed

    def error(self, path: Path, line: int, message: str, expected: str | None = None) -> None:
        self.problems.append(Problem(str(path), line, message, expected))

    def add(self, path: Path, line: int, where: str, npi, name, ptype) -> None:
        """One provider; ``where`` names the row in messages (``column`` / ``provider 2``)."""
        npi_text = _npi(self, path, line, where, npi)
        name_text = _name(self, path, line, where, name)
        type_text = _type(self, path, line, where, ptype)
        if npi_text is None or name_text is None or type_text is None:
            return
        if npi_text in self.first:
            first_path, first_line = self.first[npi_text]
            at = f"line {first_line}" if first_path == path else f"{first_path}:{first_line}"
            self.error(
                path,
                line,
                f"{where.format('npi')}{npi_text} is listed again (first on {at})",
                "one row per NPI (delete or merge the repeated row)",
            )
            return
        self.first[npi_text] = (path, line)
        self.rows.append({"npi": npi_text, "name": name_text, "provider_type": type_text})


def _text(value) -> str | None:
    """A cell as text: str and int (a YAML number) only; None for anything else."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def _npi(r: _Roster, path: Path, line: int, where: str, value) -> str | None:
    col = where.format("npi")
    text = _text(value)
    if text is None:
        r.error(path, line, f"{col}{brief(value)} is not an NPI", "the provider's 10-digit NPI as text")
        return None
    text = text.strip()
    if not text:
        r.error(path, line, f"{col}the NPI is blank", "the provider's 10-digit NPI")
        return None
    if len(text) != 10 or not all("0" <= ch <= "9" for ch in text):
        r.error(
            path,
            line,
            f"{col}{brief(text)} is not 10 digits",
            "a 10-digit NPI such as 1234567893 (in a spreadsheet, format the column as text)",
        )
        return None
    if not npi_check_digit_ok(text):
        r.error(
            path,
            line,
            f"{col}{text} fails the NPI check digit",
            "the NPI exactly as NPPES lists it (a digit is mistyped or two are swapped)",
        )
        return None
    return text


def _name(r: _Roster, path: Path, line: int, where: str, value) -> str | None:
    col = where.format("name")
    text = _text(value)
    if text is None:
        r.error(path, line, f"{col}{brief(value)} is not a name", "the provider's name as text")
        return None
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        bad = next(ch for ch in text if unicodedata.category(ch).startswith("C"))
        r.error(
            path,
            line,
            f"{col}{brief(text)} contains the control character U+{ord(bad):04X}",
            "printable text (no tabs, line breaks or invisible characters)",
        )
        return None
    text = " ".join(text.split())
    if not text:
        r.error(path, line, f"{col}the name is blank", "the provider's name, e.g. Jane Smith MD")
        return None
    if len(text) > MAX_NAME_CHARS:
        r.error(path, line, f"{col}the name is {len(text)} characters long", f"at most {MAX_NAME_CHARS} characters")
        return None
    return text


def _type(r: _Roster, path: Path, line: int, where: str, value) -> str | None:
    col = where.format("type")
    text = _text(value)
    if text is None:
        r.error(path, line, f"{col}{brief(value)} is not a provider type", f"one of {_TYPES_TEXT}")
        return None
    text = text.strip().upper()
    if not text:
        r.error(path, line, f"{col}the provider type is blank", f"one of {_TYPES_TEXT}")
        return None
    if text not in PROVIDER_TYPES:
        r.error(path, line, f"{col}{brief(text)} is not a provider type", f"one of {_TYPES_TEXT}")
        return None
    return text


def _read_csv(r: _Roster, path: Path, text: str) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    where: dict[str, int] = {}
    count = 0
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1  # the line the record starts on
            if header is None:
                header = [cell.strip().lower() for cell in row]
                if not _header(r, path, line, header, where):
                    return
                continue
            if all(not cell.strip() for cell in row):
                continue
            count += 1
            if count > MAX_PROVIDERS:
                r.error(path, line, f"more than {MAX_PROVIDERS} providers", "a smaller roster")
                return
            if len(row) > len(header):
                r.error(
                    path,
                    line,
                    f"{len(row)} values but the header has {len(header)} columns",
                    'one value per column (a comma inside a name needs quotes: "Smith, Jane")',
                )
                continue
            cells = row + [""] * (len(header) - len(row))
            r.add(path, line, "column {}: ", cells[where["npi"]], cells[where["name"]], cells[where["type"]])
    except csv.Error as exc:
        r.error(path, start, f"not a CSV row ({str(exc)[:80]})", "comma-separated text: npi,name,type")
        return
    if header is None:
        r.error(path, 1, "the roster is empty", "a header row: npi,name,type")


def _header(r: _Roster, path: Path, line: int, header: list[str], where: dict[str, int]) -> bool:
    ok = True
    for field, names in COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if not found:
            r.error(path, line, f"no {field!r} column in header {brief(header, 120)}", "a header row: npi,name,type")
            ok = False
        elif len(found) > 1:
            r.error(path, line, f"the {field!r} column appears {len(found)} times in the header", "each column once")
            ok = False
        else:
            where[field] = found[0]
    return ok


def _read_yaml(r: _Roster, path: Path, real: Path) -> None:
    try:
        doc = load_yaml(real)
    except YamlSyntaxError as exc:
        r.error(path, exc.line, exc.message, exc.expected)
        return
    if doc is None:
        return  # an empty roster
    if not isinstance(doc, LineList):
        r.error(path, getattr(doc, "line", 1) or 1, "the roster is not a list", "- {npi: ..., name: ..., type: ...}")
        return
    if len(doc) > MAX_PROVIDERS:
        r.error(path, doc.line or 1, f"more than {MAX_PROVIDERS} providers", "a smaller roster")
        return
    for i, item in enumerate(doc):
        line = doc.line_of(i)
        if not isinstance(item, LineDict):
            r.error(path, line, f"provider {i + 1} is not a mapping", "- {npi: ..., name: ..., type: ...}")
            continue
        unknown = [k for k in item if k not in COLUMNS]
        for key in unknown:
            r.error(path, item.line_of(key), f"provider {i + 1}: unknown key {brief(key)}", "npi, name and type")
        if unknown:
            continue
        r.add(path, line, f"provider {i + 1} {{}}: ", item.get("npi"), item.get("name"), item.get("type"))


def read_roster(folder: Path) -> tuple[pl.DataFrame, list[Problem]]:
    """(the roster frame of the valid rows, every problem) for the contracts folder ``folder``."""
    r = _Roster()
    root = contracts_root(Path(folder))
    for path in roster_files(Path(folder)):
        try:
            real = path.resolve()
            inside = real.is_relative_to(root.resolve())
        except (OSError, RuntimeError):  # a symlink loop
            inside = False
        if not inside:
            r.error(
                path,
                1,
                f"provider roster {path.name} is a link that leads outside the contracts folder",
                "a regular file inside the contracts folder",
            )
            continue
        try:
            data = read_limited(real, follow_links=False, what=f"provider roster {path.name}")
            if path.suffix.lower() != ".csv":
                _read_yaml(r, path, real)
                continue
            text = decode_utf8(data)
        except FileRefused as exc:
            r.error(path, exc.line, exc.message, exc.expected)
            continue
        _read_csv(r, path, text)
    return pl.DataFrame(r.rows, schema=ROSTER_SCHEMA), r.problems


def load_roster(folder: Path) -> pl.DataFrame:
    """The roster of ``folder`` (npi, name, provider_type); an empty frame when there is no roster
    file. ContractError listing each ``file:line`` problem when a roster has any."""
    frame, problems = read_roster(folder)
    raise_problems("provider roster", problems, folder)
    return frame
