"""OPPS Addendum B (national unadjusted payment rates by HCPCS code, CMS), as shipped.

CMS publishes Addendum B each quarter with the OPPS rule or its quarterly update, as an ``.xlsx`` and a
"Section 508 version of …" ``.csv``: ``Section 508 version of January 2025 Web Addendum B.12.31.24.csv``,
``Section 508 of July 2025 Web Addendum B.07.25.25.csv`` (a corrected re-release of
``… July 2025 Web Addendum B.06.26.25.csv``), ``508 version of October 2025 Web Addendum B.10.31.25.csv``,
``… January_Web_2024_Addendum_B.04.24.24.csv``. The month and year in the name are the quarter the
rates take effect; the date suffix (MM.DD.YY) is when CMS issued that version of the file.

- A preamble (title ``Addendum B.-- OPPS Payment by HCPCS Code for CY 2025``, AMA/ADA copyright notices,
  a coverage disclaimer, a note on coinsurance rounding; 4 rows in 2025, 6 in 2024), then the header
  ``HCPCS Code,Short Descriptor,SI,APC,Relative Weight,Payment Rate,National Unadjusted Copayment,
  Minimum Unadjusted Copayment,IRA Coinsurance percentage,Adjusted Beneficiary Copayment,Drug and Device
  Pass-Through Expiration during Calendar Year,Note,* Indicates a Change`` (2024: ``APC `` with a trailing
  space), then one row per HCPCS code, 13 cells each, CRLF. The title names the CY but not the month.
- Money is written ``$1,214.31``; some cells lack the ``$`` (``2082.24``) or carry a trailing space.
  Payment Rate has 3 decimal places on drug rows (SI K/G: the ASP-based rate, ``$130.664``) and, in
  Oct 2025, on every row (``$3,179.530``); so ``payment_rate`` is read as Decimal(14,3), not rounded
  to the cent. National Unadjusted Copayment is ``.`` on most paid rows (no national copayment
  separate from the minimum): read as null, like a blank. A code without a rate has Payment Rate
  blank or a single space. APC is 4 digits with its leading zero (``0846``) or blank.
- Quirks kept as CMS ships them: a stray byte after the code in two rows, ``A4341\\xff`` (all 2025
  files) and, in the Jan 2024 file, ``A4341`` and ``G0465`` followed by the UTF-8 replacement
  character (bytes EF BF BD); codes padded with trailing spaces (``J1429             ``). The code is
  read without them.

The descriptors are AMA copyright: they are never kept. Helpers here (``read_records``, ``body``,
``money``, ``month_year``) are shared with the ASC addenda (``fee_schedules.loaders.asc``), which CMS
writes the same way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from datetime import date

import pandera.polars as pa
import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import (
    EOF_CHAR,
    Period,
    check_row_width,
    column_index,
    find_header,
    frame,
    is_blank,
    norm,
    table_rows,
    text_of,
)
from fee_schedules.schemas import FileModel, check
from pipelines.core.errors import InputFileError

KIND = "opps"
# "… January 2025 Web Addendum B.12.31.24.csv", "January_Web_2024_Addendum_B.04.24.24.csv"; not Addendum A,
# AA, BB, … (ASC) nor anything that only mentions OPPS.
NAME_PATTERN = re.compile(r"^.*(?<![a-z])addendum[ _-]*b(?![a-z0-9]).*\.(csv|xlsx)$", re.I)

LABELS = {
    "hcpcs": "HCPCS Code",
    "status_indicator": "SI",
    "apc": "APC",
    "relative_weight": "Relative Weight",
    "payment_rate": "Payment Rate",
    "national_copay": "National Unadjusted Copayment",
    "minimum_copay": "Minimum Unadjusted Copayment",
}
EXPECTED_HEADER = (
    "the Addendum B header 'HCPCS Code,Short Descriptor,SI,APC,Relative Weight,Payment Rate,National Unadjusted "
    "Copayment,Minimum Unadjusted Copayment,…' after CMS's preamble (CMS's OPPS Addendum B, "
    "'<Month> <year> Web Addendum B.MM.DD.YY.csv')"
)
CUT = "The file looks cut short or damaged; download it again from CMS"
HCPCS = r"^[0-9A-Z]{5}$"
WEIGHT = r"^(\d+(\.\d{1,4})?)?$"  # blank, or up to 4 places: 1.4452, 28.767


def money_pattern(places: int, dot: bool = False) -> str:
    """A dollar amount as CMS writes it ($1,214.31, $130.664, 2082.24) with at most ``places``
    decimals, or blank (or ``.`` where ``dot``)."""
    amount = rf"\$?(\d{{1,3}}(,\d{{3}})+|\d+)(\.\d{{1,{places}}})?"
    if dot:
        amount += r"|\."
    return rf"^({amount})?$"


class OppsAddendumBFile(FileModel):
    """OPPS Addendum B: one row per HCPCS code, its SI, APC, relative weight, payment rate and copayments."""

    hcpcs: str = pa.Field(str_matches=HCPCS)
    status_indicator: str = pa.Field(str_matches=r"^[A-Z][0-9]?$")  # A, J1, Q4, H1, K1 …
    apc: str = pa.Field(str_matches=r"^(\d{4})?$")
    relative_weight: str = pa.Field(str_matches=WEIGHT)
    payment_rate: str = pa.Field(str_matches=money_pattern(3))
    national_copay: str = pa.Field(str_matches=money_pattern(2, dot=True))
    minimum_copay: str = pa.Field(str_matches=money_pattern(2))

    @pa.dataframe_check
    def one_row_per_code(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("hcpcs").is_duplicated())


# ---------------------------------------------------------------- reading (shared with asc.py)

# what follows a code in a few CMS rows: 0xFF read as latin-1, the UTF-8 replacement character (EF BF BD
# read as latin-1, or decoded)
_STRAY = re.compile("(?:\xff|\ufffd|\xef\xbf\xbd)+$")
_MONTH = (
    r"(?<![a-z])(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])"
)
_MONTH_YEAR = re.compile(_MONTH + r"[ _-]*(?:web[ _-]*)?(20\d{2})(?!\d)", re.I)
_YEAR_MONTH = re.compile(r"(?<!\d)(20\d{2})[ _-]*" + _MONTH, re.I)
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_ISSUED = re.compile(r"(?<!\d)(\d{2})\.(\d{2})\.(\d{2})$")
_CY = re.compile(r"(?<![a-z])CY\s*(20\d{2})(?!\d)", re.I)


def month_year(text: str) -> date | None:
    """The first day of the month a name or cell states ('January 2025', 'Jan-2025', 'January_Web_2024')."""
    m = _MONTH_YEAR.search(text)
    if m:
        return date(int(m.group(2)), _MONTHS[m.group(1)[:3].upper()], 1)
    m = _YEAR_MONTH.search(text)
    return date(int(m.group(1)), _MONTHS[m.group(2)[:3].upper()], 1) if m else None


def read_records(source: SourceFile, expected: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, stripped cells) of every row of the .csv (or the first sheet of the .xlsx).

    Refused: another variant, an empty file, a broken quote, a CSV whose last row ends without a line
    break (CMS ends every row with CRLF: a file cut mid-row, even mid-amount, ends without one).
    """
    if source.suffix not in (".csv", ".xlsx"):
        raise InputFileError(
            source.origin,
            f"unsupported variant {source.suffix}",
            expected="the .csv (or .xlsx) file CMS ships",
            hint="Load the Section 508 .csv of the release",
        )
    if not source.data.strip(b" \t\r\n" + EOF_CHAR.encode()):
        raise InputFileError(source.origin, "empty file", expected=expected, hint=CUT)
    if source.suffix == ".xlsx":
        return [(n, n, row) for n, row in enumerate(table_rows(source), start=1)]
    text = text_of(source)
    reader = csv.reader(io.StringIO(text), strict=True)
    out: list[tuple[int, int, list[str]]] = []
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputFileError(
                source.origin,
                f"unreadable CSV row ({exc})",
                row=start,
                expected="every quoted cell closed by a quote before the next comma or the end of its line",
                hint=CUT,
            ) from None
        out.append((start, reader.line_num, [c.strip() for c in row]))
        start = reader.line_num + 1
    if not text.rstrip(EOF_CHAR).endswith(("\n", "\r")):
        raise InputFileError(
            source.origin,
            "the last row ends without a line break",
            row=out[-1][0] if out else None,
            expected="every row ended by a line break, as CMS writes the file",
            found=f"{len(out[-1][2]) if out else 0} cells and then the end of the file",
            hint=CUT,
        )
    return out


