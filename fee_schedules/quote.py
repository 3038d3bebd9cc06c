"""Price one line or a CSV of lines for analysts (`underpay price`). Thin layer over price_lines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from fee_schedules.pricing import medicare_payment, medicare_payment_expr
from fee_schedules.schedule_pricing import price_medicare
from pipelines.core.errors import InputFileError
from pipelines.core.outputs import private_open
from pipelines.core.spreadsheet import csv_bytes

TRUE = {"true", "t", "yes", "y", "1", "f", "facility"}
FALSE = {"false", "no", "n", "0", "", "nf", "non-facility", "nonfacility"}


@dataclass
class Quote:
    row: dict

    def __str__(self) -> str:
        r = self.row
        mods = "-" + "-".join(r["modifiers"]) if r["modifiers"] else ""
        if r.get("schedule") not in (None, "mpfs"):
            head = f"{r['procedure_code']}{mods}  Medicare {r['schedule'].upper().replace('_', ' ')}"
            if r["status"] != "priced":
                return f"{head}\nNot priced: {r['not_priced_reason']}"
            return f"{head}\nAllowed amount: ${r['line_amount']}\n  {r['derivation']}"
        where = (
            r["locality_code"]
            and f"{r['carrier']}-{r['locality_code'][5:]} {r['locality_name']}"
            or r["locality_name"]
            or "?"
        )
        head = (
            f"{r['procedure_code']}{mods}  MPFS {r['mpfs_year']} release {r['mpfs_release']}  {where}  {r['setting']}"
        )
        if r["status"] != "priced":
            return f"{head}\nNot priced: {r['not_priced_reason']}"
        pay = medicare_payment(r["amount"])
        lines = [
            head,
            f"Allowed amount: ${r['amount']}",
            f"  {r['formula']}",
            f"  RVUs work {r['work_rvu']} PE {r['pe_rvu']} MP {r['mp_rvu']}; GPCI work {r['work_gpci']} "
            f"PE {r['pe_gpci']} MP {r['mp_gpci']}; CF {r['conversion_factor']}",
            f"  status {r['status_code']}, PC/TC {r['pctc']}, global {r['global_days']}, mult proc {r['mult_proc']}, "
            f"bilateral {r['bilat_surg']}, assistant {r['asst_surg']}, co-surgeon {r['co_surg']}, team {r['team_surg']}",
        ]
        if r["opps_amount"] is not None:
            lines.append(f"  OPPS cap amount ${r['opps_amount']} ({'applied' if r['opps_capped'] else 'not lower'})")
        if r["policy_reason"]:
            lines.append(f"  policy: {r['policy_reason']} (x {r['policy_percent']})")
        for note in ("locality_note", "release_note"):
            if r.get(note):
                lines.append(f"  note: {r[note]}")
        lines.append(
            f"Medicare pays: ${pay['paid']} (80% = ${pay['medicare_share']}, less 2% sequestration "
            f"${pay['sequestration']}; patient coinsurance ${pay['coinsurance']}; deductible ignored)"
        )
        return "\n".join(lines)


def price_one(
    con: duckdb.DuckDBPyConnection,
    code: str,
    *,
    year: int,
    modifiers: list[str] | None = None,
    zip: str | None = None,
    locality: str | None = None,
    facility: bool = False,
    service_date: date | None = None,
    national: bool = False,
    qp: bool = False,
    apply_policy: bool = False,
    schedule: str | None = None,
    units: Decimal = Decimal(1),
) -> Quote:
    frame = pl.DataFrame(
        {
            "row_id": [1],
            "procedure_code": [code],
            "modifiers": [list(modifiers or [])],
            "service_date": [service_date],
            "year": [year],
            "zip": [zip],
            "locality": [locality],
            "facility": [facility],
            "units": [units],
        },
        schema={
            "row_id": pl.Int64,
            "procedure_code": pl.String,
            "modifiers": pl.List(pl.String),
            "service_date": pl.Date,
            "year": pl.Int32,
            "zip": pl.String,
            "locality": pl.String,
            "facility": pl.Boolean,
            "units": pl.Decimal(14, 3),
        },
    )
    out = price_medicare(
        con, frame, schedule=schedule, national=national, qp=qp, apply_policy=apply_policy, on_missing="raise"
    )
    return Quote(out.row(0, named=True))


@dataclass
class BatchResult:
    out_path: Path
    lines: int
    priced: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"Priced {self.priced} of {self.lines} lines in {self.seconds:.2f} s "
            f"({self.lines - self.priced} not priced, see the status and not_priced_reason columns) "
            f"-> {self.out_path}"
        )


def read_batch(path: Path) -> pl.DataFrame:
    """The batch CSV (code, modifier, year, zip or locality, facility; optional service_date) as price_lines input."""
    try:
        raw = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False)
    except Exception as exc:  # polars raises ComputeError/NoDataError with its own text
        raise InputFileError(path, f"not a readable CSV ({exc})") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    if "code" not in cols:
        raise InputFileError(
            path,
            "missing column",
            row=1,
            column="code",
            expected="a header with code, modifier, year, zip or locality, facility",
        )
    if "year" not in cols and "service_date" not in cols:
        raise InputFileError(path, "missing column", row=1, column="year", expected="year (or service_date)")
    if "zip" not in cols and "locality" not in cols:
        raise InputFileError(
            path, "missing column", row=1, column="zip", expected="zip or locality (5-digit carrier + 2-digit locality)"
        )
    raw = raw.rename({v: k for k, v in cols.items()})
    get = lambda c: pl.col(c).str.strip_chars() if c in raw.columns else pl.lit(None, pl.String)  # noqa: E731
    frame = raw.with_row_index("row_id", offset=2).select(
        pl.col("row_id").cast(pl.Int64),
        get("code").str.to_uppercase().alias("procedure_code"),
        get("modifier")
        .fill_null("")
        .str.to_uppercase()
        .str.replace_all(r"[;\s\-]+", ",")
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("modifiers"),
        get("year").alias("_year"),
        get("service_date").alias("_date"),
        get("zip").alias("zip"),
        get("locality").alias("locality"),
        get("facility").str.to_lowercase().fill_null("").alias("_facility"),
        get("units").alias("_units"),
        get("drug").alias("drug"),
    )
    year = frame["_year"].cast(pl.Int32, strict=False)
    bad = frame.filter(pl.col("_year").is_not_null() & (pl.col("_year") != "") & year.is_null())
    _fail_if(bad, path, "year", "a 4-digit year")
    sdate = frame["_date"].str.to_date("%Y-%m-%d", strict=False)
    bad = frame.filter(pl.col("_date").is_not_null() & (pl.col("_date") != "") & sdate.is_null())
    _fail_if(bad, path, "service_date", "a date YYYY-MM-DD")
    bad = frame.filter(~pl.col("_facility").is_in(list(TRUE | FALSE)))
    _fail_if(bad, path, "facility", "true or false")
    units = frame["_units"].str.strip_chars().replace("", None).cast(pl.Decimal(14, 3), strict=False)
    bad = frame.filter(
        (pl.col("_units").is_not_null() & (pl.col("_units").str.strip_chars() != "") & units.is_null())
        | (units.fill_null(1) <= 0)
        | (units.fill_null(1) > 99999)
    )
    _fail_if(bad, path, "units", "a number of units above 0 (at most 99999; blank: 1)")
    return frame.with_columns(
        year=year, service_date=sdate, facility=pl.col("_facility").is_in(list(TRUE)), units=units.fill_null(1)
    ).drop("_year", "_date", "_facility", "_units")


def _fail_if(bad: pl.DataFrame, path: Path, column: str, expected: str) -> None:
    if bad.height:
        row = bad.row(0, named=True)
        raise InputFileError(
            path,
            "bad value",
            row=row["row_id"],
            column=column,
            expected=expected,
            found=repr(row.get("_" + column, row.get(column))),
        )


def price_csv(
    con: duckdb.DuckDBPyConnection,
    in_path: Path,
    out_path: Path,
    *,
    national: bool = False,
    qp: bool = False,
    apply_policy: bool = False,
    schedule: str | None = None,
) -> BatchResult:
    """Price every row of ``in_path`` with the Medicare schedule that prices its code (or ``schedule``);
    write the input columns + schedule, amount (all the line's units), unit_rate, status and derivation."""
    t0 = time.perf_counter()
    original = pl.read_csv(in_path, infer_schema=False)
    lines = read_batch(in_path)
    priced = price_medicare(
        con, lines, schedule=schedule, national=national, qp=qp, apply_policy=apply_policy, on_missing="mark"
    )
    derived = (
        priced.drop("row_id", "procedure_code", "modifiers", "year", "service_date", "zip", "locality", "facility")
        .drop("units", strict=False)
        .with_columns(pl.col("line_amount").alias("amount"))
        .drop("line_amount")
        .with_columns(medicare_paid=medicare_payment_expr(pl.col("amount")))
    )
    first = ["schedule", "amount", "unit_rate", "status", "not_priced_reason", "derivation"]
    derived = derived.select(first + [c for c in derived.columns if c not in first])
    clash = [c for c in derived.columns if c in original.columns]
    result = pl.concat([original.drop(clash), derived], how="horizontal")
    with private_open(out_path, "wb") as fh:
        fh.write(csv_bytes(result))  # the input's own text columns may start like a formula
    return BatchResult(
        Path(out_path), result.height, int((priced["status"] == "priced").sum()), time.perf_counter() - t0
    )
