"""The negotiation pack for one payer: what it allows per code against Medicare and against
every other payer over 12 months, and what a proposal would be worth on last year's volume.

``build_context`` returns a ``NegotiationContext`` (the documented context of
templates/negotiate.html.j2); ``render_negotiation`` writes the HTML; ``negotiation_pack``
writes HTML and exports and returns a ``NegotiationReport``.

The Medicare amount is priced by fee_schedules.pricing.price_lines at the practice's
location (zip or locality, for the through month) when that is given and the fee schedule
is in the warehouse; otherwise it is the average Medicare unit amount the comparison stored
on the payer's lines (variances.medicare_unit_amount). Each row says which source it used.

Months are :class:`~pipelines.core.months.Month` values; ``render_negotiation`` and
``negotiation_pack`` also take ``through`` as ``'YYYY-MM'`` or a date from a library caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from markupsafe import Markup

from fee_schedules.pricing import price_lines
from pipelines.core.errors import UnderpayError
from pipelines.core.money import half_up, to_cent
from pipelines.core.months import Month
from reports import charts, queries
from reports.context import generated_at, version
from reports.proposal import Proposal, load_proposal
from reports.render import ensure_dir, render, safe_name, write_text
from reports.tables import Column, Table, cols

OTHER_PAYERS = 8  # other payers shown side by side (largest shared volume first)
SECTIONS = (("summary", "Summary"), ("codes", "Codes"), ("payers", "Other payers"), ("proposal", "Proposal"))


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
        priced = price_lines(con, lines, on_missing="mark")
    except UnderpayError as exc:
        return {}, f"Medicare pricing at the practice location failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - the pack still renders, with the stored amounts
        return {}, f"Medicare pricing at the practice location failed ({type(exc).__name__}: {exc})"
    out: dict[tuple[str, str], Decimal] = {}
    label = ""
    reasons: dict[str, int] = {}
    wanted = ["row_id", "status", "amount", "not_priced_reason", "locality_code", "mpfs_year"]
    for r in priced.select([c for c in wanted if c in priced.columns]).iter_rows(named=True):
        if r["status"] == "priced" and r["amount"] is not None:
            code, mod, _ = keys[r["row_id"]]
            out[(code, mod)] = Decimal(r["amount"])
            label = f"MPFS {r.get('mpfs_year', '')} locality {r.get('locality_code', '')}"
        else:
            why = r.get("not_priced_reason") or "not priced"
            reasons[why] = reasons.get(why, 0) + 1
    where = f"locality {locality}" if locality else f"ZIP {zip}"
    note = f"Medicare amounts priced at {where} for {on_date.isoformat()}"
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
) -> NegotiationContext:
    """The pack's context for the 12 payment months ending ``through`` (default: the latest
    month with compared lines)."""
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
            rate, basis = proposal.rate_for(r["procedure_code"], r["modifier"], amount)
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
        show_phi=show_phi,
    )
    ctx.charts = _charts(ctx)
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
    """The pack's per-code tables as frames: this payer's codes, and every payer per code (long form)."""

    def frame(table: Table) -> pl.DataFrame:
        keys = [c.key for c in table.columns]
        return (
            pl.DataFrame([{k: r.get(k) for k in keys} for r in table.rows], infer_schema_length=None, orient="row")
            if table.rows
            else pl.DataFrame({k: [] for k in keys})
        )

    return {"codes": frame(ctx.codes), "payers": frame(ctx.payers), "all_payers": frame(ctx.all_payers)}


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
) -> Path:
    """Write the negotiation pack HTML (mode 0600) under out_dir and return its path."""
    ctx = build_context(
        con, payer, proposal=proposal, through=_through(through), zip=zip, locality=locality, show_phi=show_phi
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
) -> NegotiationReport:
    """The pack plus CSV/XLSX exports of its per-code tables, as `underpay negotiate` runs it."""
    from reports.exports import write_tables

    t0 = time.perf_counter()
    ctx = build_context(
        con, payer, proposal=proposal, through=_through(through), zip=zip, locality=locality, show_phi=show_phi
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
