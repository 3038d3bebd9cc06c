"""`underpay price --claims IN.csv --out OUT.csv`: whole claims from a CSV, priced by the claim pricer.

Reads the claims CSV (docs/fee-schedules.md, "Pricing whole claims"), checks every row and column,
builds the input frame of :func:`fee_schedules.claims.price_claims`, and writes the input back,
every column exactly as given, followed by ``allowed``, ``status``, ``reason`` and ``derivation``.

The file is tokenized by Python's ``csv`` module (exact field counts and row numbers, quoted line
breaks, CRLF, a UTF-8 byte order mark); every check and conversion after that is a polars
expression over whole columns. A problem is one :class:`InputFileError` naming the row as a
spreadsheet shows it (the header is row 1), the column, what was expected and what to do; values
are quoted briefly (``pipelines.core.errors.brief``), never at length.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from fee_schedules.claims import price_claims
from fee_schedules.providers import PROVIDER_TYPES
from pipelines.core.errors import ConfigError, InputFileError, brief
from pipelines.core.money import MONEY, ZERO
from pipelines.core.outputs import private_open
from pipelines.core.spreadsheet import csv_bytes

# The columns a claims CSV may have (header names compared case-insensitively, spaces trimmed).
COLUMNS = (
    "claim_id",
    "line",
    "code",
    "modifiers",
    "units",
    "minutes",
    "charge",
    "zip",
    "locality",
    "facility",
    "provider",
    "year",
    "date",
)
REQUIRED = ("claim_id", "line", "code")
OUTPUT_COLUMNS = ("allowed", "status", "reason", "derivation")
FACILITY_TRUE = ("true", "yes", "1")
FACILITY_FALSE = ("false", "no", "0", "")
QTY_IN = pl.Decimal(14, 3)
MAX_FIELD_CHARS = 10_000  # one cell; a claims CSV cell is at most a few dozen characters

_MODIFIERS_RE = r"^([A-Za-z0-9]{2}(\s+[A-Za-z0-9]{2})*)?$"
_HINT = "fix the value (or remove the row) and run again"


@dataclass
class ClaimsResult:
    out_path: Path
    lines: int
    priced: int
    claims: int
    total_allowed: Decimal
    seconds: float

    @property
    def not_priced(self) -> int:
        return self.lines - self.priced

    def __str__(self) -> str:
        return (
            f"{self.lines} lines in {self.claims} claims: {self.priced} priced, {self.not_priced} not priced "
            f"(see the reason column); total allowed ${self.total_allowed:,.2f} -> {self.out_path} "
            f"({self.seconds:.2f} s)"
        )


# --------------------------------------------------------------------------------------------- reading


def _read_text(path: Path) -> str:
    """The file as text: a regular file (a FIFO or device is refused, never waited on), UTF-8 with or
    without a byte order mark."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(
            path, f"cannot be read ({exc.strerror})", hint="check the path and its permissions"
        ) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputFileError(path, "is not a regular file", expected="a CSV file of claim lines")
        try:
            data = fh.read()
        except OSError as exc:
            raise InputFileError(path, f"cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            path,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})",
            expected="a UTF-8 CSV file",
            hint="save it as CSV UTF-8 and run again",
        ) from None


def _tokenize(path: Path, text: str) -> tuple[list[str], pl.DataFrame]:
    """The header, and a frame of every non-blank row: ``_row`` (its CSV row number, header = row 1;
    a blank row is skipped but keeps its number, as in a spreadsheet) and ``_f0``.. its fields.

    A file without double quotes (and no bare CR) is split set-based: each line is a row, each comma
    a field boundary, exactly what CSV says for such a file. A file with quotes goes through
    Python's csv module (quoted commas and line breaks)."""
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        return _split_plain(path, text)
    return _split_quoted(path, text)


def _no_header(path: Path) -> InputFileError:
    return InputFileError(
        path, "no header row", row=1, expected=f"a header naming the columns, e.g. {','.join(COLUMNS)}"
    )


def _wrong_width(path: Path, row: int, fields: int, width: int) -> InputFileError:
    return InputFileError(
        path,
        f"this row has {fields} fields but the header has {width}",
        row=row,
        expected="one field per header column on every row",
        hint="check for missing or extra commas (a cell holding a comma goes inside double quotes)",
    )


def _too_long(path: Path, row: int) -> InputFileError:
    return InputFileError(
        path,
        f"not valid CSV (a cell longer than {MAX_FIELD_CHARS} characters)",
        row=row,
        expected="comma-separated values, text with commas or quotes inside double quotes",
    )


