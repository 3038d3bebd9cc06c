"""The contract model: one YAML file per payer contract, parsed with a line for every error.

``parse_contract(path)`` returns the contract and the problems found (each ``file:line:
what is wrong, what was expected``); ``load_contracts(folder)`` reads every *.yaml / *.yml
under ``folder`` and raises ContractError listing all errors. The format is documented in
docs/contracts.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from contracts.codes import CodeSpec, parse_code_spec, parse_modifier
from contracts.files import brief
from contracts.yamlfile import LineDict, LineList, YamlSyntaxError, load_yaml
from pipelines.core.errors import ContractError

# percent_of_medicare resolves each code to the Medicare schedule that prices it (docs/contracts.md);
# percent_of_<schedule> names one schedule: a code that schedule does not price is not priced.
SCHEDULE_METHODS = {
    "percent_of_asp": "asp",
    "percent_of_clfs": "clfs",
    "percent_of_dmepos": "dmepos",
    "percent_of_opps": "opps",
    "percent_of_asc": "asc",
}
SCHEDULE_LABELS = {"asp": "ASP", "clfs": "the lab schedule (CLFS)", "dmepos": "DMEPOS", "opps": "OPPS", "asc": "ASC"}
METHODS = ("rate", "percent_of_medicare", "percent_of_charges", *SCHEDULE_METHODS)
PERCENT_METHODS = ("percent_of_medicare", "percent_of_charges", *SCHEDULE_METHODS)
SETTINGS = ("facility", "non-facility")
ANESTHESIA_TIME = ("minutes", "units")  # how the payer's 835 SVC05 carries anesthesia time
ROSTER_FILE_NAMES = ("providers.csv", "providers.yaml", "providers.yml")  # contracts.providers, not contracts
APPEAL_RULES_FILE_NAMES = ("appeal_rules.yaml", "appeal_rules.yml")  # contracts.appeal_rules, not contracts
TOP_KEYS = {
    "name",
    "payer",
    "payee_tins",
    "effective",
    "expires",
    "medicare",
    "lesser_of_charges",
    "tolerance",
    "terms",
    "rates_csv",
    "modifier_adjustments",
    "mppr",
    "anesthesia_time",
    "notes",
}
MAX_LISTED = 50  # problems a ContractError lists (`underpay contracts check` prints them all)
TERM_KEYS = {"codes", "modifiers", "setting", "exclude", "name", "note", *METHODS}


@dataclass(frozen=True)
class Problem:
    """One finding of the checker; ``str()`` is ``file:line: message, expected ...``."""

    file: str
    line: int
    message: str
    expected: str | None = None
    severity: str = "error"  # "error" (exit 1) or "warning"

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.message}"
        if self.expected:
            text += f", expected {self.expected}"
        if self.severity == "warning":
            text += " (warning)"
        return text


@dataclass(frozen=True)
class Term:
    index: int  # 1-based position in `terms`
    line: int
    codes: tuple[CodeSpec, ...]
    modifiers: tuple[str, ...] | None  # None: any modifiers
    setting: str | None  # None | "facility" | "non-facility"
    method: str | None  # rate | percent_of_medicare | percent_of_<schedule> | percent_of_charges | None (exclude)
    value: Decimal | None
    exclude: bool = False
    name: str | None = None

    def describe(self) -> str:
        codes = ", ".join(c.text for c in self.codes)
        mods = f" with modifier {'/'.join(self.modifiers)}" if self.modifiers else ""
        where = f" ({self.setting})" if self.setting else ""
        if self.exclude:
            what = "carved out"
        elif self.method == "rate":
            what = f"rate ${self.value:.2f}"
        elif self.method == "percent_of_medicare":
            what = f"{_pct(self.value)}% of Medicare"
        elif self.method in SCHEDULE_METHODS:
            what = f"{_pct(self.value)}% of {SCHEDULE_LABELS[SCHEDULE_METHODS[self.method]]}"
        else:
            what = f"{_pct(self.value)}% of charges"
        label = f" '{self.name}'" if self.name else ""
        return f"term {self.index}{label}: {codes}{mods}{where} {what}"


@dataclass(frozen=True)
class RateRow:
    code: str
    modifier: str  # "" = no modifier
    rate: Decimal
    setting: str | None
    row: int  # 1-based row in the sheet (header = 1)


@dataclass(frozen=True)
class Contract:
    name: str
    file: Path
    line: int
    payer_ids: tuple[str, ...]
    payer_names: tuple[str, ...]
    payee_tins: tuple[str, ...]
    effective: dt.date
    expires: dt.date | None
    medicare_zip: str | None = None
    medicare_locality: str | None = None
    medicare_year: int | None = None  # None = year of the date of service
    medicare_qp: bool = False
    lesser_of_charges: bool = False
    tolerance_amount: Decimal | None = None
    tolerance_percent: Decimal | None = None
    terms: tuple[Term, ...] = ()
    rates_file: Path | None = None
    rates: tuple[RateRow, ...] = ()
    modifier_mode: str = "none"  # medicare | none | table
    modifier_percents: dict = field(default_factory=dict)  # modifier -> Decimal percent
    mppr: tuple[Decimal, ...] | None = None  # custom multiple-procedure percents
    anesthesia_time: str = "minutes"  # SVC05 of anesthesia lines: minutes | units (15-minute time units)
    lines: dict = field(default_factory=dict)  # key -> line, for the checker


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


class _Reader:
    """Collects problems while reading one file."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, message: str, expected: str | None = None) -> None:
        self.problems.append(Problem(str(self.path), line, message, expected))

    def decimal(
        self, value, line: int, what: str, *, minimum: Decimal = Decimal(0), maximum: Decimal | None = None
    ) -> Decimal | None:
        if isinstance(value, bool) or value is None:
            self.error(line, f"{what} is {brief(value)}", "a number")
            return None
        try:
            out = Decimal(str(value).strip().lstrip("$").replace(",", ""))
        except InvalidOperation:
            self.error(line, f"{what} {brief(value)} is not a number", "a number such as 118.00 or 125")
            return None
        if not out.is_finite() or out < minimum or (maximum is not None and out > maximum):
            rng = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.error(line, f"{what} {brief(value)} is out of range", rng)
            return None
        return out

    def strings(self, value, line: int, what: str) -> tuple[str, ...]:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            self.error(line, f"{what} is {type(value).__name__}", "a list of text values")
            return ()
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, (str, int)) or isinstance(item, bool) or not str(item).strip():
                self.error(_line(value, i, line), f"{what} item {brief(item)} is not text", "a quoted value")
            else:
                out.append(str(item).strip())
        return tuple(out)

    def date(self, value, line: int, what: str) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.error(line, f"{what} {brief(value)} is not a date", "YYYY-MM-DD")
            return None


