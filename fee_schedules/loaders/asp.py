"""Medicare Part B drug payment limits (CMS's quarterly ASP pricing file) and the NOC file, as shipped.

CMS posts each quarter's "ASP Pricing File" as a zip holding an .xls and a Section 508 ``.csv``:
``section 508 version of Jan 2025 ASP Pricing File 121924.csv`` (also spelled "verision", "APR",
"January"; from 2026 "… Medicare Part B Payment Limit File 121725.csv"). The trailing MMDDYY is the
day CMS released the file; a re-release says so (``… updated 030725.csv``). The NOC file ("… NOC
Pricing File …") lists drugs without a HCPCS code of their own.

Layout (both files): a preamble (a title; ``"Effective October 1, 2025 through December 31, 2025"``;
notes), then the header and one row per line, CRLF, padded with empty cells to the header's width.

- ASP: ``HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage,
  Vaccine AWP%,Vaccine Limit,Blood AWP%,Blood limit,Clotting Factor,Notes`` (some quarters add one
  or two empty header cells after Notes). One row per HCPCS; the limit is dollars per HCPCS dosage
  unit with 3 places (``57.603``), the coinsurance 3 places (``20.000``, ``15.060`` when
  inflation-adjusted). Short Description is not read (CPT descriptors are AMA copyright).
- NOC: ``Drug Generic Name (Trade Name),Dosage,Payment Limit,Notes``; the limit has a dollar sign
  (``$2.462``).

What the files hold, 2024 Q1 to 2026 Q1 (../shared/cms/extra/asp):

- Encoding: ASCII but for one byte, 0xA0 (a Windows-1252 no-break space) in J9325's dosage
  ``1 million\\xa0PFU``; read as Windows-1252 (UTF-8 when the bytes are valid UTF-8, so a re-saved
  copy reads the same).
- Notes can span two lines inside one quoted cell (A9606: ``microCurie 100% AWP = $202.82`` /
  ``microCurie 100% WAC = $169.02``): row numbers in messages are the file line a row starts on.
- No limit is blank, but some are ``N/A``: A9606 (radium-223) in every quarter and the HIV PrEP codes
  J0739, J0750, J0751 in Oct 2024 ("The payment allowance for this code will be determined by the
  MAC processing the claim"). CMS gives no national limit for them, so they are left out of
  :func:`load` (there is no limit to compare a payment with); any other non-number refuses the file.
- Dosage text varies: ``1 MG``, ``0.1 mg``, ``.625 GM``, ``1MG``, ``150 IU``, ``100,000 UNITS``,
  ``5 Unit``, ``1 CC``, ``1 EA``, ``1 EACH``, ``PER DOSE``, ``1 SQ CM``, ``300 MCG (1500 IU)``, and
  texts that are no single quantity (``Greater than 100 MG``, ``1 MG/2.27 MG``, ``UP TO 200 MILLION
  … CAR T CELLS``). :func:`parse_dosage` reads an amount and unit from the first kinds; the others
  get NULL amount and unit (the text is kept in ``dosage``).
- The Notes column says ``Added <Month YYYY>`` for new codes and ``Updated <Month YYYY>`` on rows a
  re-release corrected.

When CMS issued a file (``Period.issued``), which orders the releases of one quarter:

1. the MMDDYY the file name ends with (``121924`` -> 2024-12-19, ``updated 030725`` -> 2025-03-07);
2. else (a renamed copy, such as ``asp_pricing.csv``) the latest ``Updated <Month YYYY>`` note: a
   row corrected in a re-release is marked with the quarterly update that carries the correction,
   and CMS puts the corrected file out in the month before that update (the Jan 2025 file updated
   03/07/25 marks its rows "Updated April 2025"; the Oct 2025 file updated 12/09/25 marks J2782
   "Updated January 2026"). ``issued`` is then the first day of the month before the named month --
   on or before the true day -- but never earlier than the first day of the file's own period: a
   file with corrected rows is a re-release, and CMS issues every first release before its quarter
   starts. So the renamed Oct 2025 re-release gets 2025-12-01, after the first release's 2025-09-17;
3. else None (the file does not say).

A file that is not what it should be is refused whole (InputFileError naming the file, the row as
the file line it starts on, the column as CMS heads it, and what was expected): an empty file, no
``Effective … through …`` line, a missing header or column, a file cut short (its last row has no
line break, or a quoted cell never closes), a row with more or fewer cells than the header, a code
that is not 5 characters, a limit that is not a number of at most 3 places, a code listed twice.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import pandera.polars as pa
import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import Period, column_index, find_header, frame, is_blank, norm
from fee_schedules.schemas import FileModel, check
from pipelines.core.errors import InputFileError

KIND = "asp"
NOC_KIND = "asp_noc"
# "section 508 version of Jan 2025 ASP Pricing File 121924.csv", "… verision of JUL 2025 …",
# "… January 2026 Medicare Part B Payment Limit File 121725.csv", a renamed "asp_pricing.csv".
# Not the NOC file, nor the ASP NDC-HCPCS crosswalk.
NAME_PATTERN = re.compile(
    r"^(?!.*(?<![a-z])noc(?![a-z]))(?!.*crosswalk).*(asp[ _-]*pricing|payment[ _-]*limit)[^/\\]*\.csv$", re.I
)
# "October 2025 NOC Pricing File 091725.csv", a renamed "noc_pricing.csv"
NOC_NAME_PATTERN = re.compile(r"^(?!.*crosswalk).*(?<![a-z])noc(?![a-z])[^/\\]*\.csv$", re.I)

_MONTH_NAMES = "JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER".split()
# January / Jan / JAN; Sept too
_MONTHS = {n: i for i, m in enumerate(_MONTH_NAMES, start=1) for n in (m, m[:3])} | {"SEPT": 9}
_DATE = r"([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})"
_EFFECTIVE = re.compile(rf"\bEffective\s+{_DATE}\s+(?:through|thru|to|-)\s+{_DATE}", re.I)
_NAME_DATE = re.compile(r"(?:^|[\s_-])(?:updated[\s_-]*)?(\d{2})(\d{2})(\d{2})$", re.I)
_UPDATED = re.compile(r"\bupdated\s+([A-Za-z]{3,9})\.?,?\s+(20\d{2})\b", re.I)
_CUT = "The file looks cut short (an interrupted download or copy?); download it again from CMS"
_EOF = "\x1a"  # a DOS end-of-file character some CMS files end with


# ---------------------------------------------------------------- the files' shape (all text, as read)


_LIMIT = r"^(\d{1,11}(\.\d{0,3})?|\.\d{1,3}|N/A)$"  # 57.603, 0.898, N/A (no national limit)


class AspFile(FileModel):
    """ASP pricing file: one row per HCPCS, a payment limit of at most 3 places (or N/A)"""

    hcpcs: str = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    dosage: str = pa.Field(str_matches=r"\S")
    payment_limit: str = pa.Field(str_matches=_LIMIT)
    coinsurance_pct: str = pa.Field(str_matches=r"^(\d{1,3}(\.\d{0,3})?|\.\d{1,3})?$")  # 20.000, 15.060, blank
    notes: str

    @pa.dataframe_check
    def one_row_per_code(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("hcpcs").is_duplicated())


class AspNocFile(FileModel):
    """ASP NOC pricing file: one row per drug and dosage, a payment limit of at most 3 places (or N/A)"""

    drug_name: str = pa.Field(str_matches=r"\S")
    dosage: str = pa.Field(str_matches=r"\S")
    payment_limit: str = pa.Field(str_matches=r"^(\$?(\d{1,3}(,\d{3})+|\d{1,11})(\.\d{0,3})?|\$?\.\d{1,3}|N/A)$")
    notes: str

    @pa.dataframe_check
    def one_row_per_drug_and_dosage(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("drug_name", "dosage").is_duplicated())


@dataclass(frozen=True)
class _Layout:
    what: str  # the file, for messages
    model: type[pa.DataFrameModel]
    labels: dict[str, str]  # our column -> the header CMS writes
    header: str  # the whole header line, for messages


ASP = _Layout(
    "CMS's ASP pricing file (section 508 version of <Mon> <yyyy> ASP Pricing File <mmddyy>.csv)",
    AspFile,
    {
        "hcpcs": "HCPCS Code",
        "dosage": "HCPCS Code Dosage",
        "payment_limit": "Payment Limit",
        "coinsurance_pct": "Co-insurance Percentage",
        "notes": "Notes",
    },
    "HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage,Vaccine AWP%,"
    "Vaccine Limit,Blood AWP%,Blood limit,Clotting Factor,Notes",
)
NOC = _Layout(
    "CMS's ASP NOC pricing file (<Mon> <yyyy> NOC Pricing File <mmddyy>.csv)",
    AspNocFile,
    {
        "drug_name": "Drug Generic Name (Trade Name)",
        "dosage": "Dosage",
        "payment_limit": "Payment Limit",
        "notes": "Notes",
    },
    "Drug Generic Name (Trade Name),Dosage,Payment Limit,Notes",
)
LABELS = ASP.labels
NOC_LABELS = NOC.labels


# ---------------------------------------------------------------- dosage text -> amount and unit

# Upper-case unit as written -> the unit kept; spelling variants made one (UNIT/UNITS, EA/EACH, I.U./IU)
# and CC made ML (the same volume). A unit not listed here is not guessed at: amount and unit stay NULL.
DOSAGE_UNITS = {
    "MG": "MG",
    "MCG": "MCG",
    "GM": "GM",
    "ML": "ML",
    "CC": "ML",
    "IU": "IU",
    "I.U.": "IU",
    "I.U. VWF:RCO": "IU VWF:RCO",
    "IU VWF:RCO": "IU VWF:RCO",
    "UNIT": "UNITS",
    "UNITS": "UNITS",
    "USP UNIT": "USP UNITS",
    "USP UNITS": "USP UNITS",
    "MEQ": "MEQ",
    "SQ CM": "SQ CM",
    "MICROCURIE": "MICROCURIE",
    "MILLICURIE": "MILLICURIE",
    "PFU": "PFU",
    "EA": "EA",
    "EACH": "EA",
    "DOSE": "DOSE",
    "THERAPEUTIC DOSE": "THERAPEUTIC DOSE",
    "VIAL": "VIAL",
    "IMPLANT": "IMPLANT",
}
# Units that name one item: written without a number ("EA", "PER DOSE", "PER VIAL") they mean one.
COUNT_UNITS = frozenset({"EA", "DOSE", "THERAPEUTIC DOSE", "VIAL", "IMPLANT"})
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d*)?|\.\d+)"
_QUANTITY = re.compile(
    rf"^(?:PER\s+)?{_AMOUNT}\s*(MILLION\s+)?([A-Z][A-Z.: ]*?)(?:\s*\(\s*{_AMOUNT}\s*([A-Z][A-Z.: ]*?)\s*\))?$"
)
_COUNT = re.compile(r"^(?:PER\s+)?([A-Z][A-Z ]*)$")


def parse_dosage(text: str) -> tuple[Decimal | None, str | None]:
    """The amount and unit of CMS's HCPCS Code Dosage: ``1 MG`` -> (1, MG), ``.625 GM`` -> (0.625, GM),
    ``100,000 UNITS`` -> (100000, UNITS), ``1 CC`` -> (1, ML), ``per 10 mg`` -> (10, MG), ``1 million PFU``
    -> (1000000, PFU), ``300 MCG (1500 IU)`` -> (300, MCG) (the bracket is the same dose in another unit),
    ``EA`` / ``PER DOSE`` -> (1, EA) / (1, DOSE). (None, None) for anything else: a range or cap
    (``Greater than 100 MG``, ``UP TO 1 GM``), a combination (``1 MG/2.27 MG``), an unknown unit, or an
    amount that does not fit Decimal(18,6)."""
    t = re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip().upper()
    m = _QUANTITY.match(t)
    if m:
        unit = DOSAGE_UNITS.get(m.group(3).strip())
        if unit is None or (m.group(5) is not None and m.group(5).strip() not in DOSAGE_UNITS):
            return None, None
        try:
            amount = Decimal(m.group(1).replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            return None, None
        if m.group(2):
            amount *= 1_000_000
        exponent = amount.as_tuple().exponent
        if amount >= Decimal(10) ** 12 or (isinstance(exponent, int) and exponent < -6):
            return None, None
        return amount, unit
    m = _COUNT.match(t)
    if m and DOSAGE_UNITS.get(m.group(1).strip()) in COUNT_UNITS:
        return Decimal(1), DOSAGE_UNITS[m.group(1).strip()]
    return None, None


# ---------------------------------------------------------------- reading


def _text(source: SourceFile) -> str:
    """UTF-8 when the bytes are valid UTF-8 (pure ASCII, or a re-saved copy), else Windows-1252 (CMS's
    0xA0), else Latin-1 (bytes Windows-1252 leaves undefined)."""
    data = source.data.removeprefix(b"\xef\xbb\xbf")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _records(source: SourceFile, text: str) -> tuple[list[list[str]], list[int]]:
    """CSV records (stripped cells) and the file line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for cells in reader:
            rows.append([c.strip() for c in cells])
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputFileError(
            source.origin,
            f"not readable as CSV ({exc})",
            row=start,
            expected="every quoted cell closed by a quote before the next comma or line end",
            hint=_CUT,
        ) from None
    return rows, lines


