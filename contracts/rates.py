"""Payer fee-schedule spreadsheets (rates_csv): CSV or XLSX with code, modifier, rate.

Header names are matched case-insensitively (code|cpt|hcpcs|procedure_code,
modifier|mod, rate|amount|fee|allowed, optional setting: facility|non-facility).
Problems come back as (row, message, expected) with the 1-based sheet row (header = 1).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from pathlib import Path

from contracts.codes import CODE_RE, parse_modifier
from contracts.files import FileRefused, brief, decode_utf8, read_limited
from pipelines.core.money import to_cent

MAX_ROWS = 200_000  # rows read from a sheet (an XLSX is compressed: its size alone does not bound them)
MAX_COLUMNS = 64  # columns read from an XLSX row

ALIASES = {
    "code": ("code", "cpt", "hcpcs", "procedure_code", "cpt/hcpcs"),
    "modifier": ("modifier", "mod", "modifiers"),
    "rate": ("rate", "amount", "fee", "allowed", "allowable"),
    "setting": ("setting", "place", "site"),
}


class SheetError(Exception):
    """A sheet's bytes are not a table: (row or None, message, expected) as read_rates reports."""

    def __init__(self, row: int | None, message: str, expected: str):
        self.problem = (row, message, expected)
        super().__init__(message)


def _rows(name: Path, data: bytes) -> list[list]:
    """The sheet's rows (at most MAX_ROWS + 1) from its bytes, already read within limits."""
    if name.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = []
            for row in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
                rows.append(list(row))
                if len(rows) > MAX_ROWS + 1:
                    break
            return rows
        finally:
            book.close()
    try:
        text = decode_utf8(data)
    except FileRefused as exc:
        raise SheetError(exc.line, exc.message, exc.expected) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise SheetError(reader.line_num + 1, f"not a CSV row ({str(exc)[:80]})", "comma-separated text") from None
    return rows


def read_rates(path: Path, *, open_path: Path | None = None):
    """(tuple[RateRow], problems) for one sheet.

    ``path`` is the sheet as the contract names it (shown in messages); ``open_path``, when
    given, is its resolved location, opened without following links.
    """
    from contracts.model import SETTINGS, RateRow

    path = Path(path)
    problems: list[tuple[int | None, str, str]] = []
    if not path.exists() and not path.is_symlink():
        return (), [(None, f"rates_csv file {brief(str(path), 120)} not found", "a CSV or XLSX beside the contract")]
    try:
        data = read_limited(open_path or path, follow_links=open_path is None, what=f"rates_csv file {path.name}")
    except FileRefused as exc:
        return (), [(None, exc.message, exc.expected)]
    try:
        rows = _rows(path, data)
    except SheetError as exc:
        return (), [exc.problem]
    except Exception as exc:  # noqa: BLE001 - any unreadable sheet is reported with its name
        text = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        return (), [(None, f"cannot read rates file {path.name} ({text})", "a CSV or XLSX file")]
    if len(rows) > MAX_ROWS + 1:
        return (), [(None, f"rates_csv file {path.name} has more than {MAX_ROWS} rows", "a smaller sheet")]
    if not rows:
        return (), [(1, "the sheet is empty", "a header row: code, modifier, rate")]
    header = [str(c or "").strip().lower() for c in rows[0]]
    where: dict[str, int] = {}
    for field, names in ALIASES.items():
        for i, h in enumerate(header):
            if h in names:
                where[field] = i
                break
    for needed in ("code", "rate"):
        if needed not in where:
            problems.append((1, f"no {needed!r} column in header {brief(header, 120)}", "columns code, modifier, rate"))
    if problems:
        return (), problems
    out, seen = [], {}
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(header) - len(row))
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        code = cells[where["code"]]
        code = f"{code:05d}" if isinstance(code, int) else str(code or "").strip().upper()
        if not CODE_RE.match(code):
            problems.append((n, f"code {brief(code)} is not a 5-character CPT/HCPCS code", "e.g. 99213 or G0121"))
            continue
        mod = ""
        if "modifier" in where and cells[where["modifier"]] not in (None, ""):
            try:
                mod = parse_modifier(cells[where["modifier"]])
            except ValueError as exc:
                problems.append((n, str(exc), "blank, or two characters such as 26"))
                continue
        raw = cells[where["rate"]]
        try:
            rate = Decimal(str(raw).strip().lstrip("$").replace(",", ""))
            if not rate.is_finite() or rate < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append((n, f"rate {brief(raw)} is not an amount", "a non-negative amount such as 118.00"))
            continue
        setting = None
        if "setting" in where and cells[where["setting"]] not in (None, ""):
            setting = str(cells[where["setting"]]).strip().lower()
            if setting not in SETTINGS:
                problems.append((n, f"setting {brief(setting)}", "facility, non-facility or blank"))
                continue
        key = (code, mod, setting)
        if key in seen:
            problems.append(
                (
                    n,
                    f"{code}{'-' + mod if mod else ''} appears again (first on row {seen[key]})",
                    "one row per code, modifier and setting",
                )
            )
            continue
        seen[key] = n
        out.append(RateRow(code=code, modifier=mod, rate=to_cent(rate), setting=setting, row=n))
    return tuple(out), problems