def _line(container, key, default: int) -> int:
    if isinstance(container, LineDict):
        return container.line_of(key)
    if isinstance(container, LineList) and isinstance(key, int):
        return container.line_of(key)
    return default


def parse_contract(path: Path, root: Path | None = None) -> tuple[Contract | None, list[Problem]]:
    """Read one contract file; problems carry file:line. The contract is None on any error.

    ``root`` is the contracts folder (default: the file's own folder): a ``rates_csv`` sheet
    must be a regular file inside it.
    """
    path = Path(path)
    r = _Reader(path)
    try:
        doc = load_yaml(path)
    except YamlSyntaxError as exc:
        r.error(exc.line, exc.message, exc.expected)
        return None, r.problems
    if not isinstance(doc, LineDict):
        r.error(1, "the file is not a mapping of keys", "name:, payer:, effective:, terms: ...")
        return None, r.problems

    for key in doc:
        if key not in TOP_KEYS:
            r.error(doc.line_of(key), f"unknown key {brief(key)}", f"one of {', '.join(sorted(TOP_KEYS))}")
    lines = {k: doc.line_of(k) for k in doc}

    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        r.error(doc.line_of("name"), "missing or empty 'name'", "name: <text shown in reports>")
        name = path.stem

    payer_ids: tuple[str, ...] = ()
    payer_names: tuple[str, ...] = ()
    payer = doc.get("payer")
    if not isinstance(payer, LineDict):
        r.error(doc.line_of("payer"), "missing 'payer' mapping", "payer: {ids: [...], names: [...]}")
    else:
        for key in payer:
            if key not in ("ids", "names"):
                r.error(payer.line_of(key), f"unknown payer key {brief(key)}", "ids or names")
        if "ids" in payer:
            payer_ids = tuple(s.upper() for s in r.strings(payer["ids"], payer.line_of("ids"), "payer id"))
        if "names" in payer:
            payer_names = tuple(
                " ".join(s.upper().split()) for s in r.strings(payer["names"], payer.line_of("names"), "payer name")
            )
        if not payer_ids and not payer_names:
            r.error(
                doc.line_of("payer"),
                "payer has no ids and no names",
                "at least one payer id (N1*PR REF*2U / N1*PR04 / TRN03)",
            )

    tins: tuple[str, ...] = ()
    if "payee_tins" in doc:
        tins = r.strings(doc["payee_tins"], doc.line_of("payee_tins"), "payee TIN")
        for i, tin in enumerate(tins):
            if not (len(tin) == 9 and tin.isdigit()):
                r.error(
                    _line(doc["payee_tins"], i, doc.line_of("payee_tins")),
                    f"payee TIN {brief(tin)} is not 9 digits",
                    'a quoted 9-digit TIN such as "123456789"',
                )

    effective = None
    if "effective" not in doc:
        r.error(doc.line, "missing 'effective'", "effective: YYYY-MM-DD (first date of service covered)")
    else:
        effective = r.date(doc["effective"], doc.line_of("effective"), "effective")
    expires = None
    if doc.get("expires") is not None:
        expires = r.date(doc["expires"], doc.line_of("expires"), "expires")
        if effective and expires and expires < effective:
            r.error(
                doc.line_of("expires"),
                f"expires {expires} is before effective {effective}",
                "a date on or after effective",
            )

    mzip = mloc = None
    myear: int | None = None
    qp = False
    med = doc.get("medicare")
    if med is not None:
        if not isinstance(med, LineDict):
            r.error(doc.line_of("medicare"), "'medicare' is not a mapping", 'medicare: {zip: "10001", year: service}')
        else:
            for key in med:
                if key not in ("zip", "locality", "year", "qp"):
                    r.error(med.line_of(key), f"unknown medicare key {brief(key)}", "zip, locality, year or qp")
            if med.get("zip") is not None:
                mzip = str(med["zip"]).strip()
                if not (mzip.isdigit() and len(mzip) in (5, 9)):
                    r.error(
                        med.line_of("zip"),
                        f"medicare zip {brief(med['zip'])} is not a ZIP code",
                        'a quoted 5- or 9-digit ZIP such as "10001"',
                    )
            if med.get("locality") is not None:
                mloc = str(med["locality"]).strip().replace("-", "")
                if not (mloc.isdigit() and len(mloc) == 7):
                    r.error(
                        med.line_of("locality"),
                        f"medicare locality {brief(med['locality'])} is not carrier+locality",
                        '7 digits: 5-digit MAC carrier + 2-digit locality, e.g. "1320201"',
                    )
            year = med.get("year", "service")
            if isinstance(year, int) and not isinstance(year, bool) and 1992 <= year <= 2100:
                myear = year
            elif str(year).strip().lower() != "service":
                r.error(med.line_of("year"), f"medicare year {brief(year)}", "'service' or a year such as 2023")
            if "qp" in med:
                if not isinstance(med["qp"], bool):
                    r.error(med.line_of("qp"), f"medicare qp {brief(med['qp'])}", "true or false")
                else:
                    qp = med["qp"]

    lesser = doc.get("lesser_of_charges", False)
    if not isinstance(lesser, bool):
        r.error(doc.line_of("lesser_of_charges"), f"lesser_of_charges {brief(lesser)}", "true or false")
        lesser = False

    tol_amount = tol_percent = None
    tol = doc.get("tolerance")
    if tol is not None:
        if not isinstance(tol, LineDict):
            r.error(doc.line_of("tolerance"), "'tolerance' is not a mapping", "tolerance: {amount: 1.00, percent: 0.5}")
        else:
            for key in tol:
                if key not in ("amount", "percent"):
                    r.error(tol.line_of(key), f"unknown tolerance key {brief(key)}", "amount or percent")
            if "amount" in tol:
                tol_amount = r.decimal(tol["amount"], tol.line_of("amount"), "tolerance amount")
            if "percent" in tol:
                tol_percent = r.decimal(
                    tol["percent"], tol.line_of("percent"), "tolerance percent", maximum=Decimal(100)
                )

    terms = _parse_terms(r, doc)

    rates_file: Path | None = None
    real: Path | None = None
    rates: tuple[RateRow, ...] = ()
    if doc.get("rates_csv") is not None:
        rates_file, real = _rates_path(r, doc, path, root)
    if rates_file is not None:
        from contracts.rates import read_rates  # local import: keeps openpyxl off the hot path

        rates, sheet_problems = read_rates(rates_file, open_path=real)
        for row, message, expected in sheet_problems:
            if row is None:
                r.error(doc.line_of("rates_csv"), message, expected)
            else:
                r.problems.append(Problem(f"{rates_file}", row, message, expected))

    mode, mod_pcts = "none", {}
    madj = doc.get("modifier_adjustments", "none")
    if isinstance(madj, str) and madj.strip().lower() in ("medicare", "none"):
        mode = madj.strip().lower()
    elif isinstance(madj, LineDict):
        mode = "table"
        for key, value in madj.items():
            try:
                mod = parse_modifier(key)
            except ValueError as exc:
                r.error(madj.line_of(key), str(exc), 'modifier: percent, e.g. "50": 150')
                continue
            pct = r.decimal(value, madj.line_of(key), f"modifier {mod} percent", maximum=Decimal(1000))
            if pct is not None:
                mod_pcts[mod] = pct
    else:
        r.error(
            doc.line_of("modifier_adjustments"),
            f"modifier_adjustments {brief(madj)}",
            "medicare, none, or a mapping of modifier -> percent",
        )

    mppr = None
    if doc.get("mppr") is not None:
        raw = doc["mppr"]
        if not isinstance(raw, LineList) or not raw:
            r.error(doc.line_of("mppr"), f"mppr {brief(raw)}", "a list of percents by rank, e.g. [100, 50, 25]")
        else:
            vals = [
                r.decimal(v, raw.line_of(i), f"mppr rank {i + 1} percent", maximum=Decimal(100))
                for i, v in enumerate(raw)
            ]
            if all(v is not None for v in vals):
                mppr = tuple(vals)

    anesthesia_time = "minutes"
    if "anesthesia_time" in doc:
        raw_time = doc["anesthesia_time"]
        if isinstance(raw_time, str) and raw_time.strip().lower() in ANESTHESIA_TIME:
            anesthesia_time = raw_time.strip().lower()
        else:
            r.error(
                doc.line_of("anesthesia_time"),
                f"anesthesia_time {brief(raw_time)}",
                "minutes (SVC05 of an anesthesia line is its minutes) or units (15-minute time units)",
            )

    if r.problems or effective is None:
        return None, r.problems
    return Contract(
        name=name.strip(),
        file=path,
        line=doc.line,
        payer_ids=payer_ids,
        payer_names=payer_names,
        payee_tins=tins,
        effective=effective,
        expires=expires,
        medicare_zip=mzip,
        medicare_locality=mloc,
        medicare_year=myear,
        medicare_qp=qp,
        lesser_of_charges=lesser,
        tolerance_amount=tol_amount,
        tolerance_percent=tol_percent,
        terms=tuple(terms),
        rates_file=rates_file,
        rates=rates,
        modifier_mode=mode,
        modifier_percents=mod_pcts,
        mppr=mppr,
        anesthesia_time=anesthesia_time,
        lines=lines,
    ), r.problems


