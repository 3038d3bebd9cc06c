"""DMEPOS fee schedule, PEN fee schedule and DMEPOS rural ZIP file (CMS public use files), as shipped.

What CMS ships each quarter (as necessary; January is the main annual update, July usually too; every
release replaces the whole table, it is not a list of changes):

``DMEPOS_JAN.csv`` / ``.xlsx`` (``DMEPOS26_JAN.xlsx`` from 2026) — the DMEPOS fee schedule
    A six-line preamble (title lines, ``January 2025 Fee Schedule``, two blank lines; above the last
    state columns the banner ``*** Non-continental areas *** (Not subject to ceiling and floor)``), then
    the header ``HCPCS, Mod, Mod2, JURIS, CATG, Ceiling, Floor``, one ``<ST> (NR)`` / ``<ST> (R)`` pair
    per area, and ``Description`` (114 columns). One row per (HCPCS, Mod, Mod2): the first modifier
    alone does not identify a row (2025: 483 (HCPCS, Mod) pairs repeat, told apart by KU, KE, KF, QB,
    QF or KC in Mod2). The readme calls the layout its Attachment A-1.

``DMEPEN_JAN.csv`` / ``.xlsx`` (``DMEPEN26_JAN.xlsx``) — the PEN (parenteral and enteral nutrition)
    fee schedule. A title line, ``January 2025 Fee Schedule``, two blank lines, then
    ``HCPCS, MOD, MOD2, AL(NR), AL(R), … VI(R), Desc`` (110 columns): no JURIS, CATG, Ceiling or
    Floor. The readme's Attachment A-3 lists a YEAR column first; the shipped files have none.
    Parenteral items have one national amount (the same in every column); enteral items have statewide
    amounts adjusted with competitive-bidding (CB) information. Modifiers: NU/RR/UE as below, MS
    (maintenance and servicing), BA, KE.

``DME Rural ZIP Code Quarter 1, 2025.txt`` / ``.xlsx`` — the rural ZIP codes of one quarter
    (the readme's own descriptor is ``DMERuralZIP_Q#_YEAR``). Tab-delimited text: ``STATE``,
    ``DMEPOS RURAL ZIP CODE``, ``YEAR/QTR`` (``202501`` = 2025 Q1), one row per ZIP. A ZIP is rural when
    at least half its area lies outside every metropolitan statistical area, or when it is a
    low-population-density ZIP left out of a competitive bidding area (42 CFR 414.202). The former
    competitive-bidding-area (CBA) files shipped beside these are another matter and are not read here.

Columns of the DMEPOS file (readme Attachment A-1, and the background paper DMEBACK):

- **JURIS** — who processes the claim: ``D`` the DME MAC, ``L`` the local Part B MAC, ``J`` either
  (joint jurisdiction).
- **CATG** — the payment category: ``IN`` inexpensive or otherwise routinely purchased, ``FS``
  frequently serviced, ``CR`` capped rental, ``OX`` oxygen and oxygen equipment, ``OS`` ostomy,
  tracheostomy and urological items, ``SD`` surgical dressings, ``PO`` prosthetics and orthotics, ``SU``
  supplies, ``TE`` TENS units, ``TS`` therapeutic shoes, ``IL`` intraocular lenses, ``SC`` splints and
  casts, ``LC`` lymphedema compression treatment items, ``LT`` labor rates (in the 2026 file). The set
  grows over the years, so the loader checks the form (two letters), not a fixed list.
- **Mod / Mod2** — ``NU`` purchase of new equipment, ``UE`` purchase of used equipment, ``RR`` monthly
  rental; also KM/KN (facial prosthesis replacement), AU/AV/AW (supply used with an ostomy/urological,
  prosthetic or surgical-dressing item), KE, KF (class III device), KL (mail order), KC, KU, and QB/QF
  (oxygen flow above 4 lpm with portable oxygen). ``''`` when the column is empty.
- **Ceiling / Floor** — national limits on the statewide amounts of the items paid from statewide fees
  not adjusted with CB information: for DME and surgical dressings the ceiling is the median of the
  statewide amounts and the floor 85 % of it; for P&O, 120 % and 90 % of the average of the regional
  statewide amounts. The amounts in the state columns already respect them; CMS says they are not used
  to price claims. CMS fills both with 0.00 where no limit applies: codes adjusted with CB information,
  E0607 (inherent reasonableness), codes priced by summing source codes (E1405, E1406, E0954), items
  under special payment rules (K0554 and the non-mail-order diabetic supplies at the national
  mail-order amounts), splints, casts and some lenses (national amounts), labor rates and lymphedema
  items. The loader keeps 0.00 as shipped (None only when the cell is blank, and always for PEN).
- **<ST> (NR) / <ST> (R)** — the non-rural and the rural amount of each area, in this order: the 48
  contiguous states and DC (AL … WY, in the order of their postal codes), then the non-continental
  areas AK, HI, PR, VI. Only codes adjusted with CB information have a rural amount; for every other
  code the R cell is 0.00 (or empty) and the NR amount applies in the whole state, rural ZIPs included.
  The non-continental areas have no rural amounts (their R is always 0.00) and, for codes not adjusted
  with CB information, are not limited by the ceiling and floor. The loader gives ``fee_rural`` None
  when the R cell is empty or 0.00.

  A 0.00 **NR** amount is real and kept as 0.00 (``fee_nonrural`` is never None). In the 2025 file:
  the 292 rows whose second modifier is KE carry only a rural amount in the 49 contiguous areas (NR 0.00,
  R > 0) and an NR amount in AK/HI/PR/VI; 51 rows, mostly local-jurisdiction P&O codes, are 0.00 only
  in the four non-continental areas; 69 rows are 0.00 in every area, NR and R. CMS fills fields that do
  not apply with zeros, so 0.00 reads as "no amount published for that area" rather than a $0 fee; what
  that means for a claim is the pricer's business, not the loader's. (E0935's amounts are per day, not
  per month.)

How rentals are paid (DMEBACK): ``RR`` is the monthly rental amount.

- Capped rental (CR): the RR amount is paid for rental months 1 to 3; months 4 to 13 are paid at 75 %
  of it (power wheelchairs: the RR amount is 15 % of the purchase price for months 1 to 3 and months
  4 to 13 pay 40 % of it, i.e. 6 % of the price); after 13 months of continuous use the beneficiary
  owns the item. Complex rehabilitative power wheelchairs may be bought in the first month
  (NU = the RR amount / 0.15). The claim tells the month with KH (first month), KI (second and third)
  and KJ (fourth to thirteenth): neither the files nor DMEREAD carry these modifiers (they come from
  the DME MACs' billing rules); the file has the one RR row, and KJ months are 75 % of it.
- Oxygen (OX): one monthly rental for equipment, contents and accessories, for at most 36 months of
  continuous use; after that only contents are paid monthly, and maintenance of concentrators and
  transfilling equipment every 6 months.
- Inexpensive or routinely purchased (IN): bought new (NU), bought used (UE) or rented (RR); the
  rentals together may not exceed the NU amount. Frequently serviced (FS): rented for as long as needed.

Periods: a DMEPOS or PEN file is in force from the first day of the month its preamble names
(``January 2025 Fee Schedule`` -> 2025-01-01); a rural ZIP file from the first day of the quarter its
YEAR/QTR names (``202501`` -> 2025-01-01). No file states an end: ``effective_through`` is None (in
force until the next release imported) and ``issued`` is None.

CSV and XLSX of one release give identical frames (the sheet stores 0 for 0.00; values are cast to
Decimal). The DMEPOS and PEN ``.txt`` variants (one fee per record, ``~``-delimited) are not read: CMS
ships the CSV and the XLSX beside them. Anything else — a truncated row, a missing or broken column,
another schedule's file, no effective month, an empty file — is refused whole with an InputFileError
naming the file, the row and the column as CMS heads it.
"""

