"""Compare every service line with its contract: fill the `variances` table.

``compare(con, contracts_dir, month=..., payer=...)`` runs the declared chain :data:`CHAIN` of SQL
files in pipelines/compare/sql/ (numbered in run order; sql/README.md lists each step's table, grain
and inputs, and an auditor can read the rules there) over the contracts flattened to frames
(contracts.terms), with the Medicare amounts priced in Python between steps 08 and 09:
fee_schedules.schedule_pricing.price_medicare per distinct pricing key, and fee_schedules.claims.price_claims
per line for the lines Medicare's claim-level rules price (percent_of_medicare terms of contracts
whose modifier_adjustments is `medicare`: multiple procedures, endoscopy families, imaging,
bilateral pairs, anesthesia, each claim of one rendering provider as a whole; the provider roster
of the contracts folder, contracts.providers, gives the rendering provider's type). The last step
replaces the variances rows of the lines it recomputed (a rerun never doubles anything). A scope
bigger than ``Settings.compare_chunk_lines`` lines runs steps 02-12 once per range of whole
payment days (``payment_day_ranges``), so one comparison's memory stays bounded.
``export_variances`` writes them to CSV / Parquet / XLSX, mode 0600.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from contracts.model import load_contracts
from contracts.providers import load_roster
from contracts.terms import contract_frames
from fee_schedules.claims import price_claims
from fee_schedules.schedule_pricing import price_medicare
from pipelines.compare.model import CATEGORIES, VarianceRows, Variances
from pipelines.core import places
from pipelines.core.config import Settings
from pipelines.core.errors import ConfigError, ReferenceDataMissing
from pipelines.core.money import LINE_AMOUNT_CEILING, MONEY
from pipelines.core.months import Month
from pipelines.core.outputs import make_private_dirs, private_open
from pipelines.core.spreadsheet import csv_bytes, formula_safe, xlsx_workbook
from pipelines.core.sql import arrow_view, bind, read_sql
from pipelines.core.transactions import transaction

__all__ = [
    "CATEGORIES",
    "CHAIN",
    "CompareResult",
    "Step",
    "VarianceRows",
    "Variances",
    "chain_values",
    "compare",
    "export_variances",
    "variances_frame",
]

SQL_PACKAGE = "pipelines.compare.sql"
MACROS = "00_macros.sql"


@dataclass(frozen=True)
class Step:
    """One link of the comparison chain: ``file`` makes ``table`` (a temp table, or the rows
    inserted into `variances` for the last step). ``price_first``: the Python pricing runs before
    it (cmp_price_rows -> cmp_prices_raw, cmp_claim_lines -> cmp_claim_prices_raw). ``frees``:
    tables no later step (nor the pricing) reads, dropped after it."""

    table: str
    file: str
    price_first: bool = False
    frees: tuple[str, ...] = ()


# The comparison, in run order (sql/README.md describes the same chain; tests check they agree).
CHAIN: tuple[Step, ...] = (
    Step("cmp_reversal_pairs", "01_reversals.sql"),
    Step("cmp_lines", "02_lines.sql"),
    Step("cmp_match", "03_match.sql"),
    Step("cmp_terms", "04_terms.sql"),
    Step("cmp_line_keys", "05_price_keys.sql"),
    Step("cmp_price_rows", "06_price_rows.sql"),
    Step("cmp_line_price", "07_line_price.sql"),
    Step("cmp_claim_lines", "08_claim_lines.sql", frees=("cmp_line_keys",)),
    Step("cmp_prices", "09_prices.sql", price_first=True, frees=("cmp_claim_lines",)),
    Step("cmp_claim_prices", "10_claim_prices.sql"),
    Step("cmp_steps", "11_steps.sql", frees=("cmp_line_price", "cmp_match", "cmp_terms", "cmp_claim_prices")),
    Step("variances", "12_variances.sql"),
)
TEMP_TABLES = tuple(s.table for s in CHAIN if s.table != "variances")
# The pricers' outputs (Arrow, registered before step 09) and the step that reads each into a table.
_RAW_READ_BY = {"cmp_prices": "cmp_prices_raw", "cmp_claim_prices": "cmp_claim_prices_raw"}
# Steps that read the whole warehouse whatever the month or payer asked for: a comparison in
# chunks (``_run_chunks``) runs them once, before the chunks.
ONCE = ("cmp_reversal_pairs",)

# Columns of the price_medicare output the chain reads (cmp_prices_raw -> 09_prices.sql).
_PRICE_OUT: dict[str, pl.DataType | type[pl.DataType]] = {
    "status": pl.Utf8,
    "not_priced_reason": pl.Utf8,
    "amount": MONEY,
    "fee_schedule_amount": MONEY,
    "opps_amount": MONEY,
    "opps_capped": pl.Boolean,
    "mpfs_year": pl.Int32,
    "mpfs_release": pl.Utf8,
    "locality_code": pl.Utf8,
    "rvu_modifier": pl.Utf8,
    "setting": pl.Utf8,
    "work_rvu": pl.Decimal(9, 2),
    "pe_rvu": pl.Decimal(9, 2),
    "mp_rvu": pl.Decimal(9, 2),
    "work_gpci": pl.Decimal(9, 3),
    "pe_gpci": pl.Decimal(9, 3),
    "mp_gpci": pl.Decimal(9, 3),
    "conversion_factor": pl.Decimal(9, 4),
    "mult_proc": pl.Utf8,
    "bilat_surg": pl.Utf8,
    "asst_surg": pl.Utf8,
    "schedule": pl.Utf8,
    "unit_rate": pl.Decimal(18, 5),
    "rate_label": pl.Utf8,
}
# Columns of the price_claims output the chain reads (cmp_claim_prices_raw -> 10_claim_prices.sql).
_CLAIM_OUT: dict[str, pl.DataType | type[pl.DataType]] = {
    "row_id": pl.Int64,
    "claim_level": pl.Boolean,
    "facility": pl.Boolean,
    "status": pl.Utf8,
    "reason": pl.Utf8,
    "allowed": MONEY,
    "full_amount": MONEY,
    "fee": MONEY,
    "claim_step": pl.Utf8,
    "derivation": pl.Utf8,
    "mpfs_year": pl.Int32,
    "mpfs_release": pl.Utf8,
    "locality_code": pl.Utf8,
    "mult_proc": pl.Utf8,
}
# DuckDB's buffer limit during the chain (temporary tables spill to disk beyond it). 1,000,000 lines:
# 1200MB spilled steps 11-12 (10.4 s, peak 1.53 GB); 1400MB spills less (9.6 s, peak 1.69 GB, the
# claim pricer now bounded in chunks); 1600MB 9.3 s but 1.86 GB, too near the 2 GB target.
COMPARE_MEMORY_LIMIT = "1400MB"


@dataclass
class CompareResult:
    """What one comparison did: lines per category, dollars, seconds."""

    lines: int = 0
    by_category: dict = field(default_factory=dict)
    expected_total: Decimal = Decimal("0.00")
    actual_total: Decimal = Decimal("0.00")
    underpaid_total: Decimal = Decimal("0.00")  # sum of positive variances of underpaid lines
    overpaid_total: Decimal = Decimal("0.00")  # sum of |variance| of overpaid lines
    denied_expected: Decimal = Decimal("0.00")  # what the contract would have allowed on denied lines
    contracts: int = 0
    month: dt.date | None = None
    payer: str | None = None
    pricing_note: str | None = None
    seconds: float = 0.0

    def add_categories(self, rows) -> None:
        """Count (category, lines, sum expected_allowed, sum actual_allowed, sum variance) rows in."""
        self.by_category = {c: 0 for c in CATEGORIES}
        for category, n, exp, act, var in rows:
            self.by_category[category] = n
            self.lines += n
            if category in ("underpaid", "overpaid", "correct"):
                self.expected_total += exp
                self.actual_total += act
            if category == "underpaid":
                self.underpaid_total += var
            elif category == "overpaid":
                self.overpaid_total += -var
            elif category == "denied":
                self.denied_expected += exp

    def summary(self) -> str:
        scope = f" for {self.month:%Y-%m}" if self.month else ""
        scope += f", payer {self.payer}" if self.payer else ""
        cats = ", ".join(f"{k} {v:,}" for k, v in self.by_category.items() if v)
        text = (
            f"compared {self.lines:,} service lines{scope} against {self.contracts} contract(s) "
            f"in {self.seconds:.1f} s: {cats or 'nothing to compare'}; underpaid ${self.underpaid_total:,}, "
            f"overpaid ${self.overpaid_total:,}, denied (contract value) ${self.denied_expected:,}"
        )
        if self.pricing_note:
            text += f"\nnote: {self.pricing_note}"
        return text


def _sql(name: str) -> str:
    return read_sql(SQL_PACKAGE, name)


def _month(month: Month | date | str | None) -> Month | None:
    """The payment month asked for: a Month, a date in it or 'YYYY-MM' (None: every month)."""
    return None if month is None else Month.coerce(month)


def _price(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, str | None]:
    """Medicare amount + derivation for each distinct pricing key of cmp_price_rows (not per line);
    and why nothing could be priced (a fee schedule not imported), else None."""
    keys = con.sql("SELECT * FROM cmp_price_rows").pl()
    empty = pl.DataFrame(schema={"price_row": pl.Int64, **_PRICE_OUT})
    if keys.height == 0:
        return empty, None
    keys = keys.with_columns(
        pl.col("price_row").cast(pl.Int64).alias("row_id"),
        pl.concat_list(
            pl.when(pl.col("price_modifier") != "")
            .then(pl.concat_list(pl.col("price_modifier")))
            .otherwise(pl.lit([], dtype=pl.List(pl.Utf8))),
            pl.col("k_mods").str.split(" ").list.eval(pl.element().filter(pl.element() != "")),
        ).alias("modifiers"),
        pl.when(pl.col("k_year") > 0).then(pl.col("k_year")).otherwise(None).cast(pl.Int32).alias("year"),
        pl.when(pl.col("k_zip") != "").then(pl.col("k_zip")).otherwise(None).alias("zip"),
        pl.when(pl.col("k_locality") != "").then(pl.col("k_locality")).otherwise(None).alias("locality"),
    )

    def price(part: pl.DataFrame, qp: bool) -> pl.DataFrame:
        parts = []
        for asked in part["k_schedule"].unique(maintain_order=True).to_list():
            rows = part.filter(pl.col("k_schedule") == asked)
            parts.append(price_medicare(con, rows, schedule=asked or None, qp=qp, on_missing="mark"))
        priced = pl.concat(parts, how="diagonal_relaxed")
        missing = [c for c in _PRICE_OUT if c not in priced.columns]
        priced = priced.with_columns([pl.lit(None, dtype=_PRICE_OUT[c]).alias(c) for c in missing])
        return priced.select(
            [pl.col("price_row").cast(pl.Int64)] + [pl.col(c).cast(t, strict=False) for c, t in _PRICE_OUT.items()]
        )

    return _by_qp(keys, price, empty)


def _by_qp(
    frame: pl.DataFrame, price: Callable[[pl.DataFrame, bool], pl.DataFrame], empty: pl.DataFrame
) -> tuple[pl.DataFrame, str | None]:
    """``price`` run on the rows of each conversion factor (column qp: qualifying APM or not), the
    parts stacked; or ``empty`` and why, when a fee schedule file is not imported."""
    out = []
    for qp in (False, True):
        part = frame.filter(pl.col("qp") == qp)
        if part.height == 0:
            continue
        try:
            out.append(price(part, qp))
        except ReferenceDataMissing as exc:
            return empty, str(exc)
    return pl.concat(out), None


def _price_claims(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, str | None]:
    """The claim-level Medicare allowed of each line of cmp_claim_lines (one price_claims input row
    per line; the pricer groups them into claims), with its claim step and derivation; and why
    nothing could be priced (a fee schedule not imported), else None."""
    lines = con.sql("SELECT * FROM cmp_claim_lines").pl()
    empty = pl.DataFrame(schema=_CLAIM_OUT)
    if lines.height == 0:
        return empty, None

    def price(part: pl.DataFrame, qp: bool) -> pl.DataFrame:
        priced = price_claims(con, part.drop("qp"), qp=qp, on_missing="mark")
        return priced.select([pl.col(c).cast(t, strict=False) for c, t in _CLAIM_OUT.items()])

    return _by_qp(lines, price, empty)


def chain_values(settings: Settings, asked: Month | None, payer: str | None) -> dict:
    """The parameters the chain's SQL binds (`$month_start` ...), the same for every engine."""
    return {
        "month_start": asked.start if asked else None,
        "month_end": asked.end if asked else None,
        "undated": False,  # True: only payments without a BPR16 date (the last of _run_chunks' chunks)
        "payer": payer,
        "facility_pos": places.facility_pos_list(),
        "practice_zip": settings.practice_zip,
        "practice_locality": settings.practice_locality,
        "tolerance_amount": Decimal(settings.tolerance_amount),
        "tolerance_percent": Decimal(settings.tolerance_percent),
        "computed_at": dt.datetime.now().replace(microsecond=0),
        "amount_ceiling": LINE_AMOUNT_CEILING,
    }


