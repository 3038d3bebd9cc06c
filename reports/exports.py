"""CSV and XLSX exports of the report tables (the worklist in full, the per-code tables).

Frames come straight from the report queries (polars, Decimal money). Files are written
mode 0600 (they may hold patient data); PHI is masked unless show_phi, exactly as in the HTML.
Every text cell goes through pipelines.compare.spreadsheet's one rule (a text starting like a
formula gets a leading single quote; numbers untouched), and workbooks never turn strings into
formulas or links: 835 text cannot run in a spreadsheet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.months import Month
from pipelines.core.spreadsheet import csv_bytes, formula_safe, xlsx_workbook
from reports import queries
from reports.render import ensure_dir, safe_name, write_bytes

FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit less the header row


@dataclass
class ExportResult:
    paths: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows exported


def write_csv(df: pl.DataFrame, path: Path) -> Path:
    return write_bytes(path, csv_bytes(df))


def write_xlsx(sheets: dict[str, pl.DataFrame], path: Path) -> Path:
    """One worksheet per frame (name -> frame), header row frozen, money as 0.00."""
    buf = io.BytesIO()
    with xlsx_workbook(buf, default_date_format="yyyy-mm-dd") as wb:
        for name, df in sheets.items():
            if df.height > XLSX_MAX_ROWS:
                df = df.head(XLSX_MAX_ROWS)  # the CSV beside it has every row
            df = formula_safe(df)
            money_fmt = {c: "#,##0.00" for c, t in df.schema.items() if isinstance(t, pl.Decimal)}
            df.write_excel(
                workbook=wb,
                worksheet=name[:31],
                column_formats=money_fmt or None,
                autofit=df.height <= 5000,
                freeze_panes=(1, 0),
                table_style="Table Style Light 1",
            )
    return write_bytes(path, buf.getvalue())


def write_tables(
    tables: dict[str, pl.DataFrame], out_dir: Path, stem: str, formats: tuple[str, ...] = FORMATS
) -> ExportResult:
    """Each table as <name>-<stem>.csv, and all of them as sheets of <stem>.xlsx."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown export format(s) {sorted(unknown)}; known: {', '.join(FORMATS)}")
    out = ensure_dir(Path(out_dir))
    result = ExportResult(rows={k: v.height for k, v in tables.items()})
    if "csv" in formats:
        for name, df in tables.items():
            result.paths.append(write_csv(df, out / f"{name}-{stem}.csv"))
    if "xlsx" in formats:
        result.paths.append(write_xlsx(tables, out / f"{stem}.xlsx"))
    return result


def monthly_tables(
    con: duckdb.DuckDBPyConnection, month: Month, *, payer: str | None = None, show_phi: bool = False
) -> dict[str, pl.DataFrame]:
    """The monthly review's exportable tables: worklist (every claim), codes, code_payer."""
    p = dict(month=month.start, prev=None, payer=payer, show_phi=show_phi, limit=None)
    worklist = queries.frame(con, "worklist", **p).drop("total_claims", "claim_id")
    codes = queries.frame(con, "top_codes", **p)
    code_payer = queries.frame(con, "code_payer", **p)
    return {"worklist": worklist, "codes": codes, "code_payer": code_payer}


def export_monthly(
    con: duckdb.DuckDBPyConnection,
    month: Month,
    *,
    payer: str | None = None,
    out_dir,
    show_phi: bool = False,
    formats: tuple[str, ...] = FORMATS,
) -> ExportResult:
    """worklist-<month>.csv, codes-<month>.csv, code_payer-<month>.csv and monthly-<month>.xlsx."""
    stem = month.label + (f"-{safe_name(payer)}" if payer else "")
    tables = monthly_tables(con, month, payer=payer, show_phi=show_phi)
    result = write_tables(tables, out_dir, stem, formats)
    if "xlsx" in formats:  # name the workbook after the report it belongs to
        book = result.paths[-1]
        target = book.with_name(f"monthly-{stem}.xlsx")
        book.replace(target)
        result.paths[-1] = target
    return result
