"""End to end: `underpay nightly` over a synthetic inbox (real ingest, compare and reports)."""

from __future__ import annotations

import json
import os
import time

import duckdb

from pipelines.core.lock import run_lock
from pipelines.core.logs import EventLog
from pipelines.runs.nightly import inbox_files, run_nightly

ISA = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *250105*1200*^*00501*000000001*0*P*:~"
NOT_AN_835 = (
    ISA + "GS*HC*SUBMITTER*RECEIVER*20250105*1200*1*X*005010X222A1~ST*837*0001*005010X222A1~"
    "BHT*0019*00*1*20250105*1200*CH~SE*3*0001~GE*1*1~IEA*1*000000001~"
)


def _rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_clean_run_loads_archives_compares_and_reports(site, synth_files, capsys):
    log = EventLog(json_lines=True)
    result = run_nightly(site, log=log)
    assert result.exit_code == 0, result.summary()
    assert result.status == "ok"
    assert list(site.inbox.iterdir()) == []
    assert sorted(p.name for p in site.archive.iterdir()) == sorted(f.name for f in synth_files)
    assert result.counts.loaded == len(synth_files)
    # every loaded line compared; every touched month has its report
    lines, compared = _rows(
        site.warehouse, "SELECT (SELECT count(*) FROM service_lines), (SELECT count(*) FROM variances)"
    )[0]
    assert lines > 0 and compared == lines
    assert result.months and all(m.report.exists() for m in result.months)
    for m in result.months:
        assert m.report.parent == site.reports / m.month
        assert oct(m.report.stat().st_mode & 0o777) == "0o600"
    status, files_seen, loaded, months = _rows(
        site.warehouse, "SELECT status, files_seen, files_loaded, months_touched FROM runs WHERE kind = 'nightly'"
    )[0]
    assert (status, files_seen, loaded) == ("ok", len(synth_files), len(synth_files))
    assert sorted(months) == sorted(m.month for m in result.months)
    # the log: one JSON object per line, a run_end last, no patient data
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "run_start" and events[-1]["event"] == "run_end"
    assert sum(e["event"] == "file_loaded" for e in events) == len(synth_files)
    names = {
        r[0] for r in _rows(site.warehouse, "SELECT patient_last_name FROM claims WHERE patient_last_name IS NOT NULL")
    }
    text = "\n".join(json.dumps(e) for e in events)
    assert names and not any(n in text for n in names)


def test_second_run_of_same_files_is_duplicate_not_double(site, synth_files, totals):
    assert run_nightly(site).exit_code == 0
    first = totals(site.warehouse)
    for f in synth_files:  # the clearinghouse re-sends everything
        (site.inbox / f.name).write_bytes(f.read_bytes())
        os.utime(site.inbox / f.name, (0, 0))
    again = run_nightly(site)
    assert again.exit_code == 0
    assert again.counts.duplicate == len(synth_files) and again.counts.loaded == 0
    assert totals(site.warehouse) == first
    assert list(site.inbox.iterdir()) == []
    # same names, same bytes: archived once, not kept twice
    assert len(list(site.archive.iterdir())) == len(synth_files)