def _run_chain(
    con: duckdb.DuckDBPyConnection, values: dict, *, replace_all: bool, steps: tuple[Step, ...] = CHAIN
) -> str | None:
    """Run ``steps`` (all of :data:`CHAIN` by default) in order; returns the pricing note (why
    nothing was priced, or None)."""
    con.execute(_sql(MACROS))
    note = None
    for step in steps:
        if step.price_first:
            prices, note = _price(con)
            claim_prices, claim_note = _price_claims(con)
            con.register("cmp_prices_raw", arrow_view(prices))
            con.register("cmp_claim_prices_raw", arrow_view(claim_prices))
            del prices, claim_prices  # held by the registrations until their steps have read them
            note = note or claim_note
            values["pricing_note"] = note
        sql = _sql(step.file)
        params = bind(sql, values)
        if step.table == "variances":
            with transaction(con):
                if replace_all:  # every loaded line is recomputed
                    con.execute("DELETE FROM variances")
                else:
                    con.execute("DELETE FROM variances WHERE line_id IN (SELECT line_id FROM cmp_lines)")
                con.execute(f"INSERT INTO variances BY NAME {sql}", params)
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {step.table} AS {sql}", params)
        for name in step.frees:  # consumed: free their memory
            con.execute(f"DROP TABLE IF EXISTS {name}")
        if step.table in _RAW_READ_BY:  # the pricer's output, now a table: free its Arrow memory
            con.unregister(_RAW_READ_BY[step.table])
    return note


