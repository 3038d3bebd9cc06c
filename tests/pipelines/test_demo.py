"""End to end: `underpay demo` in a fresh folder, as `make demo` runs it."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest


@pytest.mark.slow
def test_demo_finds_the_injected_underpayments(tmp_path, run_cli, cms_dir):  # cms_dir: skips without CMS files
    out = tmp_path / "demo"
    proc = run_cli(
        [sys.executable, "-m", "pipelines.cli", "demo", "--out", str(out), "--claims-per-month", "250"],
        cwd=tmp_path,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "open the report: " in text, text + proc.stderr
    report = text.rsplit("open the report: ", 1)[1].strip()
    assert report.endswith(".html") and (out / "reports") in Path(report).parents
    html = open(report, encoding="utf-8").read()
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        payers = {r[0] for r in con.execute("SELECT DISTINCT payer_id FROM payments").fetchall()}
        loaded, files = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'loaded'), count(*) FROM era_files"
        ).fetchall()[0]
        cats = dict(con.execute("SELECT category, count(*) FROM variances GROUP BY 1").fetchall())
        reversals = con.execute("SELECT count(*) FROM claims WHERE status_code = '22'").fetchall()[0][0]
        plb = con.execute("SELECT count(*) FROM provider_adjustments").fetchall()[0][0]
        pr = con.execute("SELECT count(*) FROM adjustments WHERE group_code = 'PR'").fetchall()[0][0]
        years = con.execute("SELECT DISTINCT year(service_date) FROM service_lines").fetchall()
        month = Path(report).parent.name  # reports/YYYY-MM/monthly-YYYY-MM.html
        worst = con.execute(
            "SELECT patient_control_number FROM variances WHERE category = 'underpaid' "
            "AND strftime(payment_month, '%Y-%m') = ? ORDER BY variance DESC LIMIT 1",
            [month],
        ).fetchall()[0][0]
        schedules = {r[0] for r in con.execute("SELECT DISTINCT medicare_schedule FROM variances").fetchall()}
    finally:
        con.close()
    assert len(payers) == 5 and loaded == files
    assert cats.get("underpaid", 0) > 0 and cats.get("denied", 0) > 0
    assert reversals > 0 and plb > 0 and pr > 0 and years == [(2025,)]
    # every injected underpayment found, and nothing else flagged
    found = text.split("(injected ", 1)[1]
    injected, got = found.split(", found ")[0], found.split(", found ")[1].split(")")[0]
    assert int(injected) > 0 and int(got) == int(injected) == cats["underpaid"]
    assert worst in html  # the month's worst underpaid claim is on the report's worklist
    assert {"mpfs", "clfs", "asp", "dmepos"} <= schedules  # lab, drug and supply lines priced from their schedules


def test_rerun_clears_only_what_the_demo_wrote(tmp_path):
    from pipelines.runs.demo import _fresh

    for d in ("inbox", "archive", "reports", "contracts", "cms"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "old.txt").write_text("x")
    (tmp_path / "warehouse.duckdb").write_text("x")
    (tmp_path / "notes.md").write_text("mine")
    _fresh(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]
