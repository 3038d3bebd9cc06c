"""The negotiation pack's Market section (payers' published rates, market_rates) and market-based proposals.

Every expected figure is recomputed here from the rows inserted, in plain Python with Decimal
(nearest-rank quantiles: the rate at 1-based position ceil(n x p / 100) of the ascending rates).
"""

from __future__ import annotations

import math
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.core.errors import InputFileError
from reports.negotiate import build_context, negotiation_pack
from reports.proposal import load_proposal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_helpers import HOSTILE, WarehouseBuilder, build_sample, read_page  # noqa: E402

D = Decimal
ON = date(2026, 3, 31)  # the sample's through month (2026-03) ends here: rates expired before it do not count
FILE = "f" * 64
OLD_FILE = "0" * 64
HOSTILE_ENTITY = "<img src=x onerror=alert(2)>"

# (reporting_entity, plan_name, code, modifier, rate) of the rates that count
ACME_99213 = ["90.00", "95.50", "101.00", "104.00", "110.00", "120.00", "130.25"]
BLUE_99213 = ["70.00", "85.00", "99.99", "140.00"]
TPA_99213 = ["100.00"]  # a third-party administrator's file for an ACME plan: counted by its plan name
ACME_99214 = ["118.00", "125.00", "150.00"]
OTHER_20553 = ["60.00", "72.50", "75.00", "90.00", "99.00"]
HOSTILE_20553 = ["88.00"]


def _rate(b, entity, plan, code, rate, *, modifier="", **over):
    row = dict(
        source_sha256=FILE,
        reporting_entity=entity,
        plan_name=plan,
        plan_id="12-3456789",
        last_updated_on=date(2026, 2, 1),
        billing_code_type="CPT",
        billing_code=code,
        modifier=modifier,
        negotiated_type="negotiated",
        negotiated_rate=None if rate is None else D(rate),
        rate_in_dollars=None if rate is None else D(rate),
        dollars_basis=None,
        billing_class="professional",
        setting="outpatient",
        service_codes=["11"],
        expiration_date=date(9999, 12, 31),
        npi_count=3,
        tin="111111111",
    )
    row.update(over)
    b.add("market_rates", **row)


def add_market(b: WarehouseBuilder) -> WarehouseBuilder:
    acme = ("Acme Health Insurance Company", "ACME Choice PPO")
    for i, r in enumerate(ACME_99213):
        # the last one expires on the through month's last day: still in force then, so it counts
        _rate(b, *acme, "99213", r, expiration_date=ON if i == 6 else date(9999, 12, 31), tin=f"10000000{i}")
    for r in ACME_99214:
        _rate(b, *acme, "99214", r)
    for r in BLUE_99213:
        _rate(b, "Blue Ridge BCBS", "Blue Ridge Open Access", "99213", r)
    _rate(b, "Blue Ridge BCBS", "Blue Ridge Open Access", "99214", "133.00", billing_class="both")  # professional too
    for r in TPA_99213:
        _rate(b, "Meritain TPA", "Acme Health Employer Plan", "99213", r)
    for i, r in enumerate(OTHER_20553):  # modifier 59 does not select a priced component: counts as ''
        _rate(b, "Blue Ridge BCBS", "Blue Ridge Open Access", "20553", r, modifier="59" if i == 0 else "")
    _rate(b, HOSTILE_ENTITY, HOSTILE_ENTITY, "20553", HOSTILE_20553[0])
    _rate(b, f"{HOSTILE} Health Plan", "Hostile plan", "20553", "81.00")  # HOST1's own: its name is HOSTILE
    # rows that must not count (all ACME's, all 99213 or 20553)
    _rate(b, *acme, "99213", "1.01", expiration_date=date(2026, 3, 30))  # expired before the month's end
    _rate(b, *acme, "99213", "1.02", billing_class="institutional")
    _rate(b, *acme, "99213", None, negotiated_type="percentage", negotiated_rate=D("85"))  # no stated basis
    _rate(b, *acme, "99213", "1.03", billing_code_type="RC")  # a revenue code, not CPT/HCPCS
    _rate(b, *acme, "99213", "1.04", source_sha256=OLD_FILE, last_updated_on=date(2025, 6, 1))  # superseded
    _rate(b, *acme, "20553", "1.05", modifier="26")  # the professional component: another code
    b.add(
        "market_files",
        source_sha256=FILE,
        file_name="acme-in-network.json",
        bytes=1234,
        schema_version="2.0.0",
        reporting_entity="Acme Health Insurance Company",
        last_updated_on=date(2026, 2, 1),
        rates=30,
        items_read=5,
        missing_references=[],
        imported_at=date(2026, 3, 1),
        seconds=0.1,
    )
    return b


