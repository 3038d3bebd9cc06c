"""The monthly review's Recovery section over the two nights of tests/worklist/test_recovery.py: the funnel,
the rates and the open cases by age and by deadline, as of the end of February, equal what the scenario
says by hand (detected $235.00 = 20 + 100 + 30 + 10 + 40 + 20 + 15; recovered $160.00 = 20 + 100 + 15 + 10 + 15)."""

from __future__ import annotations

import re
from decimal import Decimal as D

import duckdb

from pipelines.core.months import Month
from pipelines.runs.nightly import run_nightly
from pipelines.worklist.cases import set_case
from reports.monthly import build_context, render_html
from tests.worklist.test_recovery import month1, month2, site  # noqa: F401  (site: the fixture)


def test_the_recovery_section_states_the_funnel_rates_and_buckets(site):  # noqa: F811
    month1(site.inbox)
    assert run_nightly(site).exit_code == 0
    con = duckdb.connect(str(site.warehouse))
    try:
        (case1,) = con.execute(
            "SELECT case_id FROM worklist_claims WHERE patient_control_number = 'PCN001'"
        ).fetchall()[0]
        set_case(con, case1, actor="dana", workflow_status="submitted")
    finally:
        con.close()
    month2(site.inbox)
    assert run_nightly(site).exit_code == 0
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        ctx = build_context(con, Month.coerce("2025-02"))
        html = render_html(ctx)
        january = build_context(con, Month.coerce("2025-01"))
    finally:
        con.close()
    funnel = {r["stage"].split(" ")[0]: (r["cases"], r["dollars"]) for r in ctx.recovery_funnel.rows}
    assert funnel == {
        "Detected": (7, D("235.00")),
        "Submitted": (1, D("20.00")),
        "Recovered": (5, D("160.00")),
        "Still": (4, D("155.00")),  # PCN003 15 + PCN004 10 + PCN005 30 + PCN006 100
    }
    measures = {r["measure"].split(" (")[0]: r["value"] for r in ctx.recovery_measures.rows}
    assert measures["Recovery rate"] == "68.1%"  # 160 / 235
    assert measures["Average days from detection to recovery"] == "31.0 days"  # Jan 20 -> Feb 20
    assert measures["Denial overturn rate"] == "100.0%"  # the one denied line was paid
    # February's first adjudications: none (reversals, corrected claims of PCN001/002/005/007 and the
    # supplemental payment on PCN003 are all later claims of families the worklist holds)
    assert measures["Initial denial rate this month"] == "-"
    first = {r["measure"].split(" (")[0]: r["value"] for r in january.recovery_measures.rows}
    assert first["Initial denial rate this month"] == "12.5%"  # January: PCN002 of 8 first adjudications
    aging = {r["label"]: (r["cases"], r["dollars"]) for r in ctx.recovery_aging.rows}
    assert aging["31-60 days"] == (4, D("155.00")) and sum(c for c, _ in aging.values()) == 4
    due = {r["label"]: (r["cases"], r["dollars"]) for r in ctx.recovery_deadlines.rows}
    # Acme's rule: 90 days from the last adjustment; PCN004's last was Jan 20 (Apr 20: 51 days from Feb 28)
    assert due["due in 31-60 days"] == (1, D("10.00")) and due["due in 61-90 days"] == (3, D("145.00"))
    text = re.sub(r"<[^>]+>", " ", html)
    assert "Recovered (paid since)" in text and "$160.00" in text and 'href="#recovery"' in html
