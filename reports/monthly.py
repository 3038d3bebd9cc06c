"""The monthly revenue-cycle review: one self-contained HTML file per month (and payer).

``build_context`` runs the queries in reports/sql and returns a ``MonthlyContext`` (the
documented context of templates/monthly.html.j2); ``render_monthly`` writes the HTML;
``report_month`` writes the HTML and the exports and returns a ``MonthlyReport``.

The month is a :class:`~pipelines.core.months.Month` everywhere here. ``render_monthly`` and
``report_month`` are the library's entry points: they also take ``'YYYY-MM'`` or a date from a
library caller and turn it into a Month once (``Month.coerce``); the CLI hands them a Month.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
from markupsafe import Markup

from pipelines.core.money import half_up
from pipelines.core.months import Month
from reports import charts, queries
from reports.context import Figure, generated_at, version
from reports.meanings import meaning
from reports.render import ensure_dir, render, safe_name, write_text
from reports.tables import Column, Detail, Table, cols

WORKLIST_HTML_ROWS = 500  # the HTML shows this many claims; the exports hold them all
TOP_CODES = 15
TABLE_CAP = 200  # other long tables (balancing failures, PLB rows)
TREND_PAYERS = 6  # lines drawn in the trend charts (largest payers by underpaid $)

SECTIONS = (
    ("summary", "Headline"),
    ("scorecard", "Payer scorecard"),
    ("codes", "Top codes"),
    ("denials", "Denials"),
    ("trend", "Trend"),
    ("worklist", "Worklist"),
    ("recovery", "Recovery"),
    ("data-quality", "Data quality"),
    ("plb", "PLB ledger"),
)


@dataclass
class MonthlyContext:
    """Everything templates/monthly.html.j2 reads (and nothing else).

    month / previous / trend_first: the report month, the month before, and the first of the
    12 trend months. payer / payer_name: the --payer filter (None = all payers).
    headline: Figures (this month vs previous). lines: service lines in the month (reversed
    lines excluded). The Table fields are the sections' tables, in page order; charts maps a
    chart name (scorecard, codes, denials, trend_underpaid, trend_denials) to inline SVG.
    worklist: one row per claim (worklist.sql, worst first, capped), each holding its underpaid
    and denied lines (worklist_lines.sql) under "lines_detail", folded under the claim in the HTML.
    recovery_*: the recovery worklist as of the month's end (recovery_funnel.sql, recovery_aging.sql):
    detected -> submitted -> recovered, rates, open cases by age and by appeal deadline.
    exports: export files written beside the HTML (linked from the worklist section).
    """

    title: str
    month: Month
    previous: Month
    trend_first: Month
    payer: str | None
    payer_name: str | None
    show_phi: bool
    lines: int
    headline: list[Figure]
    scorecard: Table
    top_codes: Table
    code_payer: Table
    denials_by_reason: Table
    denials_by_payer: Table
    denials_by_code: Table
    remark_codes: Table
    trend: Table
    worklist: Table
    recovery_funnel: Table
    recovery_measures: Table
    recovery_aging: Table
    recovery_deadlines: Table
    rejected_files: Table
    balancing: Table
    not_priced: Table
    undated_payments: Table
    undated_lines: Table
    plb_summary: Table
    plb: Table
    charts: dict[str, Markup] = field(default_factory=dict)
    exports: list[Path] = field(default_factory=list)
    generated_at: str = field(default_factory=generated_at)
    version: str = field(default_factory=version)
    sections: tuple = SECTIONS

    @property
    def month_label(self) -> str:
        return self.month.label

    @property
    def previous_label(self) -> str:
        return self.previous.label

    @property
    def trend_first_label(self) -> str:
        return self.trend_first.label

    def template_vars(self) -> dict:
        names = [f for f in self.__dataclass_fields__]
        out = {n: getattr(self, n) for n in names}
        out.update(
            month_label=self.month_label, previous_label=self.previous_label, trend_first_label=self.trend_first_label
        )
        return out


@dataclass
class MonthlyReport:
    """What `underpay report` prints: the files written and a few counts."""

    html: Path
    exports: list[Path]
    month: str  # YYYY-MM
    payer: str | None
    lines: int
    worklist_claims: int
    seconds: float

    def summary(self) -> str:
        files = "\n".join(f"  {p}" for p in [self.html, *self.exports])
        who = self.payer or "all payers"
        return (
            f"Monthly review {self.month} ({who}): {self.lines:,} lines, "
            f"{self.worklist_claims:,} claims on the worklist, {self.seconds:.2f} s\n{files}"
        )


def monthly_stem(month: Month, payer: str | None) -> str:
    return f"monthly-{month.label}" + (f"-{safe_name(payer)}" if payer else "")


# ---------------------------------------------------------------- headline


def _rate(part, whole) -> Decimal | None:
    if not whole:
        return None
    return half_up(Decimal(100) * Decimal(part) / Decimal(whole), 1)


HEADLINE = (
    # key, label, kind, bad_when_up
    ("billed", "Billed charges", "money", False),
    ("expected_allowed", "Expected allowed", "money", False),
    ("actual_allowed", "Actual allowed", "money", False),
    ("paid", "Paid", "money", False),
    ("patient_responsibility", "Patient responsibility", "money", False),
    ("underpaid", "Underpaid dollars", "money", True),
    ("underpaid_lines", "Underpaid lines", "int", True),
    ("overpaid", "Overpaid dollars", "money", True),
    ("denied", "Denied dollars (billed)", "money", True),
    ("denial_rate", "Denial rate", "pct", True),
    ("recoverable", "Recoverable estimate", "money", True),
)


def _headline_value(row: dict | None, key: str):
    if row is None:
        return None
    if key == "denial_rate":
        return _rate(row["denied_lines"], row["lines"])
    return row[key]


def headline_figures(this: dict | None, prev: dict | None) -> list[Figure]:
    """The headline figures: this month's row of the headline query against the previous month's
    (a month with no lines shows 0, a rate None)."""
    out = []
    for key, label, kind, bad in HEADLINE:
        value = _headline_value(this, key) if this else (0 if kind != "pct" else None)
        out.append(Figure(key, label, kind, value, _headline_value(prev, key), bad))
    return out


# ---------------------------------------------------------------- worklist

# One row per claim; its lines fold under it, each with its explanation in full. Widths are
# shares of the page (the table has a fixed layout and wraps), chosen so that the claim row of
# an ordinary claim stays on one or two lines at 1366 pixels and the explanation gets the room.
WORKLIST_COLUMNS = [
    Column("payer_name", "Payer", width="9.5%"),
    Column("patient_control_number", "Patient control #", "code", width="9.5%"),
    Column("payer_claim_number", "Payer claim #", "code", width="9%"),
    Column("patient_member", "Patient / member", "code", True, width="6%"),
    Column("service_dates", "Service dates", "date", width="7.5%"),
    Column("payment_date", "Paid", "date", width="6.5%"),
    Column("lines", "Lines", "int", width="3.5%"),
    Column("codes", "Codes", "code", width="9%"),
    Column("carc_codes", "CARC", "code", width="7%"),
    Column("category_mix", "Category", width="7%"),
    Column("expected_allowed", "Expected", "money", width="6.4%"),
    Column("actual_allowed", "Actual", "money", width="6.4%"),
    Column("variance", "Variance", "money", width="6.4%"),
    Column("at_stake", "At stake", "money", width="6.4%"),
]
WORKLIST_LINE_COLUMNS = [
    Column("procedure_code", "Code", "code", width="5.5%"),
    Column("modifiers", "Modifiers", "code", width="6.5%"),
    Column("units", "Units", "num", width="4%"),
    Column("service_date", "Service date", "date", width="7%"),
    Column("category", "Category", width="6.5%"),
    Column("adjustment_codes", "CARC / RARC", "code", width="8%"),
    Column("expected_allowed", "Expected", "money", width="6.3%"),
    Column("actual_allowed", "Actual", "money", width="6.3%"),
    Column("variance", "Variance", "money", width="6.3%"),
    Column("at_stake", "At stake", "money", width="6.3%"),
    Column("explanation", "Explanation", "explain"),  # the rest: over a third of the width
]


def service_dates(first: date | None, last: date | None) -> str:
    """A claim's service dates: one date, or "first to last"."""
    if first is None or last is None or first == last:
        one = first or last
        return one.isoformat() if one else ""
    return f"{first.isoformat()} to {last.isoformat()}"


