"""The comparison of 1,000,000 lines on DuckDB and on local Spark, timed side by side (opt-in).

Set UNDERPAY_BENCH_SPARK=1 to run it (it takes several minutes and needs Java 17+): it reuses the
warehouse of bench_compare (benchmarks/out/compare_1m.duckdb: 1,000,000 lines over a year of
payments, 10 payers x 2 contract versions, the 2025 MPFS), copies it twice, and runs in fresh child
processes

- ``compare()`` (DuckDB) on one copy, and
- ``compare_spark()`` on the other: the lake export, the chain on Spark ``local[2]`` (per step),
  and the load of the variances back;

then checks that both copies hold the same variances rows (every column but computed_at).
Spark in local mode is expected to be slower: the point is one source of rules and scale-out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import bench_compare

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from pipelines.core.config import Settings
from pipelines.core.warehouse import connect
db, contracts, engine, lake = sys.argv[1:5]
con = connect(db)
con.execute("SET enable_progress_bar = false")  # stdout carries the JSON line only
t0 = time.perf_counter()
steps, jvm_peak = {}, 0
if engine == "duckdb":
    from pipelines.compare.compare import compare
    r = compare(con, contracts, settings=Settings(practice_zip="10001"))
else:
    import pipelines.spark.engine as engine_module
    from pipelines.spark.session import spark_session
    spark = spark_session("local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - t0
    real = engine_module.compare_lake
    def timed(*a, **k):
        run = real(*a, **k)
        steps.update(run.seconds)
        return run
    engine_module.compare_lake = timed
    r = engine_module.compare_spark(con, lake, contracts, settings=Settings(practice_zip="10001"), spark=spark)
    steps["session start"] = started
    jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{jvm}/status") as f:
        jvm_peak = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))
seconds = time.perf_counter() - t0
con.close()
print(json.dumps({"seconds": seconds, "lines": r.lines, "steps": steps,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "jvm_peak_mb": jvm_peak}))
"""

SAME = r"""
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")  # stdout carries the JSON line only
con.execute("ATTACH ? AS d (READ_ONLY)", [sys.argv[1]])
con.execute("ATTACH ? AS s (READ_ONLY)", [sys.argv[2]])
cols = ", ".join(f'"{r[0]}"' for r in con.execute("DESCRIBE d.variances").fetchall() if r[0] != "computed_at")
only = [con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {a}.variances EXCEPT ALL SELECT {cols} FROM {b}.variances)")
        .fetchall()[0][0] for a, b in (("d", "s"), ("s", "d"))]
print(json.dumps({"rows": con.execute("SELECT count(*) FROM d.variances").fetchall()[0][0], "only": only}))
"""


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workdir: Path) -> list[dict]:
    if not os.environ.get("UNDERPAY_BENCH_SPARK"):
        return [{"metric": "skipped (opt-in: UNDERPAY_BENCH_SPARK=1, needs Java 17+)", "value": "-", "unit": ""}]
    workdir = Path(workdir)
    source = workdir / "compare_1m.duckdb"
    if not source.exists():
        bench_compare._build(source)
    contracts = workdir / "compare_contracts"
    bench_compare._contracts(contracts)
    copies = {}
    for engine in ("duckdb", "spark"):
        copies[engine] = workdir / f"spark_bench_{engine}.duckdb"
        shutil.copy(source, copies[engine])
    lake = workdir / "spark_bench_lake"
    shutil.rmtree(lake, ignore_errors=True)
    got = {e: _child(CHILD, str(copies[e]), str(contracts), e, str(lake)) for e in ("duckdb", "spark")}
    same = _child(SAME, str(copies["duckdb"]), str(copies["spark"]))
    rows = [
        {"metric": "service lines compared", "value": f"{got['duckdb']['lines']:,}", "unit": "lines"},
        {"metric": "DuckDB compare()", "value": f"{got['duckdb']['seconds']:.1f}", "unit": "s"},
        {
            "metric": "Spark local[2]: export + chain + load back",
            "value": f"{got['spark']['seconds']:.1f}",
            "unit": "s",
        },
    ]
    for step, seconds in got["spark"]["steps"].items():
        rows.append({"metric": f"  spark {step}", "value": f"{seconds:.1f}", "unit": "s"})
    rows += [
        {"metric": "peak memory, DuckDB process", "value": f"{got['duckdb']['peak_mb']:.0f}", "unit": "MB"},
        {
            "metric": "peak memory, Spark driver process (Python) / JVM",
            "value": f"{got['spark']['peak_mb']:.0f} / {got['spark']['jvm_peak_mb']:.0f}",
            "unit": "MB",
        },
        {
            "metric": "variances rows identical (only DuckDB / only Spark)",
            "value": f"{same['rows']:,} ({same['only'][0]} / {same['only'][1]})",
            "unit": "rows",
            "target": "0 / 0",
        },
    ]
    for path in copies.values():
        path.unlink(missing_ok=True)
    shutil.rmtree(lake, ignore_errors=True)
    return rows