def _date(source: SourceFile, line: int, cell: str, month: str, day: str, year: str) -> date:
    try:
        return date(int(year), _MONTHS[month.upper()], int(day))
    except (KeyError, ValueError):
        raise InputFileError(
            source.origin,
            "not a date",
            row=line,
            expected="Effective <Month D, YYYY> through <Month D, YYYY>",
            found=repr(cell),
            hint="Is this the file as CMS ships it?",
        ) from None


def _effective(source: SourceFile, rows: list[list[str]], lines: list[int], header: int) -> tuple[date, date]:
    """The dates of the preamble's ``Effective January 1, 2025 through March 31, 2025``."""
    stated = [(lines[i], cell) for i in range(header) for cell in rows[i] if re.search(r"\beffective\b", cell, re.I)]
    expected = 'a line "Effective <Month D, YYYY> through <Month D, YYYY>" above the header, as CMS writes it'
    for line, cell in stated:
        m = _EFFECTIVE.search(cell)
        if m:
            start = _date(source, line, cell, *m.group(1, 2, 3))
            end = _date(source, line, cell, *m.group(4, 5, 6))
            if end < start:
                raise InputFileError(
                    source.origin,
                    "the limits end before they start",
                    row=line,
                    expected="an Effective date on or before the through date",
                    found=repr(cell),
                    hint="Is this the file as CMS ships it?",
                )
            return start, end
    raise InputFileError(
        source.origin,
        "cannot tell when the payment limits are in force",
        row=stated[0][0] if stated else None,
        expected=expected,
        found=repr(stated[0][1]) if stated else "no Effective line",
        hint="CMS states the quarter in the file's preamble; read the file as CMS ships it, not a copy cut to its table",
    )