def worklist_table(con: duckdb.DuckDBPyConnection, p: dict, limit: int | None) -> Table:
    """The worklist section: the worst ``limit`` claims of worklist.sql (the exports hold them all),
    each with its lines from worklist_lines.sql under ``"lines_detail"``."""
    claims = queries.rows(con, "worklist", **p, limit=limit)
    total = claims[0]["total_claims"] if claims else 0
    by_claim: dict[int, list[dict]] = {}
    if claims:
        for line in queries.rows(con, "worklist_lines", **p, claim_ids=[c["claim_id"] for c in claims]):
            by_claim.setdefault(line["claim_id"], []).append(line)
    for c in claims:
        c["service_dates"] = service_dates(c["service_from"], c["service_to"])
        # masked (or shown) by worklist.sql; one cell: initials and the last 4 of the member id
        c["patient_member"] = " ".join(v for v in (c["patient"], c["member_id"]) if v) or None
        c["category_mix"] = c["category"].replace("+", " + ")  # "underpaid + denied" wraps at a space
        c["lines_detail"] = by_claim.get(c["claim_id"], [])
    return Table(
        "worklist-table",
        "Underpaid and denied claims",
        WORKLIST_COLUMNS,
        claims,
        total_rows=total,
        note="At stake: the underpaid variance, plus for denied lines the expected allowed amount "
        "(billed charges where no expected amount could be computed). Open a claim for its lines "
        "and the explanation of each.",
        fixed=True,
        detail=Detail("lines_detail", WORKLIST_LINE_COLUMNS, "line", "code, amounts and explanation of each"),
    )


