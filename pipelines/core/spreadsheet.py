"""Spreadsheet exports that never run a formula: the one rule for every CSV and XLSX we write.

Text in an 835 is whatever a payer (or anyone upstream of it) typed: a patient control number of
``=HYPERLINK(...)`` or a payer name of ``@SUM(...)`` becomes a live formula when a spreadsheet
opens the export (CSV injection, OWASP). The rule, applied to every text cell of every export:
a text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote
in front (``'=2+5``), so a spreadsheet shows it as text. Numbers are never touched: a money or
count column keeps its type, and a negative amount stays a number. XLSX workbooks are also opened
with ``strings_to_formulas`` and ``strings_to_urls`` off (:data:`XLSX_OPTIONS`), so xlsxwriter
writes every string as a string.

The comparison's own export (``export_variances``), the reports' exports (``reports.exports``) and
the fee-schedule quote CSV all call :func:`formula_safe` / :func:`csv_bytes` and :func:`xlsx_workbook`
from here. Parquet is not a spreadsheet format and keeps the stored text as is.
"""

from __future__ import annotations

import io

import polars as pl

# The first characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
_DANGEROUS_RE = r"^[=+\-@\t\r]"
QUOTE = "'"

# xlsxwriter options of every workbook we write: strings stay strings, never formulas or links.
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def safe_text(text: str | None) -> str | None:
    """One text cell as it is exported: quoted in front when it starts like a formula."""
    if text is not None and text.startswith(DANGEROUS_START):
        return QUOTE + text
    return text


def _safe_expr(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.contains(_DANGEROUS_RE)).then(pl.lit(QUOTE) + expr).otherwise(expr)


def formula_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell (String columns and lists of strings) made safe by
    :func:`safe_text`'s rule, set-based; every other column, numbers included, unchanged."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            exprs.append(_safe_expr(pl.col(name)).alias(name))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            exprs.append(pl.col(name).list.eval(_safe_expr(pl.element())).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """``frame`` as CSV (header row, UTF-8), text cells made safe."""
    buf = io.BytesIO()
    formula_safe(frame).write_csv(buf)
    return buf.getvalue()


def xlsx_workbook(buf: io.BytesIO, **options):
    """An in-memory xlsxwriter workbook that writes strings as strings (:data:`XLSX_OPTIONS`).
    Frames written into it must go through :func:`formula_safe` first."""
    import xlsxwriter  # local import: only an XLSX export needs it

    return xlsxwriter.Workbook(buf, {"in_memory": True, **options, **XLSX_OPTIONS})