def _month_before(year: int, month: int) -> date:
    return date(year - 1, 12, 1) if month == 1 else date(year, month - 1, 1)


def _issued(source: SourceFile, notes: list[str], effective_from: date) -> date | None:
    """When CMS issued the file: the name's MMDDYY, else from the latest "Updated <Month YYYY>" note
    (see the module docstring), else None."""
    stem = source.name.rsplit(".", 1)[0].strip()
    m = _NAME_DATE.search(stem)
    if m:
        mm, dd, yy = (int(g) for g in m.groups())
        try:
            return date(2000 + yy, mm, dd)
        except ValueError:
            pass  # six digits that are no date: not a release date
    updated = []
    for note in notes:
        for month, year in _UPDATED.findall(note):
            if month.upper() in _MONTHS:
                updated.append((int(year), _MONTHS[month.upper()]))
    if not updated:
        return None
    return max(_month_before(*max(updated)), effective_from)


def _headed(label: str):
    """A test for the header cell CMS heads ``label`` (case, spaces and punctuation aside)."""
    want = norm(label)
    return lambda cell: norm(cell) == want


def _read_raw(source: SourceFile, layout: _Layout) -> tuple[pl.DataFrame, Period]:
    """The file's rows as validated text (our column names, ``_row``), and its Period."""
    text = _text(source)
    if not text.strip(" \t\r\n," + _EOF):
        raise InputFileError(
            source.origin,
            "the file is empty",
            expected=layout.what,
            hint="Download the file again from CMS",
        )
    rows, lines = _records(source, text)
    first = norm(next(iter(layout.labels.values())))
    expected_header = f"a header row {layout.header} after CMS's preamble ({layout.what})"
    h = find_header(rows, source, lambda r: bool(r) and norm(r[0]) == first, expected_header)
    header = rows[h]
    idx = [column_index(header, source, lines[h] - 1, label, _headed(label)) for label in layout.labels.values()]
    effective_from, effective_through = _effective(source, rows, lines, h)
    # the rows below the header: same width as the header, the last ended by a line break
    width = len(header)
    body = [(line, row) for line, row in zip(lines[h + 1 :], rows[h + 1 :]) if not is_blank(row)]
    if not text.rstrip(_EOF).endswith(("\n", "\r")):
        last_line = body[-1][0] if body else lines[-1]
        raise InputFileError(
            source.origin,
            "the file ends in the middle of a row",
            row=last_line,
            expected="a line break after the last row, as CMS ships the file",
            hint=_CUT,
        )
    for line, row in body:
        if len(row) != width:
            raise InputFileError(
                source.origin,
                f"the row has {len(row)} cells, the header {width}",
                row=line,
                expected=f"{width} cells, as many as the header (a comma inside a cell is quoted)",
                hint=_CUT if len(row) < width else "Is this the file as CMS ships it?",
            )
    if not body:
        raise InputFileError(
            source.origin,
            "no rows below the header",
            row=lines[h],
            expected=f"one row per {'HCPCS code' if layout is ASP else 'drug'} below the header",
            hint=_CUT,
        )
    raw = frame([[row[i] for i in idx] for _, row in body], list(layout.labels), [line for line, _ in body])
    check(layout.model, raw, source.origin, labels=layout.labels)
    issued = _issued(source, raw["notes"].to_list(), effective_from)
    return raw, Period(effective_from, effective_through, issued)


