"""Loading: one transaction per file, duplicates, re-sent payments, reversals, balancing, reruns."""

from __future__ import annotations

import shutil
from decimal import Decimal

import duckdb
import pytest

from pipelines.core.errors import Interrupted, UnderpayError
from pipelines.ingest import load as ingest_mod
from pipelines.ingest.load import expand_paths, ingest_paths
from pipelines.ingest.schedule import LoadPlan
from tests.conftest import needs_shared
from tests.ingest.conftest import table_counts


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()[0]


def test_good_file_loads_every_table(fixtures, con):
    result = ingest_paths([fixtures / "good_5010.835"], con, run_id=7)
    (f,) = result.files
    assert (f.status, f.claims, f.lines, f.paid, f.issues) == ("loaded", 2, 2, Decimal("245.00"), 0)
    assert result.exit_code == 0
    counts = table_counts(con)
    assert counts == {
        "era_files": 1,
        "payments": 1,
        "claims": 2,
        "service_lines": 2,
        "adjustments": 5,
        "provider_adjustments": 1,
        "validation_issues": 0,
    }
    assert one(
        con, "SELECT status, run_id, transactions, claims, service_lines, total_paid, x12_version FROM era_files"
    ) == ("loaded", 7, 1, 2, 2, Decimal("245.00"), "005010X221A1")
    p = con.execute(
        "SELECT payer_id, payer_name, payee_npi, payee_tin, payee_zip, total_paid, trace_number, "
        "payment_date::VARCHAR, production_date::VARCHAR FROM payments"
    ).fetchall()
    assert p == [
        (
            "ACME1",
            "ACME HEALTH",
            "1234567893",
            "123456789",
            "100011234",
            Decimal("245.00"),
            "TRACE0001",
            "2025-01-10",
            "2025-01-09",
        )
    ]
    lines = con.execute(
        "SELECT procedure_code, modifiers, charge, paid, units, allowed, service_date::VARCHAR, "
        "line_control_number, remark_codes, line_number FROM service_lines ORDER BY line_id"
    ).fetchall()
    assert lines == [
        (
            "99213",
            ["25"],
            Decimal("200.00"),
            Decimal("150.00"),
            Decimal("1.000"),
            Decimal("180.00"),
            "2025-01-02",
            "LINE1",
            ["N130"],
            1,
        ),
        (
            "85025",
            None,
            Decimal("100.00"),
            Decimal("50.00"),
            Decimal("2.000"),
            Decimal("70.00"),
            "2025-01-02",
            None,
            None,
            2,
        ),
    ]
    adj = con.execute(
        "SELECT group_code, reason_code, amount, quantity, line_id IS NULL FROM adjustments ORDER BY segment_number"
    ).fetchall()
    assert adj[-1] == ("CO", "29", Decimal("80.00"), None, True)
    assert adj[2] == ("CO", "45", Decimal("30.00"), Decimal("2.000"), False)
    assert one(con, "SELECT provider_id, reason_code, reference_id, amount FROM provider_adjustments") == (
        "1234567893",
        "WO",
        "OVERPAY01",
        Decimal("-45.00"),
    )
    c = one(
        con,
        "SELECT patient_control_number, status_code, charge, paid, patient_responsibility, "
        "payer_claim_number, place_of_service, patient_last_name FROM claims ORDER BY claim_id",
    )
    assert c == ("PCN001", "1", Decimal("300.00"), Decimal("200.00"), Decimal("50.00"), "ICN0001", "11", "DOE")


def test_same_bytes_twice_is_duplicate_and_loads_nothing(fixtures, con):
    first = ingest_paths([fixtures / "good_5010.835"], con).files[0]
    before = table_counts(con)
    again = ingest_paths([fixtures / "good_5010.835"], con)
    (dup,) = again.files
    assert dup.status == "duplicate" and again.exit_code == 0
    assert f"file_id {first.file_id}" in dup.reason
    after = table_counts(con)
    assert after["era_files"] == before["era_files"] + 1
    assert {k: v for k, v in after.items() if k != "era_files"} == {k: v for k, v in before.items() if k != "era_files"}
    assert one(con, "SELECT duplicate_of FROM era_files WHERE status = 'duplicate'") == (first.file_id,)


