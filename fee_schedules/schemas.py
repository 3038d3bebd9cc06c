"""pandera models: the single statement of each CMS file's shape, as read (all text).

Loaders read a file into a frame of strings (one column per field, plus ``_row``, the
1-based line of the file), validate it here, and only then cast. A failure becomes an
InputFileError naming the file, the row, the column (as CMS heads it) and what was expected.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from pipelines.core.errors import InputFileError


def _dec(scale: int) -> str:
    """A decimal as CMS writes it (0.00, 1, 1.5, .5) with at most ``scale`` places."""
    return rf"^-?(\d+(\.\d{{0,{scale}}})?|\.\d{{1,{scale}}})$"


DEC2, DEC3, DEC4 = _dec(2), _dec(3), _dec(4)
CARRIER = r"^\d{5}$"
LOCALITY = r"^\d{2}$"


class FileModel(pa.DataFrameModel):
    """The base of every CMS file model (here and in fee_schedules/loaders): the file's columns as text,
    extra columns allowed (CMS adds some), nothing coerced before the checks."""

    class Config:
        strict = False
        coerce = False


class RvuFile(FileModel):
    """PPRRVU: one row per (HCPCS, MOD)."""

    hcpcs: str = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: str = pa.Field(str_matches=r"^(|26|TC|53)$")
    status_code: str = pa.Field(str_matches=r"^[A-Z]$")
    work_rvu: str = pa.Field(str_matches=DEC2)
    nf_pe_rvu: str = pa.Field(str_matches=DEC2)
    nf_na: str = pa.Field(isin=["", "NA"])
    f_pe_rvu: str = pa.Field(str_matches=DEC2)
    f_na: str = pa.Field(isin=["", "NA"])
    mp_rvu: str = pa.Field(str_matches=DEC2)
    pctc: str = pa.Field(str_matches=r"^\d$")
    global_days: str = pa.Field(str_matches=r"^(\d{3}|MMM|XXX|YYY|ZZZ)$")
    pre_op: str = pa.Field(str_matches=DEC2)  # shares of the global package (0.10 / 0.69 / 0.21)
    intra_op: str = pa.Field(str_matches=DEC2)
    post_op: str = pa.Field(str_matches=DEC2)
    mult_proc: str = pa.Field(str_matches=r"^\d$")
    bilat_surg: str = pa.Field(str_matches=r"^\d$")
    asst_surg: str = pa.Field(str_matches=r"^\d$")
    co_surg: str = pa.Field(str_matches=r"^\d$")
    team_surg: str = pa.Field(str_matches=r"^\d$")
    conversion_factor: str = pa.Field(str_matches=DEC4)
    opps_nf_pe_rvu: str = pa.Field(str_matches=DEC2)
    opps_f_pe_rvu: str = pa.Field(str_matches=DEC2)
    opps_mp_rvu: str = pa.Field(str_matches=DEC2)

    @pa.dataframe_check
    def one_row_per_code_modifier(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("hcpcs", "modifier").is_duplicated())


class GpciFile(FileModel):
    """GPCI (Addendum E): one row per (MAC, locality)."""

    carrier: str = pa.Field(str_matches=CARRIER)
    state: str = pa.Field(str_matches=r"^[A-Z]{2}$")
    locality: str = pa.Field(str_matches=LOCALITY)
    locality_name: str = pa.Field(str_matches=r"\S")
    work_gpci: str = pa.Field(str_matches=DEC3)
    pe_gpci: str = pa.Field(str_matches=DEC3)
    mp_gpci: str = pa.Field(str_matches=DEC3)

    @pa.dataframe_check
    def one_row_per_locality(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("carrier", "locality").is_duplicated())


class LoccoFile(FileModel):
    """Locality-to-county crosswalk (zero-padded after reading)."""

    carrier: str = pa.Field(str_matches=CARRIER)
    locality: str = pa.Field(str_matches=LOCALITY)
    state: str = pa.Field(str_matches=r"\S")
    fee_schedule_area: str = pa.Field(str_matches=r"\S")
    counties: str


class AnesFile(FileModel):
    """Anesthesia conversion factor per locality."""

    carrier: str = pa.Field(str_matches=CARRIER)
    locality: str = pa.Field(str_matches=LOCALITY)
    locality_name: str = pa.Field(str_matches=r"\S")
    anesthesia_cf: str = pa.Field(str_matches=DEC2)


class AnesBaseFile(FileModel):
    """Anesthesia Base Units by CPT Code: one row per code (leading zeros kept), an integer base unit value."""

    hcpcs: str = pa.Field(str_matches=r"^\d{5}$")  # anesthesia CPT codes 00100-01999 are numeric
    base_units: str = pa.Field(str_matches=r"^\d{1,3}$")

    @pa.dataframe_check
    def one_row_per_code(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("hcpcs").is_duplicated())


class OppsCapFile(FileModel):
    """OPPSCAP: CMS's capped amounts per (code, modifier, carrier, locality)."""

    hcpcs: str = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: str = pa.Field(str_matches=r"^(|26|TC|53)$")
    proc_status: str = pa.Field(str_matches=r"^[A-Z]$")
    carrier: str = pa.Field(str_matches=CARRIER)
    locality: str = pa.Field(str_matches=LOCALITY)
    facility_price: str = pa.Field(str_matches=DEC2)
    nonfacility_price: str = pa.Field(str_matches=DEC2)