def _lines_by_payment_day(con: duckdb.DuckDBPyConnection, asked: Month | None) -> list[tuple[date, int]]:
    """(payment date, service lines) of the month asked for (every dated payment when None), in date order."""
    return con.execute(
        """
        SELECT p.payment_date, count(*)
        FROM service_lines AS sl JOIN payments AS p ON p.payment_id = sl.payment_id
        WHERE p.payment_date IS NOT NULL
          AND (CAST($start AS DATE) IS NULL OR (p.payment_date >= CAST($start AS DATE) AND p.payment_date < CAST($end AS DATE)))
        GROUP BY ALL ORDER BY 1
        """,
        {"start": asked.start if asked else None, "end": asked.end if asked else None},
    ).fetchall()


def payment_day_ranges(
    days: list[tuple[date, int]], asked: Month | None, chunk_lines: int
) -> list[tuple[date, date]] | None:
    """How a comparison too big for one pass is cut: None when the ``days`` (payment date, lines)
    hold at most ``chunk_lines`` lines (one pass); otherwise consecutive half-open payment-date
    ranges [start, end), each holding about ``chunk_lines`` lines or fewer (a single day holding
    more is a range of its own: a payment's claims are never split), that together cover the
    month asked for (or every payment date when None).

    Whole payment days keep every claim, and so every claim-level Medicare rule, inside one chunk;
    an original claim that a reversal cancels is recomputed with the reversal's chunk as in one
    pass (02_lines.sql adds it), its result the same."""
    if not days or sum(n for _, n in days) <= chunk_lines:
        return None
    cuts: list[date] = []
    held = 0
    for day, n in days:
        if held and held + n > chunk_lines:
            cuts.append(day)
            held = 0
        held += n
    first = asked.start if asked else days[0][0]
    last = asked.end if asked else days[-1][0] + dt.timedelta(days=1)
    bounds = [first, *cuts, last]
    return list(zip(bounds, bounds[1:]))