# ---------------------------------------------------------------- context


def build_context(
    con: duckdb.DuckDBPyConnection,
    month: Month,
    *,
    payer: str | None = None,
    show_phi: bool = False,
    worklist_rows: int = WORKLIST_HTML_ROWS,
) -> MonthlyContext:
    m = month
    prev = m.add(-1)
    first = m.add(-11)
    p = dict(month=m.start, prev=prev.start, payer=payer, first=first.start, show_phi=show_phi, until=m.add(2).start)

    head = {r["month"]: r for r in queries.rows(con, "headline", **p)}
    this, before = head.get(m.start), head.get(prev.start)
    payer_name = None
    if payer:
        names = {r["payer_id"]: r["payer_name"] for r in queries.rows(con, "payer_names")}
        payer_name = names.get(payer) or payer

    scorecard_rows = queries.rows(con, "payer_scorecard", **p)
    scorecard = Table(
        "scorecard-table",
        "Payer scorecard",
        cols(
            ("payer_name", "Payer"),
            ("payer_id", "Payer id", "code"),
            ("lines", "Lines", "int"),
            ("allowed", "Allowed", "money"),
            ("underpaid", "Underpaid $", "money"),
            ("underpayment_rate", "Underpayment rate", "pct"),
            ("denial_rate", "Denial rate", "pct"),
            ("avg_days_to_pay", "Avg days service to payment", "num"),
            ("pct_of_medicare", "Allowed % of Medicare", "pct"),
        ),
        scorecard_rows,
        note="Underpayment rate: underpaid lines / compared lines (underpaid, overpaid, correct). "
        "Denial rate: denied lines / lines. Allowed % of Medicare: allowed / Medicare amount "
        "over allowed lines with a Medicare amount.",
    )

    top = queries.rows(con, "top_codes", **p, limit=TOP_CODES)
    top_codes = Table(
        "top-codes",
        f"Top {TOP_CODES} codes by underpaid dollars",
        cols(
            ("procedure_code", "Code", "code"),
            ("underpaid_lines", "Underpaid lines", "int"),
            ("payers", "Payers", "int"),
            ("expected_allowed", "Expected allowed", "money"),
            ("actual_allowed", "Actual allowed", "money"),
            ("underpaid", "Underpaid $", "money"),
        ),
        top,
    )
    code_payer = Table(
        "code-payer",
        "Expected versus actual allowed per unit, by code and payer",
        cols(
            ("procedure_code", "Code", "code"),
            ("payer_name", "Payer"),
            ("lines", "Lines", "int"),
            ("units", "Units", "num"),
            ("expected_per_unit", "Expected / unit", "money"),
            ("actual_per_unit", "Actual / unit", "money"),
            ("underpaid_lines", "Underpaid lines", "int"),
            ("underpaid", "Underpaid $", "money"),
        ),
        queries.rows(con, "code_payer", **p, limit=TOP_CODES),
        note="Per-unit averages over the compared lines (underpaid, overpaid and correct) of each code and payer.",
    )

    reasons = queries.rows(con, "denials_by_reason", **p)
    for r in reasons:
        r["group_meaning"] = meaning("groups", r["group_code"]) if r["group_code"] else ""
        r["meaning"] = meaning("carc", r["reason_code"])
    denials_by_reason = Table(
        "denials-by-reason",
        "Denied lines by adjustment group and reason (CARC)",
        cols(
            ("group_code", "Group", "code"),
            ("reason_code", "CARC", "code"),
            ("meaning", "Meaning"),
            ("lines", "Lines", "int"),
            ("billed", "Billed", "money"),
            ("expected_allowed", "Expected allowed", "money"),
            ("group_meaning", "Group meaning"),
        ),
        reasons,
        note="A denied line with several adjustment codes counts under each of them.",
    )
    denials_by_payer = Table(
        "denials-by-payer",
        "Denials by payer",
        cols(
            ("payer_name", "Payer"),
            ("payer_id", "Payer id", "code"),
            ("denied_lines", "Denied lines", "int"),
            ("lines", "Lines", "int"),
            ("denial_rate", "Denial rate", "pct"),
            ("denied_billed", "Denied $ (billed)", "money"),
        ),
        queries.rows(con, "denials_by_payer", **p),
    )
    denials_by_code = Table(
        "denials-by-code",
        "Denials by code",
        cols(
            ("procedure_code", "Code", "code"),
            ("denied_lines", "Denied lines", "int"),
            ("payers", "Payers", "int"),
            ("denied_billed", "Denied $ (billed)", "money"),
        ),
        queries.rows(con, "denials_by_code", **p, limit=TABLE_CAP),
    )
    remarks = queries.rows(con, "remark_codes", **p)
    for r in remarks:
        r["meaning"] = meaning("rarc", r["remark_code"])
    remark_codes = Table(
        "remark-codes",
        "Remark codes seen (RARC)",
        cols(
            ("remark_code", "RARC", "code"),
            ("meaning", "Meaning"),
            ("lines", "Lines", "int"),
            ("denied_lines", "On denied lines", "int"),
        ),
        remarks,
    )

    trend_rows = queries.rows(con, "trend", **p)
    months = [first.add(i) for i in range(12)]
    for r in trend_rows:
        r["month_label"] = Month.of(r["month"]).label
    trend = Table(
        "trend-table",
        "Underpaid dollars and denial rate per payer and month",
        cols(
            ("payer_name", "Payer"),
            ("month_label", "Month", "date"),
            ("lines", "Lines", "int"),
            ("underpaid", "Underpaid $", "money"),
            ("denied_lines", "Denied lines", "int"),
            ("denial_rate", "Denial rate", "pct"),
        ),
        trend_rows,
    )

    worklist = worklist_table(con, p, worklist_rows)

    rejected = queries.rows(con, "rejected_files", **p)
    rejected_files = Table(
        "rejected-files",
        "Files rejected (received during the month or the next)",
        cols(
            ("file_name", "File"),
            ("loaded_at", "Received", "date"),
            ("error_segment", "Segment", "int"),
            ("reason", "Reason"),
        ),
        rejected[:TABLE_CAP],
        total_rows=len(rejected),
    )
    bal = queries.rows(con, "balancing_failures", **p)
    balancing = Table(
        "balancing-failures",
        "Balancing failures",
        cols(
            ("rule", "Rule", "code"),
            ("severity", "Severity"),
            ("file_name", "File"),
            ("segment_number", "Segment", "int"),
            ("payer_name", "Payer"),
            ("expected", "Expected"),
            ("actual", "Actual"),
            ("message", "Message"),
        ),
        bal[:TABLE_CAP],
        total_rows=len(bal),
    )
    not_priced = Table(
        "not-priced",
        "Lines not priced, and why",
        cols(
            ("category", "Category", "code"),
            ("payer_name", "Payer"),
            ("reason", "Reason"),
            ("lines", "Lines", "int"),
            ("billed", "Billed", "money"),
            ("actual_allowed", "Actual allowed", "money"),
        ),
        queries.rows(con, "not_priced", **p),
    )
    undated_payments, undated_lines = _undated(con, p)

    plb_rows = queries.rows(con, "plb_ledger", **p)
    by_reason: dict[str, dict] = {}
    for r in plb_rows:
        r["meaning"] = meaning("plb", r["reason_code"])
        s = by_reason.setdefault(
            r["reason_code"] or "",
            {"reason_code": r["reason_code"], "meaning": r["meaning"], "adjustments": 0, "amount": Decimal(0)},
        )
        s["adjustments"] += 1
        s["amount"] += r["amount"] or 0
    plb_summary = Table(
        "plb-summary",
        "PLB adjustments by reason",
        cols(
            ("reason_code", "Reason", "code"),
            ("meaning", "Meaning"),
            ("adjustments", "Adjustments", "int"),
            ("amount", "Amount", "money"),
        ),
        sorted(by_reason.values(), key=lambda s: -abs(s["amount"])),
        footer={
            "reason_code": "Total",
            "adjustments": len(plb_rows),
            "amount": sum((r["amount"] or 0 for r in plb_rows), Decimal(0)),
        }
        if plb_rows
        else None,
    )
    plb = Table(
        "plb-ledger",
        "PLB ledger",
        cols(
            ("payment_date", "Paid", "date"),
            ("payer_name", "Payer"),
            ("trace_number", "Check / EFT trace", "code"),
            ("reason_code", "Reason", "code"),
            ("meaning", "Meaning"),
            ("reference_id", "Reference", "code"),
            ("fiscal_period_date", "Fiscal period", "date"),
            ("amount", "Amount", "money"),
        ),
        plb_rows[:TABLE_CAP],
        total_rows=len(plb_rows),
    )

    recovery_funnel, recovery_measures, recovery_aging, recovery_deadlines = recovery_tables(con, m, payer)

    title = f"Monthly review {m.label}" + (f": {payer_name}" if payer else "")
    ctx = MonthlyContext(
        title=title,
        month=m,
        previous=prev,
        trend_first=first,
        payer=payer,
        payer_name=payer_name,
        show_phi=show_phi,
        lines=int(this["lines"]) if this else 0,
        headline=headline_figures(this, before),
        scorecard=scorecard,
        top_codes=top_codes,
        code_payer=code_payer,
        denials_by_reason=denials_by_reason,
        denials_by_payer=denials_by_payer,
        denials_by_code=denials_by_code,
        remark_codes=remark_codes,
        trend=trend,
        worklist=worklist,
        recovery_funnel=recovery_funnel,
        recovery_measures=recovery_measures,
        recovery_aging=recovery_aging,
        recovery_deadlines=recovery_deadlines,
        rejected_files=rejected_files,
        balancing=balancing,
        not_priced=not_priced,
        undated_payments=undated_payments,
        undated_lines=undated_lines,
        plb_summary=plb_summary,
        plb=plb,
    )
    ctx.charts = _charts(ctx, months, trend_rows)
    return ctx