def _rates_path(r: _Reader, doc: LineDict, path: Path, root: Path | None) -> tuple[Path | None, Path | None]:
    """(the sheet as named, its resolved path) when ``rates_csv`` names a file inside the contracts
    folder; else an error on its line and (None, None). The sheet is not opened here: a name
    that climbs out (``..``, an absolute path, a symlink) is refused before anything is read, so
    no message can show another file's content."""
    raw, line = doc["rates_csv"], doc.line_of("rates_csv")
    expected = "a CSV or XLSX file inside the contracts folder, named relative to the contract"
    if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
        r.error(line, f"rates_csv {brief(raw)} is not a file name", expected)
        return None, None
    name = Path(raw.strip())
    if name.is_absolute() or ".." in name.parts or raw.strip().startswith("~"):
        r.error(line, f"rates_csv {brief(raw)} points outside the contracts folder", expected)
        return None, None
    sheet = path.parent / name
    folder = Path(root) if root is not None else path.parent
    try:
        real = sheet.resolve()
        inside = real.is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        r.error(line, f"rates_csv {brief(raw)} is a link that leads outside the contracts folder", expected)
        return None, None
    return sheet, real


def _parse_terms(r: _Reader, doc: LineDict) -> list[Term]:
    raw = doc.get("terms")
    if raw is None:
        if doc.get("rates_csv") is None:
            r.error(doc.line, "no 'terms' and no 'rates_csv'", "terms: [{codes: [...], rate: ...}] or rates_csv: FILE")
        return []
    if not isinstance(raw, LineList):
        r.error(doc.line_of("terms"), "'terms' is not a list", "a list of terms, each starting with '- codes:'")
        return []
    terms = []
    for i, item in enumerate(raw, start=1):
        tline = raw.line_of(i - 1)
        if not isinstance(item, LineDict):
            r.error(
                tline,
                f"term {i} is not a mapping",
                "- codes: [...] with rate, percent_of_medicare or percent_of_charges",
            )
            continue
        for key in item:
            if key not in TERM_KEYS:
                r.error(
                    item.line_of(key), f"term {i}: unknown key {brief(key)}", f"one of {', '.join(sorted(TERM_KEYS))}"
                )
        codes: list[CodeSpec] = []
        if "codes" not in item:
            r.error(tline, f"term {i} has no 'codes'", 'codes: ["99213", "99202-99215"] or ["*"]')
        else:
            values = item["codes"] if isinstance(item["codes"], list) else [item["codes"]]
            for j, value in enumerate(values):
                try:
                    codes.append(parse_code_spec(value))
                except ValueError as exc:
                    r.error(
                        _line(item["codes"], j, item.line_of("codes")),
                        f"term {i}: {exc}",
                        '"99213", "99202-99215" or "*"',
                    )
        modifiers = None
        if item.get("modifiers") is not None:
            mods = []
            values = item["modifiers"] if isinstance(item["modifiers"], list) else [item["modifiers"]]
            for j, value in enumerate(values):
                try:
                    mods.append(parse_modifier(value))
                except ValueError as exc:
                    r.error(
                        _line(item["modifiers"], j, item.line_of("modifiers")),
                        f"term {i}: {exc}",
                        'two characters such as "26" or "TC"',
                    )
            modifiers = tuple(mods)
        setting = item.get("setting")
        if setting is not None and setting not in SETTINGS:
            r.error(item.line_of("setting"), f"term {i}: setting {brief(setting)}", "facility or non-facility")
            setting = None
        given = [m for m in METHODS if m in item]
        exclude = item.get("exclude", False)
        if not isinstance(exclude, bool):
            r.error(item.line_of("exclude"), f"term {i}: exclude {brief(exclude)}", "true or false")
            exclude = False
        method = value = None
        if exclude:
            if given:
                r.error(
                    item.line_of(given[0]), f"term {i} is excluded and also priced", "either exclude: true or one price"
                )
        elif len(given) != 1:
            r.error(
                tline,
                f"term {i} has {len(given)} prices ({', '.join(given) or 'none'})",
                "exactly one of rate, percent_of_medicare, percent_of_asp, percent_of_clfs, percent_of_dmepos, "
                "percent_of_opps, percent_of_asc, percent_of_charges (or exclude: true)",
            )
        else:
            method = given[0]
            value = r.decimal(
                item[method],
                item.line_of(method),
                f"term {i} {method}",
                maximum=Decimal(100000) if method == "rate" else Decimal(1000),
            )
        tname = item.get("name")
        terms.append(
            Term(
                index=i,
                line=tline,
                codes=tuple(codes),
                modifiers=modifiers,
                setting=setting,
                method=method,
                value=value,
                exclude=exclude,
                name=str(tname) if tname is not None else None,
            )
        )
    return terms


