"""Shared reading helpers: a CMS table (CSV or XLSX) as rows of stripped strings."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from fee_schedules.files import SourceFile
from pipelines.core.errors import InputFileError

EOF_CHAR = "\x1a"  # some CMS CSVs end with a DOS end-of-file character on its own row
_EOF = EOF_CHAR


def text_of(source: SourceFile) -> str:
    """CMS files are ASCII/latin-1 (never UTF-8 with BOM in practice, but tolerate one)."""
    return source.data.decode("latin-1").lstrip("\ufeff").lstrip("ï»¿")


def table_rows(source: SourceFile) -> list[list[str]]:
    """Rows of cells (stripped strings) of a CSV or the first sheet of an XLSX."""
    if source.suffix == ".xlsx":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(source.data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a non-workbook
            raise InputFileError(source.origin, f"not a readable XLSX workbook ({exc})") from None
        ws = wb.worksheets[0]
        return [["" if v is None else _cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    if source.suffix != ".csv":
        raise InputFileError(
            source.origin,
            f"unsupported variant {source.suffix}",
            expected="the .csv (or .xlsx) file of the release",
            hint="CMS ships each table as CSV too; import the release with its CSV files",
        )
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text_of(source)))]


def _cell(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def is_blank(row: list[str]) -> bool:
    return all(c in ("", _EOF) for c in row)


def is_note(row: list[str]) -> bool:
    """A footnote or blank row: nothing after the first cell."""
    return all(c in ("", _EOF) for c in row[1:])


def norm(text: str) -> str:
    """Header text reduced to letters and digits, upper case: 'CO- SURG' -> 'COSURG'."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def find_header(rows: list[list[str]], source: SourceFile, test, what: str) -> int:
    for i, row in enumerate(rows[:60]):
        if test(row):
            return i
    raise InputFileError(
        source.origin,
        "header row not found",
        row=None,
        expected=what,
        hint="Is this the file CMS ships under this name?",
    )


def column_index(header: list[str], source: SourceFile, header_row: int, want: str, test) -> int:
    hits = [i for i, h in enumerate(header) if test(h)]
    if len(hits) != 1:
        raise InputFileError(
            source.origin,
            "header column " + ("missing" if not hits else "ambiguous"),
            row=header_row + 1,
            column=want,
            expected=f"exactly one column headed {want!r}",
            found=repr([header[i] for i in hits]) if hits else None,
            hint="Is this the file CMS ships under this name?",
        )
    return hits[0]


def data_rows(
    rows: list[list[str]], header_row: int, idx: list[int], *, skip=None
) -> tuple[list[list[str]], list[int]]:
    """The cells at ``idx`` of every row below the header, with their 1-based file row numbers;
    rows for which ``skip(row)`` is true (default: notes and blank rows) are left out."""
    skip = is_note if skip is None else skip
    records, rownums = [], []
    for n, row in enumerate(rows[header_row + 1 :], start=header_row + 2):
        if skip(row):
            continue
        records.append([row[i] if i < len(row) else "" for i in idx])
        rownums.append(n)
    return records, rownums


def frame(records: list[list[str]], names: list[str], rownums: list[int]) -> pl.DataFrame:
    """Frame of strings with a ``_row`` column (1-based file line)."""
    cols = {n: [r[i] if i < len(r) else "" for r in records] for i, n in enumerate(names)}
    cols["_row"] = rownums
    return pl.DataFrame(cols, schema={**{n: pl.String for n in names}, "_row": pl.Int64})


def dec(col: str, scale: int, precision: int = 9) -> pl.Expr:
    return pl.col(col).cast(pl.Decimal(precision, scale))


@dataclass(frozen=True)
class Period:
    """What a quarterly schedule file says about itself: the days it is in force and when CMS issued it.

    ``issued`` orders releases of one period: a re-release (a later version, an "updated" file) has a
    later ``issued`` and replaces the earlier one. None when the file does not say.
    """

    effective_from: date
    effective_through: date | None = None
    issued: date | None = None


def quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


def quarter_end(year: int, quarter: int) -> date:
    return (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)


def check_row_width(
    source: SourceFile, header: list[str], cells: list[str], row: int, *, expected: str, hint: str
) -> None:
    """A data row must have the header's cells (trailing empty cells beyond it are tolerated): a row cut
    short (a truncated download) or longer than the header is refused, naming the row and the first
    missing column."""
    if len(cells) == len(header) or (len(cells) > len(header) and is_blank(cells[len(header) :])):
        return
    short = len(cells) < len(header)
    raise InputFileError(
        source.origin,
        "row cut short" if short else "row has more cells than the header",
        row=row,
        column=header[len(cells)] if short else None,
        expected=expected,
        found=f"{len(cells)} cells",
        hint=hint,
    )