def recovery_tables(con: duckdb.DuckDBPyConnection, m: Month, payer: str | None) -> tuple[Table, Table, Table, Table]:
    """The Recovery section: the funnel, its rates, and the open cases by age and by appeal deadline, as of
    the month's last day (docs/worklist.md; recovery_funnel.sql, recovery_aging.sql)."""
    f = queries.rows(con, "recovery_funnel", month=m.start, payer=payer)[0]
    first = queries.rows(con, "initial_denials", month=m.start, payer=payer)[0]
    funnel = Table(
        "recovery-funnel",
        "Recovery funnel (cases detected up to this month)",
        cols(("stage", "Stage"), ("cases", "Cases", "int"), ("dollars", "Dollars", "money")),
        []
        if not f["detected_cases"]
        else [
            {"stage": "Detected (owed when found)", "cases": f["detected_cases"], "dollars": f["detected_dollars"]},
            {"stage": "Submitted (appealed)", "cases": f["submitted_cases"], "dollars": f["submitted_dollars"]},
            {"stage": "Recovered (paid since)", "cases": f["recovered_cases"], "dollars": f["recovered_dollars"]},
            {"stage": "Still open", "cases": f["open_cases"], "dollars": f["open_dollars"]},
        ],
    )
    measures = Table(
        "recovery-measures",
        "Recovery and denial measures",
        cols(("measure", "Measure"), ("value", "Value")),
        []
        if not f["detected_cases"]
        else [
            {
                "measure": "Recovery rate (recovered $ / detected $)",
                "value": _pct_text(f["recovered_dollars"], f["detected_dollars"]),
            },
            {
                "measure": "Average days from detection to recovery",
                "value": "-" if f["days_to_recover"] is None else f"{f['days_to_recover']} days",
            },
            {
                "measure": "Initial denial rate this month (lines denied on their first adjudication)",
                "value": _pct_text(first["denied_lines"], first["lines"]),
            },
            {
                "measure": "Denial overturn rate (denied lines paid since / denied lines)",
                "value": _pct_text(f["overturned_lines"], f["denied_lines"]),
            },
        ],
    )
    rows = queries.rows(con, "recovery_aging", month=m.start, month_end=m.add(1).start - timedelta(days=1), payer=payer)
    spec = cols(("label", "Open cases"), ("cases", "Cases", "int"), ("dollars", "At stake", "money"))
    aging = Table(
        "recovery-aging",
        "Open cases by age (days since detected)",
        spec,
        [r for r in rows if r["kind"] == "age" and f["open_cases"]],
    )
    deadlines = Table(
        "recovery-deadlines",
        "Open cases by appeal deadline (from the month's end)",
        spec,
        [r for r in rows if r["kind"] == "deadline" and f["open_cases"]],
    )
    return funnel, measures, aging, deadlines


