"""End to end at 100,000 and 1,000,000 service lines: inbox -> ingest -> compare -> report.

Each size runs `underpay nightly` (the library call) in a fresh child process over a warehouse
that already holds the 2025 CMS fee schedule, with the example contracts, and one synthetic
835 file in the inbox. Reported: seconds (total and per stage), peak memory (RSS) of the run
process and of one report worker process (two run at once), and service lines per second, so
the growth of the cost from 100k to 1M is visible.
Target: 1,000,000 lines end to end in under 60 s on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = tuple(int(n) for n in os.environ.get("UNDERPAY_E2E_SIZES", "100000,1000000").split(","))
SHARED_CMS = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared")) / "cms"

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
from pipelines.core.config import Settings
from pipelines.core.logs import EventLog
from pipelines.runs.nightly import run_nightly

root = Path(sys.argv[1])
marks = {}
class Timing(EventLog):
    def event(self, name, **fields):
        marks.setdefault(name, []).append(time.perf_counter())
t0 = time.perf_counter()
s = Settings(warehouse=root / "warehouse.duckdb", inbox=root / "inbox", archive=root / "archive",
             quarantine=root / "quarantine", contracts=root / "contracts", reports=root / "reports",
             practice_zip="10001", settle_seconds=0)
r = run_nightly(s, log=Timing(quiet=True))
total = time.perf_counter() - t0
print(json.dumps({"exit": r.exit_code, "message": r.message, "seconds": total,
                  "ingest": marks["file_loaded"][0] - marks["run_start"][0],
                  "compare": marks["compared"][0] - marks["file_moved"][-1],
                  "reports": marks["run_end"][0] - marks["compared"][0],
                  "months": [m.month for m in r.months], "lines": sum(m.lines for m in r.months),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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


def _big_file(workdir: Path, n: int) -> Path:
    from pipelines.synthetic.writer import write_big

    path = workdir / f"e2e_{n}.835"
    if not path.exists():
        tmp = workdir / f"e2e_{n}.835.tmp"
        write_big(tmp, n, seed=1)
        tmp.rename(path)
    return path


def run(workdir: Path) -> list[dict]:
    rows: list[dict] = []
    template = _mpfs_template(workdir)
    for n in SIZES:
        big = _big_file(workdir, n)
        root = workdir / f"e2e_run_{n}"
        shutil.rmtree(root, ignore_errors=True)
        (root / "inbox").mkdir(parents=True)
        shutil.copytree(ROOT / "contracts" / "examples", root / "contracts")
        shutil.copy(template, root / "warehouse.duckdb")
        os.link(big, root / "inbox" / big.name)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", CHILD, str(root)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"e2e {n:,} lines failed:\n{proc.stderr[-3000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        if got["exit"] != 0:
            raise RuntimeError(f"e2e {n:,} lines: nightly exit {got['exit']}: {got['message']}")
        label = f"{n // 1000:,}k lines" if n < 1_000_000 else f"{n // 1_000_000}M lines"
        target = "< 60 s" if n == 1_000_000 else None
        rows += [
            {
                "metric": f"{label}: end to end (inbox -> report)",
                "value": f"{got['seconds']:.1f}",
                "unit": "s",
                "target": target,
            },
            {"metric": f"{label}:   ingest (parse, validate, load)", "value": f"{got['ingest']:.1f}", "unit": "s"},
            {"metric": f"{label}:   compare (price, variances)", "value": f"{got['compare']:.1f}", "unit": "s"},
            {
                "metric": f"{label}:   reports + exports ({len(got['months'])} months)",
                "value": f"{got['reports']:.1f}",
                "unit": "s",
            },
            {"metric": f"{label}: lines compared", "value": f"{got['lines']:,}", "unit": "lines"},
            {"metric": f"{label}: throughput", "value": f"{n / got['seconds']:,.0f}", "unit": "lines/s"},
            {"metric": f"{label}: peak memory (RSS), run", "value": f"{got['peak_mb']:,.0f}", "unit": "MB"},
            {
                "metric": f"{label}: peak memory (RSS), report worker",
                "value": f"{got['worker_peak_mb']:,.0f}",
                "unit": "MB",
            },
        ]
        shutil.rmtree(root, ignore_errors=True)
    return rows
