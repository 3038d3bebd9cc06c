"""A payment without a valid BPR16 date belongs to no payment month; the nightly run still
re-renders the reviews that list it (the month its file arrived and the one before)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines.core.months import Month
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.runs.records import months_loaded_by_runs

FIXTURE = Path(__file__).resolve().parents[1] / "ingest" / "fixtures" / "good_5010.835"


def _file(tmp_path: Path, name: str, bpr16: str, trace: str) -> Path:
    text = FIXTURE.read_text().replace("*20250110~", f"*{bpr16}~", 1).replace("TRACE0001", trace)
    out = tmp_path / name
    out.write_text(text)
    return out


def test_an_undated_payment_reopens_the_months_that_list_it(tmp_path):
    this = Month.of(date.today())
    before = this.add(-1)
    con = connect(tmp_path / "w.duckdb")
    dated = _file(tmp_path, "dated.835", before.start.strftime("%Y%m15"), "TRACEA")
    assert ingest_paths([dated], con, run_id=1).files[0].status == "loaded"
    undated = _file(tmp_path, "undated.835", "20250231", "TRACEB")
    assert ingest_paths([undated], con, run_id=2).files[0].status == "loaded"
    assert con.execute("SELECT count(*) FROM payments WHERE payment_date IS NULL").fetchall() == [(1,)]
    # run 2 loaded no dated payment; the review of the month before lists its file (this month has
    # no payments, so no review of it is made for the undated one alone)
    assert months_loaded_by_runs(con, [2]) == [before]
    assert months_loaded_by_runs(con, [1]) == [before]
    con.close()
