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