def body(
    source: SourceFile, records: list[tuple[int, int, list[str]]], h: int, idx: list[int], what: str
) -> tuple[list[list[str]], list[int]]:
    """The cells at ``idx`` of every data row below the header ``records[h]`` and their file lines.

    Blank rows and CMS's ``NOTE n: …`` footnote rows are left out. A row with fewer cells than the
    header (cut short), more non-blank cells, or a quoted cell running over several lines is refused.
    A row repeated identically in every cell is read once (BB Jan 2025 repeats four); the HCPCS cell
    loses a stray byte after the code (see the module docstring).
    """
    header = records[h][2]
    rows, lines, seen = [], [], set()
    for first, last, cells in records[h + 1 :]:
        if is_blank(cells) or (norm(cells[0]).startswith("NOTE") and is_blank(cells[1:])):
            continue
        if last != first:
            raise InputFileError(
                source.origin,
                f"a quoted cell runs on from line {first} to line {last}",
                row=first,
                expected="one row per line, each quoted cell closed on its own line",
                hint=CUT,
            )
        check_row_width(
            source,
            header,
            cells,
            first,
            expected=f"{len(header)} cells, as in the header (line {records[h][0]})",
            hint=CUT,
        )
        key = tuple(cells[: len(header)])
        if key in seen:
            continue
        seen.add(key)
        row = [cells[i] for i in idx]
        row[0] = _STRAY.sub("", row[0]).strip()
        rows.append(row)
        lines.append(first)
    if not rows:
        raise InputFileError(
            source.origin, f"no {what} rows below the header", row=records[h][0], expected="one row per HCPCS code"
        )
    return rows, lines


