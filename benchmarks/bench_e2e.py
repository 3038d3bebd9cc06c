"""End to end at 100,000 and 1,000,000 service lines (10,000,000 on request): inbox -> ingest ->
compare -> reports, with seconds and peak memory per stage.

The input is what a clearinghouse delivers for a year, not one giant file: 12 payment months
(BPR16 dates from 2025-03 to 2026-02), each sent as 4 weekly files (48 files, each file's
payments dated within its week, five payers in turn), and one month much bigger than the others
(2025-12, a year-end catch-up, holds a quarter of all lines: 2,500,000 of 10,000,000; the other
11 months share the rest equally). Dates of service fall in the weeks before each payment month
(within 2025, the year of the fee schedule the warehouse holds). Files are written by
``pipelines.synthetic.writer.write_big`` once under benchmarks/out/e2e_v<N>_<lines>/ and reused.

Each size runs `underpay nightly` (the library call ``run_nightly``) in a fresh child process over
a warehouse that already holds the 2025 CMS fee schedule, with the example contracts and the 48
files in the inbox. Reported per stage (ingest: parse, validate, load; compare: price, variances,
worklist; reports: HTML and exports, rendered by report worker processes): seconds and the peak
resident memory (RSS) of the run process during that stage (Linux: VmHWM, reset between stages
through /proc/self/clear_refs, with a 20 ms VmRSS sampler as a fallback), the peak RSS of a
report worker process, and service lines per second, so the growth of the cost with size shows.

Sizes: UNDERPAY_E2E_SIZES (comma-separated lines, default "100000,1000000"); e.g.
``UNDERPAY_E2E_SIZES=10000000 python -m benchmarks e2e`` for the 10M run (about 15 minutes on the
2-core machine, plus about 3 minutes to write its files the first time: 1.4 GB of files).
Targets: 1,000,000 lines end to end in under 60 s on a 2-core machine; at every size, peak memory
under 4 GB in the run process and in each report worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = tuple(int(n) for n in os.environ.get("UNDERPAY_E2E_SIZES", "100000,1000000").split(","))
SHARED_CMS = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared")) / "cms"

FIRST_MONTH = date(2025, 3, 1)  # payment months 2025-03 .. 2026-02
MONTHS = 12
FILES_PER_MONTH = 4  # weekly deliveries
BIG_MONTH = 9  # 2025-12 (0-based from FIRST_MONTH)
BIG_SHARE = 0.25  # of all lines, in the big month
LAST_SERVICE = date(2025, 12, 31)  # the warehouse holds the 2025 fee schedule
PEAK_TARGET_MB = 4096

CHILD = r"""
import json, os, resource, sys, threading, time
from pathlib import Path
from pipelines.core.config import Settings
from pipelines.core.logs import EventLog
from pipelines.runs.nightly import run_nightly

root, n_files = Path(sys.argv[1]), int(sys.argv[2])

def status(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0

def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

stage = {"name": "setup"}
peaks, marks, moved = {}, {}, [0]
lock = threading.Lock()

def switch(name):
    with lock:
        old = stage["name"]
        peaks[old] = max(peaks.get(old, 0.0), status("VmHWM:") if hwm_ok else 0.0)
        reset_hwm()
        stage["name"] = name
        marks[name] = time.perf_counter()

def sample():
    while True:
        rss = status("VmRSS:")
        with lock:
            peaks[stage["name"]] = max(peaks.get(stage["name"], 0.0), rss)
        time.sleep(0.02)

class Timing(EventLog):
    def event(self, name, **fields):
        if name == "run_start":
            switch("ingest")
        elif name == "file_moved":
            moved[0] += 1
            if moved[0] == n_files:
                switch("compare")
        elif name == "compared":
            switch("reports")
        elif name == "run_end":
            switch("end")

hwm_ok = reset_hwm()
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
s = Settings(warehouse=root / "warehouse.duckdb", inbox=root / "inbox", archive=root / "archive",
             quarantine=root / "quarantine", contracts=root / "contracts", reports=root / "reports",
             practice_zip="10001", settle_seconds=0)
r = run_nightly(s, log=Timing(quiet=True))
total = time.perf_counter() - t0
print(json.dumps({"exit": r.exit_code, "message": r.message, "seconds": total,
                  "ingest": marks["compare"] - marks["ingest"],
                  "compare": marks["reports"] - marks["compare"],
                  "reports": marks["end"] - marks["reports"],
                  "ingest_mb": peaks.get("ingest", 0), "compare_mb": peaks.get("compare", 0),
                  "reports_mb": peaks.get("reports", 0),
                  "months": [m.month for m in r.months], "lines": sum(m.lines for m in r.months),
                  "files": len(r.files), "loaded": sum(f.status == "loaded" for f in r.files),
                  "peak_mb": max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, *peaks.values()]),
                  "worker_peak_mb": max((m.worker_peak_mb or 0) for m in r.months)}))