def contract_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml under ``folder`` (recursively), in a stable order, except provider
    rosters (``providers.yaml``: read by contracts.providers) and the appeal rules
    (``appeal_rules.yaml``: contracts.appeal_rules)."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise ContractError(f"{folder}: no contracts folder here; pass --contracts DIR or set paths.contracts")
    # A folder named like a contract is walked, not read; anything else named *.yaml (a FIFO, a
    # device, a broken link) is listed so that the check reports it instead of skipping a contract.
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in (".yaml", ".yml")
        and p.name.lower() not in (*ROSTER_FILE_NAMES, *APPEAL_RULES_FILE_NAMES)
        and not p.is_dir()
    )


def contracts_root(folder: Path) -> Path:
    """The folder rate sheets must lie in: ``folder`` itself, or the folder of a single file."""
    folder = Path(folder)
    return folder if folder.is_dir() else folder.parent


def load_contracts(folder: Path) -> list[Contract]:
    """Every contract under ``folder``; ContractError listing each ``file:line`` problem."""
    out, problems = [], []
    root = contracts_root(folder)
    for path in contract_files(folder):
        contract, found = parse_contract(path, root)
        problems.extend(p for p in found if p.severity == "error")
        if contract is not None:
            out.append(contract)
    raise_problems("contract", problems, folder)
    return out


def raise_problems(what: str, problems: list[Problem], folder) -> None:
    """ContractError listing each ``file:line`` problem (the first MAX_LISTED) and what to run next."""
    if not problems:
        return
    listing = "\n".join(str(p) for p in problems[:MAX_LISTED])
    if len(problems) > MAX_LISTED:
        listing += f"\n... and {len(problems) - MAX_LISTED} more"
    raise ContractError(
        f"{len(problems)} {what} problem(s):\n{listing}\n"
        f"Fix them (see docs/contracts.md) and run `underpay contracts check {folder}`"
    )
