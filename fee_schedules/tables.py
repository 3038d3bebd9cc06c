"""pandera models of the fee-schedule warehouse tables (``fee_schedules/sql/schema.sql``).

One model per ``mpfs_*`` table, as the importer writes it (typed: DECIMAL, DATE, BOOLEAN).
``fee_schedules/schemas.py`` holds the other side: the CMS *files* as read (all text), checked
before they are cast. ``tests/test_ddl_models.py`` checks each model here against the table a
fresh warehouse has (column names in order, types, NOT NULL).
"""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

from fee_schedules.files import KIND_PATTERNS

RELEASES = ["A", "B", "C", "D"]
FILE_KINDS = list(KIND_PATTERNS)  # rvu, gpci, locco, anes, oppscap, zip5, zip9, anes_base
RURAL = ["", "R", "B"]  # urban, rural, super rural
N: dict[str, Any] = {"nullable": True}  # typed Any so mypy accepts pa.Field(**N)


def _dec(precision: int, scale: int, **kw):
    return pa.Field(dtype_kwargs={"precision": precision, "scale": scale}, **kw)


class _Base(pa.DataFrameModel):
    class Config:
        strict = True  # exactly the table's columns
        coerce = False


class _Release(_Base):
    """The (year, release) key every table starts with."""

    year: pl.Int32
    release: pl.String = pa.Field(isin=RELEASES)


class MpfsReleases(_Release):
    """Manifest: one row per imported release."""

    effective_from: pl.Date
    effective_through: pl.Date
    source: pl.String
    imported_at: pl.Datetime


class MpfsReleaseFiles(_Release):
    """Manifest: one row per (release, file kind), shipped or inherited."""

    kind: pl.String = pa.Field(isin=FILE_KINDS)
    file_name: pl.String
    sha256: pl.String
    bytes: pl.Int64
    row_count: pl.Int64
    inherited_from: pl.String = pa.Field(isin=RELEASES, nullable=True)


class MpfsRvu(_Release):
    """PPRRVU: one row per (year, release, hcpcs, modifier)."""

    hcpcs: pl.String
    modifier: pl.String = pa.Field(isin=["", "26", "TC", "53"])
    status_code: pl.String
    work_rvu: pe.Decimal = _dec(9, 2)
    nf_pe_rvu: pe.Decimal = _dec(9, 2)
    nf_na: pl.Boolean
    f_pe_rvu: pe.Decimal = _dec(9, 2)
    f_na: pl.Boolean
    mp_rvu: pe.Decimal = _dec(9, 2)
    pctc: pl.String
    global_days: pl.String
    pre_op: pe.Decimal = _dec(5, 2, nullable=True)
    intra_op: pe.Decimal = _dec(5, 2, nullable=True)
    post_op: pe.Decimal = _dec(5, 2, nullable=True)
    mult_proc: pl.String
    bilat_surg: pl.String
    asst_surg: pl.String
    co_surg: pl.String
    team_surg: pl.String
    pric_ind: pl.String = pa.Field(**N)
    endo_base: pl.String = pa.Field(**N)
    conversion_factor: pe.Decimal = _dec(9, 4)
    supervision: pl.String = pa.Field(**N)
    calc_flag: pl.String = pa.Field(**N)
    imaging_family: pl.String = pa.Field(**N)
    opps_nf_pe_rvu: pe.Decimal = _dec(9, 2)
    opps_f_pe_rvu: pe.Decimal = _dec(9, 2)
    opps_mp_rvu: pe.Decimal = _dec(9, 2)


class MpfsGpci(_Release):
    """GPCI (Addendum E): one row per (year, release, carrier, locality)."""

    carrier: pl.String
    locality: pl.String
    state: pl.String
    locality_name: pl.String
    work_gpci: pe.Decimal = _dec(9, 3)
    pe_gpci: pe.Decimal = _dec(9, 3)
    mp_gpci: pe.Decimal = _dec(9, 3)


class MpfsLocalityCounties(_Release):
    """LOCCO: one row per (year, release, carrier, locality, fee schedule area)."""

    carrier: pl.String
    locality: pl.String
    state: pl.String
    fee_schedule_area: pl.String
    counties: pl.String


class MpfsAnesthesiaCf(_Release):
    """Anesthesia conversion factor: one row per (year, release, carrier, locality)."""

    carrier: pl.String
    locality: pl.String
    locality_name: pl.String
    anesthesia_cf: pe.Decimal = _dec(9, 2)


class MpfsAnesthesiaBaseUnits(_Release):
    """Anesthesia base units: one row per (year, release, hcpcs); source_year = CY of the CMS file."""

    hcpcs: pl.String
    base_units: pl.Int32
    source_year: pl.Int32


class MpfsOppsCap(_Release):
    """OPPSCAP: one row per (year, release, hcpcs, modifier, carrier, locality)."""

    hcpcs: pl.String
    modifier: pl.String
    proc_status: pl.String
    carrier: pl.String
    locality: pl.String
    gpci_carrier: pl.String = pa.Field(**N)
    facility_price: pe.Decimal = _dec(14, 2)
    nonfacility_price: pe.Decimal = _dec(14, 2)


class MpfsZip5(_Release):
    """ZIP5 to carrier locality: one row per (year, release, zip5)."""

    state: pl.String
    zip5: pl.String
    carrier: pl.String
    locality: pl.String
    rural: pl.String = pa.Field(isin=RURAL)
    plus_four_flag: pl.Boolean
    year_quarter: pl.String


class MpfsZip9(_Release):
    """ZIP9 exceptions: one row per (year, release, zip5, plus4)."""

    state: pl.String
    zip5: pl.String
    plus4: pl.String
    carrier: pl.String
    locality: pl.String
    rural: pl.String = pa.Field(isin=RURAL)
    year_quarter: pl.String