def _run_chunks(
    con: duckdb.DuckDBPyConnection, values: dict, days: list[tuple[date, date]], *, replace_all: bool
) -> str | None:
    """The chain over consecutive payment-date ranges: step 01 (reversal pairs, over the whole
    warehouse) once, then steps 02-12 for each range, each range's variances committed on their own.
    The lines of every range are kept in cmp_scope_lines (the result counts them once). Over every
    month (``values`` without a month) a last chunk takes the payments without a BPR16 date; with
    ``replace_all`` (every month, every payer) the rows of lines no chunk computed (lines no longer
    in the warehouse) are deleted at the end, as the one-pass comparison replaces them all.
    Returns a pricing note (why something was not priced), else None."""
    once = tuple(s for s in CHAIN if s.table in ONCE)
    each = tuple(s for s in CHAIN if s.table not in ONCE)
    note = _run_chain(con, values, replace_all=False, steps=once)
    con.execute("CREATE OR REPLACE TEMP TABLE cmp_scope_lines (line_id BIGINT)")
    parts = [dict(values, month_start=start, month_end=end) for start, end in days]
    if values["month_start"] is None:
        parts.append(dict(values, undated=True))
    for part in parts:
        note = _run_chain(con, part, replace_all=False, steps=each) or note
        con.execute("INSERT INTO cmp_scope_lines SELECT line_id FROM cmp_lines")
        for name in TEMP_TABLES:  # the next range makes its own
            if name not in ONCE:
                con.execute(f"DROP TABLE IF EXISTS {name}")
    if replace_all:
        con.execute("DELETE FROM variances WHERE line_id NOT IN (SELECT line_id FROM cmp_scope_lines)")
    return note


