"""The Parquet "lake": the warehouse's comparison inputs as files another engine (Spark) reads, and
the folder that engine writes its variances to. The layout is declared here once; the exporter
(pipelines.lake.export), the variances loader (pipelines.lake.variances) and the Spark engine
import these names instead of spelling paths.

::

    DIR/_underpay_lake.json                        manifest (written last, atomically)
    DIR/payments/payment_month=2026-01-01/part-0.parquet
    DIR/claims/payment_month=2026-01-01/part-0.parquet        (PHI columns left out)
    DIR/service_lines/payment_month=2026-01-01/part-0.parquet
    DIR/adjustments/payment_month=2026-01-01/part-0.parquet
    DIR/<table>/payment_month=__HIVE_DEFAULT_PARTITION__/...  payments without a BPR16 date
    DIR/reference/<fee schedule table>/part-0.parquet
    DIR/contracts/<frame>/part-0.parquet             ct_* frames and cmp_roster
    DIR/variances/payment_month=2026-01-01/part-*.parquet     written by the Spark engine

Month tables are hive partitioned on ``payment_month`` (the first day of the BPR16 payment month):
the value is in the folder name only, never a column of the files, as Spark's
``partitionBy('payment_month')`` and DuckDB's ``hive_partitioning`` expect. A row of claims,
service_lines or adjustments goes to the month of its payment (its payment_id). Names starting
with ``_`` or ``.`` are the exporter's own (manifest, lock, staging): Spark skips them when it
lists a folder, and nothing under ``DIR/_staging`` is at the depth of ``DIR/<table>/*/*.parquet``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.core.errors import ConfigError
from pipelines.core.months import Month

__all__ = [
    "CONTRACTS",
    "CONTRACT_TABLES",
    "EXCLUDED_COLUMNS",
    "FORMAT_VERSION",
    "LAKE_NAMES",
    "LOCK_STEM",
    "MANIFEST",
    "MONTH_TABLES",
    "NULL_PARTITION",
    "PARTITION_KEY",
    "PART_FILE",
    "REFERENCE",
    "REFERENCE_TABLES",
    "ROSTER",
    "STAGING",
    "VARIANCES",
    "contract_dir",
    "is_hidden",
    "month_dir",
    "month_of_partition",
    "partition_name",
    "partition_value",
    "reference_dir",
    "table_dir",
    "variances_dir",
]

FORMAT_VERSION = 1
MANIFEST = "_underpay_lake.json"
LOCK_STEM = "_underpay_lake"  # pipelines.core.lock.run_lock(DIR / LOCK_STEM) holds DIR/_underpay_lake.lock
STAGING = "_staging"  # files being written, and old folders on their way out
PART_FILE = "part-0.parquet"

PARTITION_KEY = "payment_month"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Spark's (and DuckDB's) folder value for NULL

# Partitioned by payment month, in the order a month is written.
MONTH_TABLES: tuple[str, ...] = ("payments", "claims", "service_lines", "adjustments")

# Every fee-schedule table (fee_schedules/sql/schema.sql) -> DIR/reference/<table>/.
REFERENCE = "reference"
REFERENCE_TABLES: tuple[str, ...] = (
    "mpfs_releases",
    "mpfs_release_files",
    "mpfs_rvu",
    "mpfs_gpci",
    "mpfs_locality_counties",
    "mpfs_anesthesia_cf",
    "mpfs_anesthesia_base_units",
    "mpfs_opps_cap",
    "mpfs_zip5",
    "mpfs_zip9",
    "mpfs_conversion_factors",
    "schedule_releases",
    "clfs_rates",
    "asp_limits",
    "asp_noc_limits",
    "dmepos_fees",
    "dmepos_rural_zips",
    "opps_rates",
    "asc_rates",
)

# The contracts folder as the comparison registers it (pipelines.compare.compare.compare):
# contracts.terms.contract_frames(...) plus the provider roster (npi, provider_type).
CONTRACTS = "contracts"
ROSTER = "cmp_roster"
CONTRACT_TABLES: tuple[str, ...] = (
    "ct_contracts",
    "ct_payer_keys",
    "ct_tins",
    "ct_terms",
    "ct_rates",
    "ct_modpct",
    ROSTER,
)

VARIANCES = "variances"  # written by the Spark engine, read back by pipelines.lake.variances

# Patient data the comparison never reads: left out of the lake (ingest.sql marks them "(PHI)").
EXCLUDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims": (
        "patient_last_name",
        "patient_first_name",
        "patient_middle_name",
        "patient_member_id",
        "insured_last_name",
        "insured_first_name",
        "insured_member_id",
        "corrected_last_name",
        "corrected_first_name",
        "corrected_member_id",
    ),
}

# Everything the exporter may find (and make) directly under DIR.
LAKE_NAMES: frozenset[str] = frozenset(
    {*MONTH_TABLES, REFERENCE, CONTRACTS, VARIANCES, STAGING, MANIFEST, MANIFEST + ".tmp", LOCK_STEM + ".lock"}
)


def is_hidden(name: str) -> bool:
    """A name Spark and the loaders skip when they list a folder (``_...`` or ``....``)."""
    return name.startswith(("_", "."))


def partition_value(month: Month | None) -> str:
    """The folder value of a payment month: ``2026-01-01``; None (no BPR16 date): Spark's NULL value."""
    return NULL_PARTITION if month is None else month.start.isoformat()


def partition_name(month: Month | None) -> str:
    """``payment_month=2026-01-01`` (or ``payment_month=__HIVE_DEFAULT_PARTITION__``)."""
    return f"{PARTITION_KEY}={partition_value(month)}"


def month_of_partition(name: str) -> Month | None:
    """The month of a folder name made by :func:`partition_name` (None: the NULL partition);
    ValueError for any other name."""
    key, sep, value = name.partition("=")
    if key != PARTITION_KEY or not sep:
        raise ValueError(f"{name!r}: not a {PARTITION_KEY}=... folder")
    if value == NULL_PARTITION:
        return None
    try:
        month = Month.parse(value[:7])
    except ConfigError:
        month = None
    if month is None or value != month.start.isoformat():
        raise ValueError(f"{name!r}: expected {PARTITION_KEY}=YYYY-MM-01")
    return month


def table_dir(root: str | os.PathLike, table: str) -> Path:
    """``DIR/<table>`` of a month table (payments, claims, service_lines, adjustments)."""
    return Path(root) / table


def month_dir(root: str | os.PathLike, table: str, month: Month | None) -> Path:
    """``DIR/<table>/payment_month=YYYY-MM-01`` (None: the NULL partition)."""
    return table_dir(root, table) / partition_name(month)


def reference_dir(root: str | os.PathLike, table: str) -> Path:
    """``DIR/reference/<table>`` of a fee-schedule table."""
    return Path(root) / REFERENCE / table


def contract_dir(root: str | os.PathLike, frame: str) -> Path:
    """``DIR/contracts/<frame>`` of a contract frame (ct_* or cmp_roster)."""
    return Path(root) / CONTRACTS / frame


def variances_dir(root: str | os.PathLike) -> Path:
    """``DIR/variances``: the Spark engine's output, partitioned like the month tables."""
    return Path(root) / VARIANCES