@pytest.fixture(scope="module")
def market_db(tmp_path_factory) -> Path:
    return add_market(build_sample(WarehouseBuilder())).write(tmp_path_factory.mktemp("market") / "m.duckdb")


@pytest.fixture()
def con(market_db):
    c = duckdb.connect(str(market_db), read_only=True)
    yield c
    c.close()


# ------------------------------------------------------------------ independent arithmetic


def nearest_rank(values: list[str], p: int) -> Decimal:
    ordered = sorted(D(v) for v in values)
    return ordered[math.ceil(len(ordered) * p / 100) - 1]


def rank_of(values: list[str], amount: Decimal) -> Decimal:
    below = sum(1 for v in values if D(v) < amount)
    equal = sum(1 for v in values if D(v) == amount)
    return (D(100) * (below + D(equal) / 2) / len(values)).quantize(D("0.1"), rounding="ROUND_HALF_UP")


def expect(values: list[str]) -> dict:
    return {
        "rates_count": len(values),
        **{
            name: nearest_rank(values, p)
            for name, p in (("p10", 10), ("p25", 25), ("median", 50), ("p75", 75), ("p90", 90))
        },
    }


def market_rows(ctx) -> dict[tuple[str, str, str], dict]:
    return {(r["procedure_code"], r["modifier"], r["scope"]): r for r in ctx.market.codes.rows}


FIGURES = ("rates_count", "p10", "p25", "median", "p75", "p90")


def test_distribution_this_payer_and_every_payer(con):
    ctx = build_context(con, "ACME1")
    rows = market_rows(ctx)
    mine = ACME_99213 + TPA_99213
    every = ACME_99213 + TPA_99213 + BLUE_99213
    assert {k: rows[("99213", "", "payer")][k] for k in FIGURES} == expect(mine)
    assert {k: rows[("99213", "", "all")][k] for k in FIGURES} == expect(every)
    assert (
        rows[("99213", "", "payer")]["market"] == "ACME HEALTH"
        and rows[("99213", "", "all")]["market"] == "Every payer"
    )
    # the figures are the ones DuckDB's own quantile_disc gives over the same rates
    for values in (mine, every):
        disc = con.execute(
            "SELECT quantile_disc(x, [0.1, 0.25, 0.5, 0.75, 0.9]) FROM unnest(?::DECIMAL(18,2)[]) t(x)", [values]
        ).fetchone()[0]
        assert disc == [expect(values)[k] for k in FIGURES[1:]]
    # 20553: ACME publishes none; every payer's includes the modifier-59 rate and the hostile entity's
    assert rows[("20553", "", "payer")]["rates_count"] == 0 and rows[("20553", "", "payer")]["median"] is None
    assert {k: rows[("20553", "", "all")][k] for k in FIGURES} == expect(OTHER_20553 + HOSTILE_20553 + ["81.00"])
    assert ctx.market.matched_entities == ["Acme Health Insurance Company", "Meritain TPA"]
    assert ctx.market.missing_codes == ["0001U"] and ctx.market.entity == "ACME HEALTH"


def test_excluded_rows_do_not_count(con):
    """Expired, institutional, percentage without basis, non-CPT, superseded and 26 rows are left out:
    none of their rates (1.01 to 1.05) is in any distribution."""
    ctx = build_context(con, "ACME1")
    for m in ctx.market.distributions.values():
        for dist in (m.payer, m.every):
            if dist:
                assert not [r for r in dist.rates if r < 2], dist.rates
    assert ctx.market.distributions[("99213", "")].payer.count == len(ACME_99213) + len(TPA_99213)
    assert D("130.25") in ctx.market.distributions[("99213", "")].payer.rates  # expires on 2026-03-31: counts
    assert ("20553", "26") not in ctx.market.distributions  # the pack bills no 20553-26
    assert ctx.market.distributions[("99214", "")].every.rates == tuple(sorted(D(v) for v in [*ACME_99214, "133.00"]))