def compare(
    con: duckdb.DuckDBPyConnection,
    contracts_dir,
    *,
    month: Month | date | str | None = None,
    payer: str | None = None,
    settings: Settings | None = None,
) -> CompareResult:
    """Fill `variances` for the lines of ``month`` (BPR16 payment month) / ``payer`` (all when None).

    A scope holding more than ``settings.compare_chunk_lines`` lines is compared in chunks of
    whole payment days (``payment_day_ranges``, ``_run_chunks``), so that the memory one
    comparison needs stays bounded whatever the month's size; the rows are the same as in one
    pass (over every month, payments without a BPR16 date are the last chunk)."""
    t0 = time.perf_counter()
    settings = settings or Settings()
    asked = _month(month)
    contracts = load_contracts(Path(contracts_dir))
    frames = contract_frames(contracts)
    frames["cmp_roster"] = load_roster(Path(contracts_dir)).select("npi", "provider_type")
    for name, frame in frames.items():
        con.register(name, arrow_view(frame))
    values = chain_values(settings, asked, payer)
    # Row order of the intermediate tables does not matter (every join is by key): letting DuckDB
    # drop it saves memory in the big CREATE/INSERT steps; and DuckDB's buffer limit is capped so a
    # million-line run stays well under 2 GB (temporary tables spill to disk beyond it). Both
    # settings are restored afterwards.
    keep_order, keep_limit = con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('memory_limit')"
    ).fetchall()[0]
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{COMPARE_MEMORY_LIMIT}'")
    try:
        days = payment_day_ranges(_lines_by_payment_day(con, asked), asked, settings.compare_chunk_lines)
        if days is None:  # one pass
            note = _run_chain(con, values, replace_all=asked is None and payer is None)
            scope = "cmp_lines"
        else:
            note = _run_chunks(con, values, days, replace_all=asked is None and payer is None)
            scope = "cmp_scope_lines"
        rows = con.execute(f"""
            SELECT category, count(*), coalesce(sum(expected_allowed), 0), coalesce(sum(actual_allowed), 0),
                   coalesce(sum(variance), 0)
            FROM variances WHERE line_id IN (SELECT line_id FROM {scope}) GROUP BY category
        """).fetchall()
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")
        con.execute("SET memory_limit = $limit", {"limit": keep_limit})
        for name in (*TEMP_TABLES, "cmp_scope_lines"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        for name in [*frames, "cmp_prices_raw", "cmp_claim_prices_raw"]:
            try:
                con.unregister(name)
            except Exception:  # noqa: BLE001 - not registered when an earlier step failed
                pass
    result = CompareResult(
        contracts=len(contracts), month=asked.start if asked else None, payer=payer, pricing_note=note
    )
    result.add_categories(rows)
    result.seconds = time.perf_counter() - t0
    return result


def variances_frame(
    con: duckdb.DuckDBPyConnection, *, month: Month | date | str | None = None, payer: str | None = None
) -> pl.DataFrame:
    """The stored variances rows (optionally one payment month / payer), in remittance order."""
    asked = _month(month)
    sql = """
        SELECT * FROM variances
        WHERE (CAST($month AS DATE) IS NULL OR payment_month = CAST($month AS DATE))
          AND (CAST($payer AS VARCHAR) IS NULL OR upper(payer_id) = upper(CAST($payer AS VARCHAR)))
        ORDER BY payment_date, payment_id, claim_id, line_id
    """
    return con.sql(sql, params={"month": asked.start if asked else None, "payer": payer}).pl()


def export_variances(con: duckdb.DuckDBPyConnection, out, *, month=None, payer: str | None = None) -> Path:
    """Write the variances rows to ``out`` (.csv, .parquet or .xlsx), created mode 0600 (new
    folders 0700). CSV and XLSX text cells that start like a formula are quoted
    (pipelines.compare.spreadsheet), so no 835 text runs in a spreadsheet."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".parquet", ".xlsx"):
        raise ConfigError(f"--out {out}: expected a file ending in .csv, .parquet or .xlsx")
    frame = variances_frame(con, month=month, payer=payer)
    if kind != ".parquet":  # lists as text: "CO-45, PR-2"
        frame = frame.with_columns(
            [pl.col(c).list.join(", ") for c, t in frame.schema.items() if isinstance(t, pl.List)]
        )
    make_private_dirs(out.parent)
    if kind == ".csv":
        data = csv_bytes(frame)
    elif kind == ".xlsx":
        buf = io.BytesIO()
        with xlsx_workbook(buf) as wb:
            formula_safe(frame).write_excel(workbook=wb, worksheet="variances", autofit=False)
        data = buf.getvalue()
    else:  # Parquet is data, not a spreadsheet: the stored text exactly
        pq = io.BytesIO()
        frame.write_parquet(pq)
        data = pq.getvalue()
    with private_open(out, "wb") as fh:
        fh.write(data)
    return out