def _pct_text(part, whole) -> str:
    rate = _rate(part, whole)
    return "-" if rate is None else f"{rate}%"


def _undated(con: duckdb.DuckDBPyConnection, p: dict) -> tuple[Table, Table]:
    """Data quality: remittances whose dates are not dates. A payment without a valid BPR16 date
    is in no payment month, so it is listed by when its file arrived (this month or the next,
    as rejected files are); lines without a valid service date, in their payment month."""
    payments = queries.rows(con, "undated_payments", **p)
    undated_payments = Table(
        "undated-payments",
        "Payments with no valid payment date (BPR16), in no month's figures (files received during the month or the next)",
        cols(
            ("file_name", "File"),
            ("loaded_at", "Received", "date"),
            ("payer_name", "Payer"),
            ("trace_numbers", "Check / EFT trace", "code"),
            ("payments", "Payments", "int"),
            ("lines", "Lines", "int"),
            ("paid", "Paid (BPR02)", "money"),
        ),
        payments[:TABLE_CAP],
        total_rows=len(payments),
        note=(
            f"{sum(r['payments'] for r in payments):,} payment(s) have no valid payment date (BPR16) "
            "and appear in no month: ask the payer for a corrected remittance, or load a corrected file."
            if payments
            else ""
        ),
    )
    lines = queries.rows(con, "undated_lines", **p)
    undated_lines = Table(
        "undated-lines",
        "Service lines paid this month with no valid service date",
        cols(
            ("file_name", "File"),
            ("payer_name", "Payer"),
            ("claims", "Claims", "int"),
            ("lines", "Lines", "int"),
            ("billed", "Billed", "money"),
        ),
        lines[:TABLE_CAP],
        total_rows=len(lines),
        note="Without a service date no contract version or fee-schedule year can be chosen for a line: "
        "ask the payer for a corrected remittance."
        if lines
        else "",
    )
    return undated_payments, undated_lines