def test_expiry_boundary(tmp_path):
    """The pack for April 2026 (a through month after the 2026-03-31 expiry) leaves that rate out."""
    b = add_market(build_sample(WarehouseBuilder()))
    apr = date(2026, 4, 10)
    b.payment(30, "ACME1", "ACME HEALTH", apr)
    b.line(b.claim(30, pcn="PCN-APR"), "ACME1", "ACME HEALTH", apr, "correct", code="99213")
    c = duckdb.connect(str(b.write(tmp_path / "apr.duckdb")), read_only=True)
    try:
        dist = build_context(c, "ACME1").market.distributions[("99213", "")].payer
    finally:
        c.close()
    assert D("130.25") not in dist.rates and dist.count == len(ACME_99213) + len(TPA_99213) - 1


def test_average_percentile_and_percent_of_medicare(con):
    ctx = build_context(con, "ACME1")
    rows = market_rows(ctx)
    codes = {(r["procedure_code"], r["modifier"]): r for r in ctx.codes.rows}
    avg = codes[("99213", "")]["avg_allowed"]
    assert avg == D("103.33")  # (100 + 110 + 100) / 3, the Codes table's figure
    assert rows[("99213", "", "payer")]["percentile"] == rank_of(ACME_99213 + TPA_99213, avg) == D("50.0")
    assert rows[("99213", "", "all")]["percentile"] == rank_of(ACME_99213 + TPA_99213 + BLUE_99213, avg)
    # 99214 avg 120.00 equals nothing; 118 below: 1 of 3 -> 33.3; a tie counts half: 20553 avg 75.00
    assert rows[("99214", "", "payer")]["percentile"] == D("33.3")
    assert rows[("20553", "", "all")]["percentile"] == rank_of(OTHER_20553 + HOSTILE_20553 + ["81.00"], D("75.00"))
    assert rows[("20553", "", "all")]["percentile"] == D("35.7")  # (2 below + 1/2) / 7
    # as a percent of the pack's Medicare amount (99213: 80.00 on the compared lines), half-up to 0.1
    medicare = codes[("99213", "")]["medicare"]
    assert medicare == D("80.00") and rows[("99213", "", "all")]["medicare"] == medicare
    for k in ("p10", "p25", "median", "p75", "p90"):
        want = (D(100) * rows[("99213", "", "all")][k] / medicare).quantize(D("0.1"), rounding="ROUND_HALF_UP")
        assert rows[("99213", "", "all")][f"{k}_pct"] == want
    assert rows[("99213", "", "payer")]["median"] == D("101.00")  # 4th of 8 (the lower middle)
    assert rows[("99213", "", "payer")]["median_pct"] == D("126.3")  # 101.00 / 80.00 = 126.25%
    assert rows[("99213", "", "payer")]["avg_pct"] == codes[("99213", "")]["pct_of_medicare"]


def test_market_entity_option_picks_the_payer_rows(con):
    ctx = build_context(con, "ACME1", market_entity="  blue   RIDGE ")
    rows = market_rows(ctx)
    assert {k: rows[("99213", "", "payer")][k] for k in FIGURES} == expect(BLUE_99213)
    assert ctx.market.entity == "blue RIDGE" and ctx.market.entity_source == "--market-entity"
    assert ctx.market.matched_entities == ["Blue Ridge BCBS"]
    assert {k: rows[("20553", "", "payer")][k] for k in FIGURES} == expect(OTHER_20553)


# ------------------------------------------------------------------ proposals priced from the market