def _split_plain(path: Path, text: str) -> tuple[list[str], pl.DataFrame]:
    lines = pl.DataFrame({"_line": text.split("\n")}).with_row_index("_row", offset=1)
    lines = lines.with_columns(pl.col("_row").cast(pl.Int64), pl.col("_line").str.strip_suffix("\r"))
    header = lines["_line"][0].split(",")
    if not any(f.strip() for f in header):
        raise _no_header(path)
    width = len(header)
    body = (
        lines.slice(1)
        .filter(pl.col("_line").str.replace_all(",", "", literal=True).str.strip_chars() != "")
        .select("_row", pl.col("_line").str.split(",").alias("_fields"), pl.col("_line").str.len_chars().alias("_n"))
    )
    bad = body.filter(
        (pl.col("_fields").list.len() != width) | (pl.col("_n") > MAX_FIELD_CHARS)  # a long line: look closer
    ).filter(
        (pl.col("_fields").list.len() != width)
        | (pl.col("_fields").list.eval(pl.element().str.len_chars()).list.max() > MAX_FIELD_CHARS)
    )
    if bad.height:
        row, fields, _ = bad.row(0)
        if len(fields) != width:
            raise _wrong_width(path, row, len(fields), width)
        raise _too_long(path, row)
    return header, body.select("_row", *(pl.col("_fields").list.get(i).alias(f"_f{i}") for i in range(width)))


def _split_quoted(path: Path, text: str) -> tuple[list[str], pl.DataFrame]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    old_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    rows: list[list[str]] = []
    number = 0
    try:
        for number, fields in enumerate(reader, start=1):  # noqa: B007 - number is read after the loop
            rows.append(fields)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _too_long(path, number + 1) from None
        raise InputFileError(
            path,
            f"not valid CSV ({exc})",
            row=number + 1,
            expected="comma-separated values, text with commas or quotes inside double quotes",
        ) from None
    finally:
        csv.field_size_limit(old_limit)
    if not rows or not any(f.strip() for f in rows[0]):
        raise _no_header(path)
    header = rows[0]
    width = len(header)
    numbers: list[int] = []
    body: list[list[str]] = []
    for number, fields in enumerate(rows[1:], start=2):
        if not fields or not any(f.strip() for f in fields):
            continue  # a blank row (an exported sheet often ends with some)
        if len(fields) != width:
            raise _wrong_width(path, number, len(fields), width)
        numbers.append(number)
        body.append(fields)
    given = list(zip(*body, strict=True)) if body else [() for _ in header]
    return header, pl.DataFrame(
        [pl.Series("_row", numbers, dtype=pl.Int64)]
        + [pl.Series(f"_f{i}", list(values), dtype=pl.String) for i, values in enumerate(given)]
    )


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    """Canonical column name -> position in the file; errors for unknown, duplicate, missing columns."""
    accepted = ", ".join(COLUMNS)
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.strip().lower()
        if key not in COLUMNS:
            shown = brief(name) if key else f"(column {i + 1} has no name)"
            raise InputFileError(
                path,
                f"unknown column {shown}",
                row=1,
                expected=f"only these columns: {accepted}",
                hint="rename or remove that column",
            )
        if key in seen:
            raise InputFileError(
                path,
                f"column {key!r} appears twice (columns {seen[key] + 1} and {i + 1})",
                row=1,
                column=key,
                expected="each column once",
                hint="remove one of them",
            )
        seen[key] = i
    for key in REQUIRED:
        if key not in seen:
            raise InputFileError(
                path,
                "missing column",
                row=1,
                column=key,
                expected=f"a header with {', '.join(REQUIRED)}, zip or locality, year or date",
                hint=f"add a {key} column",
            )
    if "year" not in seen and "date" not in seen:
        raise InputFileError(
            path, "missing column", row=1, column="year", expected="a year or a date column", hint="add one of them"
        )
    return seen


