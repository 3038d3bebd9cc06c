"""The reports in a real browser: Debian's headless Chromium, driven over the DevTools protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reports.monthly import report_month
from reports.negotiate import negotiation_pack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cdp import FLAGS, Browser, chromium_or_skip  # noqa: E402
from report_helpers import UNBROKEN, WarehouseBuilder, add_long_claims, build_sample  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = chromium_or_skip()
    b = Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def rendered(sample_template, tmp_path_factory):
    import duckdb

    out = tmp_path_factory.mktemp("browser-reports")
    con = duckdb.connect(str(sample_template), read_only=True)
    try:
        monthly = report_month(con, "2026-03", out_dir=out).html
        pack = negotiation_pack(con, "ACME1", out_dir=out).html
    finally:
        con.close()
    return {"monthly": monthly, "negotiation": pack}


@pytest.mark.parametrize("name, tables, charts", [("monthly", 12, 5), ("negotiation", 3, 2)])
def test_report_loads_cleanly_offline(browser, rendered, tmp_path, name, tables, charts):
    url = rendered[name].resolve().as_uri()
    browser.open(url)
    assert browser.errors() == []
    assert browser.requests(url) == []  # nothing fetched: fonts, scripts, images
    counts = browser.evaluate(
        "({tables: document.querySelectorAll('table.data').length,"
        " charts: document.querySelectorAll('svg.chart').length,"
        " rows: document.querySelectorAll('table.data tbody tr').length,"
        " alerts: document.querySelectorAll('script').length,"
        " chartText: document.querySelector('svg.chart text') !== null})"
    )
    assert counts["tables"] >= tables and counts["charts"] >= charts and counts["rows"] > 0
    assert counts["alerts"] == 1 and counts["chartText"]
    # the optional sorting script works and raises nothing
    first = browser.evaluate(
        "(() => { const th = document.querySelector('table.data th[data-kind=\"money\"]');"
        " th.click(); th.click(); return th.getAttribute('aria-sort'); })()"
    )
    assert first == "descending"
    browser.drain(0.2)
    assert browser.errors() == []
    shot = browser.screenshot(tmp_path / f"{name}.png")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
    pdf = browser.pdf(tmp_path / f"{name}.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_hostile_payer_does_not_run(browser, rendered):
    hook = browser.call(
        "Page.addScriptToEvaluateOnNewDocument", source="window.alert = function () { window.__alerted = true; };"
    )
    try:
        browser.open(rendered["monthly"].resolve().as_uri())
        text = browser.evaluate("document.getElementById('scorecard-table').innerText")
        assert "<script>alert(1)</script>" in text  # shown as text
        assert browser.evaluate("window.__alerted === true") is False
        assert browser.evaluate("typeof window.alert") == "function"  # the hook was installed
        assert browser.errors() == []
    finally:
        browser.call("Page.removeScriptToEvaluateOnNewDocument", identifier=hook["identifier"])


def test_harness_sees_errors_and_requests(browser, tmp_path):
    """The checks above can fail: a page with a console error and a remote image is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        '<script>console.error("boom"); window.__alerted = 1; alert(2);</script></body></html>'
    )
    hook = browser.call(
        "Page.addScriptToEvaluateOnNewDocument", source="window.alert = function () { window.__alerted = true; };"
    )
    try:
        browser.open(page.as_uri())
        assert any("boom" in e for e in browser.errors())
        assert "http://127.0.0.1:9/x.png" in browser.requests(page.as_uri())
        assert browser.evaluate("window.__alerted === true") is True
    finally:
        browser.call("Page.removeScriptToEvaluateOnNewDocument", identifier=hook["identifier"])


def test_dump_dom_without_devtools(rendered, tmp_path):
    exe = chromium_or_skip()
    out = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp_path / 'p'}", "--dump-dom", rendered["monthly"].resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'id="worklist-table"' in out.stdout and "<svg" in out.stdout


# ---------------------------------------------------------------- the worklist's layout

# What one collapsed claim may take: its row (at most three lines of text) and the line under it
# that opens its service lines. The old worklist (one row per claim, every explanation in a
# squeezed column) measured 299 px for the median claim and 1,296 px for the tallest at 1366 px.
CLAIM_MAX_PX = 80
EXPLANATION_MIN_PX = 400

MEASURE_COLLAPSED = """(() => {
  const root = document.documentElement, t = document.getElementById('worklist-table');
  const wrap = t.parentElement, cell = t.querySelector('tbody td');
  const claims = Array.from(t.tBodies).map(b => ({
    height: b.getBoundingClientRect().height,
    row: b.rows[0].getBoundingClientRect().height,
    pcn: b.rows[0].cells[1].innerText.trim(),
    spilling: Array.from(b.rows[0].cells).filter(td => td.scrollWidth > td.clientWidth + 1).map(td => td.cellIndex)}));
  return {innerWidth: innerWidth, viewport: root.clientWidth, scrollWidth: root.scrollWidth,
    tableRight: t.getBoundingClientRect().right, wrapScroll: wrap.scrollWidth, wrapClient: wrap.clientWidth,
    lineHeight: parseFloat(getComputedStyle(cell).lineHeight), claims: claims,
    open: t.querySelectorAll('details[open]').length};
})()"""