def test_bad_file_is_quarantined_with_reason_exit_1(site, synth_files, nightly_argv, run_cli, tmp_path):
    (site.inbox / "claims-837.edi").write_text(NOT_AN_835)
    truncated = synth_files[0].read_bytes()
    (site.inbox / "truncated.835").write_bytes(truncated[: len(truncated) // 2])
    for name in ("claims-837.edi", "truncated.835"):
        os.utime(site.inbox / name, (0, 0))
    proc = run_cli(nightly_argv(site), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "quarantined" in proc.stdout
    for name in ("claims-837.edi", "truncated.835"):
        assert (site.quarantine / name).exists()
        note = (site.quarantine / f"{name}.error.txt").read_text()
        assert name in note and "why:" in note and "next:" in note
    assert "837" in (site.quarantine / "claims-837.edi.error.txt").read_text()
    assert "segment" in (site.quarantine / "truncated.835.error.txt").read_text()
    assert sorted(p.name for p in site.archive.iterdir()) == sorted(f.name for f in synth_files)
    assert list(site.inbox.iterdir()) == []
    assert _rows(site.warehouse, "SELECT status, files_rejected FROM runs")[0] == ("quarantined", 2)


def test_concurrent_run_exits_at_once(site, nightly_argv, run_cli, tmp_path):
    with run_lock(site.warehouse, "test holder"):
        t0 = time.perf_counter()
        proc = run_cli(nightly_argv(site), cwd=tmp_path, timeout=30)
        took = time.perf_counter() - t0
    assert proc.returncode == 2
    assert "another run" in proc.stderr and f"pid {os.getpid()}" in proc.stderr
    assert took < 15  # interpreter start-up only: it does not wait for the lock
    assert len(list(site.inbox.iterdir())) > 0  # untouched
    assert _rows(site.warehouse, "SELECT count(*) FROM era_files")[0][0] == 0


def test_unsettled_and_temporary_files_wait(site, synth_files):
    fresh = site.inbox / "arriving.835"
    fresh.write_bytes(synth_files[0].read_bytes() + b"\n")
    (site.inbox / "upload.835.part").write_bytes(b"ISA*")
    (site.inbox / ".hidden.835").write_bytes(b"ISA*")
    ready, waiting = inbox_files(site.inbox, settle_seconds=60)
    assert {p.name for p in waiting} == {"arriving.835", "upload.835.part", ".hidden.835"}
    assert fresh not in ready and len(ready) == len(synth_files)
    result = run_nightly(site, settle_seconds=60)
    assert result.exit_code == 0
    assert {p.name for p in site.inbox.iterdir()} == {"arriving.835", "upload.835.part", ".hidden.835"}
    assert sorted(result.skipped) == sorted([".hidden.835", "arriving.835", "upload.835.part"])


def test_missing_contracts_folder_fails_exit_2_and_recovers(site, totals):
    import shutil

    shutil.move(site.contracts, site.contracts.with_name("contracts.away"))
    failed = run_nightly(site)
    assert failed.exit_code == 2 and failed.status == "failed"
    assert "contracts" in failed.message
    assert _rows(site.warehouse, "SELECT status FROM runs")[0][0] == "failed"
    # the files loaded and were archived; the next run compares their months
    shutil.move(site.contracts.with_name("contracts.away"), site.contracts)
    ok = run_nightly(site)
    assert ok.exit_code == 0 and ok.counts.seen == 0 and ok.months
    assert _rows(site.warehouse, f"SELECT redone_by FROM runs WHERE run_id = {failed.run_id}")[0][0] == ok.run_id
    t = totals(site.warehouse)
    assert t["variances"] == t["lines"]


def test_unexpected_error_marks_run_failed(site):
    """A failure outside any known case (here: the archive cannot be written) -> exit 2, runs failed."""
    site.archive.rmdir()
    site.archive.write_text("not a folder")
    result = run_nightly(site)
    assert result.exit_code == 2
    assert result.message
    assert _rows(site.warehouse, "SELECT status FROM runs")[0][0] == "failed"


def test_disk_full_is_exit_2_with_clear_message_then_recovers(site, synth_files, monkeypatch, totals):
    """ENOSPC while filing a loaded file away: the run fails clearly; the next run loses nothing."""
    import errno

    import pipelines.runs.nightly as nightly

    real_move = nightly.move_file
    calls = {"n": 0}

    def full_after_two(src, dest):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(dest))
        return real_move(src, dest)

    monkeypatch.setattr(nightly, "move_file", full_after_two)
    failed = run_nightly(site)
    assert failed.exit_code == 2 and "disk full" in failed.message and "nothing is lost" in failed.message
    assert _rows(site.warehouse, "SELECT status FROM runs")[0][0] == "failed"
    assert len(list(site.inbox.iterdir())) == len(synth_files) - 2
    monkeypatch.setattr(nightly, "move_file", real_move)
    ok = run_nightly(site)
    assert ok.exit_code == 0
    assert ok.counts.duplicate == 1 and ok.counts.loaded == len(synth_files) - 3  # the third had loaded
    t = totals(site.warehouse)
    assert t["files_loaded"] == t["distinct_loaded"] == len(synth_files)
    assert t["variances"] == t["lines"]


def test_folders_come_from_underpay_toml_and_flags_override(site, synth_files, tmp_path):
    from click.testing import CliRunner

    from pipelines.cli.main import main

    cfg = tmp_path / "underpay.toml"
    cfg.write_text(
        f'[paths]\nwarehouse = "{site.warehouse.name}"\ninbox = "inbox"\narchive = "filed"\n'
        f'quarantine = "quarantine"\ncontracts = "contracts"\nreports = "reports"\n'
        f"[nightly]\nsettle_seconds = 0\n"
    )
    res = CliRunner().invoke(main, ["--config", str(cfg), "nightly", "--archive", str(tmp_path / "elsewhere")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == sorted(f.name for f in synth_files)
    assert not (tmp_path / "filed").exists()
    assert "nightly run 1: ok (exit 0)" in res.output
