"""Ingest benchmark: `underpay ingest` end to end, and the PyPI peer parsers (parse only), same files.

Files (written once under workdir by pipelines.synthetic.writer.write_big, then reused):
  synth_70k.vN.835    ~10 MB,   70,000 service lines
  synth_1m.vN.835     ~145 MB, 1,000,000 service lines (the "100 MB" tier of the issue: at least 1M lines)
  synth_1400k.vN.835  ~200 MB, 1,400,000 service lines (peak memory)
  *_1st.vN.835        like claims in a single ST/SE, for edi-835-parser (reads one transaction)
(N = pipelines.synthetic.writer.WRITER_VERSION; older files are removed.)

`underpay ingest` runs as a subprocess into a fresh DuckDB file (wall seconds include interpreter
start-up, parse, validation and load). Each peer runs in its own subprocess with a timeout; its
parse time is measured inside the process around the parse call, its peak RSS by the wrapper.
Peak RSS comes from resource.getrusage(RUSAGE_CHILDREN) in a fresh wrapper process, so it is the
measured command's own peak.

`underpay ingest` runs UNDERPAY_BENCH_REPEAT times (default 3) per tier, each into a fresh DuckDB
file; the median wall time is reported, with the fastest and slowest (shared machines are noisy).

The peers run with UNDERPAY_PEERS_PYTHON (make bench: .venv-peers/bin/python, where
benchmarks/peers.txt is installed), so what they pull in (pandas) is not in underpay's environment.

Environment: UNDERPAY_BENCH_PEERS=0 skips the peers; UNDERPAY_BENCH_SIZES=10,100 limits the tiers.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import user_env
from pipelines.synthetic.writer import WRITER_VERSION, write_big

TIERS = {  # tier -> (file stem, service lines)
    "10": ("synth_70k", 70_000),
    "100": ("synth_1m", 1_000_000),
    "200": ("synth_1400k", 1_400_000),
}
INGEST_TIMEOUT = 900
REPEAT = max(1, int(os.environ.get("UNDERPAY_BENCH_REPEAT", "3")))
PEERS_PYTHON = os.environ.get("UNDERPAY_PEERS_PYTHON") or sys.executable
PEER_TIMEOUT = 300

_WRAPPER = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": p.returncode, "wall": wall, "rss_mb": rss / 1024,
                  "stdout": p.stdout[-4000:], "stderr": p.stderr[-4000:]}))
"""

# Each peer: module to import, files it gets ("full" or "single" = single-ST copy), tiers, code.
# The code reads PATH, parses, and prints one JSON line {"seconds", "claims", "lines"}.
_PEER_PRELUDE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
PATH = sys.argv[1]
"""
PEERS: dict[str, dict] = {
    "oxedi": {
        "module": "oxedi",
        "copy": "full",
        "tiers": ("10", "100"),
        "code": r"""
import oxedi
t = time.perf_counter()
r = oxedi.parse_file(PATH)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "claims": r.count_claims(),
                  "lines": r.tables["services"].to_polars().height}))
""",
    },
    "openx12": {
        "module": "openx12",
        "copy": "full",
        "tiers": ("10", "100"),
        "code": r"""
from openx12 import x835
t = time.perf_counter()
with open(PATH) as f:
    era = x835.parse(f.read())
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "claims": len(era.claims),
                  "lines": sum(len(c.get("services") or []) for c in era.claims)}))
""",
    },
    "edi-835-parser": {
        "module": "edi_835_parser",
        "copy": "single",
        "tiers": ("10", "100"),
        "code": r"""
from edi_835_parser import parse
t = time.perf_counter()
ts = parse(PATH)
seconds = time.perf_counter() - t
claims = sum(len(x.claims) for x in ts.transaction_sets)
lines = sum(len(c.services) for x in ts.transaction_sets for c in x.claims)
print(json.dumps({"seconds": seconds, "claims": claims, "lines": lines}))
""",
    },
    "x12sdk": {
        "module": "x12sdk",
        "copy": "full",
        "tiers": ("10",),
        "code": r"""
from x12sdk.io import X12ModelReader
t = time.perf_counter()
claims = lines = 0
with X12ModelReader(PATH) as reader:
    for model in reader.models():
        for claim in model.claims():
            claims += 1
            lines += len(claim.service_lines or [])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "claims": claims, "lines": lines}))
