"""A comparison too big for one pass runs in chunks of whole payment days (issue 17, "one machine,
bounded"): the variances rows must be the very rows one pass writes, for one month and for every
month, and the nightly's compare_months (worklist included) must end where it ends unchunked."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date

import polars as pl
import pytest

from pipelines.compare.compare import _lines_by_payment_day, compare, payment_day_ranges
from pipelines.core.config import Settings
from pipelines.core.months import Month
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.runs.monthly import compare_months
from pipelines.synthetic.writer import SynthSpec, write_remittances

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "contracts" / "examples"
SETTINGS = Settings(practice_zip="10001")
# every column but the time of the comparison
VARIANCES = "SELECT * EXCLUDE (computed_at) FROM variances ORDER BY line_id"
WORKLIST = """
    SELECT c.case_id, c.payer_id, c.patient_control_number, c.open_lines, c.amount_at_stake, l.line_key, l.payment_status, l.first_line_id
    FROM worklist_claims c JOIN worklist_lines l USING (case_id) ORDER BY c.case_id, l.line_key
"""


def test_payment_day_ranges_cut_whole_days_and_cover_the_month():
    d = date
    days = [(d(2025, 3, 3), 40), (d(2025, 3, 10), 70), (d(2025, 3, 17), 30), (d(2025, 3, 24), 50)]
    march = Month(2025, 3)
    assert payment_day_ranges(days, march, 190) is None  # fits: one pass
    assert payment_day_ranges(days, march, 100) == [
        (d(2025, 3, 1), d(2025, 3, 10)),  # 40
        (d(2025, 3, 10), d(2025, 3, 24)),  # 70 + 30
        (d(2025, 3, 24), d(2025, 4, 1)),  # 50
    ]
    # a day bigger than a chunk is a chunk of its own (a payment's claims are never split)
    assert payment_day_ranges(days, march, 10) == [
        (d(2025, 3, 1), d(2025, 3, 10)),
        (d(2025, 3, 10), d(2025, 3, 17)),
        (d(2025, 3, 17), d(2025, 3, 24)),
        (d(2025, 3, 24), d(2025, 4, 1)),
    ]
    # every month: from the first payment date to the day after the last
    assert payment_day_ranges(days, None, 100)[0][0] == d(2025, 3, 3)
    assert payment_day_ranges(days, None, 100)[-1][1] == d(2025, 3, 25)
    assert payment_day_ranges([], march, 10) is None


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, mpfs_template):
    """A warehouse with three months of synthetic remittances (reversals, denials, underpayments),
    nothing compared yet; each test copies it."""
    root = tmp_path_factory.mktemp("chunks")
    synth = write_remittances(
        SynthSpec(start=date(2025, 1, 1), months=3, claims_per_month=120, seed=23, reversal_rate=0.06), root / "era"
    )
    db = root / "loaded.duckdb"
    shutil.copy(mpfs_template, db)
    con = connect(db)
    try:
        assert ingest_paths(synth.files, con).rejected == 0
    finally:
        con.close()
    return db


def _copy(loaded, tmp_path, name):
    db = tmp_path / name
    shutil.copy(loaded, db)
    return connect(db)


def _rows(con, sql=VARIANCES) -> pl.DataFrame:
    return con.sql(sql).pl()


@pytest.mark.parametrize("month", [None, Month(2025, 2)], ids=["every-month", "one-month"])
def test_chunked_compare_writes_the_rows_of_one_pass(loaded, tmp_path, month):
    whole = _copy(loaded, tmp_path, "whole.duckdb")
    parts = _copy(loaded, tmp_path, "parts.duckdb")
    try:
        days = _lines_by_payment_day(parts, month)
        chunk = max(n for _, n in days)  # about one payment day a chunk
        ranges = payment_day_ranges(days, month, chunk)
        assert ranges is not None and len(ranges) >= 3
        one = compare(whole, EXAMPLES, month=month, settings=SETTINGS)
        many = compare(parts, EXAMPLES, month=month, settings=replace(SETTINGS, compare_chunk_lines=chunk))
        expected, got = _rows(whole), _rows(parts)
        assert got.height == expected.height
        # the month's lines, plus the lines of earlier claims its reversals cancel
        assert one.lines == many.lines >= sum(n for _, n in days)
        assert got.equals(expected)
        assert many.by_category == one.by_category
        assert (many.underpaid_total, many.denied_expected) == (one.underpaid_total, one.denied_expected)
        # real figures, not two empty tables
        assert one.by_category["underpaid"] > 0 and one.by_category["reversed"] > 0
        assert one.by_category["correct"] > 0 and one.by_category["denied"] > 0
        assert one.underpaid_total > 0
    finally:
        whole.close()
        parts.close()


def test_compare_months_in_chunks_matches_one_pass_with_the_worklist(loaded, tmp_path):
    months = [Month(2025, 1), Month(2025, 2), Month(2025, 3)]
    whole = _copy(loaded, tmp_path, "whole.duckdb")
    parts = _copy(loaded, tmp_path, "parts.duckdb")
    try:
        compare_months(whole, months, contracts_dir=EXAMPLES, settings=SETTINGS)
        compare_months(parts, months, contracts_dir=EXAMPLES, settings=replace(SETTINGS, compare_chunk_lines=50))
        assert _rows(parts).equals(_rows(whole))
        cases = _rows(whole, WORKLIST)
        assert cases.height > 0
        assert _rows(parts, WORKLIST).equals(cases)
    finally:
        whole.close()
        parts.close()


def test_limit_memory_caps_duckdb_and_spills_into_a_private_folder(tmp_path):
    import stat

    from pipelines.core.errors import ConfigError
    from pipelines.core.warehouse import drop_spill_folder, limit_memory, spill_folder

    db = tmp_path / "w.duckdb"
    con = connect(db)
    try:
        folder = limit_memory(con, db, "300MB")
        assert folder == spill_folder(db) and folder.parent == tmp_path / "w.duckdb.tmp"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # spilled pages hold remittance data
        limit, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert limit == "286.1 MiB" and temp == str(folder)
        # more than the limit still fits: DuckDB spills the table into the folder
        con.execute(
            "CREATE TEMP TABLE big AS SELECT md5(i::VARCHAR) || repeat('x', 60) AS s FROM range(3000000) r(i) ORDER BY s"
        )
        assert con.execute("SELECT count(*) FROM big").fetchone() == (3_000_000,)
        assert any(folder.iterdir())
        with pytest.raises(ConfigError, match="memory_limit: 'lots'"):
            limit_memory(con, db, "lots")
    finally:
        con.close()
    drop_spill_folder(db)
    assert not (tmp_path / "w.duckdb.tmp").exists()


def test_every_month_in_chunks_also_compares_payments_without_a_payment_date(loaded, tmp_path):
    """A payment without a BPR16 date is in no payment-day range: the last chunk takes them, as
    the one pass does; and lines compared before are replaced, not doubled."""
    whole = _copy(loaded, tmp_path, "whole.duckdb")
    parts = _copy(loaded, tmp_path, "parts.duckdb")
    try:
        for con in (whole, parts):
            con.execute(
                "UPDATE payments SET payment_date = NULL WHERE payment_id IN "
                "(SELECT payment_id FROM payments ORDER BY payment_id LIMIT 2)"
            ).fetchall()
        undated = whole.execute(
            "SELECT count(*) FROM service_lines s JOIN payments p USING (payment_id) WHERE p.payment_date IS NULL"
        ).fetchall()[0][0]
        assert undated > 0
        chunk = max(n for _, n in _lines_by_payment_day(parts, None))
        one = compare(whole, EXAMPLES, settings=SETTINGS)
        for _ in range(2):  # a rerun in chunks replaces its rows
            many = compare(parts, EXAMPLES, settings=replace(SETTINGS, compare_chunk_lines=chunk))
        assert _rows(parts).equals(_rows(whole))
        assert many.lines == one.lines
        assert parts.execute("SELECT count(*) FROM variances WHERE payment_date IS NULL").fetchall()[0][0] == undated
    finally:
        whole.close()
        parts.close()