def test_resent_payment_in_another_file_is_flagged_not_doubled(fixtures, con):
    ingest_paths([fixtures / "good_5010.835"], con)
    res = ingest_paths([fixtures / "good_5010_resent.835"], con).files[0]
    assert res.status == "loaded" and res.resent_payments == 1 and res.claims == 0 and res.paid == 0
    assert "already loaded" in res.reason
    rows = con.execute("SELECT payment_id, resent_of_payment_id FROM payments ORDER BY payment_id").fetchall()
    assert rows[0][1] is None and rows[1][1] == rows[0][0]
    # totals users compute over claims/lines are not doubled
    assert one(con, "SELECT count(*), sum(paid) FROM claims") == (2, Decimal("200.00"))
    assert one(con, "SELECT sum(total_paid) FROM payments WHERE resent_of_payment_id IS NULL") == (Decimal("245.00"),)
    assert one(con, "SELECT count(*) FROM validation_issues WHERE rule = 'resent_payment'") == (1,)


def test_unbalanced_file_loads_and_records_each_failure(fixtures, con):
    f = ingest_paths([fixtures / "unbalanced.835"], con).files[0]
    assert f.status == "loaded"
    rows = con.execute(
        "SELECT rule, severity, expected, actual, segment_number, claim_id IS NOT NULL, "
        "line_id IS NOT NULL FROM validation_issues ORDER BY rule"
    ).fetchall()
    assert rows == [
        ("balance_claim", "error", "100.00", "95.00", 16, True, False),
        ("balance_line", "error", "50.00", "45.00", 27, True, True),
        ("balance_transaction", "error", "245.00", "246.00", 3, False, False),
    ]


def test_wrong_se_count_is_tolerated_and_recorded(fixtures, con):
    f = ingest_paths([fixtures / "se_count_wrong.835"], con).files[0]
    assert f.status == "loaded" and f.claims == 2
    assert one(con, "SELECT rule, severity, expected, actual FROM validation_issues") == (
        "se_count",
        "warning",
        "34",
        "99",
    )


def test_crlf_indentation_and_latin1(fixtures, con):
    f = ingest_paths([fixtures / "crlf_indented_latin1.835"], con).files[0]
    assert f.status == "loaded" and (f.claims, f.lines) == (2, 2)
    assert one(con, "SELECT patient_last_name, patient_first_name FROM claims ORDER BY claim_id") == ("MÜLLER", "JÖRG")
    assert "non-UTF-8 bytes read as Latin-1" in one(con, "SELECT tolerated FROM era_files")[0]


def test_reversal_in_later_file_links_to_original(fixtures, con):
    ingest_paths([fixtures / "good_5010.835", fixtures / "reversal_later.835"], con)
    rows = con.execute(
        "SELECT claim_id, status_code, paid, reverses_claim_id, reversed_by_claim_id "
        "FROM claims WHERE payer_claim_number = 'ICN0001' ORDER BY claim_id"
    ).fetchall()
    (orig_id, _, _, r1, by), (rev_id, status, paid, rev_of, _) = rows
    assert status == "22" and paid == Decimal("-200.00")
    assert (rev_of, by, r1) == (orig_id, rev_id, None)
    # net paid for the claim after reversal and correction
    assert one(con, "SELECT sum(paid) FROM claims WHERE patient_control_number = 'PCN001'") == (Decimal("10.00"),)


def test_reversal_loaded_first_links_when_original_arrives(fixtures, con):
    ingest_paths([fixtures / "reversal_later.835"], con)
    assert one(con, "SELECT reverses_claim_id FROM claims WHERE status_code = '22'") == (None,)
    ingest_paths([fixtures / "good_5010.835"], con)
    orig = one(
        con,
        "SELECT claim_id, reversed_by_claim_id FROM claims WHERE payer_claim_number = 'ICN0001' AND status_code = '1'",
    )
    assert one(con, "SELECT reverses_claim_id FROM claims WHERE status_code = '22'") == (orig[0],)
    assert orig[1] is not None


def test_crash_mid_file_leaves_nothing_and_rerun_loads_once(fixtures, con, monkeypatch):
    real = ingest_mod._insert

    def crash(c, table, frame):
        if table == "service_lines":
            raise KeyboardInterrupt("killed")
        real(c, table, frame)

    monkeypatch.setattr(ingest_mod, "_insert", crash)
    with pytest.raises(Interrupted):
        ingest_paths([fixtures / "good_5010.835"], con)
    assert all(n == 0 for n in table_counts(con).values())
    monkeypatch.setattr(ingest_mod, "_insert", real)
    ingest_paths([fixtures / "good_5010.835"], con)
    ingest_paths([fixtures / "good_5010.835"], con)
    counts = table_counts(con)
    assert (counts["payments"], counts["claims"], counts["service_lines"]) == (1, 2, 2)