from __future__ import annotations

import re
from datetime import date

import pandera.polars as pa
import polars as pl

from fee_schedules.files import SourceFile
from fee_schedules.loaders.common import (
    Period,
    column_index,
    data_rows,
    find_header,
    frame,
    is_blank,
    norm,
    quarter_start,
    table_rows,
    text_of,
)
from fee_schedules.schemas import FileModel, check
from pipelines.core.errors import InputFileError
from pipelines.core.money import MONEY

KIND = "dmepos"
PEN_KIND = "dmepos_pen"
RURAL_KIND = "dmepos_rural"

_MON = r"(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*"
# DMEPOS_JAN.csv, DMEPOS26_JAN.xlsx (DMEPOS_APR.csv ... for later releases); not the .txt variant
NAME_PATTERN = re.compile(rf"^DMEPOS(?:\d{{2}}|\d{{4}})?[ _-]*{_MON}(?![A-Z])[^/\\]*\.(?:csv|xlsx)$", re.I)
PEN_NAME_PATTERN = re.compile(rf"^DMEPEN(?:\d{{2}}|\d{{4}})?[ _-]*{_MON}(?![A-Z])[^/\\]*\.(?:csv|xlsx)$", re.I)
# "DME Rural ZIP Code Quarter 1, 2025.txt" / .xlsx, and the readme's DMERuralZIP_Q1_2025
RURAL_NAME_PATTERN = re.compile(r"^DME[ _-]*Rural[ _-]*ZIP[^/\\]*\.(?:txt|csv|xlsx)$", re.I)