def header_row(source: SourceFile, records: list[tuple[int, int, list[str]]], test: Callable, expected: str) -> int:
    return find_header([r[2] for r in records], source, test, expected)


def columns(source: SourceFile, records, h: int, tests: Mapping[str, tuple[str, Callable[[str], bool]]]) -> list[int]:
    """The index of each wanted column (label as CMS heads it, test on the header cell); the header's
    file line is ``records[h][0]`` (column_index names row ``h + 1``: pass the line less one)."""
    header = records[h][2]
    return [column_index(header, source, records[h][0] - 1, label, test) for label, test in tests.values()]


def money(col: str, places: int, precision: int = 14) -> pl.Expr:
    """``$1,214.31`` -> Decimal; blank and ``.`` -> null."""
    text = pl.col(col).str.replace_all(r"[$,]", "")
    return pl.when(text.str.contains(r"\d")).then(text).cast(pl.Decimal(precision, places)).alias(col)


def weight(col: str) -> pl.Expr:
    return pl.when(pl.col(col) != "").then(pl.col(col)).cast(pl.Decimal(12, 4)).alias(col)


def issued(source: SourceFile) -> date | None:
    """The date suffix of a CMS name (``….12.31.24.csv`` -> 2024-12-31): when CMS issued that version."""
    m = _ISSUED.search(source.name.rsplit(".", 1)[0])
    if not m:
        return None
    month, day, yy = (int(g) for g in m.groups())
    try:
        return date(2000 + yy, month, day)
    except ValueError:
        raise InputFileError(
            source.origin,
            "the date at the end of the file name is not a date",
            expected="MM.DD.YY, the day CMS issued the file (e.g. 'Addendum B.12.31.24.csv')",
            found=repr(m.group(0)),
            hint="Keep the file's CMS name",
        ) from None


# ---------------------------------------------------------------- Addendum B


def _is_header(cells: list[str]) -> bool:
    names = {norm(c) for c in cells}
    return bool(cells) and norm(cells[0]) == "HCPCSCODE" and {"SI", "APC"} <= names


def period(source: SourceFile, records, h: int) -> Period:
    """From the first day of the month the name states (Addendum B's preamble names only the CY, which
    must agree); ``issued`` from the name's MM.DD.YY suffix, so a corrected re-release orders after the
    first. CMS states no end date: ``effective_through`` is None (in force until the next quarter's file)."""
    start = month_year(source.name)
    if start is None:
        raise InputFileError(
            source.origin,
            "cannot tell which month the rates take effect",
            expected="the month and year in the file name, as CMS names it "
            "('January 2025 Web Addendum B.12.31.24.csv'); the preamble names only the calendar year",
            hint="Keep (or restore) the file's CMS name",
        )
    for first, _, cells in records[:h]:
        m = next((m for c in cells if (m := _CY.search(c))), None)
        if m and int(m.group(1)) != start.year:
            raise InputFileError(
                source.origin,
                "the title's calendar year disagrees with the file name",
                row=first,
                expected=f"CY {start.year}, the year the file name says",
                found=repr(m.group(0)),
                hint="Rename the file to the quarter it holds, or download it again from CMS",
            )
        if m:
            break
    return Period(start, None, issued(source))


def read(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """Validated rows (no descriptors: AMA text) and the period the file states.

    Columns: hcpcs, status_indicator, apc ('' when none), relative_weight Decimal(12,4),
    payment_rate Decimal(14,3) (3 places: drug rates are ASP-based, ``$130.664``), national_copay and
    minimum_copay Decimal(14,2); each amount null when blank (``.`` in National Unadjusted Copayment).
    """
    records = read_records(source, EXPECTED_HEADER)
    h = header_row(source, records, _is_header, EXPECTED_HEADER)
    tests = {k: (label, lambda c, want=label: norm(c) == norm(want)) for k, label in LABELS.items()}
    idx = columns(source, records, h, tests)
    rows, lines = body(source, records, h, idx, "Addendum B")
    raw = frame(rows, list(LABELS), lines)
    check(OppsAddendumBFile, raw, source.origin, labels=LABELS)
    out = raw.select(
        "hcpcs",
        "status_indicator",
        "apc",
        weight("relative_weight"),
        money("payment_rate", 3),
        money("national_copay", 2),
        money("minimum_copay", 2),
    )
    return out, period(source, records, h)
