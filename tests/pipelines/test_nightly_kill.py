"""`underpay nightly` killed with SIGKILL at several points, then rerun: the warehouse must hold
exactly what a clean run gives (nothing lost, nothing doubled), and every file must be archived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.runs.nightly import run_nightly

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean_totals(tmp_path_factory, mpfs_template, synth_files, make_site, totals):
    root = tmp_path_factory.mktemp("clean")
    site = make_site(root, mpfs_template, synth_files)
    assert run_nightly(site).exit_code == 0
    return totals(site.warehouse)


def _kill_when(argv, cwd, *, event: str | None = None, count: int = 1, delay: float | None = None) -> list[str]:
    """Start the run; SIGKILL it after the count-th `event` line (or after `delay` seconds)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen: list[str] = []
    try:
        if delay is not None:
            time.sleep(delay)
        else:
            n = 0
            for line in proc.stdout:
                ev = json.loads(line)["event"]
                seen.append(ev)
                if ev == event:
                    n += 1
                    if n == count:
                        break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        {"event": "file_loaded", "count": 1},  # first load committed, file not moved yet
        {"event": "file_moved", "count": 3},  # some files done, others not
        {"event": "file_rejected", "count": 1},  # a rejected file recorded, not yet quarantined
        {"event": "compared", "count": 1},  # variances committed, report workers starting
        {"event": "month_done", "count": 1},  # report workers half way
        {"delay": 1.0},  # by the clock: start-up / first files
        {"delay": 2.0},  # by the clock: somewhere in the middle
    ],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
def test_kill_then_rerun_equals_clean_run(
    point, tmp_path, mpfs_db, synth_files, make_site, nightly_argv, run_cli, totals, clean_totals
):
    site = make_site(tmp_path, mpfs_db, synth_files)
    bad = site.inbox / "a-broken.835"  # sorts first: rejected before the good files
    bad.write_bytes(synth_files[0].read_bytes()[:300])
    os.utime(bad, (0, 0))
    argv = nightly_argv(site, "--json-log")
    seen = _kill_when(argv, tmp_path, event=point.get("event"), count=point.get("count", 1), delay=point.get("delay"))
    if point.get("event", "").startswith("file_"):
        # it really stopped mid-run: files left in the inbox, its runs row left at 'running'
        assert seen[-1] == point["event"] and "run_end" not in seen
        assert any(site.inbox.iterdir())
    done = run_cli(argv, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    got = totals(site.warehouse)
    assert got == clean_totals
    assert list(site.inbox.iterdir()) == []
    assert sorted(p.name for p in site.archive.iterdir()) == sorted(f.name for f in synth_files)
    assert (site.quarantine / "a-broken.835").exists()
    assert (site.quarantine / "a-broken.835.error.txt").exists()
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY run_id").fetchall()]
    finally:
        con.close()
    assert "running" not in statuses
    assert statuses[-1] in ("ok", "quarantined")
    if point.get("event"):
        assert statuses[0] == "interrupted"