"""


def _mpfs_template(workdir: Path) -> Path:
    path = workdir / "e2e_mpfs.duckdb"
    if path.exists():
        return path
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = connect(tmp)
    import_release(con, SHARED_CMS / "2025", 2025, "A")
    import_release(con, SHARED_CMS / "2025" / "RVU25D", 2025, "D")
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    return path


def _month_start(k: int) -> date:
    y, m = divmod(FIRST_MONTH.month - 1 + k, 12)
    return date(FIRST_MONTH.year + y, m + 1, 1)


def plan(n: int) -> list[dict]:
    """The files of an ``n``-line year: name, lines, payment dates, service window, seed, first claim."""
    big = round(n * BIG_SHARE)
    per_month = [big if k == BIG_MONTH else (n - big) // (MONTHS - 1) for k in range(MONTHS)]
    per_month[-1 if BIG_MONTH != MONTHS - 1 else 0] += n - sum(per_month)
    files = []
    for k, lines in enumerate(per_month):
        start = _month_start(k)
        first_service = max(date(2025, 1, 1), start - timedelta(days=75))
        last_service = min(LAST_SERVICE, start - timedelta(days=15))
        for w in range(FILES_PER_MONTH):
            i = k * FILES_PER_MONTH + w
            files.append(
                {
                    "name": f"era-{start:%Y-%m}-w{w + 1}.835",
                    "lines": lines // FILES_PER_MONTH + (lines % FILES_PER_MONTH if w == 0 else 0),
                    "payment_dates": [start + timedelta(days=7 * w + d) for d in range(5)],
                    "first_service": first_service,
                    "service_days": (last_service - first_service).days + 1,
                    "seed": i + 1,  # distinct modulo 100: TRN02 trace numbers never collide
                    "first_claim": i * 1_000_000,
                }
            )
    return files


def _inputs(workdir: Path, n: int) -> list[Path]:
    from pipelines.synthetic.writer import WRITER_VERSION, write_big

    folder = workdir / f"e2e_v{WRITER_VERSION}_{n}"
    folder.mkdir(exist_ok=True)
    paths = []
    for f in plan(n):
        path = folder / f["name"]
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            write_big(
                tmp,
                f["lines"],
                seed=f["seed"],
                payment_dates=f["payment_dates"],
                first_claim=f["first_claim"],
                first_service=f["first_service"],
                service_days=f["service_days"],
            )
            tmp.rename(path)
        paths.append(path)
    return paths


def _label(n: int) -> str:
    return f"{n // 1000:,}k lines" if n < 1_000_000 else f"{n / 1_000_000:g}M lines"


def run(workdir: Path) -> list[dict]:
    rows: list[dict] = []
    template = _mpfs_template(workdir)
    for n in SIZES:
        inputs = _inputs(workdir, n)
        root = workdir / f"e2e_run_{n}"
        shutil.rmtree(root, ignore_errors=True)
        (root / "inbox").mkdir(parents=True)
        shutil.copytree(ROOT / "contracts" / "examples", root / "contracts")
        shutil.copy(template, root / "warehouse.duckdb")
        for path in inputs:
            os.link(path, root / "inbox" / path.name)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), str(len(inputs))], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"e2e {n:,} lines failed:\n{proc.stderr[-3000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        if got["exit"] != 0:
            raise RuntimeError(f"e2e {n:,} lines: nightly exit {got['exit']}: {got['message']}")
        label = _label(n)
        peak = f"< {PEAK_TARGET_MB:,} MB"
        rows += [
            {
                "metric": f"{label}: end to end ({got['loaded']} files -> {len(got['months'])} reports)",
                "value": f"{got['seconds']:.1f}",
                "unit": "s",
                "target": "< 60 s" if n == 1_000_000 else None,
            },
            {"metric": f"{label}:   ingest (parse, validate, load)", "value": f"{got['ingest']:.1f}", "unit": "s"},
            {
                "metric": f"{label}:   compare (price, variances, worklist)",
                "value": f"{got['compare']:.1f}",
                "unit": "s",
            },
            {"metric": f"{label}:   reports + exports", "value": f"{got['reports']:.1f}", "unit": "s"},
            {"metric": f"{label}: lines compared", "value": f"{got['lines']:,}", "unit": "lines"},
            {"metric": f"{label}: throughput", "value": f"{n / got['seconds']:,.0f}", "unit": "lines/s"},
            {"metric": f"{label}: peak RSS, run, ingest", "value": f"{got['ingest_mb']:,.0f}", "unit": "MB"},
            {"metric": f"{label}: peak RSS, run, compare", "value": f"{got['compare_mb']:,.0f}", "unit": "MB"},
            {"metric": f"{label}: peak RSS, run, reports", "value": f"{got['reports_mb']:,.0f}", "unit": "MB"},
            {
                "metric": f"{label}: peak RSS, run, whole",
                "value": f"{got['peak_mb']:,.0f}",
                "unit": "MB",
                "target": peak,
            },
            {
                "metric": f"{label}: peak RSS, report worker",
                "value": f"{got['worker_peak_mb']:,.0f}",
                "unit": "MB",
                "target": peak,
            },
        ]
        shutil.rmtree(root, ignore_errors=True)
    return rows
