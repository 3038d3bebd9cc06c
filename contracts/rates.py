"""Payer fee-schedule spreadsheets (rates_csv): CSV or XLSX with code, modifier, rate.

Header names are matched case-insensitively (code|cpt|hcpcs|procedure_code,
modifier|mod, rate|amount|fee|allowed, optional setting: facility|non-facility).
Problems come back as (row, message, expected) with the 1-based sheet row (header = 1).
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from contracts.codes import CODE_RE, parse_modifier
from pipelines.core.money import to_cent

ALIASES = {
    "code": ("code", "cpt", "hcpcs", "procedure_code", "cpt/hcpcs"),
    "modifier": ("modifier", "mod", "modifiers"),
    "rate": ("rate", "amount", "fee", "allowed", "allowable"),
    "setting": ("setting", "place", "site"),
}


def _rows(path: Path) -> list[list]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [row for row in csv.reader(fh)]


def read_rates(path: Path):
    """(tuple[RateRow], problems) for one sheet."""
    from contracts.model import SETTINGS, RateRow

    path = Path(path)
    problems: list[tuple[int | None, str, str]] = []
    if not path.exists():
        return (), [(None, f"rates_csv file {path} not found", "a CSV or XLSX beside the contract")]
    try:
        rows = _rows(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable sheet is reported with its name
        return (), [(None, f"cannot read rates file {path.name} ({exc})", "a CSV or XLSX file")]
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
            problems.append((1, f"no {needed!r} column in header {header}", "columns code, modifier, rate"))
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
            problems.append((n, f"code {code!r} is not a 5-character CPT/HCPCS code", "e.g. 99213 or G0121"))
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
            problems.append((n, f"rate {raw!r} is not an amount", "a non-negative amount such as 118.00"))
            continue
        setting = None
        if "setting" in where and cells[where["setting"]] not in (None, ""):
            setting = str(cells[where["setting"]]).strip().lower()
            if setting not in SETTINGS:
                problems.append((n, f"setting {setting!r}", "facility, non-facility or blank"))
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
