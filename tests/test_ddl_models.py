"""DDL equals model: every warehouse table has a pandera model with the same columns in the same
order, the same types and the same NOT NULL; the 835 mapping fills exactly the ingest models'
columns (apart from the ids the loader adds). So DDL, model and mapping cannot drift apart.
"""

from __future__ import annotations

import importlib

import duckdb
import polars as pl
import pytest

from pipelines.core.warehouse import connect
from pipelines.ingest import mapping

# table -> "module:Class" of its pandera model
MODELS = {
    "era_files": "pipelines.ingest.validate:EraFiles",
    "payments": "pipelines.ingest.validate:Payments",
    "claims": "pipelines.ingest.validate:Claims",
    "service_lines": "pipelines.ingest.validate:ServiceLines",
    "adjustments": "pipelines.ingest.validate:Adjustments",
    "provider_adjustments": "pipelines.ingest.validate:ProviderAdjustments",
    "validation_issues": "pipelines.ingest.validate:ValidationIssues",
    "runs": "pipelines.runs.model:Runs",
    "variances": "pipelines.compare.model:Variances",
    "mpfs_releases": "fee_schedules.tables:MpfsReleases",
    "mpfs_release_files": "fee_schedules.tables:MpfsReleaseFiles",
    "mpfs_rvu": "fee_schedules.tables:MpfsRvu",
    "mpfs_gpci": "fee_schedules.tables:MpfsGpci",
    "mpfs_locality_counties": "fee_schedules.tables:MpfsLocalityCounties",
    "mpfs_anesthesia_cf": "fee_schedules.tables:MpfsAnesthesiaCf",
    "mpfs_anesthesia_base_units": "fee_schedules.tables:MpfsAnesthesiaBaseUnits",
    "mpfs_opps_cap": "fee_schedules.tables:MpfsOppsCap",
    "mpfs_zip5": "fee_schedules.tables:MpfsZip5",
    "mpfs_zip9": "fee_schedules.tables:MpfsZip9",
    "mpfs_conversion_factors": "fee_schedules.tables:MpfsConversionFactors",
    "worklist_claims": "pipelines.worklist.model:WorklistClaims",
    "worklist_lines": "pipelines.worklist.model:WorklistLines",
    "worklist_events": "pipelines.worklist.model:WorklistEvents",
    "schedule_releases": "fee_schedules.tables:ScheduleReleases",
    "clfs_rates": "fee_schedules.tables:ClfsRates",
    "asp_limits": "fee_schedules.tables:AspLimits",
    "asp_noc_limits": "fee_schedules.tables:AspNocLimits",
    "dmepos_fees": "fee_schedules.tables:DmeposFees",
    "dmepos_rural_zips": "fee_schedules.tables:DmeposRuralZips",
    "opps_rates": "fee_schedules.tables:OppsRates",
    "asc_rates": "fee_schedules.tables:AscRates",
    "market_files": "pipelines.market.model:MarketFiles",
    "market_rates": "pipelines.market.model:MarketRates",
}

# Columns the model declares not-null although the DDL does not say NOT NULL, as (table, column).
# Empty: every column the ingest fills on every row is NOT NULL in the DDL too. Add an entry
# only for a column the DDL cannot constrain yet, with the reason; the test below keeps the list
# current (an entry the DDL has since caught up with fails it).
MODEL_STRICTER: set[tuple[str, str]] = set()

# Ingest columns the loader adds to the parsed frames (ids and cross-row links), not the mapping.
LOADER_COLUMNS = {
    "payments": {"payment_id", "file_id", "transaction_index", "resent_of_payment_id"},
    "claims": {"claim_id", "payment_id", "file_id", "reverses_claim_id", "reversed_by_claim_id"},
    "service_lines": {"line_id", "claim_id", "payment_id", "file_id"},
    "adjustments": {"file_id", "payment_id", "claim_id", "line_id"},
    "provider_adjustments": {"file_id", "payment_id"},
}

_SIMPLE = {
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Int16: "SMALLINT",
    pl.String: "VARCHAR",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
    pl.Float64: "DOUBLE",
}


def duck_type(dtype: pl.DataType) -> str:
    """The DuckDB type a polars column of ``dtype`` is stored as."""
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.List):
        return duck_type(dtype.inner) + "[]"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP WITH TIME ZONE" if dtype.time_zone else "TIMESTAMP"
    return _SIMPLE.get(dtype.base_type(), repr(dtype))