def _charts(ctx: MonthlyContext, months: list[Month], trend_rows: list[dict]) -> dict[str, Markup]:
    out: dict[str, Markup] = {}
    sc = [r for r in ctx.scorecard.rows if r["underpaid"]][:12]
    if sc:
        out["scorecard"] = charts.bar_chart(
            "chart-scorecard",
            "Underpaid dollars by payer",
            [r["payer_name"] or r["payer_id"] for r in sc],
            [r["underpaid"] for r in sc],
        )
    if ctx.top_codes.rows:
        out["codes"] = charts.grouped_bar_chart(
            "chart-codes",
            "Top codes: expected vs actual allowed",
            [r["procedure_code"] for r in ctx.top_codes.rows],
            {
                "Expected": [r["expected_allowed"] for r in ctx.top_codes.rows],
                "Actual": [r["actual_allowed"] for r in ctx.top_codes.rows],
            },
        )
    if ctx.denials_by_reason.rows:
        rows = ctx.denials_by_reason.rows[:12]
        out["denials"] = charts.bar_chart(
            "chart-denials",
            "Denied charges by reason",
            [f"{r['group_code']}-{r['reason_code']}" if r["group_code"] else r["reason_code"] for r in rows],
            [r["billed"] for r in rows],
        )
    if trend_rows:
        totals: dict[str, Decimal] = {}
        names: dict[str, str] = {}
        for r in trend_rows:
            totals[r["payer_id"]] = totals.get(r["payer_id"], Decimal(0)) + (r["underpaid"] or 0)
            names[r["payer_id"]] = r["payer_name"] or r["payer_id"] or "(no payer id)"
        keep = sorted(totals, key=lambda k: (-totals[k], str(k)))[:TREND_PAYERS]
        index = {(r["payer_id"], r["month"]): r for r in trend_rows}
        labels = [mo.label for mo in months]
        out["trend_underpaid"] = charts.line_chart(
            "chart-trend-underpaid",
            "Underpaid dollars per month",
            labels,
            {names[k]: [(index.get((k, mo.start)) or {}).get("underpaid") for mo in months] for k in keep},
        )
        out["trend_denials"] = charts.line_chart(
            "chart-trend-denials",
            "Denial rate per month",
            labels,
            {names[k]: [(index.get((k, mo.start)) or {}).get("denial_rate") for mo in months] for k in keep},
            percent=True,
        )
    return out


