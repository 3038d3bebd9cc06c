"""Round trip: synthetic 835s -> pipelines.ingest.load -> warehouse equals the writer's truth, to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipelines.synthetic.writer import SynthSpec, default_payers, write_big, write_remittances

ingest = pytest.importorskip("pipelines.ingest.load", reason="the ingest library is not built yet")

LINES_SQL = """
SELECT p.trace_number, c.status_code AS claim_status, s.line_control_number,
       c.patient_control_number, c.payer_claim_number, c.place_of_service,
       s.procedure_code, s.modifiers, s.units, s.charge, s.paid, s.allowed, s.service_date, s.line_id
FROM service_lines s JOIN claims c USING (claim_id) JOIN payments p ON p.payment_id = c.payment_id
"""
ADJ_SQL = """
SELECT line_id, group_code, reason_code, sum(amount) AS amount
FROM adjustments WHERE line_id IS NOT NULL GROUP BY ALL
"""


def _frame(con, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())


def _load(files, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    result = ingest.ingest_paths(files, db)
    assert [f.status for f in result.files] == ["loaded"] * len(files), [f.reason for f in result.files]
    return duckdb.connect(str(db), read_only=True)


def _check(result, con):
    truth = result.truth
    assert con.execute("SELECT count(*) FROM validation_issues").fetchall()[0][0] == 0
    # payments
    pays = _frame(
        con,
        """SELECT trace_number, payer_id, payment_date, total_paid, payee_npi, payee_tin,
                                 payee_zip FROM payments ORDER BY trace_number""",
    )
    want = result.payments.sort("trace_number")
    assert pays["trace_number"].to_list() == want["trace_number"].to_list()
    assert pays["payer_id"].to_list() == want["payer_id"].to_list()
    assert pays["payment_date"].to_list() == want["payment_date"].to_list()
    assert pays["total_paid"].to_list() == want["total_paid"].to_list()
    assert set(pays["payee_npi"]) == {"1234567893"} and set(pays["payee_tin"]) == {"123456789"}
    assert set(pays["payee_zip"]) == {"10001"}
    # lines, joined on what identifies a written line
    key = ["trace_number", "claim_status", "line_control_number"]
    got = _frame(con, LINES_SQL)
    assert got.height == truth.height
    both = truth.join(got, on=key, how="inner", suffix="_db")
    assert both.height == truth.height
    for ours, theirs in [
        ("billed", "charge"),
        ("paid", "paid_db"),
        ("procedure_code", "procedure_code_db"),
        ("patient_control_number", "patient_control_number_db"),
        ("payer_claim_number", "payer_claim_number_db"),
        ("service_date", "service_date_db"),
        ("place_of_service", "place_of_service_db"),
        ("modifiers", "modifiers_db"),
    ]:
        bad = both.filter(pl.col(ours) != pl.col(theirs))
        assert bad.is_empty(), (ours, bad.select(key + [ours, theirs]).head(3))
    assert (both["units"].cast(pl.Float64) == both["units_db"].cast(pl.Float64)).all()
    written = both.filter("allowed_written")
    assert (written["actual_allowed"] == written["allowed"]).all()
    assert (
        both.filter(~pl.col("allowed_written"))["allowed"].null_count()
        == both.filter(~pl.col("allowed_written")).height
    )
    # line adjustments: patient share and sequestration per line, and every line balances
    adj = _frame(con, ADJ_SQL)
    per_line = adj.group_by("line_id").agg(
        total=pl.col("amount").sum(),
        pr=pl.col("amount").filter(pl.col("group_code") == "PR").sum(),
        seq=pl.col("amount").filter(pl.col("reason_code") == "253").sum(),
    )
    check = both.join(per_line, on="line_id", how="left").with_columns(
        pl.col("total", "pr", "seq").fill_null(Decimal("0"))
    )
    assert (check["billed"] - check["paid"] == check["total"]).all()
    assert (check["pr"] == check["patient_responsibility"]).all()
    assert (check["seq"] == check["sequestration"]).all()
    # provider adjustments
    plb = _frame(
        con,
        """SELECT p.trace_number, a.reason_code, a.reference_id, a.amount
                         FROM provider_adjustments a JOIN payments p USING (payment_id)
                         ORDER BY 1, 2, 3""",
    )
    want_plb = result.provider_adjustments.select("trace_number", "reason_code", "reference_id", "amount").sort(
        "trace_number", "reason_code", "reference_id"
    )
    assert plb.rows() == want_plb.rows()
    # reversals point at the claim they reverse (same payer claim number, earlier payment)
    links = con.execute("""SELECT r.payer_claim_number, o.payer_claim_number, o.status_code
                           FROM claims r LEFT JOIN claims o ON o.claim_id = r.reverses_claim_id
                           WHERE r.status_code = '22'""").fetchall()
    assert all(rev == orig and status != "22" for rev, orig, status in links), links


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**31),
    claims=st.integers(5, 30),
    payers=st.integers(1, 5),
    delimiters=st.sampled_from([("*", ":", "~", "\n"), ("|", ">", "~", ""), ("*", ">", "\n", "")]),
)
def test_round_trip_property(tmp_path_factory, seed, claims, payers, delimiters):
    tmp = tmp_path_factory.mktemp("rt")
    spec = SynthSpec(
        start=date(2025, 3, 1),
        claims_per_month=claims,
        seed=seed,
        payers=default_payers()[:payers],
        reversal_rate=0.15,
        secondary_rate=0.1,
        denial_rate=0.15,
        underpay_rate=0.1,
        plb_rate=0.5,
        facility_rate=0.3,
        delimiters=delimiters,
    )
    result = write_remittances(spec, tmp / "era")
    with _load(result.files, tmp) as con:
        _check(result, con)


def test_round_trip_a_month(tmp_path):
    result = write_remittances(
        SynthSpec(claims_per_month=250, reversal_rate=0.03, secondary_rate=0.03, plb_rate=0.5, mppr_rate=0.05),
        tmp_path / "era",
    )
    with _load(result.files, tmp_path) as con:
        _check(result, con)
        n = con.execute("SELECT count(*), sum(charge) FROM service_lines").fetchall()[0]
        assert n == (result.truth.height, result.truth["billed"].sum())


def test_big_file_round_trip(tmp_path):
    path = write_big(tmp_path / "big.835", 4000, seed=5, lines_per_transaction=900)
    with _load([path], tmp_path) as con:
        lines, charge, paid = con.execute("SELECT count(*), sum(charge), sum(paid) FROM service_lines").fetchall()[0]
        assert 4000 <= lines < 4008
        assert con.execute("SELECT count(*) FROM payments").fetchall()[0][0] == 5
        assert con.execute("SELECT count(*) FROM validation_issues").fetchall()[0][0] == 0
        bpr, plb = con.execute(
            "SELECT sum(total_paid), (SELECT coalesce(sum(amount), 0) FROM provider_adjustments) FROM payments"
        ).fetchall()[0]
        assert bpr == paid - plb
