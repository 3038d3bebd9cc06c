"""Clinical Laboratory Fee Schedule (CLFS public use file, CMS), as shipped.

CMS ships each quarterly release (``25CLABQ1.zip`` …) as ``CLFS 2025 Q1V1.csv`` (from 2026
``PUF_CLFS_CY2026_Q2V1.csv``), a tilde-delimited ``.txt`` of the same records, an ``.xls`` and
a PDF read-me with the record layout. Q#V# is the quarter and CMS's version of that quarter's
file (a re-release of a quarter has a higher V).

- ``.csv``: a preamble (title, AMA copyright notice, a note on the COVID-19 PHE codes, a blank
  row), then the header ``YEAR,HCPCS,MOD,EFF_DATE,INDICATOR,RATE,SHORTDESC,LONGDESC,EXTENDED
  LONGDESC`` (2026: ``EXTENDEDLONGDESC``) on line 5, then one record per line. CRLF in 2025.
- ``.txt``: 2025 has no header, only two ``HDR~<copyright>`` lines and then fixed-width records
  ``2025~0001U~  ~20250101~N~00720.00~<short description>`` (PDF Attachment A-2: YEAR, HCPCS,
  MOD, EFF_DATE, INDICATOR, RATE as 99999.99, SHORTDESC). 2026 has the .csv's preamble and a
  ``YEAR~HCPCS~MOD~EFF_DATE~INDICATOR~RATE~SHORTDESC`` header.

RATE is zero-padded (``00720.00``) but not always: the 2025 files also hold ``51.31``, ``9.9``
and ``0``. INDICATOR is N (national limitation amount) or L (locally priced by the MAC; RATE
is 0 on every L row of the files seen). MOD is empty or QW (CLIA-waived test; a QW row repeats
its code's rate). EFF_DATE is YYYYMMDD: Jan 1 of YEAR, or the quarter a code was added in.
(HCPCS, MOD) is unique.

The descriptors are AMA copyright: they are read only to count cells and never kept.
"""

from __future__ import annotations

import csv
import io
import re
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
    quarter_end,
    quarter_start,
    text_of,
)
from fee_schedules.schemas import FileModel, check
from pipelines.core.errors import InputFileError
from pipelines.core.money import MONEY

KIND = "clfs"
# CLFS 2025 Q1V1.csv, PUF_CLFS_CY2026_Q2V1.txt; also a renamed CLFS.csv / clfs_2025.csv (not the zips).
NAME_PATTERN = re.compile(r"^(?:PUF[ _-]*)?CLFS(?:[ _-][^/\\]*)?\.(csv|txt)$", re.I)
# the period in a CMS name: "2025 Q1V1", "CY2026_Q2V1"
_NAME_PERIOD = re.compile(r"(?<![0-9])(?:CY[ _-]*)?(20\d{2})[ _-]*Q([1-4])(?:[ _-]*V(\d+))?(?![0-9])", re.I)
_NAME_YEAR = re.compile(r"(?<![0-9])(?:CY[ _-]*)?(20\d{2})(?![0-9])", re.I)

HEADER = ("YEAR", "HCPCS", "MOD", "EFF_DATE", "INDICATOR", "RATE", "SHORTDESC", "LONGDESC", "EXTENDED LONGDESC")
TXT_LAYOUT = HEADER[:7]  # the 2025 .txt: no header row, the fields of PDF Attachment A-2 in order
LABELS = {
    "year": "YEAR",
    "hcpcs": "HCPCS",
    "modifier": "MOD",
    "eff_date": "EFF_DATE",
    "indicator": "INDICATOR",
    "rate": "RATE",
}
INDICATORS = {"N": "national limitation amount", "L": "local pricing (the MAC sets the rate)"}
_EXPECTED_HEADER = (
    f"a header row {','.join(HEADER)} after CMS's preamble (CMS's Clinical Laboratory Fee Schedule, "
    "CLFS <year> Q#V#.csv)"
)
_CUT = "The file looks cut short or damaged; re-download the release from CMS"