def read_claims(path: Path, *, national: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(original, lines)``: the file's rows exactly as given (its own header names, text cells),
    and the input frame of ``price_claims`` (row_id = the row's CSV row number, in file order).

    Raises :class:`InputFileError` for the first problem in file order. ``national`` (all
    GPCIs 1.000) makes zip/locality optional.
    """
    path = Path(path)
    header, rows = _tokenize(path, _read_text(path))
    where = _columns(path, header)
    if "zip" not in where and "locality" not in where and not national:
        raise InputFileError(
            path,
            "missing column",
            row=1,
            column="zip",
            expected="a zip or a locality column (or --national)",
            hint="add the place of service's ZIP code (or its carrier + locality)",
        )
    original = rows.select(pl.col(f"_f{i}").alias(name) for i, name in enumerate(header))
    raw = rows.select("_row", *(pl.col(f"_f{i}").alias(key) for key, i in where.items()))
    for key in COLUMNS:
        if key not in raw.columns:
            raw = raw.with_columns(pl.lit("", pl.String).alias(key))
    raw = raw.with_columns(pl.col(c).str.strip_chars() for c in COLUMNS)
    _check(path, raw, national=national)
    return original, _lines(raw)


# --------------------------------------------------------------------------------------------- checks


def _decimal_re(scale: int) -> str:
    return rf"^[0-9]{{1,{14 - scale - 3}}}(\.[0-9]{{1,{scale}}})?$"  # leaves room in DECIMAL(14, scale)


def _checks(national: bool) -> list[tuple[str, pl.Expr, str, str]]:
    """(column, true where the row is wrong, message, expected) in the order a row is read."""
    c = pl.col
    date = c("date").str.to_date("%Y-%m-%d", strict=False)
    types = ", ".join(PROVIDER_TYPES)
    checks = [
        ("claim_id", c("claim_id") == "", "missing value", "the claim's id (lines of one claim share it)"),
        (
            "line",
            ~c("line").str.contains(r"^[0-9]{1,9}$") | (c("line").cast(pl.Int64, strict=False) < 1),
            "not a line number",
            "the line's number within its claim, a whole number from 1",
        ),
        (
            "code",
            ~c("code").str.contains(r"^[A-Za-z0-9]{5}$"),
            "not a procedure code",
            "a 5-character CPT/HCPCS code, e.g. 99213 or G0121",
        ),
        (
            "modifiers",
            ~c("modifiers").str.contains(_MODIFIERS_RE),
            "not a list of modifiers",
            "modifiers of 2 letters or digits separated by spaces, e.g. 50 or 26 59 (blank for none)",
        ),
        (
            "units",
            (c("units") != "")
            & (~c("units").str.contains(_decimal_re(3)) | (c("units").cast(QTY_IN, strict=False) <= 0)),
            "not a number of units",
            "a number greater than 0 with at most 3 decimals, e.g. 1 or 2 (blank = 1)",
        ),
        (
            "minutes",
            (c("minutes") != "") & ~c("minutes").str.contains(_decimal_re(3)),
            "not a number of minutes",
            "anesthesia time in minutes, a number 0 or more, e.g. 52 (blank on other lines)",
        ),
        (
            "charge",
            (c("charge") != "") & ~c("charge").str.contains(_decimal_re(2)),
            "not an amount",
            "the billed charge in dollars, 0 or more, e.g. 125.00, without $ or thousands separators "
            "(blank = no lesser-of-charge)",
        ),
        (
            "zip",
            (c("zip") != "") & ~c("zip").str.contains(r"^[0-9]{5}(-?[0-9]{4})?$"),
            "not a ZIP code",
            "a 5-digit ZIP code or ZIP+4, e.g. 10001 or 10001-2345",
        ),
        (
            "locality",
            (c("locality") != "") & ~c("locality").str.contains(r"^[0-9]{5}-?[0-9]{2}$"),
            "not a locality",
            "the 5-digit carrier and 2-digit locality, e.g. 1320201 or 13202-01",
        ),
    ]
    if not national:
        checks.append(
            (
                "zip",
                (c("zip") == "") & (c("locality") == ""),
                "no place of service",
                "a zip or a locality on every line (or --national)",
            )
        )
    checks += [
        (
            "facility",
            ~c("facility").str.to_lowercase().is_in(FACILITY_TRUE + FACILITY_FALSE),
            "not a setting",
            "true or false (also yes/no, 1/0; blank = false): true for the facility rate",
        ),
        (
            "provider",
            (c("provider") != "") & ~c("provider").str.to_uppercase().is_in(PROVIDER_TYPES),
            "unknown provider type",
            f"one of {types} (blank = physician)",
        ),
        ("year", (c("year") != "") & ~c("year").str.contains(r"^[0-9]{4}$"), "not a year", "a 4-digit year, e.g. 2025"),
        (
            "date",
            (c("date") != "") & (~c("date").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") | date.is_null()),
            "not a date",
            "a date of service YYYY-MM-DD, e.g. 2025-03-14",
        ),
        (
            "year",
            (c("year") == "") & (c("date") == ""),
            "no year",
            "a year or a date of service on every line",
        ),
        (
            "date",
            (c("year") != "") & (c("date") != "") & (c("year") != c("date").str.slice(0, 4)),
            "the date is not in the row's year",
            "a date in the year given in the year column (or only one of them)",
        ),
    ]
    return checks


def _check(path: Path, raw: pl.DataFrame, *, national: bool) -> None:
    """The first problem in file order (on one row, in column order) as an InputFileError."""
    checks = _checks(national)
    flags = raw.select("_row", *(expr.fill_null(True).alias(f"_c{i}") for i, (_, expr, _, _) in enumerate(checks)))
    bad_any = pl.any_horizontal(pl.exclude("_row"))
    bad = flags.filter(bad_any)
    if bad.height:
        first = bad.row(0, named=True)
        i = next(i for i in range(len(checks)) if first[f"_c{i}"])
        column, _, message, expected = checks[i]
        value = raw.filter(pl.col("_row") == first["_row"])[column][0]
        others = bad.height - 1
        more = f" ({others} more row{'s have' if others != 1 else ' has'} a problem too)" if others else ""
        raise InputFileError(
            path,
            message,
            row=first["_row"],
            column=column,
            expected=expected,
            found=brief(value) if value != "" else "an empty cell",
            hint=_HINT + more,
        )
    keyed = raw.select(
        "_row",
        pl.col("claim_id"),
        pl.col("line").cast(pl.Int64),
        pl.col("_row").min().over(["claim_id", pl.col("line").cast(pl.Int64)]).alias("_first"),
    ).filter(pl.col("_row") != pl.col("_first"))
    if keyed.height:
        dup = keyed.row(0, named=True)
        raise InputFileError(
            path,
            f"claim {brief(dup['claim_id'])} has line {dup['line']} twice (rows {dup['_first']} and {dup['_row']})",
            row=dup["_row"],
            column="line",
            expected="each line number once per claim",
            hint="number the claim's lines 1, 2, 3... and run again",
        )


def _lines(raw: pl.DataFrame) -> pl.DataFrame:
    """The checked rows as the input frame of ``price_claims``."""
    c = pl.col
    blank_none = lambda e: pl.when(e == "").then(None).otherwise(e)  # noqa: E731
    date = blank_none(c("date")).str.to_date("%Y-%m-%d")
    return raw.select(
        c("_row").alias("row_id"),
        c("claim_id").alias("claim_key"),
        c("line").cast(pl.Int64),
        c("code").str.to_uppercase().alias("procedure_code"),
        c("modifiers")  # separated by any run of spaces or tabs
        .str.to_uppercase()
        .str.replace_all(r"\s+", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != "")),
        blank_none(c("units")).cast(QTY_IN).alias("units"),
        blank_none(c("minutes")).cast(QTY_IN).alias("minutes"),
        blank_none(c("charge")).cast(MONEY).alias("charge"),
        blank_none(c("zip")).str.replace("-", "").alias("zip"),
        blank_none(c("locality")).alias("locality"),
        c("facility").str.to_lowercase().is_in(FACILITY_TRUE).alias("facility"),
        blank_none(c("provider")).str.to_uppercase().alias("provider_type"),
        pl.coalesce(blank_none(c("year")).cast(pl.Int32), date.dt.year().cast(pl.Int32)).alias("year"),
        date.alias("service_date"),
    )


# --------------------------------------------------------------------------------------------- pricing


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def price_claims_csv(
    con: duckdb.DuckDBPyConnection,
    in_path: Path,
    out_path: Path,
    *,
    national: bool = False,
    qp: bool = False,
) -> ClaimsResult:
    """Price every claim of ``in_path`` (claim-level rules) and write ``out_path``: the input columns
    as given, then allowed, status, reason and derivation. Nothing is written when the input has
    a problem."""
    t0 = time.perf_counter()
    in_path, out_path = Path(in_path), Path(out_path)
    if _same_file(in_path, out_path):
        raise ConfigError(f"{out_path}: --out is the input file; choose another path so the input stays as it is")
    original, lines = read_claims(in_path, national=national)
    priced = price_claims(con, lines, national=national, qp=qp, on_missing="mark")
    by_row = lines.select("row_id").join(
        priced.select("row_id", "allowed", "status", "reason", "derivation"), on="row_id", how="left"
    )
    as_given = original.with_columns(pl.col(c).replace("", None) for c in original.columns)  # "" -> empty cell
    result = pl.concat(
        [as_given, by_row.select(pl.col("allowed").cast(MONEY), "status", "reason", "derivation")],
        how="horizontal",
    )
    with private_open(out_path, "wb") as fh:
        fh.write(csv_bytes(result))  # the input's own text may start like a formula
    priced_mask = result["status"] == "priced"
    total = result.filter(priced_mask)["allowed"].sum()
    claims = lines.select(pl.struct("claim_key", "year", "service_date").n_unique()).item() if lines.height else 0
    return ClaimsResult(
        out_path,
        lines=result.height,
        priced=int(priced_mask.sum()),
        claims=int(claims),
        total_allowed=Decimal(total) if total is not None else ZERO,
        seconds=time.perf_counter() - t0,
    )