CONTIGUOUS = (
    "AL AR AZ CA CO CT DC DE FL GA IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM NV NY OH "
    "OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()
NON_CONTINENTAL = ("AK", "HI", "PR", "VI")  # no rural amounts; not subject to ceiling and floor
STATES = (*CONTIGUOUS, *NON_CONTINENTAL)
JURISDICTIONS = {"D": "DME MAC", "L": "local Part B MAC", "J": "joint DME MAC / local Part B MAC"}
CATEGORIES = {
    "IN": "inexpensive or routinely purchased",
    "FS": "frequently serviced",
    "CR": "capped rental",
    "OX": "oxygen and oxygen equipment",
    "OS": "ostomy, tracheostomy and urological items",
    "SD": "surgical dressings",
    "PO": "prosthetics and orthotics",
    "SU": "supplies",
    "TE": "transcutaneous electrical nerve stimulators",
    "TS": "therapeutic shoes",
    "IL": "intraocular lenses",
    "SC": "splints and casts",
    "LC": "lymphedema compression treatment items",
    "LT": "labor rates",
}
COLUMNS = [
    "hcpcs",
    "modifier",
    "modifier2",
    "juris",
    "category",
    "ceiling",
    "floor",
    "state",
    "fee_nonrural",
    "fee_rural",
    "schedule",
]

_AMOUNT = r"(\d+(\.\d{0,2})?|\.\d{1,2})"  # 0.00, 48.72, 1213.23, 0 (the sheet's number), .5
AMOUNT = rf"^{_AMOUNT}$"
AMOUNT_OR_BLANK = rf"^({_AMOUNT})?$"
_STATE_HEADER = re.compile(r"^([A-Z]{2})\s*\(\s*(NR|R)\s*\)$")
_FEE_SCHEDULE_LINE = re.compile(rf"^({_MON})\s+(\d{{4}})\s+FEE\s+SCHEDULE\b", re.I)
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DESCRIPTION = {"DESCRIPTION", "DESC", "SHORTDESCRIPTION"}
_NR, _R = "<state> (NR)", "<state> (R)"  # placeholder labels, replaced by the header of the failing area


# ---------------------------------------------------------------- the files' shape (all text, long format)


class PenFile(FileModel):
    """PEN fee schedule: one row per (HCPCS, MOD, MOD2, area), amounts with at most 2 decimals."""

    hcpcs: str = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: str = pa.Field(str_matches=r"^([0-9A-Z]{2})?$")
    modifier2: str = pa.Field(str_matches=r"^([0-9A-Z]{2})?$")
    state: str = pa.Field(str_matches=r"^[A-Z]{2}$")
    fee_nonrural: str = pa.Field(str_matches=AMOUNT)
    fee_rural: str = pa.Field(str_matches=AMOUNT_OR_BLANK)

    @pa.dataframe_check
    def one_row_per_code_modifiers_state(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("hcpcs", "modifier", "modifier2", "state").is_duplicated())


class DmeposFile(PenFile):
    """DMEPOS fee schedule: one row per (HCPCS, Mod, Mod2, area) with JURIS D/L/J, a two-letter CATG."""

    juris: str = pa.Field(isin=list(JURISDICTIONS))
    category: str = pa.Field(str_matches=r"^[A-Z]{2}$")
    ceiling: str = pa.Field(str_matches=AMOUNT_OR_BLANK)
    floor: str = pa.Field(str_matches=AMOUNT_OR_BLANK)


class RuralZipFile(FileModel):
    """DMEPOS rural ZIP file: one row per ZIP, all of one YEAR/QTR (YYYYQQ)."""

    state: str = pa.Field(str_matches=r"^[A-Z]{2}$")
    zip5: str = pa.Field(str_matches=r"^\d{5}$")
    year_quarter: str = pa.Field(str_matches=r"^\d{4}0[1-4]$")

    @pa.dataframe_check
    def one_row_per_zip(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("zip5").is_duplicated())

    @pa.dataframe_check
    def one_quarter_per_file(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("year_quarter") == pl.col("year_quarter").first())


# ---------------------------------------------------------------- DMEPOS and PEN

_SPECS = {
    # schedule: (file name as CMS ships it, fixed columns as CMS heads them, layout)
    "dmepos": (
        "DMEPOS_JAN.csv",
        {
            "hcpcs": "HCPCS",
            "modifier": "Mod",
            "modifier2": "Mod2",
            "juris": "JURIS",
            "category": "CATG",
            "ceiling": "Ceiling",
            "floor": "Floor",
        },
        "HCPCS, Mod, Mod2, JURIS, CATG, Ceiling, Floor, then '<ST> (NR)', '<ST> (R)' per area, Description",
    ),
    "pen": (
        "DMEPEN_JAN.csv",
        {"hcpcs": "HCPCS", "modifier": "MOD", "modifier2": "MOD2"},
        "HCPCS, MOD, MOD2, then '<ST>(NR)', '<ST>(R)' per area, Desc",
    ),
}


def _headed(label: str):
    want = norm(label)
    return lambda cell: norm(cell) == want


def _empty(source: SourceFile, rows: list[list[str]], example: str) -> None:
    if all(is_blank(r) for r in rows):
        raise InputFileError(
            source.origin,
            "the file is empty",
            expected=f"CMS's {example} with its header and fee rows",
            hint="Re-download the release from cms.gov",
        )


def _period(rows: list[list[str]], header_row: int, source: SourceFile, example: str) -> Period:
    """From the preamble line ``January 2025 Fee Schedule`` (above the header)."""
    for row in rows[:header_row]:
        for cell in row:
            m = _FEE_SCHEDULE_LINE.match(cell.strip())
            if m:
                return Period(date(int(m.group(2)), _MONTHS[m.group(1)[:3].upper()], 1))
    raise InputFileError(
        source.origin,
        "cannot tell from which month the fee schedule is in force",
        row=None,
        expected=f"a line such as 'January 2025 Fee Schedule' above the header row, as in CMS's {example}",
        found="no such line",
        hint="Is this the file CMS ships? Re-download the release",
    )


def _header_error(source, h, column, message, expected, example, found=None):
    return InputFileError(
        source.origin,
        message,
        row=h + 1,
        column=column,
        expected=expected,
        found=found,
        hint=f"Is this CMS's {example}? Re-download the release",
    )


def _areas(
    header: list[str], fixed: set[int], source: SourceFile, h: int, example: str, layout: str
) -> dict[str, tuple[int, int]]:
    """``{state: (NR column, R column)}`` in header order; every area of STATES must be there, in pairs."""
    seen: dict[str, dict[str, int]] = {}
    for i, cell in enumerate(header):
        if i in fixed or not cell or norm(cell) in _DESCRIPTION:
            continue
        m = _STATE_HEADER.match(cell.strip().upper())
        if not m:
            raise _header_error(source, h, cell, "unexpected header column", layout, example)
        state, which = m.groups()
        if which in seen.setdefault(state, {}):
            raise _header_error(
                source, h, cell, "header column ambiguous", f"exactly one column headed {cell!r}", example
            )
        seen[state][which] = i
    for state in STATES:
        if state not in seen:
            raise _header_error(
                source,
                h,
                f"{state} (NR)",
                "header column missing",
                f"the area's pair '{state} (NR)', '{state} (R)' ({len(STATES)} areas: {', '.join(STATES)})",
                example,
            )
    for state, cols in seen.items():
        for have, want in (("NR", "R"), ("R", "NR")):
            if have in cols and want not in cols:
                raise _header_error(
                    source,
                    h,
                    header[cols[have]],
                    "header column missing",
                    f"'{state} ({want})' beside {header[cols[have]]!r}: one NR and one R column per area",
                    example,
                )
    return {s: (c["NR"], c["R"]) for s, c in seen.items()}


def _read_fees(source: SourceFile, schedule: str) -> tuple[pl.DataFrame, Period]:
    example, spec, layout = _SPECS[schedule]
    rows = table_rows(source)
    _empty(source, rows, example)
    h = find_header(
        rows,
        source,
        lambda r: len(r) > 2 and norm(r[0]) == "HCPCS" and norm(r[1]) == "MOD",
        f"a header row {layout} (CMS's {example})",
    )
    header = rows[h]
    idx = [column_index(header, source, h, label, _headed(label)) for label in spec.values()]
    labels = {k: header[i] for k, i in zip(spec, idx)}
    areas = _areas(header, set(idx), source, h, example, layout)
    period = _period(rows, h, source, example)
    width = max(i for i, c in enumerate(header) if c) + 1  # the header's last heading (Description)
    cols = idx + [i for pair in areas.values() for i in pair]
    records, rownums = [], []
    for n, row in enumerate(rows[h + 1 :], start=h + 2):
        if is_blank(row):
            continue
        if len(row) < width:  # a row cut short: a truncated download, or a cell lost
            raise InputFileError(
                source.origin,
                "row ends early",
                row=n,
                column=header[len(row)],
                expected=f"{width} cells, as the header (row {h + 1}) has",
                found=f"{len(row)} cells",
                hint="The file looks truncated: re-download the release",
            )
        if any(c for c in row[width:]):
            raise InputFileError(
                source.origin,
                "more cells than the header has",
                row=n,
                expected=f"{width} cells, as the header (row {h + 1}) has",
                found=f"{len(row)} cells",
                hint="Is this the file CMS ships? Re-download the release",
            )
        records.append([row[i] for i in cols])
        rownums.append(n)
    if not records:
        raise InputFileError(
            source.origin,
            "no fee rows below the header",
            row=h + 1,
            expected=f"one row per HCPCS code and modifiers, as in CMS's {example}",
            hint="The file looks truncated: re-download the release",
        )
    names = list(spec) + [f"{k}_{s}" for s in areas for k in ("nr", "r")]
    wide = frame(records, names, rownums)
    order = {s: i for i, s in enumerate(areas)}
    long = pl.concat(
        [
            wide.select(
                *spec,
                pl.lit(s).alias("state"),
                pl.col(f"nr_{s}").alias("fee_nonrural"),
                pl.col(f"r_{s}").alias("fee_rural"),
                "_row",
                pl.lit(order[s], pl.Int32).alias("_area"),
            )
            for s in areas
        ]
    ).sort("_row", "_area")
    model = DmeposFile if schedule == "dmepos" else PenFile
    _check(model, long, source, labels, {s: (header[a], header[b]) for s, (a, b) in areas.items()})
    return _typed(long, schedule), period


def _check(model, long: pl.DataFrame, source: SourceFile, labels: dict, area_labels: dict) -> None:
    """``check``, with a bad amount named by its own column (``PA (NR)``), not the long frame's."""
    try:
        check(model, long, source.origin, labels={**labels, "fee_nonrural": _NR, "fee_rural": _R})
    except InputFileError as err:
        if err.column not in (_NR, _R) or err.row is None:
            raise
        col, pattern, k = ("fee_nonrural", AMOUNT, 0) if err.column == _NR else ("fee_rural", AMOUNT_OR_BLANK, 1)
        bad = long.filter((pl.col("_row") == err.row) & ~pl.col(col).str.contains(pattern))
        if bad.height == 0:
            raise
        raise InputFileError(
            source.origin,
            err.detail,
            row=err.row,
            column=area_labels[bad["state"][0]][k],
            expected="an amount with at most 2 decimals, e.g. 48.72" + (" (or an empty cell)" if k else ""),
            found=repr(bad[col][0]),
            hint=err.hint,
        ) from None


def _typed(long: pl.DataFrame, schedule: str) -> pl.DataFrame:
    pen = schedule == "pen"
    rural = pl.col("fee_rural").replace("", None).cast(MONEY)
    return long.select(
        "hcpcs",
        "modifier",
        "modifier2",
        (pl.lit(None, pl.String) if pen else pl.col("juris")).alias("juris"),
        (pl.lit(None, pl.String) if pen else pl.col("category")).alias("category"),
        (pl.lit(None, MONEY) if pen else pl.col("ceiling").replace("", None).cast(MONEY)).alias("ceiling"),
        (pl.lit(None, MONEY) if pen else pl.col("floor").replace("", None).cast(MONEY)).alias("floor"),
        "state",
        pl.col("fee_nonrural").cast(MONEY),
        pl.when(rural != 0).then(rural).otherwise(None).alias("fee_rural"),  # empty or 0.00: NR statewide
        pl.lit(schedule).alias("schedule"),
    )


def read(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """The DMEPOS fee schedule (long: one row per HCPCS, Mod, Mod2 and area) and the period it is in force."""
    return _read_fees(source, "dmepos")


def read_pen(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """The PEN fee schedule, in the columns of ``read`` (juris, category, ceiling, floor None)."""
    return _read_fees(source, "pen")


def load(source: SourceFile) -> pl.DataFrame:
    """Validated DMEPOS fees: hcpcs, modifier, modifier2 ('' none), juris, category, ceiling, floor
    (Decimal(14,2), None when blank), state, fee_nonrural (Decimal(14,2)), fee_rural (None when the R
    cell is empty or 0.00: the NR amount applies statewide), schedule ('dmepos')."""
    return read(source)[0]


def load_pen(source: SourceFile) -> pl.DataFrame:
    """Validated PEN fees in ``load``'s columns; juris/category/ceiling/floor None, schedule 'pen'."""
    return read_pen(source)[0]


# ---------------------------------------------------------------- rural ZIP codes

_RURAL_EXAMPLE = "DME Rural ZIP Code Quarter 1, 2025.txt"
_RURAL_LABELS = {"state": "STATE", "zip5": "DMEPOS RURAL ZIP CODE", "year_quarter": "YEAR/QTR"}


def _rural_rows(source: SourceFile) -> list[list[str]]:
    if source.suffix == ".txt":  # tab-delimited
        return [[c.strip() for c in line.split("\t")] for line in text_of(source).splitlines()]
    return table_rows(source)


def read_rural(source: SourceFile) -> tuple[pl.DataFrame, Period]:
    """Rural ZIP codes (state, zip5, year_quarter as CMS writes it: ``202501``) and the quarter they are for."""
    rows = _rural_rows(source)
    _empty(source, rows, _RURAL_EXAMPLE)
    h = find_header(
        rows,
        source,
        lambda r: bool(r) and norm(r[0]) == "STATE" and any("ZIP" in norm(c) for c in r),
        f"a header row STATE, DMEPOS RURAL ZIP CODE, YEAR/QTR (CMS's {_RURAL_EXAMPLE})",
    )
    tests = {
        "state": lambda c: norm(c) == "STATE",
        "zip5": lambda c: "ZIP" in norm(c),
        "year_quarter": lambda c: norm(c) in ("YEARQTR", "YEARQUARTER"),
    }
    idx = [column_index(rows[h], source, h, _RURAL_LABELS[k], t) for k, t in tests.items()]
    records, rownums = data_rows(rows, h, idx, skip=is_blank)
    if not records:
        raise InputFileError(
            source.origin,
            "no ZIP codes below the header",
            row=h + 1,
            expected=f"one row per rural ZIP code, as in CMS's {_RURAL_EXAMPLE}",
            hint="The file looks truncated: re-download the release",
        )
    if source.suffix == ".xlsx":  # a re-saved sheet may hold 01223 as the number 1223
        records = [[s, z.zfill(5) if z.isdigit() else z, q] for s, z, q in records]
    raw = frame(records, list(tests), rownums)
    check(RuralZipFile, raw, source.origin, labels={k: rows[h][i] for k, i in zip(tests, idx)})
    yq = raw["year_quarter"][0]
    return raw.select("state", "zip5", "year_quarter"), Period(quarter_start(int(yq[:4]), int(yq[4:])))


def load_rural(source: SourceFile) -> pl.DataFrame:
    return read_rural(source)[0]


def period(source: SourceFile) -> Period:
    """The period a DMEPOS, PEN or rural ZIP file is in force (by its kind, else its name)."""
    if source.kind == RURAL_KIND or (source.kind not in (KIND, PEN_KIND) and RURAL_NAME_PATTERN.search(source.name)):
        return read_rural(source)[1]
    if source.kind == PEN_KIND or (source.kind != KIND and PEN_NAME_PATTERN.search(source.name)):
        return read_pen(source)[1]
    return read(source)[1]