class Zip5File(FileModel):
    """ZIP5 fixed-width record (ZIP5lyout.txt)."""

    state: str = pa.Field(str_matches=r"^[A-Z0-9 ]{2}$")
    zip5: str = pa.Field(str_matches=r"^\d{5}$")
    carrier: str = pa.Field(str_matches=CARRIER)
    locality: str = pa.Field(str_matches=LOCALITY)
    rural: str = pa.Field(isin=["", "R", "B"])
    plus_four_flag: str = pa.Field(isin=["0", "1"])
    year_quarter: str = pa.Field(str_matches=r"^\d{4}[1-4]$")

    @pa.dataframe_check
    def one_row_per_zip(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("zip5").is_duplicated())


class Zip9File(FileModel):
    """ZIP9 fixed-width record (ZIP9lyout.txt)."""

    state: str = pa.Field(str_matches=r"^[A-Z0-9 ]{2}$")
    zip5: str = pa.Field(str_matches=r"^\d{5}$")
    carrier: str = pa.Field(str_matches=CARRIER)
    locality: str = pa.Field(str_matches=LOCALITY)
    rural: str = pa.Field(isin=["", "R", "B"])
    plus_four_flag: str = pa.Field(isin=["0", "1"])
    plus4: str = pa.Field(str_matches=r"^\d{4}$")
    year_quarter: str = pa.Field(str_matches=r"^\d{4}[1-4]$")


def check(
    model: type[pa.DataFrameModel], frame: pl.DataFrame, origin: str, labels: dict[str, str] | None = None
) -> pl.DataFrame:
    """Validate ``frame`` (strings + ``_row``) or raise InputFileError at the first bad cell.

    ``labels`` maps our column names to the header CMS uses, so the message names the
    column the user sees in the file.
    """
    labels = labels or {}
    try:
        return model.validate(frame, lazy=True)
    except (SchemaErrors, SchemaError) as exc:
        cases = exc.failure_cases if isinstance(exc, SchemaErrors) else None
        if cases is None or cases.height == 0:
            raise InputFileError(origin, f"file does not have the expected shape: {exc}") from None
        first = cases.row(0, named=True)
        column, idx = first.get("column"), first.get("index")
        row = int(frame["_row"][int(idx)]) if idx is not None and frame.height > int(idx) else None
        if column in (None, model.__name__) or column not in frame.columns:
            raise InputFileError(
                origin,
                f"check {first.get('check')} failed",
                row=row,
                expected=model.__doc__.splitlines()[0] if model.__doc__ else None,
                hint="Is this the file CMS ships under this name?",
            ) from None
        found = frame[column][int(idx)] if idx is not None else first.get("failure_case")
        raise InputFileError(
            origin,
            "unexpected value",
            row=row,
            column=labels.get(column, column),
            expected=str(first.get("check")),
            found=repr(found),
            hint="Is this the file CMS ships under this name? Re-download the release",
        ) from None