def _typed(raw: pl.DataFrame, first: str, *, coinsurance: bool) -> pl.DataFrame:
    priced = raw.filter(pl.col("payment_limit") != "N/A")  # no national limit: the MAC prices the code
    parsed = [parse_dosage(d) for d in priced["dosage"]]
    cols = [
        pl.col(first),
        pl.col("dosage"),
        pl.Series("dosage_amount", [a for a, _ in parsed], dtype=pl.Decimal(18, 6)),
        pl.Series("dosage_unit", [u for _, u in parsed], dtype=pl.String),
        pl.col("payment_limit").str.replace_all(r"[$,]", "").cast(pl.Decimal(14, 3)),
    ]
    if coinsurance:
        cols.append(pl.when(pl.col("coinsurance_pct") != "").then(pl.col("coinsurance_pct")).cast(pl.Decimal(7, 3)))
    cols.append(pl.col("notes"))
    return priced.select(cols)


def read(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """An ASP pricing file, read once: its rows (as :func:`load`) and its :class:`Period`."""
    raw, period_ = _read_raw(source, ASP)
    return _typed(raw, "hcpcs", coinsurance=True), period_


def read_noc(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """An ASP NOC pricing file, read once: its rows (as :func:`load_noc`) and its :class:`Period`."""
    raw, period_ = _read_raw(source, NOC)
    return _typed(raw, "drug_name", coinsurance=False), period_


def load(source: SourceFile) -> pl.DataFrame:
    """Validated rows, one per HCPCS with a national limit: hcpcs, dosage (as CMS writes it),
    dosage_amount (Decimal(18,6)) and dosage_unit (see :func:`parse_dosage`), payment_limit
    (Decimal(14,3), dollars per dosage), coinsurance_pct (Decimal(7,3), NULL when blank), notes ('' when
    none). Rows whose limit is N/A are left out. No descriptors (AMA text)."""
    return read(source)[0]


def load_noc(source: SourceFile) -> pl.DataFrame:
    """Validated NOC rows: drug_name, dosage, dosage_amount, dosage_unit, payment_limit (Decimal(14,3),
    the dollar sign dropped), notes."""
    return read_noc(source)[0]


def period(source: SourceFile) -> Period:
    """The days the file's limits are in force and when CMS issued it (an ASP or, for ``source.kind ==
    NOC_KIND``, a NOC file). It reads and checks the whole file: use :func:`read` / :func:`read_noc` to
    get the rows too from one reading."""
    return _read_raw(source, NOC if source.kind == NOC_KIND else ASP)[1]