def model_columns(model) -> list[tuple[str, str, bool]]:
    """(name, DuckDB type, not null) of each model column, in declaration order."""
    return [(name, duck_type(col.dtype.type), not col.nullable) for name, col in model.to_schema().columns.items()]


def described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    """(name, DuckDB type, not null) of each table column, in order (DESCRIBE)."""
    return [(r[0], r[1], r[2] == "NO") for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def differences(table: str, ddl: list[tuple[str, str, bool]], model, stricter=frozenset()) -> list[str]:
    """How the table's DDL and its model differ (empty when they agree)."""
    mine = model_columns(model)
    if [c[0] for c in ddl] != [c[0] for c in mine]:
        return [f"{table}: columns differ: DDL {[c[0] for c in ddl]} vs model {[c[0] for c in mine]}"]
    out = []
    for (name, dtype, notnull), (_, mtype, mnotnull) in zip(ddl, mine):
        if dtype != mtype:
            out.append(f"{table}.{name}: DDL {dtype}, model {mtype}")
        if notnull and not mnotnull:
            out.append(f"{table}.{name}: NOT NULL in the DDL, nullable in the model")
        if mnotnull and not notnull and (table, name) not in stricter:
            out.append(f"{table}.{name}: not-null in the model, nullable in the DDL")
    return out


def load_model(table: str):
    module, cls = MODELS[table].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if table == "variances" and exc.name == module:
            pytest.skip(f"{module} (the variances model) is not written yet")
        raise
    return getattr(mod, cls)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    con = connect(tmp_path_factory.mktemp("ddl") / "w.duckdb")
    yield con
    con.close()


def test_every_table_has_a_model(warehouse):
    tables = {
        r[0] for r in warehouse.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
    }
    assert tables == set(MODELS)


@pytest.mark.parametrize("table", sorted(MODELS))
def test_ddl_equals_model(warehouse, table):
    model = load_model(table)
    assert differences(table, described(warehouse, table), model, MODEL_STRICTER) == []


def test_model_stricter_list_is_current(warehouse):
    """Every declared exception is still one (a column fixed in the DDL leaves the list)."""
    for table, column in sorted(MODEL_STRICTER):
        ddl = dict((c[0], c[2]) for c in described(warehouse, table))
        mine = dict((c[0], c[2]) for c in model_columns(load_model(table)))
        assert mine[column] and not ddl[column], (table, column)


def test_a_different_ddl_is_reported():
    """The comparison catches a changed type, a missing NOT NULL, a renamed or reordered column."""
    from pipelines.runs.model import Runs

    con = duckdb.connect()
    con.execute("""CREATE TABLE runs (run_id BIGINT NOT NULL, kind VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP, status VARCHAR, files_seen INTEGER, files_loaded INTEGER, files_duplicate INTEGER,
        files_rejected INTEGER, months_touched VARCHAR[], message VARCHAR NOT NULL, host VARCHAR, pid BIGINT,
        redone_by BIGINT)""")
    assert differences("runs", described(con, "runs"), Runs) == [
        "runs.status: not-null in the model, nullable in the DDL",
        "runs.message: NOT NULL in the DDL, nullable in the model",
        "runs.pid: DDL BIGINT, model INTEGER",
    ]
    con.execute("ALTER TABLE runs RENAME COLUMN host TO hostname")
    assert differences("runs", described(con, "runs"), Runs)[0].startswith("runs: columns differ")
    good = [c for c in model_columns(Runs)]
    assert differences("runs", good, Runs) == []
    assert differences("runs", [good[1], good[0], *good[2:]], Runs)  # order matters


@pytest.mark.parametrize("table", mapping.TABLES)
def test_mapping_fills_the_model_columns(table):
    """The 835 mapping's columns are the model's, apart from the ids the loader adds (and the
    ordinal keys it turns into ids); each mapped type is the model's type."""
    model = load_model(table)
    schema = {n: c.dtype.type for n, c in model.to_schema().columns.items()}
    mapped = [c for c in mapping.columns(table) if c not in mapping.KEYS]
    assert sorted(mapped) == sorted(set(schema) - LOADER_COLUMNS[table])
    assert LOADER_COLUMNS[table] <= set(schema)
    for f in mapping.fields(table):
        if f.column in mapping.KEYS:
            continue
        if f.type == "ordinal":  # a position: Int32 in the frame, the model's integer once loaded
            assert schema[f.column].is_integer(), f
        else:
            assert f.dtype == schema[f.column], f
