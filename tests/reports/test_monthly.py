"""The monthly review: figures traced to the variances table, safety (XSS, PHI, file modes), structure."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.core.errors import UnderpayError
from pipelines.core.months import Month
from reports.monthly import build_context, render_html, render_monthly, report_month
from reports.render import file_mode, money

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_helpers import HOSTILE, ReportPage, read_page  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
MARCH, FEB = date(2026, 3, 1), date(2026, 2, 1)


def recompute_headline(con, month: date, payer: str | None = None) -> dict:
    """The headline figures from raw variances rows, in plain Python (independent of reports/sql)."""
    rows = con.execute(
        "SELECT category, billed, expected_allowed, actual_allowed, paid, patient_responsibility, variance, payer_id "
        "FROM variances WHERE payment_month = ?",
        [month],
    ).fetchall()
    rows = [r for r in rows if payer is None or r[7] == payer]
    z = Decimal("0")

    def total(i, cats=None):
        return sum((r[i] for r in rows if r[i] is not None and (cats is None or r[0] in cats)), z)

    lines = sum(1 for r in rows if r[0] != "reversed")
    denied_lines = sum(1 for r in rows if r[0] == "denied")
    return {
        "billed": total(1),
        "expected_allowed": total(2),
        "actual_allowed": total(3),
        "paid": total(4),
        "patient_responsibility": total(5),
        "underpaid": total(6, {"underpaid"}),
        "underpaid_lines": Decimal(sum(1 for r in rows if r[0] == "underpaid")),
        "overpaid": -total(6, {"overpaid"}),
        "denied": total(1, {"denied"}),
        "denial_rate": (Decimal(100) * denied_lines / lines).quantize(Decimal("0.1")) if lines else None,
        "recoverable": total(6, {"underpaid"}) + total(2, {"denied"}),
    }


@pytest.fixture(scope="module")
def march(sample_template, tmp_path_factory):
    import duckdb

    con = duckdb.connect(str(sample_template), read_only=True)
    try:
        return read_page(render_monthly(con, "2026-03", out_dir=tmp_path_factory.mktemp("march")))
    finally:
        con.close()


@pytest.mark.parametrize("payer", [None, "ACME1", "HOST1"])
def test_headline_figures_match_an_independent_recompute(sample_con, tmp_path, payer):
    page = read_page(render_monthly(sample_con, "2026-03", payer=payer, out_dir=tmp_path))
    now, before = recompute_headline(sample_con, MARCH, payer), recompute_headline(sample_con, FEB, payer)
    assert set(page.figures) == set(now)
    for key, expected in now.items():
        fig = page.figures[key]
        assert Decimal(fig["value"]) == expected, key
        assert Decimal(fig["previous"]) == before[key], key
        if key not in ("underpaid_lines", "denial_rate"):
            assert money(expected) in fig["text"], (key, fig["text"])


def test_headline_known_values(march):
    # the fixture's own arithmetic, so the recompute above cannot agree with a wrong warehouse
    assert Decimal(march.figures["underpaid"]["value"]) == Decimal("3.85") + Decimal("20.00") + Decimal("17.70")
    assert Decimal(march.figures["underpaid_lines"]["value"]) == 3
    assert Decimal(march.figures["denied"]["value"]) == Decimal("310.00")
    assert Decimal(march.figures["recoverable"]["value"]) == Decimal("41.55") + Decimal("140.00")
    assert Decimal(march.figures["denial_rate"]["value"]) == Decimal("18.2")  # 2 of 11 lines


def test_scorecard_per_payer(march):
    t = march.tables["scorecard-table"]
    assert t["headers"] == [
        "Payer",
        "Payer id",
        "Lines",
        "Allowed",
        "Underpaid $",
        "Underpayment rate",
        "Denial rate",
        "Avg days service to payment",
        "Allowed % of Medicare",
    ]
    by_id = {r[1][0]: [c[0] for c in r] for r in t["rows"]}
    assert by_id["ACME1"][2:5] == ["6", "$460.00", "$23.85"]
    assert by_id["ACME1"][5] == "50.0%"  # 2 underpaid of 4 compared
    assert by_id["HOST1"][6] == "33.3%"  # 1 denied of 3
    assert by_id["MCR"][2] == "2"  # reversed lines not counted
    assert by_id["HOST1"][0] == HOSTILE  # shown as text


def test_codes_and_denials(march):
    codes = march.column("top-codes", "Code")
    assert [c[0] for c in codes] == ["20553", "99214"]  # $21.55, $20.00
    reasons = {(r[0][0], r[1][0]): r[2][0] for r in march.tables["denials-by-reason"]["rows"]}
    assert reasons[("CO", "197")] == "Precertification or authorization not obtained"
    assert reasons[("CO", "97")].startswith("Bundled")
    remarks = [r[0][0] for r in march.tables["remark-codes"]["rows"]]
    assert sorted(remarks) == ["M15", "N54"]


def test_trend_covers_twelve_months(march, sample_con):
    months = {r[1][0] for r in march.tables["trend-table"]["rows"]}
    assert months == {"2026-02", "2026-03"}
    assert len(march.svgs) >= 4
    assert {s.get("id") for s in march.svgs} >= {
        "chart-scorecard",
        "chart-codes",
        "chart-trend-underpaid",
        "chart-trend-denials",
    }


def test_worklist_sorted_by_dollars_with_explanations(march):
    t = march.tables["worklist-table"]
    stakes = [Decimal(r[t["headers"].index("At stake")][1]) for r in t["rows"]]
    assert stakes == sorted(stakes, reverse=True)
    assert stakes == [Decimal("160.00"), Decimal("77.70"), Decimal("3.85")]
    first = march.records(t)[0]
    assert first["Patient control #"] == "PCN-ZO-2" and first["Payer claim #"] == "PAYER-2"
    assert first["Category"] == "underpaid + denied" and first["Codes"] == "99214" and first["Lines"] == "2"
    assert "Explanation" not in t["headers"]  # one short row per claim; the explanations fold under it


def test_worklist_lines_fold_under_each_claim(march):
    t = march.tables["worklist-table"]
    assert len(t["sub"]) == len(t["rows"]) == 3  # one <details> of lines per claim, in claim order
    assert march.summaries[:3] == [
        "2 lines: code, amounts and explanation of each",
        "2 lines: code, amounts and explanation of each",
        "1 line: code, amounts and explanation of each",
    ]

    def dollars(text):
        return Decimal(text.replace("$", "").replace(",", ""))

    for claim, sub in zip(march.records(t), t["sub"]):
        lines = march.records(sub)
        assert len(lines) == int(claim["Lines"])
        assert sum(dollars(r["At stake"]) for r in lines) == dollars(claim["At stake"])
    denied, underpaid = march.records(t["sub"][0])  # largest at stake first
    assert (denied["Code"], denied["Category"], denied["CARC / RARC"]) == ("99214", "denied", "CO-197 N54")
    assert (denied["Expected"], denied["Actual"], denied["Variance"]) == ("$140.00", "$0.00", "$140.00")
    assert denied["Explanation"] == "denied: expected 140.00, actual 0.00"  # in full
    assert (underpaid["Units"], underpaid["Variance"]) == ("1", "$20.00")
    hostile = march.records(t["sub"][1])
    assert [r["Code"] for r in hostile] == ["97110", "20553"]
    assert hostile[0]["At stake"] == "$60.00" and hostile[0]["Expected"] == ""  # denied, no expected: billed
    assert hostile[1]["Units"] == "2" and hostile[1]["Explanation"] == f"contract for {HOSTILE}: expected $167.70"
    jane = march.records(t["sub"][2])
    assert jane[0]["Explanation"] == "125% of Medicare 2026 = $83.85; actual $80.00"


def test_worklist_capped_in_html_full_in_export(sample_con, tmp_path):
    ctx = build_context(sample_con, Month.parse("2026-03"), worklist_rows=1)
    page = read_page_text(render_html(ctx))
    assert len(page.tables["worklist-table"]["rows"]) == 1
    capped = [n for n in page.notes if "capped" in n.get("class", "")]
    assert capped and capped[0]["data-total"] == "3"
    result = report_month(sample_con, "2026-03", out_dir=tmp_path)
    csv_text = next(p for p in result.exports if p.name == "worklist-2026-03.csv").read_text()
    assert len(csv_text.strip().splitlines()) == 1 + 3


def read_page_text(text):
    return ReportPage(text)


def test_hostile_text_is_escaped(sample_con, tmp_path):
    for show_phi in (False, True):
        path = render_monthly(sample_con, "2026-03", out_dir=tmp_path / str(show_phi), show_phi=show_phi)
        raw = path.read_text()
        assert HOSTILE not in raw
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
        page = read_page(path)
        assert len(page.scripts) == 1 and "alert" not in page.scripts[0]  # only the sort script
        assert "img" not in page.tags and "b" not in page.tags  # patient/pcn markup stays text
        assert "<img src=x>" not in raw
        assert ("PCN<b>4</b>", "PCN<b>4</b>") in page.column("worklist-table", "Patient control #")


def test_phi_masked_by_default_and_shown_on_request(sample_con, tmp_path):
    masked = report_month(sample_con, "2026-03", out_dir=tmp_path / "masked")
    shown = report_month(sample_con, "2026-03", out_dir=tmp_path / "shown", show_phi=True)
    phi = ["Jane", "Doe", "W123456789", "O'Brien", "AB12", "Mallory"]

    def all_text(result):
        out = {}
        for p in [result.html, *result.exports]:
            if p.suffix == ".xlsx":
                with zipfile.ZipFile(p) as z:
                    out[p.name] = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
            else:
                out[p.name] = p.read_text(encoding="utf-8")
        return out

    for name, text in all_text(masked).items():
        for word in phi:
            assert word not in text, (name, word)
    page = read_page(masked.html)
    patients = [c[0] for c in page.column("worklist-table", "Patient / member")]
    assert patients == ["Z.O. ****", "M.<. ****0042", "J.D. ****6789"]
    shown_text = "\n".join(all_text(shown).values())
    for word in phi:
        assert word in shown_text, word
    assert "Contains patient data" in shown.html.read_text()


def test_files_are_owner_only(sample_con, tmp_path):
    result = report_month(sample_con, "2026-03", out_dir=tmp_path / "new")
    assert oct(tmp_path.joinpath("new").stat().st_mode & 0o777) == "0o700"
    for p in [result.html, *result.exports]:
        assert file_mode(p) == 0o600, p
    assert {p.suffix for p in result.exports} == {".csv", ".xlsx"}


def test_data_quality_and_plb(march):
    assert march.tables["rejected-files"]["rows"][0][0][0] == "bad<i>.835"
    assert march.tables["balancing-failures"]["rows"][0][0][0] == "balance_claim"
    reasons = [r[2][0] for r in march.tables["not-priced"]["rows"]]
    assert "no RVU row for 0001U" in reasons
    assert any("no contract" in r for r in reasons)
    plb = march.tables["plb-summary"]
    assert [c[0] for c in plb["footer"][0]][-1] == "$41.85"
    assert {r[0][0] for r in plb["rows"]} == {"WO", "L6"}


def test_structure_matches_golden(march):
    structure = {
        "sections": [[s["id"], s["h2"]] for s in march.sections],
        "tables": {
            tid: {"caption": t["caption"], "headers": t["headers"]}
            | ({"sub_headers": t["sub"][0]["headers"]} if t["sub"] else {})
            for tid, t in march.tables.items()
        },
        "figures": sorted(march.figures),
    }
    golden = GOLDEN / "monthly.json"
    if os.environ.get("UNDERPAY_WRITE_GOLDEN"):  # after a deliberate change: rewrite, then review the diff
        golden.write_text(json.dumps(structure, indent=1) + "\n")
    expected = json.loads(golden.read_text())
    assert structure == expected, "report structure changed; update tests/reports/golden/monthly.json if meant"


def test_empty_month_renders(sample_con, tmp_path):
    page = read_page(render_monthly(sample_con, "2024-01", out_dir=tmp_path))
    assert Decimal(page.figures["billed"]["value"]) == 0
    assert page.tables == {}  # every table shows its "none" note
    assert 'id="worklist-table"' in (tmp_path / "monthly-2024-01.html").read_text()
    assert len(page.svgs) == 0


def test_bad_month_is_a_clear_error(sample_con, tmp_path):
    with pytest.raises(UnderpayError, match="expected YYYY-MM"):
        render_monthly(sample_con, "March", out_dir=tmp_path)


def test_cli_report(sample_db, tmp_path):
    from pipelines.cli.main import main

    res = CliRunner().invoke(
        main,
        ["report", "--month", "2026-03", "--db", str(sample_db), "--out", str(tmp_path / "cli")],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert "monthly-2026-03.html" in res.output and "worklist-2026-03.csv" in res.output
    for word in ("Jane", "Doe", "W123456789"):
        assert word not in res.output
    res = CliRunner().invoke(
        main,
        [
            "report",
            "--month",
            "2026-03",
            "--db",
            str(sample_db),
            "--payer",
            "ACME1",
            "--out",
            str(tmp_path / "cli"),
            "--no-export",
        ],
    )
    assert res.exit_code == 0 and "monthly-2026-03-ACME1.html" in res.output
