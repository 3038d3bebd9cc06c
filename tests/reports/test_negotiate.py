"""The negotiation pack: per-code figures, other payers side by side, proposal effect, safety."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.core.errors import InputFileError, UnderpayError
from pipelines.core.months import Month
from reports.negotiate import build_context, negotiation_pack, render_negotiation
from reports.proposal import load_proposal
from reports.render import file_mode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_helpers import HOSTILE, read_page  # noqa: E402


def rows_by_code(ctx):
    return {(r["procedure_code"], r["modifier"]): r for r in ctx.codes.rows}


def test_codes_over_twelve_months(sample_con):
    ctx = build_context(sample_con, "ACME1")
    assert (ctx.first.start.isoformat(), ctx.through.start.isoformat()) == ("2025-04-01", "2026-03-01")
    codes = rows_by_code(ctx)
    # 20553 allowed $80.00 (March) and $70.00 (February); the denied 99214 line does not count
    assert codes[("20553", "")]["volume"] == 2 and codes[("20553", "")]["avg_allowed"] == Decimal("75.00")
    assert codes[("20553", "")]["medicare"] == Decimal("67.08")
    assert codes[("20553", "")]["pct_of_medicare"] == Decimal("111.8")
    assert codes[("99214", "")]["avg_allowed"] == Decimal("120.00")
    assert codes[("99214", "")]["denied_lines"] == 1
    assert ctx.totals.current_revenue == Decimal("80") + 70 + 100 + 100 + 110 + 120 + 50
    assert "practice location not set" in ctx.medicare_note


def test_other_payers_side_by_side(sample_con):
    ctx = build_context(sample_con, "ACME1")
    labels = [c.label for c in ctx.comparison.columns]
    assert f"{HOSTILE}: avg allowed" in labels and "MEDICARE PART B: avg allowed" in labels
    comp = {r["procedure_code"]: r for r in ctx.comparison.rows}
    host = labels.index(f"{HOSTILE}: avg allowed")
    key = ctx.comparison.columns[host].key
    # HOST1 20553: $150.00 for 2 units (March) + $75.00 for 1 (February) = $75.00 a unit
    assert comp["20553"][key] == Decimal("75.00")
    payers = {r["payer_id"]: r for r in ctx.payers.rows}
    assert payers["ACME1"]["this"] == "yes"
    # MCR 99213: $80 allowed / $80 Medicare
    assert payers["MCR"]["pct_of_medicare"] == Decimal("100.0")


def test_proposal_rate_table(sample_con, tmp_path):
    f = tmp_path / "proposal.csv"
    f.write_text("code,modifier,rate\n20553,,90.00\n99214,,150\n")
    ctx = build_context(sample_con, "ACME1", proposal=f)
    codes = rows_by_code(ctx)
    assert codes[("20553", "")]["proposed_revenue"] == Decimal("180.00")
    assert codes[("20553", "")]["effect"] == Decimal("30.00")
    assert codes[("99214", "")]["effect"] == Decimal("30.00")
    assert codes[("99213", "")]["effect"] is None and codes[("99213", "")]["basis"] == "not in the proposal"
    assert ctx.totals.effect == Decimal("60.00") and ctx.totals.priced_codes == 2


def test_proposal_percent_of_medicare(sample_con, tmp_path):
    f = tmp_path / "proposal.yaml"
    f.write_text("percent_of_medicare: 130\nrates:\n  - {code: '99214', rate: 125.00}\n")
    ctx = build_context(sample_con, "ACME1", proposal=f)
    codes = rows_by_code(ctx)
    assert codes[("20553", "")]["proposed_rate"] == Decimal("87.20")  # 67.08 x 130% = 87.204
    assert codes[("20553", "")]["effect"] == Decimal("174.40") - Decimal("150.00")
    assert codes[("99214", "")]["proposed_rate"] == Decimal("125.00")  # the rate wins over the percent
    assert codes[("99213", "")]["proposed_rate"] == Decimal("104.00")  # 80.00 x 130%
    assert codes[("0001U", "")]["basis"] == "no Medicare amount for the percent"
    page = read_page(render_negotiation(sample_con, "ACME1", proposal=f, out_dir=tmp_path))
    assert Decimal(page.figures["effect"]["value"]) == ctx.totals.effect


@pytest.mark.parametrize(
    "text, message",
    [
        ("code,modifier,rate\n20553,,abc\n", "row 2, column 'rate': not a number"),
        ("code,modifier,rate\n20553,59,90\n", "modifier does not select a priced component"),
        ("code,rate\n2055,90\n", "not a CPT/HCPCS code"),
        ("code,modifier,rate\n20553,,90\n20553,,91\n", "listed twice"),
        ("rate\n90\n", "missing header"),
    ],
)
def test_bad_rate_tables_name_file_and_row(tmp_path, text, message):
    f = tmp_path / "p.csv"
    f.write_text(text)
    with pytest.raises(InputFileError) as err:
        load_proposal(f)
    assert str(f) in str(err.value) and message in str(err.value)


def test_bad_yaml_proposals(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("percent_of_medicaid: 130\n")
    with pytest.raises(InputFileError, match="unknown key"):
        load_proposal(f)
    f.write_text("name: empty\n")
    with pytest.raises(InputFileError, match="sets no rate"):
        load_proposal(f)
    with pytest.raises(InputFileError, match="unknown proposal format"):
        load_proposal(tmp_path.joinpath("p.txt").write_text("x") and tmp_path / "p.txt")


def test_through_month_and_unknown_payer(sample_con):
    ctx = build_context(sample_con, "ACME1", through=Month.parse("2026-02"))
    assert rows_by_code(ctx)[("20553", "")]["avg_allowed"] == Decimal("70.00")
    with pytest.raises(UnderpayError, match="payer ids in the warehouse: ACME1, HOST1, MCR"):
        build_context(sample_con, "NOPE")


def test_pack_escapes_and_files_are_private(sample_con, tmp_path):
    result = negotiation_pack(sample_con, "HOST1", out_dir=tmp_path / "pack")
    raw = result.html.read_text()
    assert HOSTILE not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    page = read_page(result.html)
    assert [s["id"] for s in page.sections] == ["summary", "codes", "payers", "market", "proposal"]
    assert len(page.scripts) == 1 and page.svgs
    assert set(page.tables) == {"codes-table", "comparison-table", "payers-table"}
    for p in [result.html, *result.exports]:
        assert file_mode(p) == 0o600
    assert {p.name for p in result.exports} >= {
        "codes-negotiation-HOST1-2026-03.csv",
        "all_payers-negotiation-HOST1-2026-03.csv",
        "negotiation-HOST1-2026-03.xlsx",
    }


def test_medicare_priced_at_practice_location(mpfs_db_or_skip, tmp_path):
    """With the real CMS data imported, the Medicare amount comes from fee_schedules.pricing."""
    from datetime import date

    import duckdb
    from report_helpers import WarehouseBuilder, build_sample

    b = build_sample(WarehouseBuilder())
    nov = date(2025, 11, 14)
    b.payment(9, "ACME1", "ACME HEALTH", nov)
    b.line(
        b.claim(9, pcn="PCN-NOV"),
        "ACME1",
        "ACME HEALTH",
        nov,
        "correct",
        code="99213",
        actual="100.00",
        medicare="1.00",
    )  # a stored amount that must NOT be used when the location prices the code
    b.write(mpfs_db_or_skip)
    con = duckdb.connect(str(mpfs_db_or_skip))
    ctx = build_context(con, "ACME1", through=Month.parse("2025-11"), zip="10001")
    row = rows_by_code(ctx)[("99213", "")]
    assert row["medicare_source"] == "practice location", ctx.medicare_note
    assert Decimal("80") < row["medicare"] < Decimal("200")  # CY2025 Manhattan 99213, non-facility
    assert "priced at ZIP 10001" in ctx.medicare_note and "MPFS 2025" in ctx.medicare_note
    # 2026 has no GPCI file: the pack says so and falls back to the amounts on the compared lines
    ctx26 = build_context(con, "ACME1", through=Month.parse("2026-03"), zip="10001")
    assert rows_by_code(ctx26)[("99213", "")]["medicare_source"] == "compared lines"
    assert "no code priced" in ctx26.medicare_note and "not priced:" in ctx26.medicare_note
    con.close()


def test_cli_negotiate(sample_db, tmp_path):
    from pipelines.cli.main import main

    f = tmp_path / "p.csv"
    f.write_text("code,modifier,rate\n20553,,90.00\n99214,,150\n")
    res = CliRunner().invoke(
        main,
        ["negotiate", "--payer", "ACME1", "--db", str(sample_db), "--proposal", str(f), "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    assert "proposal effect +60.00 a year" in res.output and "negotiation-ACME1-2026-03.html" in res.output
    res = CliRunner().invoke(main, ["negotiate", "--payer", "NOPE", "--db", str(sample_db), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "Error: payer 'NOPE'" in res.output