def test_proposal_market_median_and_p75(con, tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("market: median\nrates:\n  - {code: '99214', rate: 'market:p75'}\n")
    ctx = build_context(con, "ACME1", proposal=f)
    codes = {(r["procedure_code"], r["modifier"]): r for r in ctx.codes.rows}
    r13, r14, r53 = codes[("99213", "")], codes[("99214", "")], codes[("20553", "")]
    median = nearest_rank(ACME_99213 + TPA_99213, 50)  # ACME's own rates
    assert r13["proposed_rate"] == median == D("101.00")
    assert r13["proposed_revenue"] == median * r13["volume"] and r13["effect"] == median * 3 - D("310.00")
    assert "median of ACME HEALTH's published rates (8)" in r13["basis"]
    p75 = nearest_rank(ACME_99214, 75)
    assert r14["proposed_rate"] == p75 == D("150.00") and r14["proposed_revenue"] == p75 * r14["volume"]
    assert r14["basis"].startswith("rate table: market p75 of ACME HEALTH's")
    # ACME publishes no 20553: every payer's median, and the row says so
    every = nearest_rank(OTHER_20553 + HOSTILE_20553 + ["81.00"], 50)
    assert r53["proposed_rate"] == every == D("81.00") and r53["proposed_revenue"] == every * 2
    assert "every payer's published rates (7; none of ACME HEALTH's)" in r53["basis"]
    # 0001U: no market rates and no percent: not priced, and the row says why
    assert codes[("0001U", "")]["proposed_rate"] is None and "no market rates" in codes[("0001U", "")]["basis"]
    assert ctx.totals.effect == sum(r["effect"] for r in (r13, r14, r53))
    assert ctx.totals.priced_codes == 3


def test_proposal_market_in_a_csv_and_falling_back_to_percent(con, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("code,modifier,rate\n99213,,MARKET:P90\n0001U,,market:median\n")
    codes = {r["procedure_code"]: r for r in build_context(con, "ACME1", proposal=f).codes.rows}
    assert codes["99213"]["proposed_rate"] == nearest_rank(ACME_99213 + TPA_99213, 90) == D("130.25")
    assert codes["0001U"]["proposed_rate"] is None and "no market rates for market:median" in codes["0001U"]["basis"]
    y = tmp_path / "p.yaml"
    y.write_text("market: p25\npercent_of_medicare: 150\n")
    codes = {r["procedure_code"]: r for r in build_context(con, "ACME1", proposal=y).codes.rows}
    assert codes["99214"]["proposed_rate"] == nearest_rank(ACME_99214, 25)
    assert codes["20553"]["proposed_rate"] == nearest_rank(OTHER_20553 + HOSTILE_20553 + ["81.00"], 25)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("p.csv", "code,modifier,rate\n99213,,90\n20553,,market:p80\n", "row 3, column 'rate': unknown market figure"),
        ("p.csv", "code,rate\n99213,market\n", "row 2, column 'rate': unknown market figure"),
        ("p.yaml", "market: p99\n", "column 'market': unknown market figure"),
        (
            "p.yaml",
            "rates:\n  - {code: '99213', rate: 'market:mean'}\n",
            "column 'rates[1].rate': unknown market figure",
        ),
    ],
)
def test_bad_market_values_refused_with_row_and_column(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InputFileError) as err:
        load_proposal(f)
    assert str(f) in str(err.value) and message in str(err.value)
    assert "market:p10, market:p25, market:median, market:p75 or market:p90" in str(err.value)


# ------------------------------------------------------------------ the page


def test_section_renders_escaped_with_charts(con, tmp_path):
    result = negotiation_pack(con, "ACME1", out_dir=tmp_path)
    raw = result.html.read_text()
    assert HOSTILE_ENTITY not in raw and "&lt;img src=x onerror=alert(2)&gt;" in raw
    page = read_page(result.html)
    assert [s["id"] for s in page.sections] == ["summary", "codes", "payers", "market", "proposal"]
    table = page.tables["market-table"]
    assert table["headers"][:5] == ["Code", "Modifier", "Rates of", "Rates", "P10"]
    first = [c[0] for c in table["rows"][0]]
    assert first[:4] == ["99213", "", "ACME HEALTH", "8"] and first[6] == "$101.00"  # ACME's median
    assert "market-pct-table" in page.tables
    charts = [s for s in page.svgs if str(s.get("id", "")).startswith("chart-market-")]
    assert len(charts) == 3  # 99213, 99214, 20553 have published rates; 0001U has none
    assert any("P10" in str(s.get("aria-label", "")) for s in charts)
    assert "market-negotiation-ACME1-2026-03.csv" in {p.name for p in result.exports}