def test_rerun_of_a_folder_neither_loses_nor_doubles(fixtures, tmp_path):
    db = tmp_path / "w.duckdb"
    first = ingest_paths([fixtures], db)
    second = ingest_paths([fixtures], db)
    assert second.loaded == 0 and second.duplicate == first.loaded
    assert second.rejected == first.rejected
    c = duckdb.connect(str(db), read_only=True)
    try:
        assert one(c, "SELECT count(*) FROM claims") == (first.claims,)
    finally:
        c.close()


def test_ids_continue_across_files(fixtures, con):
    ingest_paths([fixtures / "good_5010.835", fixtures / "unbalanced.835"], con)
    ids = [r[0] for r in con.execute("SELECT claim_id FROM claims ORDER BY claim_id").fetchall()]
    assert ids == [1, 2, 3, 4]
    assert one(con, "SELECT count(DISTINCT file_id) FROM claims") == (2,)


def _ids_unique(con) -> dict[str, tuple]:
    """(rows, distinct ids) per table: the loader, not an index, keeps the ids unique."""
    return {
        t: one(con, f"SELECT count(*), count(DISTINCT {k}) FROM {t}")
        for t, k in (("payments", "payment_id"), ("claims", "claim_id"), ("service_lines", "line_id"))
    }


def test_ids_stay_unique_through_crashes_duplicates_and_resends(fixtures, con, monkeypatch):
    real = ingest_mod._insert
    calls = {"n": 0}

    def crash_second_file(c, table, frame):
        if table == "adjustments":
            calls["n"] += 1
            if calls["n"] == 2:  # the second file dies after its lines are inserted
                raise KeyboardInterrupt("killed")
        real(c, table, frame)

    monkeypatch.setattr(ingest_mod, "_insert", crash_second_file)
    files = sorted(fixtures.glob("*.835"))
    with pytest.raises(Interrupted):
        ingest_paths(files, con)
    monkeypatch.setattr(ingest_mod, "_insert", real)
    ingest_paths(files, con)
    ingest_paths([fixtures], con)  # everything again: duplicates, nothing new
    counts = _ids_unique(con)
    assert counts["service_lines"][0] > 2
    assert all(rows == distinct for rows, distinct in counts.values()), counts
    lines = one(con, "SELECT min(line_id), max(line_id), count(*) FROM service_lines")
    assert lines[1] - lines[0] + 1 == lines[2]  # no gaps either: the rolled-back ids were reused