""",
    },
    "pyx12": {
        "module": "pyx12",
        "copy": "full",
        "tiers": ("10",),
        "code": r"""
import pyx12.error_handler, pyx12.params, pyx12.x12context
t = time.perf_counter()
claims = lines = 0
with open(PATH) as fd:
    src = pyx12.x12context.X12ContextReader(pyx12.params.params(), pyx12.error_handler.errh_null(), fd)
    for node in src.iter_segments("2100"):
        if node.id == "2100":
            claims += 1
            lines += len(list(node.select("2110")))
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "claims": claims, "lines": lines}))
""",
    },
}


def _measure(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict:
    """Run cmd under the wrapper; returns rc, wall, rss_mb, stdout, stderr (or timeout=True)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=cwd,
        env=user_env(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the wrapper and the command it started
        proc.communicate()
        return {"timeout": True}
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"rc": proc.returncode, "wall": None, "rss_mb": None, "stdout": out, "stderr": err}


def _files(workdir: Path, tiers: list[str]) -> tuple[dict[str, Path], dict[str, Path], list[dict]]:
    full, single, rows = {}, {}, []
    for stale in workdir.glob("synth_*.835"):
        if not stale.name.endswith(f".v{WRITER_VERSION}.835"):
            stale.unlink()
    for tier in tiers:
        stem, n_lines = TIERS[tier]
        path = workdir / f"{stem}.v{WRITER_VERSION}.835"  # a writer change re-generates
        if not path.exists():
            t = time.perf_counter()
            write_big(path.with_suffix(".tmp"), n_lines, seed=1)
            seconds = time.perf_counter() - t
            path.with_suffix(".tmp").rename(path)
            rows.append(
                {
                    "metric": f"generate {stem} ({n_lines:,} lines)",
                    "value": f"{seconds:.1f}",
                    "unit": f"s ({path.stat().st_size / 1e6 / seconds:.0f} MB/s)",
                }
            )
        full[tier] = path
        if tier in ("10", "100"):
            one = workdir / f"{stem}_1st.v{WRITER_VERSION}.835"
            if not one.exists():
                write_big(one.with_suffix(".tmp"), n_lines, seed=1, single_st=True)
                one.with_suffix(".tmp").rename(one)
            single[tier] = one
    return full, single, rows


def _underpay() -> list[str]:
    script = Path(sys.executable).with_name("underpay")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def _short(text: str) -> str:
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return (lines[-1] if lines else "no output")[:110]


