"""ASC Addenda AA (covered surgical procedures) and BB (covered ancillary services), CMS, as shipped.

CMS ships each quarter's "ASC Approved HCPCS Code and Payment Rates" as a zip of addenda AA, BB, DD1,
DD2, EE and FF, each an ``.xlsx`` and a Section 508 ``.csv``: ``508-Version-Jan-2025-ASC-AA.csv``,
``508-Version-Jan-2025-ASC-BB.csv``. Only AA and BB carry payment rates; DD1/DD2 (indicator
definitions), EE (excluded procedures) and FF (device offsets) are not read here and their names do
not match these patterns.

- A preamble: the title (``Addendum AA -- ASC Covered Surgical Procedures for CY 2025 …``), the AMA/ADA
  copyright notice, a blank row; then the header on line 4, CRLF:
  AA ``HCPCS Code,,Short Descriptor,Subject to Multiple Procedure Discounting,January 2025 Payment
  Indicator,January 2025  Payment Weight  ,January 2025 Payment Rate `` (7 cells);
  BB ``HCPCS Code,,Short Descriptor,Drug and Device Pass-Through Expiration during Calendar Year,
  January 2025 Payment Indicator,January 2025 Payment Weight  ,January 2025 Payment Rate ,January 2025
  IRA-22 Adjusted Copayment1`` (8 cells). The unheaded second column holds markers (AA ``*``: office-based
  designation temporary, ``**``: preventive service; BB ``**`` preventive, ``***`` non-opioid
  alternative). The month and year heading the indicator, weight and rate columns are the quarter
  the rates take effect; the file name says it too (``Jan-2025``). Neither carries an issue date.
- Rows, then ``NOTE n: …`` footnote rows and blank rows. Subject to Multiple Procedure Discounting is
  Y or N. Weights have up to 4 places, rates are ``$1,214.31`` (2 places) or blank (N1 packaged and
  other unpaid indicators; P3 office-based rows have a rate but no weight). Each weight x the ASC
  conversion factor (CY 2025: 54.895), rounded half up to the cent, is the rate.
- BB Jan 2025 repeats four rows identically in every cell (90684, A2027, A2028, A2029): read once.
  Two different rows for one code are refused.

The descriptors are AMA copyright: they are never kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import Period, frame, norm
from fee_schedules.loaders.opps import (
    HCPCS,
    WEIGHT,
    body,
    columns,
    header_row,
    money,
    money_pattern,
    month_year,
    read_records,
    weight,
)
from fee_schedules.schemas import FileModel, check
from pipelines.core.errors import InputFileError

AA_KIND = "asc_aa"
BB_KIND = "asc_bb"
# "508-Version-Jan-2025-ASC-AA.csv", "Jan 2025 ASC Addendum AA.xlsx", "… Addendum AA.csv"; never DD1/DD2/EE/FF
AA_NAME_PATTERN = re.compile(
    r"^.*(?<![a-z0-9])(?:asc[ _-]*(?:addendum[ _-]*)?|addendum[ _-]*)aa(?![a-z0-9]).*\.(csv|xlsx)$", re.I
)
BB_NAME_PATTERN = re.compile(
    r"^.*(?<![a-z0-9])(?:asc[ _-]*(?:addendum[ _-]*)?|addendum[ _-]*)bb(?![a-z0-9]).*\.(csv|xlsx)$", re.I
)

PAYMENT_INDICATOR = r"^[A-Z][0-9]$"  # A2, G2, J8, N1, P2, P3, R2, D2 (AA); K2, Z2, N1, H2, J7, L1 … (BB)
_MPD = "Subject to Multiple Procedure Discounting"
_TITLE = re.compile(r"(?<![a-z])addendum\s+([a-z]{1,2}\d?)(?![a-z0-9])", re.I)
_WHAT = {"AA": "ASC Covered Surgical Procedures", "BB": "ASC Covered Ancillary Services"}


def _expected(addendum: str) -> str:
    header = (
        f"HCPCS Code,,Short Descriptor,{_MPD},<Month> <year> Payment Indicator,…"
        if addendum == "AA"
        else "HCPCS Code,,Short Descriptor,Drug and Device Pass-Through Expiration during Calendar Year,"
        "<Month> <year> Payment Indicator,…"
    )
    return (
        f"the Addendum {addendum} header '{header}' after CMS's preamble "
        f"(CMS's ASC Addendum {addendum}, {_WHAT[addendum]}: '508-Version-<Mon>-<year>-ASC-{addendum}.csv')"
    )


class AscAddendumAAFile(FileModel):
    """ASC Addendum AA: one row per HCPCS code, its payment indicator, discounting flag, weight and rate."""

    hcpcs: str = pa.Field(str_matches=HCPCS)
    payment_indicator: str = pa.Field(str_matches=PAYMENT_INDICATOR)
    multiple_procedure_discount: str = pa.Field(isin=["Y", "N"])
    payment_weight: str = pa.Field(str_matches=WEIGHT)
    payment_rate: str = pa.Field(str_matches=money_pattern(2))

    @pa.dataframe_check
    def one_row_per_code(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("hcpcs").is_duplicated())


class AscAddendumBBFile(FileModel):
    """ASC Addendum BB: one row per HCPCS code, its payment indicator, weight and rate."""

    hcpcs: str = pa.Field(str_matches=HCPCS)
    payment_indicator: str = pa.Field(str_matches=PAYMENT_INDICATOR)
    payment_weight: str = pa.Field(str_matches=WEIGHT)
    payment_rate: str = pa.Field(str_matches=money_pattern(2))

    @pa.dataframe_check
    def one_row_per_code(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("hcpcs").is_duplicated())


def _dated(name: str) -> Callable[[str], bool]:
    """A header cell '<Month> <year> <name>' (CMS's spacing varies: 'January 2025  Payment Weight  ')."""
    return lambda c: re.fullmatch(rf"(?:[A-Z]+20\d{{2}})?{name}", norm(c)) is not None


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and norm(cells[0]) == "HCPCSCODE" and any(_dated("PAYMENTINDICATOR")(c) for c in cells)


def _read(source: SourceFile, addendum: str) -> tuple[pl.DataFrame, Period]:
    expected = _expected(addendum)
    records = read_records(source, expected)
    h = header_row(source, records, _is_header, expected)
    header, head_line = records[h][2], records[h][0]
    # the title says which addendum this is: another one (BB as AA, FF …) is refused by name
    for first, _, cells in records[:h]:
        m = next((m for c in cells if (m := _TITLE.search(c))), None)
        if m and m.group(1).upper() != addendum:
            other = m.group(1).upper()
            raise InputFileError(
                source.origin,
                f"this is ASC Addendum {other}, not Addendum {addendum}",
                row=first,
                expected=expected,
                found=f"the title 'Addendum {other} …'",
                hint=f"Give the ASC-{addendum} file of the release (read_{addendum.lower()})",
            )
        if m:
            break
    has_mpd = any(norm(c) == norm(_MPD) for c in header)
    if addendum == "BB" and has_mpd:
        raise InputFileError(
            source.origin,
            "this is ASC Addendum AA (it has the discounting column), not Addendum BB",
            row=head_line,
            column=_MPD,
            expected=expected,
            hint="Give the ASC-BB file of the release (read_bb)",
        )
    pi = next(c for c in header if _dated("PAYMENTINDICATOR")(c))
    when = month_year(pi)
    stamp = f"{pi.split('Payment')[0].strip()} " if when else ""
    tests = {"hcpcs": ("HCPCS Code", lambda c: norm(c) == "HCPCSCODE")}
    if addendum == "AA":
        tests["multiple_procedure_discount"] = (_MPD, lambda c: norm(c) == norm(_MPD))
    tests["payment_indicator"] = (f"{stamp}Payment Indicator", _dated("PAYMENTINDICATOR"))
    tests["payment_weight"] = (f"{stamp}Payment Weight", _dated("PAYMENTWEIGHT"))
    tests["payment_rate"] = (f"{stamp}Payment Rate", _dated("PAYMENTRATE"))
    idx = columns(source, records, h, tests)
    labels = {k: " ".join(header[i].split()) for k, i in zip(tests, idx)}
    # the quarter: the month heading the rate columns, and the one the file name says; they must agree
    stated = {d for i in idx[1:] if (d := month_year(header[i]))}
    named = month_year(source.name)
    if len(stated) > 1 or (stated and named and named not in stated) or not (stated or named):
        raise InputFileError(
            source.origin,
            "cannot tell which quarter the rates are for"
            if not (stated or named)
            else "the header's month disagrees with " + ("itself" if len(stated) > 1 else "the file name"),
            row=head_line,
            expected="the same '<Month> <year>' heading the payment indicator, weight and rate columns "
            "and in the file name ('508-Version-Jan-2025-ASC-AA.csv')",
            found=", ".join(sorted(f"{d:%B %Y}" for d in stated | ({named} if named else set()))) or None,
            hint="Rename the file to the quarter it holds, or download it again from CMS",
        )
    start = min(stated | ({named} if named else set()))  # one date: the checks above
    rows, lines = body(source, records, h, idx, f"Addendum {addendum}")
    raw = frame(rows, list(tests), lines)
    model = AscAddendumAAFile if addendum == "AA" else AscAddendumBBFile
    check(model, raw, source.origin, labels=labels)
    mpd = (
        [(pl.col("multiple_procedure_discount") == "Y").alias("multiple_procedure_discount")]
        if addendum == "AA"
        else []
    )
    out = raw.select("hcpcs", "payment_indicator", *mpd, weight("payment_weight"), money("payment_rate", 2))
    return out, Period(start, None, None)


def read_aa(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """Addendum AA, validated (no descriptors: AMA text), and the period it states.

    Columns: hcpcs, payment_indicator, multiple_procedure_discount (Boolean: Subject to Multiple Procedure
    Discounting = Y), payment_weight Decimal(12,4), payment_rate Decimal(14,2); weight and rate null
    when blank. Period: from the first day of the month heading the rate columns; no end, no issue date.
    """
    return _read(source, "AA")


def read_bb(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """Addendum BB, validated: hcpcs, payment_indicator, payment_weight Decimal(12,4), payment_rate
    Decimal(14,2) (null when blank). Period as for AA."""
    return _read(source, "BB")