# ---------------------------------------------------------------- files


def render_html(ctx: MonthlyContext) -> str:
    return render("monthly.html.j2", **ctx.template_vars())


def render_monthly(
    con: duckdb.DuckDBPyConnection,
    month: Month | date | str,
    *,
    payer: str | None = None,
    out_dir,
    show_phi: bool = False,
    exports: list[Path] | None = None,
) -> Path:
    """Write the monthly review HTML (mode 0600) under out_dir and return its path."""
    ctx = build_context(con, Month.coerce(month), payer=payer, show_phi=show_phi)
    ctx.exports = list(exports or [])
    out = ensure_dir(Path(out_dir))
    return write_text(out / f"{monthly_stem(ctx.month, payer)}.html", render_html(ctx))


def report_month(
    con: duckdb.DuckDBPyConnection,
    month: Month | date | str,
    *,
    payer: str | None = None,
    out_dir,
    show_phi: bool = False,
    formats: tuple[str, ...] = ("csv", "xlsx"),
) -> MonthlyReport:
    """The monthly review plus its exports (worklist and per-code tables), as `underpay report` runs it."""
    from reports.exports import export_monthly

    t0 = time.perf_counter()
    m = Month.coerce(month)
    exported = export_monthly(con, m, payer=payer, out_dir=out_dir, show_phi=show_phi, formats=formats)
    ctx = build_context(con, m, payer=payer, show_phi=show_phi)
    ctx.exports = [p for p in exported.paths]
    out = ensure_dir(Path(out_dir))
    html = write_text(out / f"{monthly_stem(m, payer)}.html", render_html(ctx))
    return MonthlyReport(
        html=html,
        exports=exported.paths,
        month=m.label,
        payer=payer,
        lines=ctx.lines,
        worklist_claims=ctx.worklist.total_rows or 0,
        seconds=time.perf_counter() - t0,
    )
