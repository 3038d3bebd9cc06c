"""The negotiation pack for one payer: what it allows per code against Medicare and against
every other payer over 12 months, and what a proposal would be worth on last year's volume.

``build_context`` returns a ``NegotiationContext`` (the documented context of
templates/negotiate.html.j2); ``render_negotiation`` writes the HTML; ``negotiation_pack``
writes HTML and exports and returns a ``NegotiationReport``.

The Medicare amount is priced by fee_schedules.schedule_pricing.price_medicare (the physician schedule,
or the lab, drug or DME schedule that pays the code) at the practice's
location (zip or locality, for the through month) when that is given and the fee schedule
is in the warehouse; otherwise it is the average Medicare unit amount the comparison stored
on the payer's lines (variances.medicare_unit_amount). Each row says which source it used.

The Market section sets this payer's allowed amounts beside the rates payers publish under
Transparency in Coverage (table ``market_rates``, loaded by ``underpay market import FILE``):
per code, the distribution of the kept rates (reports/sql/market_distribution.sql says which
count) for this payer and for every payer: count, p10/p25/median/p75/p90 (nearest-rank, exact:
each is one of the published rates), the payer's average allowed and its percentile rank in
the distribution, all also as a percent of the pack's Medicare amount. "This payer's" rates are
those whose reporting entity or plan name contains the payer's name as the 835s give it
(case-insensitive), or the name the caller passes as ``market_entity`` (``--market-entity``).

Months are :class:`~pipelines.core.months.Month` values; ``render_negotiation`` and
``negotiation_pack`` also take ``through`` as ``'YYYY-MM'`` or a date from a library caller.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from markupsafe import Markup

from fee_schedules.schedule_pricing import price_medicare
from pipelines.core.errors import UnderpayError
from pipelines.core.money import half_up, to_cent
from pipelines.core.months import Month
from reports import charts, queries
from reports.context import generated_at, version
from reports.proposal import MARKET_STATS, Proposal, load_proposal
from reports.render import ensure_dir, render, safe_name, write_text
from reports.render import money as money_text
from reports.tables import Column, Table, cols

OTHER_PAYERS = 8  # other payers shown side by side (largest shared volume first)
MARKET_CHARTS = 5  # the top codes (by allowed) drawn as a market distribution chart
SECTIONS = (
    ("summary", "Summary"),
    ("codes", "Codes"),
    ("payers", "Other payers"),
    ("market", "Market"),
    ("proposal", "Proposal"),
)


@dataclass
class NegotiationTotals:
    """The pack's headline figures (templates/negotiate.html.j2 reads them as ``totals.*``).

    proposed_revenue, effect and current_priced are over the codes the proposal prices;
    proposed_revenue and effect are None when there is no proposal."""

    codes: int  # codes this payer was allowed in the window
    volume: Decimal = Decimal(0)  # units on those codes' allowed lines
    current_revenue: Decimal = Decimal(0)  # allowed over the 12 months
    proposed_revenue: Decimal | None = Decimal(0)
    effect: Decimal | None = Decimal(0)  # proposed_revenue - current_priced
    priced_codes: int = 0
    current_priced: Decimal = Decimal(0)  # allowed now on the codes the proposal prices


@dataclass(frozen=True)
class MarketDistribution:
    """One code's kept market rates in one scope (one row of reports/sql/market_distribution.sql).

    p10..p90 are nearest-rank percentiles (the rate at 1-based position ceil(n x p / 100) of the
    ascending rates; DuckDB's quantile_disc gives the same), so each is one of the published rates."""

    count: int
    p10: Decimal
    p25: Decimal
    median: Decimal
    p75: Decimal
    p90: Decimal
    rates: tuple[Decimal, ...]  # ascending
    entities: tuple[str, ...]  # reporting entities the rates came from

    def value(self, stat: str) -> Decimal:
        """The statistic a proposal names (reports.proposal.MARKET_STATS: p10, p25, median, p75, p90)."""
        return getattr(self, stat)

    def percentile_of(self, amount: Decimal | None) -> Decimal | None:
        """Percentile rank of ``amount``: 100 x (rates below it + half the rates equal to it) / count,
        half-up to 0.1 (a value equal to the median of an odd count ranks 50.0)."""
        if amount is None or not self.count:
            return None
        below = bisect_left(self.rates, amount)
        equal = bisect_right(self.rates, amount) - below
        return half_up(Decimal(100) * (Decimal(below) + Decimal(equal) / 2) / self.count, 1)


@dataclass(frozen=True)
class MarketCode:
    """The market for one code and pricing modifier: this payer's rates and every payer's.

    ``stat(name)`` is what a market-based proposal rate reads (reports.proposal.Proposal.rate_for):
    the payer's own published rates when there are any, else every payer's; the text says which."""

    payer_label: str
    payer: MarketDistribution | None
    every: MarketDistribution | None

    def stat(self, name: str) -> tuple[Decimal | None, str]:
        if self.payer is not None:
            return self.payer.value(name), f"market {name} of {self.payer_label}'s published rates ({self.payer.count})"
        if self.every is not None:
            return (
                self.every.value(name),
                f"market {name} of every payer's published rates ({self.every.count}; none of {self.payer_label}'s)",
            )
        return None, f"no market rates for market:{name}"


def market_distributions(
    con: duckdb.DuckDBPyConnection,
    keys: list[tuple[str, str]],
    *,
    entity: str,
    on_date: date,
    payer_label: str,
) -> dict[tuple[str, str], MarketCode]:
    """{(code, pricing modifier): MarketCode} for the ``keys`` that have published rates, from
    reports/sql/market_distribution.sql.

    ``entity``: the text a reporting entity or plan name must contain (case-insensitive) to count as
    this payer's; ``on_date``: rates expired before it are left out."""
    wanted = set(keys)
    if not wanted:
        return {}
    codes = sorted({code for code, _ in wanted})
    found: dict[tuple[str, str], dict[str, MarketDistribution]] = {}
    for r in queries.rows(con, "market_distribution", codes=codes, entity=entity, on_date=on_date):
        if (r["procedure_code"], r["modifier"]) not in wanted:
            continue
        found.setdefault((r["procedure_code"], r["modifier"]), {})[r["scope"]] = MarketDistribution(
            count=r["rates_count"],
            p10=r["p10"],
            p25=r["p25"],
            median=r["median"],
            p75=r["p75"],
            p90=r["p90"],
            rates=tuple(r["rates"]),
            entities=tuple(r["entities"]),
        )
    return {k: MarketCode(payer_label, v.get("payer"), v.get("all")) for k, v in found.items()}


@dataclass
class MarketSection:
    """The Market section (templates/negotiate.html.j2 reads it as ``market.*``).

    entity: the text matched against reporting_entity / plan_name; entity_source: where it came
    from (the payer's name on the 835s, or --market-entity). on_date: rates expired before it are
    left out. codes / percents: one row per (code, scope) in dollars and as % of Medicare (the same
    rows). distributions: (code, modifier) -> MarketCode. matched_entities: reporting entities
    counted as this payer's; entities: every reporting entity with a kept rate for the codes.
    missing_codes: the pack's codes without any kept rate. warehouse_rates / warehouse_files: what
    market_rates holds at all. charts: [{"code", "svg", "text"}] for the top codes (text: the
    chart's figures in words, also its aria-label)."""

    entity: str
    entity_source: str
    on_date: date
    codes: Table
    percents: Table
    distributions: dict[tuple[str, str], MarketCode]
    matched_entities: list[str]
    entities: list[str]
    missing_codes: list[str]
    warehouse_rates: int
    warehouse_files: int
    charts: list[dict] = field(default_factory=list)

    @property
    def has_rates(self) -> bool:
        return bool(self.distributions)


def _code_label(code: str, modifier: str) -> str:
    return code + (f"-{modifier}" if modifier else "")


def _market_section(
    con, code_rows: list[dict], market: dict[tuple[str, str], MarketCode], *, entity, entity_source, on_date, payer_name
) -> MarketSection:
    """The Market section's tables (rows in the pack's code order: most allowed first)."""
    stats = MARKET_STATS
    rows = []
    for row in code_rows:
        k = (row["procedure_code"], row["modifier"])
        m = market.get(k)
        if m is None:
            continue
        for scope, label, dist in (("payer", payer_name, m.payer), ("all", "Every payer", m.every)):
            out = {
                "procedure_code": k[0],
                "modifier": k[1],
                "scope": scope,
                "market": label,
                "rates_count": dist.count if dist else 0,
                "avg_allowed": row["avg_allowed"],
                "avg_pct": row["pct_of_medicare"],
                "percentile": dist.percentile_of(row["avg_allowed"]) if dist else None,
                "medicare": row["medicare"],
            }
            for s in stats:
                value = dist.value(s) if dist else None
                out[s] = value
                out[f"{s}_pct"] = _pct(value, row["medicare"])
            rows.append(out)
    head = [("procedure_code", "Code", "code"), ("modifier", "Modifier", "code"), ("market", "Rates of")]
    money_cols = cols(
        *head,
        ("rates_count", "Rates", "int"),
        *[(s, "Median" if s == "median" else s.upper(), "money") for s in stats],
        ("avg_allowed", "Avg allowed", "money"),
        ("percentile", "Avg's percentile", "pct"),
        ("medicare", "Medicare amount", "money"),
    )
    pct_cols = cols(
        *head,
        *[(f"{s}_pct", "Median" if s == "median" else s.upper(), "pct") for s in stats],
        ("avg_pct", "Avg allowed", "pct"),
    )
    summary = queries.rows(con, "market_files")[0]
    every = sorted({e for m in market.values() if m.every for e in m.every.entities})
    matched = sorted({e for m in market.values() if m.payer for e in m.payer.entities})
    missing = [
        _code_label(r["procedure_code"], r["modifier"])
        for r in code_rows
        if (r["procedure_code"], r["modifier"]) not in market
    ]
    return MarketSection(
        entity=entity,
        entity_source=entity_source,
        on_date=on_date,
        codes=Table(
            "market-table",
            f"Published in-network rates per code ({payer_name}'s and every payer's) and {payer_name}'s "
            "average allowed",
            money_cols,
            rows,
            note="Rates: the published professional rates in dollars counted for the code. P10 to P90: "
            "nearest-rank percentiles (each is one of the published rates; the median of an even count is "
            "the lower middle rate). Avg's percentile: where the average allowed falls among those rates "
            "(the share of rates below it, a rate equal to it counting half).",
            empty="no published rates for these codes.",
        ),
        percents=Table(
            "market-pct-table",
            f"The same, as a percent of the Medicare amount: published rates and {payer_name}'s average allowed",
            pct_cols,
            rows,
            note="Each figure over the Medicare amount of the Codes table (blank where the code has none).",
            empty="no published rates for these codes.",
        ),
        distributions=market,
        matched_entities=matched,
        entities=every,
        missing_codes=missing,
        warehouse_rates=summary["rates"],
        warehouse_files=summary["files"],
    )


def _market_charts(section: MarketSection, code_rows: list[dict], payer_name: str) -> list[dict]:
    """One range chart per top code with published rates (MARKET_CHARTS, most allowed first)."""
    out = []
    for row in code_rows:
        if len(out) >= MARKET_CHARTS:
            break
        k = (row["procedure_code"], row["modifier"])
        m = section.distributions.get(k)
        if m is None:
            continue
        label = _code_label(*k)
        ranges, words = [], []
        for name, dist in ((payer_name, m.payer), ("Every payer", m.every)):
            if dist is None:
                words.append(f"{name}: no published rates")
                continue
            ranges.append((f"{name} ({dist.count})", dist.p10, dist.p25, dist.median, dist.p75, dist.p90))
            words.append(
                f"{name}: {dist.count} rates, P10 {money_text(dist.p10)}, P25 {money_text(dist.p25)}, "
                f"median {money_text(dist.median)}, P75 {money_text(dist.p75)}, P90 {money_text(dist.p90)}"
            )
        avg = row["avg_allowed"]
        rank = m.every.percentile_of(avg) if m.every else None
        words.append(
            f"{payer_name} average allowed {money_text(avg)}"
            + (f" (percentile {rank} of every payer's rates)" if rank is not None else "")
        )
        if row["medicare"] is not None:
            words.append(f"Medicare {money_text(row['medicare'])}")
        text = f"{label}: " + "; ".join(words) + "."
        svg = charts.range_chart(
            f"chart-market-{safe_name(label)}",
            f"{label}: published rates, P10-P90 (box P25-P75, line median)",
            ranges,
            marker=avg,
            marker_label=f"{payer_name} average allowed",
            reference=row["medicare"],
            reference_label="Medicare",
            description=text,
        )
        out.append({"code": label, "svg": svg, "text": text})
    return out


@dataclass
class NegotiationContext:
    """Everything templates/negotiate.html.j2 reads.

    payer / payer_name: the payer negotiated with. first / through: the 12-month window of
    payment months. location: the practice location used for Medicare amounts (or a note that
    none was set); medicare_note: how Medicare amounts were found. proposal: the loaded
    proposal (None = no proposal). totals: the headline figures (NegotiationTotals). codes: this
    payer's codes; comparison: the same codes at every other payer side by side; payers:
    allowed as % of Medicare per payer over the shared codes. charts: inline SVG by name.
    """

    title: str
    payer: str
    payer_name: str
    first: Month
    through: Month
    location: str
    medicare_note: str
    proposal: Proposal | None
    totals: NegotiationTotals
    codes: Table
    comparison: Table
    payers: Table
    all_payers: Table  # long form (code, payer) for the export: every payer, not only the top ones
    market: MarketSection
    charts: dict[str, Markup] = field(default_factory=dict)
    exports: list[Path] = field(default_factory=list)
    show_phi: bool = False
    generated_at: str = field(default_factory=generated_at)
    version: str = field(default_factory=version)
    sections: tuple = SECTIONS

    @property
    def window_label(self) -> str:
        return f"{self.first.label} to {self.through.label}"

    def template_vars(self) -> dict:
        out = {n: getattr(self, n) for n in self.__dataclass_fields__}
        out["window_label"] = self.window_label
        return out


@dataclass
class NegotiationReport:
    html: Path
    exports: list[Path]
    payer: str
    window: str
    codes: int
    effect: Decimal | None
    seconds: float

    def summary(self) -> str:
        files = "\n".join(f"  {p}" for p in [self.html, *self.exports])
        effect = "" if self.effect is None else f", proposal effect {self.effect:+,.2f} a year"
        return (
            f"Negotiation pack {self.payer} ({self.window}): {self.codes} codes{effect}, {self.seconds:.2f} s\n{files}"
        )


def _pct(part, whole) -> Decimal | None:
    if part is None or not whole:
        return None
    return half_up(Decimal(100) * Decimal(part) / Decimal(whole), 1)


def medicare_at_location(
    con, keys: list[tuple[str, str, bool]], on_date: date, *, zip: str | None, locality: str | None
) -> tuple[dict[tuple[str, str], Decimal], str]:
    """Medicare amount per unit for (code, modifier, facility) keys at the practice location.

    Returns ({(code, modifier): amount}, note). An empty dict means the caller falls back to the
    amounts stored on the compared lines; the note says why.
    """
    if not (zip or locality):
        return {}, "practice location not set (--zip / --locality or [practice] in underpay.toml)"
    if not keys:
        return {}, ""
    lines = pl.DataFrame(
        {
            "row_id": list(range(len(keys))),
            "procedure_code": [k[0] for k in keys],
            "modifiers": [[k[1]] if k[1] else [] for k in keys],
            "service_date": [on_date] * len(keys),
            "zip": [zip] * len(keys),
            "locality": [locality] * len(keys),
            "facility": [k[2] for k in keys],
        },
        schema_overrides={
            "row_id": pl.Int64,
            "modifiers": pl.List(pl.Utf8),
            "zip": pl.Utf8,
            "locality": pl.Utf8,
            "facility": pl.Boolean,
        },
    )
    try:
        priced = price_medicare(con, lines, on_missing="mark")  # each code from the schedule that pays it
    except UnderpayError as exc:
        return {}, f"Medicare pricing at the practice location failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - the pack still renders, with the stored amounts
        return {}, f"Medicare pricing at the practice location failed ({type(exc).__name__}: {exc})"
    out: dict[tuple[str, str], Decimal] = {}
    label = ""
    reasons: dict[str, int] = {}
    others: dict[str, int] = {}
    wanted = ["row_id", "status", "line_amount", "schedule", "not_priced_reason", "locality_code", "mpfs_year"]
    for r in priced.select([c for c in wanted if c in priced.columns]).iter_rows(named=True):
        if r["status"] == "priced" and r["line_amount"] is not None:
            code, mod, _ = keys[r["row_id"]]
            out[(code, mod)] = Decimal(r["line_amount"])
            if r.get("schedule") in (None, "mpfs"):
                label = f"MPFS {r.get('mpfs_year', '')} locality {r.get('locality_code', '')}"
            else:
                others[r["schedule"]] = others.get(r["schedule"], 0) + 1
        else:
            why = r.get("not_priced_reason") or "not priced"
            reasons[why] = reasons.get(why, 0) + 1
    where = f"locality {locality}" if locality else f"ZIP {zip}"
    note = f"Medicare amounts priced at {where} for {on_date.isoformat()}"
    if others:
        label = ", ".join(
            ([label] if label else []) + [f"{k.upper().replace('_', ' ')} x{n}" for k, n in sorted(others.items())]
        )
    note += f" ({label}): {len(out)} of {len(keys)} codes" if out else ": no code priced"
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        note += " (not priced: " + "; ".join(f"{why} x{n}" for why, n in top) + ")"
    return out, note


def build_context(
    con: duckdb.DuckDBPyConnection,
    payer: str,
    *,
    proposal=None,
    through: Month | None = None,
    zip: str | None = None,
    locality: str | None = None,
    show_phi: bool = False,
    market_entity: str | None = None,
) -> NegotiationContext:
    """The pack's context for the 12 payment months ending ``through`` (default: the latest
    month with compared lines). ``market_entity``: the text a market_rates reporting entity or plan
    name must contain to count as this payer's (default: the payer's name on its 835s)."""
    if through is None:
        latest = queries.rows(con, "latest_month", payer=None)[0]["month"]
        if latest is None:
            raise UnderpayError("the warehouse has no compared lines; run `underpay compare` first")
        through = Month.of(latest)
    through_m = through
    first = through_m.add(-11)
    if proposal is not None and not isinstance(proposal, Proposal):
        proposal = load_proposal(proposal)

    data = queries.rows(con, "negotiation_codes", payer=payer, first=first.start, through=through_m.start)
    mine = [r for r in data if r["payer_id"] == payer]
    if not mine:
        known = ", ".join(r["payer_id"] or "?" for r in queries.rows(con, "payer_names")) or "none"
        raise UnderpayError(
            f"payer {payer!r}: no allowed lines paid between {first.label} and "
            f"{through_m.label}; payer ids in the warehouse: {known}"
        )
    payer_name = mine[0]["payer_name"] or payer
    denied = {
        (r["procedure_code"], r["modifier"]): r["denied_lines"]
        for r in queries.rows(con, "denied_in_window", payer=payer, first=first.start, through=through_m.start)
    }

    # Medicare amount per code: at the practice location when possible, else stored on the lines.
    keys = [(r["procedure_code"], r["modifier"], bool(r["mostly_facility"])) for r in mine]
    priced, note = medicare_at_location(con, keys, through_m.last_day, zip=zip, locality=locality)
    seen: dict[tuple[str, str], Decimal] = {}
    for r in data:  # this payer's stored amount first, else any payer's
        k = (r["procedure_code"], r["modifier"])
        if r["medicare_unit_amount_seen"] is not None and (r["payer_id"] == payer or k not in seen):
            seen[k] = r["medicare_unit_amount_seen"]
    medicare: dict[tuple[str, str], tuple[Decimal | None, str]] = {}
    for r in mine:
        k = (r["procedure_code"], r["modifier"])
        if k in priced:
            medicare[k] = (priced[k], "practice location")
        elif k in seen:
            medicare[k] = (seen[k], "compared lines")
        else:
            medicare[k] = (None, "none")
    location = (f"locality {locality}" if locality else f"ZIP {zip}") if (zip or locality) else "not set"
    sources = {s for _, s in medicare.values()}
    medicare_note = (
        note
        + ("; " if note else "")
        + (
            "amounts not priced there are the average Medicare unit amount on the compared lines"
            if "compared lines" in sources
            else ""
        )
    )

    # the published market per code: this payer's (matched by name) and every payer's
    entity = " ".join((market_entity or "").split())
    entity_source = "--market-entity" if entity else "the payer's name on its 835s"
    entity = entity or " ".join(payer_name.split())
    market = market_distributions(
        con,
        [(r["procedure_code"], r["modifier"]) for r in mine],
        entity=entity,
        on_date=through_m.last_day,
        payer_label=payer_name,
    )

    # this payer's codes, with the proposal
    code_rows = []
    totals = NegotiationTotals(codes=len(mine))
    for r in mine:
        k = (r["procedure_code"], r["modifier"])
        amount, source = medicare[k]
        row = {
            "procedure_code": r["procedure_code"],
            "modifier": r["modifier"],
            "lines": r["lines"],
            "volume": r["volume"],
            "avg_allowed": r["avg_allowed"],
            "allowed": r["allowed"],
            "medicare": amount,
            "medicare_source": source,
            "pct_of_medicare": _pct(r["avg_allowed"], amount),
            "denied_lines": denied.get(k, 0),
            "proposed_rate": None,
            "proposed_pct": None,
            "proposed_revenue": None,
            "effect": None,
            "basis": "",
        }
        totals.volume += r["volume"]
        totals.current_revenue += r["allowed"]
        if proposal is not None:
            rate, basis = proposal.rate_for(r["procedure_code"], r["modifier"], amount, market.get(k))
            row["basis"] = basis
            if rate is not None:
                row["proposed_rate"] = rate
                row["proposed_pct"] = _pct(rate, amount)
                row["proposed_revenue"] = to_cent(rate * r["volume"])
                row["effect"] = row["proposed_revenue"] - r["allowed"]
                totals.proposed_revenue += row["proposed_revenue"]
                totals.current_priced += r["allowed"]
                totals.effect += row["effect"]
                totals.priced_codes += 1
        code_rows.append(row)
    code_rows.sort(key=lambda x: (-x["allowed"], x["procedure_code"], x["modifier"]))
    code_cols = [
        ("procedure_code", "Code", "code"),
        ("modifier", "Modifier", "code"),
        ("lines", "Lines", "int"),
        ("volume", "Volume (units)", "num"),
        ("avg_allowed", "Average allowed", "money"),
        ("medicare", "Medicare amount", "money"),
        ("pct_of_medicare", "Allowed % of Medicare", "pct"),
        ("medicare_source", "Medicare source"),
        ("denied_lines", "Denied lines", "int"),
        ("allowed", "Allowed (12 months)", "money"),
    ]
    if proposal is not None:
        code_cols += [
            ("proposed_rate", "Proposed rate", "money"),
            ("proposed_pct", "Proposed % of Medicare", "pct"),
            ("proposed_revenue", "Proposed revenue", "money"),
            ("effect", "Revenue effect", "money"),
            ("basis", "Proposed rate from"),
        ]
    footer = {
        "procedure_code": "Total",
        "lines": sum(r["lines"] for r in code_rows),
        "volume": totals.volume,
        "allowed": totals.current_revenue,
    }
    if proposal is not None:
        footer.update(proposed_revenue=totals.proposed_revenue, effect=totals.effect)
    codes = Table(
        "codes-table",
        f"{payer_name}: codes billed {first.label} to {through_m.label}",
        cols(*code_cols),
        code_rows,
        footer=footer,
        note="Volume is units on allowed lines; average allowed is per unit. Revenue effect = proposed "
        "rate x volume - allowed over the 12 months; codes the proposal does not price are left out.",
    )

    # every other payer side by side
    others_volume: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    by_key: dict[tuple[str, str, str], dict] = {}
    for r in data:
        by_key[(r["payer_id"], r["procedure_code"], r["modifier"])] = r
        names[r["payer_id"]] = r["payer_name"] or r["payer_id"] or "(no payer id)"
        if r["payer_id"] != payer:
            others_volume[r["payer_id"]] = others_volume.get(r["payer_id"], 0) + r["volume"]
    others = sorted(others_volume, key=lambda p: (-others_volume[p], str(p)))[:OTHER_PAYERS]
    comp_cols = [
        Column("procedure_code", "Code", "code"),
        Column("modifier", "Modifier", "code"),
        Column("medicare", "Medicare amount", "money"),
        Column("this_avg", f"{payer_name}: avg allowed", "money"),
        Column("this_pct", f"{payer_name}: % of Medicare", "pct"),
    ]
    for i, p in enumerate(others):
        comp_cols += [
            Column(f"p{i}_avg", f"{names[p]}: avg allowed", "money"),
            Column(f"p{i}_pct", f"{names[p]}: % of Medicare", "pct"),
        ]
    comp_rows = []
    for row in code_rows:
        k = (row["procedure_code"], row["modifier"])
        out = {
            "procedure_code": k[0],
            "modifier": k[1],
            "medicare": row["medicare"],
            "this_avg": row["avg_allowed"],
            "this_pct": row["pct_of_medicare"],
        }
        for i, p in enumerate(others):
            o = by_key.get((p, *k))
            out[f"p{i}_avg"] = o["avg_allowed"] if o else None
            out[f"p{i}_pct"] = _pct(o["avg_allowed"], row["medicare"]) if o else None
        comp_rows.append(out)
    comparison = Table(
        "comparison-table",
        "Average allowed per unit at every payer, same codes",
        comp_cols,
        comp_rows,
        note=f"The {len(others)} other payers with the most volume on these codes"
        f"{' (of ' + str(len(others_volume)) + ')' if len(others_volume) > len(others) else ''}; "
        "the export has every payer. Blank: the payer allowed none of that code in the window.",
    )

    # payers overall, over the shared codes, weighted by each payer's own volume
    payer_rows = []
    for p in [payer, *sorted(others_volume, key=lambda p: (-others_volume[p], str(p)))]:
        allowed = Decimal(0)
        med_equiv = Decimal(0)
        volume = Decimal(0)
        n_codes = 0
        for row in code_rows:
            o = by_key.get((p, row["procedure_code"], row["modifier"]))
            if o is None:
                continue
            n_codes += 1
            volume += o["volume"]
            if row["medicare"] is not None:
                allowed += o["allowed"]
                med_equiv += row["medicare"] * o["volume"]
        payer_rows.append(
            {
                "payer_name": names[p],
                "payer_id": p,
                "codes": n_codes,
                "volume": volume,
                "pct_of_medicare": _pct(allowed, med_equiv),
                "this": "yes" if p == payer else "",
            }
        )
    payers = Table(
        "payers-table",
        "Allowed as a percent of Medicare, per payer, on these codes",
        cols(
            ("payer_name", "Payer"),
            ("payer_id", "Payer id", "code"),
            ("this", "Negotiating"),
            ("codes", "Codes", "int"),
            ("volume", "Volume (units)", "num"),
            ("pct_of_medicare", "Allowed % of Medicare", "pct"),
        ),
        payer_rows,
        note="Each payer's allowed dollars over the Medicare amount times its volume, for the codes with a Medicare amount.",
    )

    long_rows = []
    for row in code_rows:
        for p in [payer, *sorted(others_volume, key=lambda p: (-others_volume[p], str(p)))]:
            o = by_key.get((p, row["procedure_code"], row["modifier"]))
            if o is not None:
                long_rows.append(
                    {
                        "procedure_code": row["procedure_code"],
                        "modifier": row["modifier"],
                        "payer_id": p,
                        "payer_name": names[p],
                        "lines": o["lines"],
                        "volume": o["volume"],
                        "avg_allowed": o["avg_allowed"],
                        "medicare": row["medicare"],
                        "pct_of_medicare": _pct(o["avg_allowed"], row["medicare"]),
                    }
                )
    all_payers = Table(
        "all-payers",
        "Every payer per code",
        cols(
            ("procedure_code", "Code", "code"),
            ("modifier", "Modifier", "code"),
            ("payer_id", "Payer id", "code"),
            ("payer_name", "Payer"),
            ("lines", "Lines", "int"),
            ("volume", "Volume", "num"),
            ("avg_allowed", "Average allowed", "money"),
            ("medicare", "Medicare amount", "money"),
            ("pct_of_medicare", "Allowed % of Medicare", "pct"),
        ),
        long_rows,
    )

    ctx = NegotiationContext(
        title=f"Negotiation pack: {payer_name}",
        payer=payer,
        payer_name=payer_name,
        first=first,
        through=through_m,
        location=location,
        medicare_note=medicare_note,
        proposal=proposal,
        totals=totals if proposal is not None else replace(totals, proposed_revenue=None, effect=None),
        codes=codes,
        comparison=comparison,
        payers=payers,
        all_payers=all_payers,
        market=_market_section(
            con,
            code_rows,
            market,
            entity=entity,
            entity_source=entity_source,
            on_date=through_m.last_day,
            payer_name=payer_name,
        ),
        show_phi=show_phi,
    )
    ctx.charts = _charts(ctx)
    ctx.market.charts = _market_charts(ctx.market, code_rows, payer_name)
    return ctx


def _charts(ctx: NegotiationContext) -> dict[str, Markup]:
    out: dict[str, Markup] = {}
    pr = [r for r in ctx.payers.rows if r["pct_of_medicare"] is not None][:12]
    if pr:
        out["payers"] = charts.bar_chart(
            "chart-payers",
            "Allowed as % of Medicare, by payer",
            [r["payer_name"] for r in pr],
            [r["pct_of_medicare"] for r in pr],
            percent=True,
        )
    top = [r for r in ctx.codes.rows if r["pct_of_medicare"] is not None][:10]
    if top:
        series = {ctx.payer_name: [r["pct_of_medicare"] for r in top]}
        comp = {(r["procedure_code"], r["modifier"]): r for r in ctx.comparison.rows}
        for i, c in enumerate(ctx.comparison.columns[5:11:2]):
            series[c.label.rsplit(":", 1)[0]] = [
                comp[(r["procedure_code"], r["modifier"])].get(f"p{i}_pct") for r in top
            ]
        out["codes"] = charts.grouped_bar_chart(
            "chart-codes",
            "Allowed as % of Medicare, top codes",
            [r["procedure_code"] + (f"-{r['modifier']}" if r["modifier"] else "") for r in top],
            series,
            percent=True,
        )
    if ctx.proposal is not None:
        eff = sorted((r for r in ctx.codes.rows if r["effect"] is not None), key=lambda r: -abs(r["effect"]))[:12]
        if eff:
            out["effect"] = charts.bar_chart(
                "chart-effect",
                "Revenue effect of the proposal, by code",
                [r["procedure_code"] + (f"-{r['modifier']}" if r["modifier"] else "") for r in eff],
                [r["effect"] for r in eff],
            )
    return out


def _through(value: Month | date | str | None) -> Month | None:
    """A library caller's ``through`` (None = the latest month) as a Month, once."""
    return None if value is None else Month.coerce(value)


def pack_stem(payer: str, through: Month) -> str:
    return f"negotiation-{safe_name(payer)}-{through.label}"


def negotiation_tables(ctx: NegotiationContext) -> dict[str, pl.DataFrame]:
    """The pack's per-code tables as frames: this payer's codes, every payer per code (long form), and the
    published market per code and scope (dollars, and as percents of the Medicare amount)."""

    def frame(table: Table) -> pl.DataFrame:
        keys = [c.key for c in table.columns]
        return (
            pl.DataFrame([{k: r.get(k) for k in keys} for r in table.rows], infer_schema_length=None, orient="row")
            if table.rows
            else pl.DataFrame({k: [] for k in keys})
        )

    shown = {c.key for c in ctx.market.codes.columns}
    market_columns = [
        *ctx.market.codes.columns,
        Column("scope", "Scope"),
        *[c for c in ctx.market.percents.columns if c.key not in shown],
    ]
    return {
        "codes": frame(ctx.codes),
        "payers": frame(ctx.payers),
        "all_payers": frame(ctx.all_payers),
        "market": frame(replace(ctx.market.codes, columns=market_columns)),
    }


def render_html(ctx: NegotiationContext) -> str:
    return render("negotiate.html.j2", **ctx.template_vars())


def render_negotiation(
    con: duckdb.DuckDBPyConnection,
    payer: str,
    *,
    proposal=None,
    through: Month | date | str | None = None,
    out_dir,
    show_phi: bool = False,
    zip: str | None = None,
    locality: str | None = None,
    market_entity: str | None = None,
) -> Path:
    """Write the negotiation pack HTML (mode 0600) under out_dir and return its path."""
    ctx = build_context(
        con,
        payer,
        proposal=proposal,
        through=_through(through),
        zip=zip,
        locality=locality,
        show_phi=show_phi,
        market_entity=market_entity,
    )
    out = ensure_dir(Path(out_dir))
    return write_text(out / f"{pack_stem(payer, ctx.through)}.html", render_html(ctx))


def negotiation_pack(
    con: duckdb.DuckDBPyConnection,
    payer: str,
    *,
    proposal=None,
    through: Month | date | str | None = None,
    out_dir,
    show_phi: bool = False,
    zip: str | None = None,
    locality: str | None = None,
    formats: tuple[str, ...] = ("csv", "xlsx"),
    market_entity: str | None = None,
) -> NegotiationReport:
    """The pack plus CSV/XLSX exports of its per-code tables, as `underpay negotiate` runs it."""
    from reports.exports import write_tables

    t0 = time.perf_counter()
    ctx = build_context(
        con,
        payer,
        proposal=proposal,
        through=_through(through),
        zip=zip,
        locality=locality,
        show_phi=show_phi,
        market_entity=market_entity,
    )
    stem = pack_stem(payer, ctx.through)
    exported = write_tables(negotiation_tables(ctx), out_dir, stem, formats) if formats else None
    ctx.exports = exported.paths if exported else []
    html = write_text(ensure_dir(Path(out_dir)) / f"{stem}.html", render_html(ctx))
    return NegotiationReport(
        html=html,
        exports=ctx.exports,
        payer=payer,
        window=ctx.window_label,
        codes=len(ctx.codes.rows),
        effect=ctx.totals.effect,
        seconds=time.perf_counter() - t0,
    )