def test_hostile_payer_name_in_the_section(con, tmp_path):
    """HOST1's name is a script tag: its own published rates are matched by that name and the name is
    shown (tables, chart, aria-label) as text only."""
    ctx = build_context(con, "HOST1")
    assert ctx.market.distributions[("20553", "")].payer.rates == (D("81.00"),)
    raw = negotiation_pack(con, "HOST1", out_dir=tmp_path).html.read_text()
    assert HOSTILE not in raw and HOSTILE_ENTITY not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Health Plan" in raw


def test_empty_market_says_how_to_load(sample_con, tmp_path):
    ctx = build_context(sample_con, "ACME1")
    assert not ctx.market.has_rates and ctx.market.warehouse_rates == 0
    raw = negotiation_pack(sample_con, "ACME1", out_dir=tmp_path, formats=()).html.read_text()
    assert 'id="market-empty"' in raw and "underpay market import FILE" in raw


def test_rates_for_other_codes_only(tmp_path):
    """market_rates has rates, none that counts for the pack's codes: the section says what it holds."""
    b = build_sample(WarehouseBuilder())
    _rate(b, "Acme Health Insurance Company", "ACME Choice PPO", "99213", "99.00", billing_class="institutional")
    _rate(b, "Acme Health Insurance Company", "ACME Choice PPO", "12345", "99.00")
    c = duckdb.connect(str(b.write(tmp_path / "other.duckdb")), read_only=True)
    try:
        raw = negotiation_pack(c, "ACME1", out_dir=tmp_path, formats=()).html.read_text()
    finally:
        c.close()
    assert 'id="market-empty"' in raw and "market_rates holds 2 rates from 1 files" in raw


def test_no_entity_matches(con):
    ctx = build_context(con, "ACME1", market_entity="nobody at all")
    assert ctx.market.matched_entities == [] and ctx.market.has_rates
    assert all(r["rates_count"] == 0 for r in ctx.market.codes.rows if r["scope"] == "payer")


def test_cli_market_entity(market_db, tmp_path):
    import shutil

    from pipelines.cli.main import main

    db = tmp_path / "w.duckdb"
    shutil.copy(market_db, db)
    f = tmp_path / "p.yaml"
    f.write_text("market: median\n")
    res = CliRunner().invoke(
        main,
        ["negotiate", "--payer", "ACME1", "--db", str(db), "--market-entity", "Blue Ridge", "--proposal", str(f)]
        + ["--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    page = read_page(tmp_path / "o" / "negotiation-ACME1-2026-03.html")
    first = [c[0] for c in page.tables["market-table"]["rows"][0]]
    assert first[:4] == ["99213", "", "ACME HEALTH", "4"]  # Blue Ridge's four 99213 rates


# ------------------------------------------------------------------ in a browser


@pytest.mark.browser
def test_market_section_fits_1366_in_chromium(market_db, tmp_path):
    from cdp import Browser, chromium_or_skip

    exe = chromium_or_skip()
    c = duckdb.connect(str(market_db), read_only=True)
    try:
        html = negotiation_pack(c, "ACME1", out_dir=tmp_path / "out", formats=()).html
    finally:
        c.close()
    browser = Browser(exe, tmp_path / "profile")
    try:
        browser.viewport(1366, 900)
        browser.open(html.resolve().as_uri())
        assert browser.errors() == []
        m = browser.evaluate(
            """(() => { const s = document.getElementById('market'), root = document.documentElement;
              return {innerWidth: innerWidth, viewport: root.clientWidth, scrollWidth: root.scrollWidth,
                sectionRight: s.getBoundingClientRect().right,
                wraps: Array.from(s.querySelectorAll('.table-wrap')).map(w => [w.scrollWidth, w.clientWidth]),
                charts: s.querySelectorAll('svg.chart').length,
                chartsRight: Math.max(...Array.from(s.querySelectorAll('svg.chart')).map(e => e.getBoundingClientRect().right)),
                label: s.querySelector('svg.chart').getAttribute('aria-label')}; })()"""
        )
        assert m["innerWidth"] == 1366
        assert m["scrollWidth"] <= m["viewport"] and m["sectionRight"] <= m["viewport"], m
        assert len(m["wraps"]) == 2 and all(sw <= cw for sw, cw in m["wraps"]), m  # no table scrolls sideways
        assert m["charts"] == 3 and m["chartsRight"] <= m["viewport"], m
        assert m["label"].startswith("99213: ACME HEALTH: 8 rates")
    finally:
        browser.close()