class ClfsFile(FileModel):
    """CLFS public use file: one row per (HCPCS, MOD), one YEAR per file"""

    year: str = pa.Field(str_matches=r"^20\d{2}$")
    hcpcs: str = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: str = pa.Field(str_matches=r"^([0-9A-Z]{2})?$")
    eff_date: str = pa.Field(str_matches=r"^20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
    indicator: str = pa.Field(isin=list(INDICATORS))
    rate: str = pa.Field(str_matches=r"^\d{1,12}(\.\d{1,2})?$")  # 00720.00, 51.31, 9.9, 0; never "00720."

    @pa.check("eff_date", name="a calendar date YYYYMMDD")
    @classmethod
    def real_date(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.strptime(pl.Date, "%Y%m%d", strict=False).is_not_null())

    @pa.dataframe_check
    @classmethod
    def one_row_per_code_modifier(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("hcpcs", "modifier").is_duplicated())

    @pa.dataframe_check
    @classmethod
    def one_year_per_file(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("year") == pl.col("year").first())


def _csv_rows(source: SourceFile, text: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, stripped cells) of every CSV record; a broken quote is refused."""
    reader = csv.reader(io.StringIO(text), strict=True)
    out: list[tuple[int, int, list[str]]] = []
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            raise InputFileError(
                source.origin,
                f"unreadable CSV record ({exc})",
                row=start,
                expected="every quoted cell closed by a quote before the next comma or the end of its line",
                hint=_CUT,
            ) from None
        out.append((start, reader.line_num, [c.strip() for c in row]))
        start = reader.line_num + 1


def _txt_rows(text: str) -> list[tuple[int, int, list[str]]]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line break
    return [(n, n, [c.strip() for c in line.rstrip("\r").split("~")]) for n, line in enumerate(lines, start=1)]


def _headed(label: str):
    """Matches a header cell naming ``label`` (EXTENDED LONGDESC = EXTENDEDLONGDESC)."""
    want = norm(label)
    return lambda cell: norm(cell) == want


def _is_header(cells: list[str]) -> bool:
    names = {norm(c) for c in cells}
    return "YEAR" in names and "HCPCS" in names


def _read(source: SourceFile) -> pl.DataFrame:
    """The data cells as strings (one column per LABELS key) plus ``_row``, the 1-based file line."""
    if source.suffix not in (".csv", ".txt"):
        raise InputFileError(
            source.origin,
            f"unsupported variant {source.suffix}",
            expected="the .csv (or the tilde-delimited .txt) file of the CLFS release",
            hint="CMS ships each CLFS release as CSV too; load CLFS <year> Q#V#.csv",
        )
    text = text_of(source)
    if not text.strip(" \t\r\n" + EOF_CHAR):
        raise InputFileError(source.origin, "empty file", expected=_EXPECTED_HEADER, hint=_CUT)
    rows = _csv_rows(source, text) if source.suffix == ".csv" else _txt_rows(text)
    cells = [r[2] for r in rows]
    h = next((i for i, c in enumerate(cells[:60]) if _is_header(c)), None)
    if h is not None:
        header = cells[h]
        head_line = rows[h][0]
    elif source.suffix == ".txt" and any(c and c[0].upper() == "HDR" for c in cells[:10]):
        # 2025 .txt: HDR~ lines, then the fixed layout of the PDF (no header row)
        h = max(i for i, c in enumerate(cells[:10]) if c and c[0].upper() == "HDR")
        header, head_line = list(TXT_LAYOUT), 0
    else:
        h = find_header(cells, source, _is_header, _EXPECTED_HEADER)  # raises: not found
        header, head_line = cells[h], rows[h][0]
    idx = [column_index(header, source, head_line - 1, label, _headed(label)) for label in LABELS.values()]
    records, rownums = [], []
    for first, last, row in rows[h + 1 :]:
        if is_blank(row):
            continue
        if last != first:
            wrapped = next((i for i, c in enumerate(row) if "\n" in c or "\r" in c), None)
            raise InputFileError(
                source.origin,
                f"a quoted cell runs on from line {first} to line {last}",
                row=first,
                column=header[wrapped] if wrapped is not None and wrapped < len(header) else None,
                expected="one record per line, each quoted cell closed on its own line",
                hint=_CUT,
            )
        check_row_width(source, header, row, first, expected=f"{len(header)} cells ({', '.join(header)})", hint=_CUT)
        records.append([row[i] for i in idx])
        rownums.append(first)
    if not records:
        raise InputFileError(
            source.origin,
            "no CLFS records below the header",
            row=head_line or None,
            expected="one row per HCPCS code and modifier",
            hint=_CUT,
        )
    return frame(records, list(LABELS), rownums)


def load(source: SourceFile) -> pl.DataFrame:
    """Validated rows: hcpcs, modifier ('' when none), eff_date (Date), indicator (N/L),
    rate (Decimal(14,2)), year (Int32, the YEAR column). No descriptors (AMA text)."""
    raw = _read(source)
    check(ClfsFile, raw, source.origin, labels=LABELS)
    named = _name_year(source)
    if named is not None:
        other = raw.filter(pl.col("year") != str(named))
        if other.height:
            raise _year_mismatch(source, named, other["year"][0], row=int(other["_row"][0]))
    return raw.select(
        "hcpcs",
        "modifier",
        pl.col("eff_date").str.strptime(pl.Date, "%Y%m%d").alias("eff_date"),
        "indicator",
        pl.col("rate").cast(MONEY),
        pl.col("year").cast(pl.Int32),
    )


def version(source: SourceFile) -> int:
    """CMS's version of the quarter's file, from its name (Q1V1 -> 1, Q1V2 -> 2); 0 when the name
    does not say. A higher version of one quarter is a re-release that replaces the lower one."""
    m = _NAME_PERIOD.search(_stem(source))
    return int(m.group(3)) if m and m.group(3) else 0


def period(source: SourceFile, frame: pl.DataFrame) -> Period:
    """The quarter the file is in force: the one its name says (``CLFS 2025 Q1V1`` -> Jan 1 to Mar 31
    2025), else (a renamed file) the YEAR column's year and the quarter of the latest EFF_DATE.
    ``issued`` is None: CMS's names carry no date; order re-releases with ``version()``.

    The fallback cannot tell a quarter that added no codes from the one before it (a Q3 file whose
    latest EFF_DATE is Apr 1 reads as Q2): keep CMS's file names.
    """
    years = frame["year"].unique().to_list() if frame.height else []
    named = _name_year(source)
    if named is not None and any(y != named for y in years):
        raise _year_mismatch(source, named, str(next(y for y in years if y != named)))
    m = _NAME_PERIOD.search(_stem(source))
    if m:
        year, quarter = int(m.group(1)), int(m.group(2))
    else:
        latest = frame["eff_date"].max() if frame.height else None
        if len(years) != 1 or not isinstance(latest, date) or latest.year != years[0]:
            raise InputFileError(
                source.origin,
                "cannot tell which quarter the file is for",
                expected="the year and quarter in the file name, as CMS names it (CLFS 2025 Q1V1.csv)",
                found=f"YEAR {years} and latest EFF_DATE " + str(latest),
                hint="Rename the file as CMS ships it: CLFS <year> Q<quarter>V<version>.csv",
            )
        year, quarter = years[0], (latest.month - 1) // 3 + 1
    return Period(quarter_start(year, quarter), quarter_end(year, quarter), None)


def _stem(source: SourceFile) -> str:
    return source.name.rsplit(".", 1)[0]


def _name_year(source: SourceFile) -> int | None:
    m = _NAME_PERIOD.search(_stem(source)) or _NAME_YEAR.search(_stem(source))
    return int(m.group(1)) if m else None


def _year_mismatch(source: SourceFile, named: int, found: str, row: int | None = None) -> InputFileError:
    return InputFileError(
        source.origin,
        "the YEAR column disagrees with the year in the file name",
        row=row,
        column="YEAR",
        expected=f"{named}, the year the file name says",
        found=repr(found),
        hint="Rename the file to the release it holds (CLFS <YEAR> Q#V#.csv) or re-download it",
    )
