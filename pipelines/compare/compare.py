"""Compare every service line with its contract: fill the `variances` table.

``compare(con, contracts_dir, month=..., payer=...)`` runs the SQL in pipelines/compare/sql/*.sql
(an auditor can read the rules there) with the contracts flattened to frames
(contracts.terms) and Medicare amounts from fee_schedules.pricing.price_lines, then replaces
the variances rows of the lines it recomputed (a rerun never doubles anything).
``export_variances`` writes them to CSV / Parquet / XLSX, mode 0600.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

from contracts.model import load_contracts
from contracts.terms import contract_frames
from pipelines.core.months import parse_month
from pipelines.core.config import Settings
from pipelines.core.errors import ConfigError, ReferenceDataMissing
from pipelines.core.warehouse import owner_only, private_open, transaction
from pipelines.core.sql import read_sql

CATEGORIES = ("underpaid", "overpaid", "correct", "denied", "reversed", "secondary",
              "pending", "no_contract", "not_priced")
# Places of service Medicare prices with facility PE RVUs; used only when fee_schedules.pricing
# (which owns the list) cannot be imported.
_FALLBACK_FACILITY_POS = ("19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52",
                          "53", "56", "61")
_PRICE_OUT = {
    "status": pl.Utf8, "not_priced_reason": pl.Utf8, "amount": pl.Decimal(14, 2),
    "fee_schedule_amount": pl.Decimal(14, 2), "opps_amount": pl.Decimal(14, 2), "opps_capped": pl.Boolean,
    "mpfs_year": pl.Int32, "mpfs_release": pl.Utf8, "locality_code": pl.Utf8, "rvu_modifier": pl.Utf8,
    "setting": pl.Utf8, "work_rvu": pl.Decimal(9, 2), "pe_rvu": pl.Decimal(9, 2), "mp_rvu": pl.Decimal(9, 2),
    "work_gpci": pl.Decimal(9, 3), "pe_gpci": pl.Decimal(9, 3), "mp_gpci": pl.Decimal(9, 3),
    "conversion_factor": pl.Decimal(9, 4), "mult_proc": pl.Utf8, "bilat_surg": pl.Utf8,
    "asst_surg": pl.Utf8, "co_surg": pl.Utf8,
}
COMPARE_MEMORY_LIMIT = "1200MB"
_TEMP_TABLES = ("cmp_reversal_pairs", "cmp_lines", "cmp_match", "cmp_terms", "cmp_line_keys", "cmp_price_rows",
                "cmp_line_price", "cmp_prices", "cmp_steps")


def _money(**kw):
    return pa.Field(dtype_kwargs={"precision": 14, "scale": 2}, nullable=True, **kw)


class VarianceRows(pa.DataFrameModel):
    """The shape and invariants of `variances` rows (DDL: pipelines/core/ddl/variances.sql)."""

    line_id: pl.Int64 = pa.Field(unique=True)
    claim_id: pl.Int64
    category: pl.String = pa.Field(isin=CATEGORIES)
    explanation: pl.String = pa.Field(str_length={"min_value": 10})
    expected_allowed: pe.Decimal = _money(ge=0)
    actual_allowed: pe.Decimal = _money()
    variance: pe.Decimal = _money()
    step_base: pe.Decimal = _money()
    step_percent: pe.Decimal = _money()
    step_modifier: pe.Decimal = _money()
    step_units: pe.Decimal = _money()
    step_lesser_of: pe.Decimal = _money()

    class Config:
        strict = False      # the table has many more columns; these carry the rules
        coerce = False

    @pa.dataframe_check
    def variance_is_expected_minus_actual(cls, data) -> pl.LazyFrame:
        f = data.lazyframe
        return f.select(pl.col("variance").is_null()
                        | (pl.col("variance") == pl.col("expected_allowed") - pl.col("actual_allowed")))

    @pa.dataframe_check
    def flagged_lines_have_a_signed_variance(cls, data) -> pl.LazyFrame:
        c, v = pl.col("category"), pl.col("variance")
        return data.lazyframe.select(((c == "underpaid") & (v > 0)) | ((c == "overpaid") & (v < 0))
                                     | ~c.is_in(["underpaid", "overpaid"]))

    @pa.dataframe_check
    def compared_lines_have_an_expected_amount(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("category").is_in(["underpaid", "overpaid", "correct"])
                                     | (pl.col("expected_allowed") == pl.col("step_lesser_of")))


@dataclass
class CompareResult:
    """What one comparison did: lines per category, dollars, seconds."""

    lines: int = 0
    by_category: dict = field(default_factory=dict)
    expected_total: Decimal = Decimal("0.00")
    actual_total: Decimal = Decimal("0.00")
    underpaid_total: Decimal = Decimal("0.00")    # sum of positive variances of underpaid lines
    overpaid_total: Decimal = Decimal("0.00")     # sum of |variance| of overpaid lines
    denied_expected: Decimal = Decimal("0.00")    # what the contract would have allowed on denied lines
    contracts: int = 0
    month: dt.date | None = None
    payer: str | None = None
    pricing_note: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        scope = f" for {self.month:%Y-%m}" if self.month else ""
        scope += f", payer {self.payer}" if self.payer else ""
        cats = ", ".join(f"{k} {v:,}" for k, v in self.by_category.items() if v)
        text = (f"compared {self.lines:,} service lines{scope} against {self.contracts} contract(s) "
                f"in {self.seconds:.1f} s: {cats or 'nothing to compare'}; underpaid ${self.underpaid_total:,}, "
                f"overpaid ${self.overpaid_total:,}, denied (contract value) ${self.denied_expected:,}")
        if self.pricing_note:
            text += f"\nnote: {self.pricing_note}"
        return text


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _sql(name: str) -> str:
    return read_sql("pipelines.compare.sql", name)


def _params(sql: str, values: dict) -> dict:
    """The subset of ``values`` the query names ($name outside comments)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", code))
    return {k: v for k, v in values.items() if k in used}