class MpfsConversionFactors(_Release):
    """Conversion factors: one row per (year, release, qp)."""

    qp: pl.Boolean
    conversion_factor: pe.Decimal = _dec(9, 4)
    anesthesia_cf: pe.Decimal = _dec(9, 4, nullable=True)
    source: pl.String


# ----------------------------------------------------------------- the other schedules (schedule_import)
SCHEDULE_KINDS = ["clfs", "asp", "asp_noc", "dmepos", "dmepos_pen", "dmepos_rural", "opps", "asc_aa", "asc_bb"]


class ScheduleReleases(_Base):
    """Manifest: one row per release of a schedule other than the MPFS (schedule, effective_from)."""

    schedule: pl.String = pa.Field(isin=SCHEDULE_KINDS)
    effective_from: pl.Date
    effective_through: pl.Date
    issued: pl.Date = pa.Field(**N)
    version: pl.Int32 = pa.Field(**N)
    file_name: pl.String
    sha256: pl.String
    bytes: pl.Int64
    row_count: pl.Int64
    source: pl.String
    imported_at: pl.Datetime
    replaced: pl.String = pa.Field(**N)


class ClfsRates(_Base):
    """CLFS national limitation amounts: one row per (effective_from, hcpcs, modifier)."""

    effective_from: pl.Date
    hcpcs: pl.String
    modifier: pl.String
    eff_date: pl.Date
    indicator: pl.String
    rate: pe.Decimal = _dec(14, 2)
    year: pl.Int32


class AspLimits(_Base):
    """ASP payment limits per HCPCS dosage unit: one row per (effective_from, hcpcs)."""

    effective_from: pl.Date
    hcpcs: pl.String
    dosage: pl.String
    dosage_amount: pe.Decimal = _dec(18, 6, nullable=True)
    dosage_unit: pl.String = pa.Field(**N)
    payment_limit: pe.Decimal = _dec(14, 3)
    coinsurance_pct: pe.Decimal = _dec(7, 3, nullable=True)
    notes: pl.String


class AspNocLimits(_Base):
    """ASP NOC drug payment limits: one row per (effective_from, drug_name)."""

    effective_from: pl.Date
    drug_name: pl.String
    dosage: pl.String
    dosage_amount: pe.Decimal = _dec(18, 6, nullable=True)
    dosage_unit: pl.String = pa.Field(**N)
    payment_limit: pe.Decimal = _dec(14, 3)
    notes: pl.String


class DmeposFees(_Base):
    """DMEPOS and PEN fees: one row per (schedule, effective_from, hcpcs, modifier, modifier2, state)."""

    schedule: pl.String = pa.Field(isin=["dmepos", "dmepos_pen"])
    effective_from: pl.Date
    hcpcs: pl.String
    modifier: pl.String
    modifier2: pl.String
    juris: pl.String = pa.Field(**N)
    category: pl.String = pa.Field(**N)
    ceiling: pe.Decimal = _dec(14, 2, nullable=True)
    floor: pe.Decimal = _dec(14, 2, nullable=True)
    state: pl.String
    fee_nonrural: pe.Decimal = _dec(14, 2)
    fee_rural: pe.Decimal = _dec(14, 2, nullable=True)


class DmeposRuralZips(_Base):
    """DMEPOS rural ZIP codes: one row per (effective_from, zip5)."""

    effective_from: pl.Date
    state: pl.String
    zip5: pl.String
    year_quarter: pl.String


class OppsRates(_Base):
    """OPPS Addendum B national unadjusted rates: one row per (effective_from, hcpcs)."""

    effective_from: pl.Date
    hcpcs: pl.String
    status_indicator: pl.String
    apc: pl.String
    relative_weight: pe.Decimal = _dec(12, 4, nullable=True)
    payment_rate: pe.Decimal = _dec(14, 3, nullable=True)
    national_copay: pe.Decimal = _dec(14, 2, nullable=True)
    minimum_copay: pe.Decimal = _dec(14, 2, nullable=True)


class AscRates(_Base):
    """ASC addenda AA and BB: one row per (schedule, effective_from, hcpcs)."""

    schedule: pl.String = pa.Field(isin=["asc_aa", "asc_bb"])
    effective_from: pl.Date
    hcpcs: pl.String
    payment_indicator: pl.String
    multiple_procedure_discount: pl.Boolean = pa.Field(**N)
    payment_weight: pe.Decimal = _dec(12, 4, nullable=True)
    payment_rate: pe.Decimal = _dec(14, 2, nullable=True)


TABLE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "mpfs_releases": MpfsReleases,
    "mpfs_release_files": MpfsReleaseFiles,
    "mpfs_rvu": MpfsRvu,
    "mpfs_gpci": MpfsGpci,
    "mpfs_locality_counties": MpfsLocalityCounties,
    "mpfs_anesthesia_cf": MpfsAnesthesiaCf,
    "mpfs_anesthesia_base_units": MpfsAnesthesiaBaseUnits,
    "mpfs_opps_cap": MpfsOppsCap,
    "mpfs_zip5": MpfsZip5,
    "mpfs_zip9": MpfsZip9,
    "mpfs_conversion_factors": MpfsConversionFactors,
    "schedule_releases": ScheduleReleases,
    "clfs_rates": ClfsRates,
    "asp_limits": AspLimits,
    "asp_noc_limits": AspNocLimits,
    "dmepos_fees": DmeposFees,
    "dmepos_rural_zips": DmeposRuralZips,
    "opps_rates": OppsRates,
    "asc_rates": AscRates,
}