MEASURE_OPENED = """(() => {
  const root = document.documentElement, t = document.getElementById('worklist-table');
  const d = t.tBodies[0].querySelector('details'), sub = d.querySelector('table');
  const cells = Array.from(sub.querySelectorAll('td.explain')).map(td => ({
    width: td.getBoundingClientRect().width, text: td.innerText.trim(),
    clippedY: td.scrollHeight - td.clientHeight, clippedX: td.scrollWidth - td.clientWidth,
    lines: Math.round(td.getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight)),
    whiteSpace: getComputedStyle(td).whiteSpace, visible: td.offsetParent !== null}));
  return {open: d.open, viewport: root.clientWidth, scrollWidth: root.scrollWidth,
    subRight: sub.getBoundingClientRect().right, tableRight: t.getBoundingClientRect().right,
    claimHeight: t.tBodies[0].getBoundingClientRect().height, cells: cells};
})()"""


@pytest.fixture(scope="module")
def long_month(tmp_path_factory):
    """The sample month plus 36 claims with 1 to 6 lines each and 250 to 2,000-character explanations."""
    import duckdb

    b = build_sample(WarehouseBuilder())
    explanations = add_long_claims(b)
    root = tmp_path_factory.mktemp("long-month")
    db = b.write(root / "long.duckdb")
    con = duckdb.connect(str(db), read_only=True)
    try:
        html = report_month(con, "2026-03", out_dir=root / "out", formats=()).html
    finally:
        con.close()
    worst = next(iter(explanations))  # the first claim added is the worst: the worklist's first
    return html, explanations[worst]


@pytest.mark.parametrize("width", [1366, 1400])
def test_worklist_fits_the_screen_one_short_row_per_claim(browser, long_month, width):
    html, first_lines = long_month
    browser.viewport(width, 900)
    try:
        browser.open(html.resolve().as_uri())
        assert browser.errors() == []
        m = browser.evaluate(MEASURE_COLLAPSED)
        assert m["innerWidth"] == width  # the emulated window took effect
        # no horizontal scrolling: not the page, not the table's own scroller
        assert m["scrollWidth"] <= m["viewport"], m
        assert m["tableRight"] <= m["viewport"], m
        assert m["wrapScroll"] <= m["wrapClient"], m
        # one block per claim (39: the sample's 3 and the 36 long ones), all folded, all short
        assert len(m["claims"]) == 39 and m["open"] == 0
        assert m["claims"][0]["pcn"] == "PCN2026000000"  # worst first
        tall = [c for c in m["claims"] if c["height"] > CLAIM_MAX_PX or c["row"] > 3 * m["lineHeight"] + 8]
        assert not tall, (m["lineHeight"], tall)
        assert not [c for c in m["claims"] if c["spilling"]]  # no cell's text runs over its neighbour

        browser.click("#worklist-table > tbody summary")  # open the first claim, as a person would
        o = browser.evaluate(MEASURE_OPENED)
        assert o["open"] is True and o["claimHeight"] > CLAIM_MAX_PX
        assert o["scrollWidth"] <= o["viewport"] and o["subRight"] <= o["viewport"], o
        assert [c["text"] for c in o["cells"]] == first_lines  # every explanation, in full
        for c in o["cells"]:
            assert c["visible"] and c["whiteSpace"] != "nowrap", c
            assert c["width"] >= EXPLANATION_MIN_PX, c
            assert c["clippedY"] <= 1 and c["clippedX"] <= 1, c  # nothing cut off or hidden
        longest = max(o["cells"], key=lambda c: len(c["text"]))
        assert UNBROKEN in longest["text"] and longest["lines"] > 10  # wrapped, the long token too
        assert browser.errors() == []
    finally:
        browser.reset_viewport()


def test_worklist_sorts_by_claim_keeping_its_lines(browser, long_month):
    browser.open(long_month[0].resolve().as_uri())
    order = browser.evaluate(
        """(() => {
      const t = document.getElementById('worklist-table');
      const th = t.querySelector('th[data-key="at_stake"]');
      th.click();  // ascending
      return Array.from(t.tBodies).map(b => [
        parseFloat(b.rows[0].cells[th.cellIndex].getAttribute('data-v')),
        b.rows.length, b.rows[1].querySelectorAll(':scope table > tbody > tr').length,
        parseInt(b.rows[0].cells[6].innerText, 10)]);
    })()"""
    )
    stakes = [o[0] for o in order]
    assert stakes == sorted(stakes) and len(order) == 39
    # each claim moved whole: its row, then its folded lines (as many as its Lines cell says)
    assert all(rows == 2 and sub == lines for _, rows, sub, lines in order), order
    assert browser.errors() == []


def test_worklist_claims_open_without_script(browser, long_month):
    html, first_lines = long_month
    browser.call("Emulation.setScriptExecutionDisabled", value=True)
    try:
        browser.open(html.resolve().as_uri())
        browser.click("#worklist-table > tbody summary")  # the click is the browser's own; no script runs
        browser.call("Emulation.setScriptExecutionDisabled", value=False)  # to read the page back
        opened = browser.evaluate(
            "(() => { const d = document.querySelector('#worklist-table > tbody details');"
            " return {open: d.open, sorted: document.querySelector('th.sortable') !== null,"
            " text: Array.from(d.querySelectorAll('td.explain')).map(td => td.innerText.trim()),"
            " height: d.querySelector('td.explain').getBoundingClientRect().height}; })()"
        )
        assert opened["sorted"] is False  # the sorting script really did not run
        assert opened["open"] is True and opened["text"] == first_lines and opened["height"] > 100
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", value=False)