def _temp(con, table: str, sql_name: str, values: dict) -> None:
    sql = _sql(sql_name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", _params(sql, values))


def _facility_pos() -> list[str]:
    try:
        from fee_schedules.pricing import FACILITY_POS
        return sorted(str(p) for p in FACILITY_POS)
    except ImportError:
        return list(_FALLBACK_FACILITY_POS)


def _price(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, str | None]:
    """Medicare amount + derivation for each distinct pricing key (not per line)."""
    keys = con.sql("SELECT * FROM cmp_price_rows").pl()
    empty = pl.DataFrame(schema={"price_row": pl.Int64, **_PRICE_OUT})
    if keys.height == 0:
        return empty, None
    try:
        from fee_schedules.pricing import price_lines
    except ImportError as exc:
        return empty, f"Medicare pricing is not available ({exc}); percent_of_medicare lines are not priced"
    keys = keys.with_columns(
        pl.col("price_row").cast(pl.Int64).alias("row_id"),
        pl.when(pl.col("price_modifier") != "").then(pl.concat_list(pl.col("price_modifier")))
        .otherwise(pl.lit([], dtype=pl.List(pl.Utf8))).alias("modifiers"),
        pl.when(pl.col("k_year") > 0).then(pl.col("k_year")).otherwise(None).cast(pl.Int32).alias("year"),
        pl.when(pl.col("k_zip") != "").then(pl.col("k_zip")).otherwise(None).alias("zip"),
        pl.when(pl.col("k_locality") != "").then(pl.col("k_locality")).otherwise(None).alias("locality"),
    )
    out = []
    for qp in (False, True):
        part = keys.filter(pl.col("qp") == qp)
        if part.height == 0:
            continue
        try:
            priced = price_lines(con, part, qp=qp, on_missing="mark")
        except ReferenceDataMissing as exc:
            return empty, str(exc)
        missing = [c for c in _PRICE_OUT if c not in priced.columns]
        priced = priced.with_columns([pl.lit(None, dtype=_PRICE_OUT[c]).alias(c) for c in missing])
        out.append(priced.select(
            [pl.col("price_row").cast(pl.Int64)]
            + [pl.col(c).cast(t, strict=False) for c, t in _PRICE_OUT.items()]))
    return pl.concat(out), None


def compare(con: duckdb.DuckDBPyConnection, contracts_dir, *, month=None, payer: str | None = None,
            settings: Settings | None = None) -> CompareResult:
    """Fill `variances` for the lines of ``month`` (BPR16 payment month) / ``payer`` (all when None)."""
    t0 = time.perf_counter()
    settings = settings or Settings()
    start = parse_month(month)
    contracts = load_contracts(Path(contracts_dir))
    frames = contract_frames(contracts)
    for name, frame in frames.items():
        con.register(name, frame)
    values = {
        "month_start": start, "month_end": _next_month(start) if start else None, "payer": payer,
        "facility_pos": _facility_pos(),
        "practice_zip": settings.practice_zip, "practice_locality": settings.practice_locality,
        "tolerance_amount": Decimal(settings.tolerance_amount), "tolerance_percent": Decimal(settings.tolerance_percent),
        "computed_at": dt.datetime.now().replace(microsecond=0),
    }
    # Row order of the intermediate tables does not matter (every join is by key): letting DuckDB
    # drop it saves memory in the big CREATE/INSERT steps; and DuckDB's buffer limit is capped so a
    # million-line run stays well under 2 GB (temporary tables spill to disk beyond it). Both
    # settings are restored afterwards.
    keep_order, keep_limit = con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('memory_limit')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{COMPARE_MEMORY_LIMIT}'")
    try:
        con.execute(_sql("macros.sql"))
        _temp(con, "cmp_reversal_pairs", "reversals.sql", values)
        _temp(con, "cmp_lines", "lines.sql", values)
        _temp(con, "cmp_match", "match.sql", values)
        _temp(con, "cmp_terms", "terms.sql", values)
        _temp(con, "cmp_line_keys", "price_keys.sql", values)
        _temp(con, "cmp_price_rows", "price_rows.sql", values)
        _temp(con, "cmp_line_price", "line_price.sql", values)
        con.execute("DROP TABLE cmp_line_keys")
        prices, note = _price(con)
        con.register("cmp_prices_raw", prices)
        _temp(con, "cmp_prices", "prices.sql", values)
        values["pricing_note"] = note
        _temp(con, "cmp_steps", "steps.sql", values)
        for name in ("cmp_line_price", "cmp_match", "cmp_terms"):    # consumed: free their memory
            con.execute(f"DROP TABLE IF EXISTS {name}")
        expected = _sql("variances.sql")
        with transaction(con):
            if start is None and payer is None:     # every loaded line is recomputed
                con.execute("DELETE FROM variances")
            else:
                con.execute("DELETE FROM variances WHERE line_id IN (SELECT line_id FROM cmp_lines)")
            con.execute(f"INSERT INTO variances BY NAME {expected}", _params(expected, values))
        rows = con.execute("""
            SELECT category, count(*), coalesce(sum(expected_allowed), 0), coalesce(sum(actual_allowed), 0),
                   coalesce(sum(variance), 0)
            FROM variances WHERE line_id IN (SELECT line_id FROM cmp_lines) GROUP BY category
        """).fetchall()
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")
        con.execute("SET memory_limit = $limit", {"limit": keep_limit})
        for name in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        for name in [*frames, "cmp_prices_raw"]:
            try:
                con.unregister(name)
            except Exception:  # noqa: BLE001 - not registered when an earlier step failed
                pass
    result = CompareResult(contracts=len(contracts), month=start, payer=payer, pricing_note=note)
    result.by_category = {c: 0 for c in CATEGORIES}
    for category, n, exp, act, var in rows:
        result.by_category[category] = n
        result.lines += n
        if category in ("underpaid", "overpaid", "correct"):
            result.expected_total += exp
            result.actual_total += act
        if category == "underpaid":
            result.underpaid_total += var
        elif category == "overpaid":
            result.overpaid_total += -var
        elif category == "denied":
            result.denied_expected += exp
    result.seconds = time.perf_counter() - t0
    return result


def variances_frame(con: duckdb.DuckDBPyConnection, *, month=None, payer: str | None = None) -> pl.DataFrame:
    """The stored variances rows (optionally one payment month / payer), in remittance order."""
    start = parse_month(month)
    sql = """
        SELECT * FROM variances
        WHERE (CAST($month AS DATE) IS NULL OR payment_month = CAST($month AS DATE))
          AND (CAST($payer AS VARCHAR) IS NULL OR upper(payer_id) = upper(CAST($payer AS VARCHAR)))
        ORDER BY payment_date, payment_id, claim_id, line_id
    """
    return con.sql(sql, params={"month": start, "payer": payer}).pl()


def export_variances(con: duckdb.DuckDBPyConnection, out, *, month=None, payer: str | None = None) -> Path:
    """Write the variances rows to ``out`` (.csv, .parquet or .xlsx), created mode 0600."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".parquet", ".xlsx"):
        raise ConfigError(f"--out {out}: expected a file ending in .csv, .parquet or .xlsx")
    frame = variances_frame(con, month=month, payer=payer)
    if kind != ".parquet":   # lists as text: "CO-45, PR-2"
        frame = frame.with_columns([pl.col(c).list.join(", ") for c, t in frame.schema.items()
                                    if isinstance(t, pl.List)])
    out.parent.mkdir(parents=True, exist_ok=True)
    with private_open(out, "wb") as fh:
        if kind == ".csv":
            frame.write_csv(fh)
        elif kind == ".parquet":
            frame.write_parquet(fh)
    if kind == ".xlsx":
        frame.write_excel(out, worksheet="variances", autofit=False)
        owner_only(out)
    return out