def test_expand_paths_files_dirs_globs(fixtures, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(fixtures / "good_5010.835", tmp_path / "a" / "b" / "x.835")
    shutil.copy(fixtures / "unbalanced.835", tmp_path / "a" / "y.835")
    (tmp_path / "a" / ".hidden").write_text("no")
    assert [p.name for p in expand_paths([tmp_path / "a"])] == ["x.835", "y.835"]
    assert [p.name for p in expand_paths([str(tmp_path / "a" / "*.835")])] == ["y.835"]
    assert [p.name for p in expand_paths([str(tmp_path / "**" / "*.835")])] == ["x.835", "y.835"]
    with pytest.raises(UnderpayError, match="no such file"):
        expand_paths([tmp_path / "missing.835"])
    with pytest.raises(UnderpayError, match="no files match"):
        expand_paths([str(tmp_path / "*.nothing")])


def test_progress_callback_sees_every_file(fixtures, con):
    seen = []
    ingest_paths(
        [fixtures / "good_5010.835", fixtures / "claim_837.835"],
        con,
        progress=lambda o, done, total: seen.append((o.status, done, total)),
    )
    assert seen == [("loaded", 1, 2), ("rejected", 2, 2)]


@needs_shared("samples", "era", "oopfactory_4010_deident_02.835")
@pytest.mark.parametrize(
    "plan",
    [
        LoadPlan(slice_segments=1500),
        # short edges, one slice built ahead, every slice checked alone, every piece of the scan tiny
        # and shared by two threads, the next file never read ahead
        LoadPlan(
            slice_segments=2000,
            edge_segments=300,
            build_ahead=1,
            check_segments=1,
            read_ahead_bytes=0,
            scan_two_threads_bytes=1,
            scan_chunk_bytes=4096,
            scan_block_segments=700,
        ),
    ],
    ids=["small-slices", "tiny-everything"],
)
def test_loading_in_slices_gives_the_same_tables(con, plan):
    """Big files are parsed and loaded a slice of whole transactions at a time: whatever the plan
    (slice sizes, build-ahead, check batches, scan pieces), the same rows as the default plan
    (where this file is one slice)."""
    from tests.conftest import ERA_SAMPLES

    sample = ERA_SAMPLES / "oopfactory_4010_deident_02.835"  # 6 transactions, 13,002 segments
    ingest_paths([sample], con)
    whole = {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("payments", "claims", "service_lines", "adjustments", "provider_adjustments")
    }
    issues = con.execute("SELECT * EXCLUDE (file_id) FROM validation_issues ORDER BY ALL").fetchall()
    other = duckdb.connect()
    from pipelines.core.schema import ensure_schema

    ensure_schema(other)
    f = ingest_paths([sample], other, plan=plan).files[0]
    assert f.status == "loaded" and f.claims == len(whole["claims"])
    from pipelines.ingest.scan import scan
    from pipelines.ingest.tables import prepare

    prep = prepare(scan(sample.read_bytes(), sample), sample)
    assert len(prep.slices(LoadPlan().slice_segments, LoadPlan().edge_segments)) == 1
    assert len(prep.slices(plan.slice_segments, plan.edge_segments)) >= 3
    for t, rows in whole.items():
        assert other.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() == rows, t
    assert other.execute("SELECT * EXCLUDE (file_id) FROM validation_issues ORDER BY ALL").fetchall() == issues


def test_code_set_violations_load_as_warnings(fixtures, con, tmp_path):
    bad = tmp_path / "odd_codes.835"
    bad.write_bytes(
        (fixtures / "good_5010.835")
        .read_bytes()
        .replace(b"CAS*CO*29*80.00", b"CAS*XY*29*80.00")
        .replace(b"CLP*PCN002*4", b"CLP*PCN002*99")
    )
    f = ingest_paths([bad], con).files[0]
    assert f.status == "loaded" and f.claims == 2
    rows = con.execute(
        "SELECT rule, severity, actual, segment_number, claim_id IS NOT NULL FROM validation_issues ORDER BY rule"
    ).fetchall()
    assert rows == [
        ("adjustments.group_code:isin", "warning", "a 2-character value (letters)", 34, True),
        ("claims.status_code:isin", "warning", "a 2-character value (digits)", 32, True),
    ]


def test_positional_modifiers_keep_their_place(con, tmp_path):
    """modifiers drops blanks; modifier_1..4 keep their SVC01 positions."""
    from tests.ingest.test_x12 import build

    path = tmp_path / "mods.835"
    path.write_bytes(
        build(
            [
                (
                    "30.00",
                    "30.00",
                    [("99213", ["", "25"], "10.00", "10.00", "1"), ("97110", ["GP", "59"], "20.00", "20.00", "1")],
                )
            ],
            comp=">",
        )
    )
    assert ingest_paths([path], con).files[0].status == "loaded"
    rows = con.execute(
        "SELECT modifiers, modifier_1, modifier_2, modifier_3 FROM service_lines ORDER BY line_id"
    ).fetchall()
    assert rows == [(["25"], None, "25", None), (["GP", "59"], "GP", "59", None)]


def test_ctrl_c_inside_a_duckdb_read_of_python_data_is_an_interrupt():
    """Regression (a SIGINT during `underpay nightly` rejected a good file): a KeyboardInterrupt raised
    while DuckDB reads Python data reaches us as DuckDB's InvalidInputException, with the Python
    traceback in its text. It is Ctrl-C (exit 130, the file not rejected), not a refused row."""
    import duckdb
    import pyarrow as pa

    from pipelines.ingest.load import _is_interrupt

    schema = pa.schema([("a", pa.int64())])

    def batches():
        yield pa.record_batch([pa.array([1, 2])], schema=schema)
        raise KeyboardInterrupt

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    con = duckdb.connect()
    con.register("stream", reader)
    with pytest.raises(duckdb.InvalidInputException) as caught:
        con.execute("CREATE TABLE t AS SELECT * FROM stream")
    assert _is_interrupt(caught.value)
    assert not _is_interrupt(duckdb.InvalidInputException("Invalid Input Error: invalid UTF-8 in column b"))