def _ingest_rows(files: dict[str, Path], workdir: Path) -> list[dict]:
    rows: list[dict] = []
    per_mb: dict[str, float] = {}
    startup = _measure([*_underpay(), "ingest", "--help"], 120, cwd=workdir)
    if startup.get("rc") == 0:  # fixed cost in every wall time below (interpreter + imports)
        rows.append({"metric": "underpay start-up (ingest --help)", "value": f"{startup['wall']:.2f}", "unit": "s"})
    for tier, path in files.items():
        stem, n_lines = TIERS[tier]
        mb = path.stat().st_size / 1e6
        db = workdir / f"ingest_{stem}.duckdb"
        label = f"underpay ingest {stem} ({mb:.0f} MB)"
        runs = []
        for _ in range(REPEAT):
            for stale in (db, db.with_suffix(".duckdb.wal")):
                stale.unlink(missing_ok=True)
            got = _measure([*_underpay(), "ingest", "--db", str(db), str(path)], INGEST_TIMEOUT, cwd=workdir)
            if got.get("timeout") or got.get("rc") != 0:
                break
            runs.append(got)
        if got.get("timeout"):
            rows.append({"metric": label, "value": f"timeout > {INGEST_TIMEOUT}s", "unit": ""})
            continue
        if got.get("rc") != 0:
            rows.append({"metric": label, "value": "failed", "unit": _short(got.get("stderr") or got.get("stdout"))})
            continue
        walls = sorted(r["wall"] for r in runs)
        wall = statistics.median(walls)
        got = {"wall": wall, "rss_mb": max(r["rss_mb"] for r in runs)}
        per_mb[tier] = wall / mb
        rows.append(
            {
                "metric": f"{label} wall",
                "value": f"{wall:.2f}",
                "unit": f"s (median of {len(walls)}: {walls[0]:.2f} .. {walls[-1]:.2f})",
            }
        )
        rows.append(
            {
                "metric": f"{label} throughput",
                "value": f"{mb / wall:.1f}",
                "unit": "MB/s",
                "target": ">= 40 MB/s" if tier == "100" else None,
            }
        )
        rows.append({"metric": f"{label} service lines/s", "value": f"{n_lines / wall:,.0f}", "unit": "lines/s"})
        rows.append(
            {
                "metric": f"{label} peak RSS",
                "value": f"{got['rss_mb']:.0f}",
                "unit": "MB",
                "target": "< 2048 MB" if tier == "200" else None,
            }
        )
        db.unlink(missing_ok=True)
    if "10" in per_mb and "100" in per_mb:
        rows.append(
            {
                "metric": "ingest linearity (s/MB at 100 MB / s/MB at 10 MB)",
                "value": f"{per_mb['100'] / per_mb['10']:.2f}",
                "unit": "x",
                "target": "<= ~1.2 (linear)",
            }
        )
        mb10, mb100 = (files[t].stat().st_size / 1e6 for t in ("10", "100"))
        extra = per_mb["100"] * mb100 - per_mb["10"] * mb10
        if extra > 0:  # the fixed start-up cost cancels out: the rate of each further MB
            rows.append(
                {
                    "metric": "ingest marginal throughput 10 -> 100 MB",
                    "value": f"{(mb100 - mb10) / extra:.1f}",
                    "unit": "MB/s",
                }
            )
    return rows


def _peer_rows(full: dict[str, Path], single: dict[str, Path]) -> list[dict]:
    rows: list[dict] = []
    for name, peer in PEERS.items():
        probe = subprocess.run([PEERS_PYTHON, "-c", f"import {peer['module']}"], capture_output=True, text=True)
        if probe.returncode != 0:
            reason = f"skipped: cannot import {peer['module']} (make bench installs benchmarks/peers.txt)"
            print(f"   peer {name}: {reason}", flush=True)
            rows.append({"metric": f"peer {name}", "value": "skipped", "unit": reason})
            continue
        for tier in peer["tiers"]:
            files = single if peer["copy"] == "single" else full
            if tier not in files:
                continue
            path = files[tier]
            mb = path.stat().st_size / 1e6
            label = f"peer {name} parse {path.stem} ({mb:.0f} MB)"
            got = _measure([PEERS_PYTHON, "-c", _PEER_PRELUDE + peer["code"], str(path)], PEER_TIMEOUT)
            if got.get("timeout"):
                print(f"   {label}: skipped, timed out after {PEER_TIMEOUT}s", flush=True)
                rows.append({"metric": label, "value": f"timeout > {PEER_TIMEOUT}s", "unit": ""})
                continue
            try:
                result = json.loads(got["stdout"].strip().splitlines()[-1])
            except (ValueError, IndexError, KeyError, AttributeError):
                print(f"   {label}: failed: {_short(got.get('stderr'))}", flush=True)
                rows.append({"metric": label, "value": "failed", "unit": _short(got.get("stderr"))})
                continue
            seconds = result["seconds"]
            claims = f"{result['claims']:,} claims" if result.get("claims") is not None else ""
            rows.append(
                {
                    "metric": label,
                    "value": f"{mb / seconds:.2f}",
                    "unit": f"MB/s ({seconds:.1f} s, {TIERS[tier][1] / seconds:,.0f} lines/s, "
                    f"peak {got['rss_mb']:.0f} MB, {claims})",
                }
            )
    return rows


def run(workdir: Path) -> list[dict]:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tiers = [t.strip() for t in os.environ.get("UNDERPAY_BENCH_SIZES", "10,100,200").split(",") if t.strip()]
    full, single, rows = _files(workdir, tiers)
    rows += _ingest_rows(full, workdir)
    if os.environ.get("UNDERPAY_BENCH_PEERS", "1") != "0":
        rows += _peer_rows(full, single)
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/out")):
        print(row)
