"""The ingest's schedule: one owner of its threads, a plan tests can set, buffers released by their owner."""

from __future__ import annotations

import threading

import pytest

from pipelines.ingest.envelope import prepare_file
from pipelines.ingest.load import ingest_file, ingest_paths
from pipelines.ingest.read import read_and_scan
from pipelines.ingest.schedule import IngestSchedule, LoadPlan
from tests.ingest.conftest import table_counts


class _Recording(IngestSchedule):
    """A schedule that notes which thread read (and prepared) each file, and every scan."""

    def __init__(self, plan=None):
        super().__init__(plan)
        self.reads: list[tuple[str, str]] = []
        self.scans: list[str] = []

    def read(self, path):
        self.reads.append((path.name, threading.current_thread().name))
        return super().read(path)

    def read_and_scan(self, path):
        self.scans.append(path.name)
        return super().read_and_scan(path)


def _ingest_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ingest-")]


def _payments_file(fixtures, tmp_path, n: int = 4):
    """good_5010.835 with its one payment sent ``n`` times (other ST02 and TRN02): ``n`` transactions."""
    text = (fixtures / "good_5010.835").read_text()
    head, rest = text.split("ST*835*0001~", 1)
    body, tail = rest.split("GE*1*101~")
    txns = [
        ("ST*835*0001~" + body).replace("*0001~", f"*{k:04d}~").replace("TRACE0001", f"TRACE{k:04d}")
        for k in range(1, n + 1)
    ]
    path = tmp_path / f"payments_{n}.835"
    path.write_text(head + "".join(txns) + f"GE*{n}*101~" + tail)
    return path


def test_a_plan_refuses_sizes_that_would_stall_the_ingest():
    with pytest.raises(ValueError, match="build_ahead"):
        LoadPlan(build_ahead=0)
    with pytest.raises(ValueError, match="slice_segments, check_segments"):
        LoadPlan(slice_segments=0, check_segments=-1)


def test_the_schedule_reads_small_files_ahead_and_stops_its_threads(fixtures, con):
    files = [fixtures / "good_5010.835", fixtures / "reversal_later.835", fixtures / "unbalanced.835"]
    with _Recording() as schedule:
        result = ingest_paths(files, con, schedule=schedule)
        assert [n for n, _ in schedule.reads] == [f.name for f in files]
        assert all(thread.startswith("ingest-read") for _, thread in schedule.reads)  # all read ahead
    assert [f.status for f in result.files] == ["loaded", "loaded", "loaded"]
    assert _ingest_threads() == []  # every pool shut down with the schedule


def test_files_over_the_read_ahead_size_are_read_when_their_turn_comes(fixtures, con):
    files = [fixtures / "good_5010.835", fixtures / "reversal_later.835"]
    with _Recording(LoadPlan(read_ahead_bytes=0)) as schedule:
        ingest_paths(files, con, schedule=schedule)
    # the first file is read on the reader (while the warehouse opens), the second on this thread
    assert schedule.reads[0][1].startswith("ingest-read")
    assert schedule.reads[1] == ("reversal_later.835", threading.current_thread().name)


def test_a_first_file_started_early_is_read_once(fixtures, con):
    path = fixtures / "good_5010.835"
    with _Recording() as schedule:
        schedule.start_reading(path)
        result = ingest_paths([path], con, schedule=schedule)
    assert schedule.scans == ["good_5010.835"] and schedule.reads == []  # taken up, not read again
    assert result.loaded == 1 and table_counts(con)["claims"] == 2


def test_plan_and_schedule_are_not_both_given(fixtures, con):
    with IngestSchedule() as schedule, pytest.raises(TypeError, match="not both"):
        ingest_paths([fixtures / "good_5010.835"], con, plan=LoadPlan(), schedule=schedule)
    with pytest.raises(TypeError, match="not both"):
        ingest_file(con, fixtures / "good_5010.835", plan=LoadPlan(), schedule=IngestSchedule())


def test_ingest_file_with_a_plan_loads_the_same_as_the_default(fixtures, con, tmp_path):
    import duckdb

    from pipelines.core.schema import ensure_schema

    path = _payments_file(fixtures, tmp_path)
    whole = ingest_file(con, path)
    other = duckdb.connect()
    ensure_schema(other)
    sliced = ingest_file(other, path, plan=LoadPlan(slice_segments=5, edge_segments=1, build_ahead=1, check_segments=1))
    assert whole.status == sliced.status == "loaded" and sliced.payments == 4 and sliced.claims == 8
    for t in ("payments", "claims", "service_lines", "adjustments", "provider_adjustments"):
        assert (
            other.execute(f"SELECT * EXCLUDE (file_id) FROM {t} ORDER BY ALL").fetchall()
            == con.execute(f"SELECT * EXCLUDE (file_id) FROM {t} ORDER BY ALL").fetchall()
        ), t
    other.close()


def test_a_failed_insert_leaves_no_build_running(fixtures, con, tmp_path, monkeypatch):
    """When inserting fails, the slices being built are finished or dropped before the file's
    transaction is rolled back (they read its cursor), and nothing is loaded."""
    import time

    from pipelines.ingest import load

    real_insert, real_tables = load._insert, load.tables
    built: list[float] = []

    def crash(con_, table, frame):
        if table == "claims":
            raise RuntimeError("disk full")
        real_insert(con_, table, frame)

    def slow_tables(*args, **kwargs):
        time.sleep(0.05)
        out = real_tables(*args, **kwargs)
        built.append(time.perf_counter())
        return out

    monkeypatch.setattr(load, "_insert", crash)
    monkeypatch.setattr(load, "tables", slow_tables)
    plan = LoadPlan(slice_segments=5, edge_segments=1, build_ahead=2, check_segments=1)
    with IngestSchedule(plan) as schedule:
        outcome = ingest_file(con, _payments_file(fixtures, tmp_path), schedule=schedule)
        returned = time.perf_counter()
        time.sleep(0.2)
        # an unforeseen error is shown by its type only (its text may quote file values: PHI)
        assert outcome.status == "rejected" and "RuntimeError" in outcome.reason and "disk full" not in outcome.reason
        assert 1 <= len(built) < 4 and max(built) < returned  # no build went on after the file ended
    assert table_counts(con)["payments"] == 0
    assert _ingest_threads() == []


def test_buffers_are_released_by_their_owner(fixtures):
    """prepare_file lets the scan drop its tag codes (prepare made the tag ids) and keeps the
    offsets the slices need; the prepared file lets go of the whole scan when told."""
    got = prepare_file(read_and_scan(fixtures / "good_5010.835"))
    scan = got.prep.scan
    assert scan.code is None and len(scan) == got.prep.segments and len(scan.starts) == len(got.prep.tid)
    got.prep.release_scan()
    assert got.prep.scan is None
