"""Run every benchmark (`python -m benchmarks`) or some (`python -m benchmarks ingest pricing`).

Each benchmarks/bench_<name>.py defines ``run(workdir: Path) -> list[dict]``; a dict is one
printed figure row: {"bench": ..., "metric": ..., "value": ..., "unit": ..., "target": ...}.
Large inputs are written under benchmarks/out/ (git-ignored) and reused between runs.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

import benchmarks

OUT = Path(__file__).resolve().parent / "out"


def _names() -> list[str]:
    return sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    wanted = argv or _names()
    unknown = set(wanted) - set(_names())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(_names())}")
        return 2
    OUT.mkdir(exist_ok=True)
    rows: list[dict] = []
    for name in wanted:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        got = module.run(OUT)
        for row in got:
            target = f"  (target {row['target']})" if row.get("target") else ""
            print(f"   {row['metric']:<48} {row['value']:>14} {row.get('unit', '')}{target}", flush=True)
        rows.extend({"bench": name, **r} for r in got)
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
