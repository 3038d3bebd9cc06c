"""End to end: `underpay run --month` over a warehouse loaded by the nightly run."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli.main import main
from pipelines.core.errors import UnderpayError
from pipelines.core.months import Month
from pipelines.runs.monthly import previous_month, run_monthly
from pipelines.runs.nightly import run_nightly


def test_run_recomputes_month_and_writes_review_and_exports(site, tmp_path):
    first = run_nightly(site)
    assert first.exit_code == 0 and first.months
    month = max(first.months, key=lambda m: m.lines)
    con = duckdb.connect(str(site.warehouse))
    con.execute("DELETE FROM variances")
    con.close()
    out = tmp_path / "monthly-out"
    res = CliRunner().invoke(
        main,
        [
            "run",
            "--month",
            month.month,
            "--db",
            str(site.warehouse),
            "--contracts",
            str(site.contracts),
            "--reports",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"report: {out / month.month}" in res.output
    assert f"{month.month}: {month.lines:,} lines" in res.output
    html = next((out / month.month).glob("*.html"))
    assert html.stat().st_size > 1000
    assert any(p.suffix == ".csv" for p in (out / month.month).iterdir())
    assert any(p.suffix == ".xlsx" for p in (out / month.month).iterdir())
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        n = con.execute(
            "SELECT count(*) FROM variances WHERE strftime(payment_date, '%Y-%m') = ?", [month.month]
        ).fetchall()[0][0]
        kind, status, months = con.execute(
            "SELECT kind, status, months_touched FROM runs ORDER BY run_id DESC LIMIT 1"
        ).fetchall()[0]
    finally:
        con.close()
    assert n == month.lines
    assert (kind, status, months) == ("monthly", "ok", [month.month])


def test_run_summary_matches_nightly_summary(site):
    first = run_nightly(site)
    m = first.months[0]
    again = run_monthly(site.warehouse, m.month, contracts_dir=site.contracts, reports_dir=site.reports)
    assert (again.lines, again.underpaid_lines, again.underpaid_dollars, again.denied_lines) == (
        m.lines,
        m.underpaid_lines,
        m.underpaid_dollars,
        m.denied_lines,
    )


def test_bad_month_and_missing_warehouse_are_clear_errors(tmp_path):
    with pytest.raises(UnderpayError, match="expected YYYY-MM"):
        Month.parse("2025-13")
    res = CliRunner().invoke(main, ["run", "--month", "2025-01", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "no warehouse here" in res.output


def test_previous_month():
    from datetime import date

    assert previous_month(date(2026, 1, 15)) == Month(2025, 12)
    assert previous_month(date(2025, 7, 1)).label == "2025-06"
