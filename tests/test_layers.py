"""The layers and their arrows (docs/architecture.md): each package imports only from the
packages below it, and importing any module has no side effect (no thread, no environment change).

core <- fee_schedules, contracts, ingest, synthetic <- compare <- worklist, reports <- runs <- cli
core, contracts <- lake; compare, lake <- spark <- runs, cli
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the packages its modules may import (its own included)
ALLOWED: dict[str, set[str]] = {
    "pipelines.core": {"pipelines.core"},
    "fee_schedules": {"pipelines.core", "fee_schedules"},
    "contracts": {"pipelines.core", "fee_schedules", "contracts"},
    "pipelines.ingest": {"pipelines.core", "pipelines.ingest"},
    "pipelines.synthetic": {"pipelines.core", "pipelines.synthetic"},
    "pipelines.market": {"pipelines.core", "pipelines.market"},
    "pipelines.compare": {"pipelines.core", "fee_schedules", "contracts", "pipelines.compare"},
    "pipelines.worklist": {"pipelines.core", "fee_schedules", "contracts", "pipelines.compare", "pipelines.worklist"},
    "pipelines.lake": {"pipelines.core", "contracts", "pipelines.lake"},
    "pipelines.spark": {
        "pipelines.core",
        "fee_schedules",
        "contracts",
        "pipelines.compare",
        "pipelines.lake",
        "pipelines.spark",
    },
    "reports": {"pipelines.core", "fee_schedules", "contracts", "pipelines.compare", "reports"},
    "pipelines.runs": {
        "pipelines.core",
        "fee_schedules",
        "contracts",
        "pipelines.ingest",
        "pipelines.synthetic",
        "pipelines.compare",
        "pipelines.worklist",
        "reports",
        "pipelines.market",
        "pipelines.lake",
        "pipelines.spark",
        "pipelines.runs",
    },
    "pipelines.cli": {
        "pipelines",
        "pipelines.core",
        "fee_schedules",
        "contracts",
        "pipelines.ingest",
        "pipelines.synthetic",
        "pipelines.compare",
        "pipelines.worklist",
        "reports",
        "pipelines.market",
        "pipelines.lake",
        "pipelines.spark",
        "pipelines.runs",
        "pipelines.cli",
    },
}
LAYERS = sorted(ALLOWED, key=len, reverse=True)  # most specific first: pipelines.core before pipelines


def _layer(module: str) -> str | None:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    if module == "pipelines":
        return "pipelines"
    return None


def _modules() -> list[tuple[str, Path]]:
    out = []
    for top in ("pipelines", "fee_schedules", "contracts", "reports"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((".".join(parts), path))
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module named by an import statement in ``path`` (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_every_module_belongs_to_a_layer():
    homeless = [name for name, _ in _modules() if name != "pipelines" and _layer(name) is None]
    assert not homeless, f"modules outside any layer (add them to a sub-package): {homeless}"


def test_imports_point_down_the_layers():
    wrong = []
    for name, path in _modules():
        own = _layer(name)
        if own is None or own == "pipelines":
            continue
        for line, target in _imports(path):
            if target.split(".")[0] not in ("pipelines", "fee_schedules", "contracts", "reports"):
                continue
            there = _layer(target)
            if there is None:  # `from pipelines import __version__` and the like
                there = "pipelines"
            if there not in ALLOWED[own] and not (there == "pipelines" and own == "pipelines.cli"):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {target} ({there})")
    assert not wrong, "imports against the arrows:\n" + "\n".join(wrong)


def test_the_arrow_check_can_fail(tmp_path):
    """The checker itself sees an import that points up (so the test above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from reports.monthly import report_month\n")
    assert (2, "reports.monthly") in _imports(bad)
    assert "reports" not in ALLOWED["pipelines.compare"]


_PROBE = r"""
import importlib, json, os, pkgutil, sys, threading
import duckdb, numpy, polars, pandera.polars  # third-party imports first: polars sets its allocator default
before = dict(os.environ)
others = set(threading.enumerate())
names = []
for top in ("pipelines", "fee_schedules", "contracts", "reports"):
    pkg = importlib.import_module(top)
    names.append(top)
    for m in pkgutil.walk_packages(pkg.__path__, top + "."):
        if m.name.endswith("__main__"):
            continue
        importlib.import_module(m.name)
        names.append(m.name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
threads = sorted(t.name for t in set(threading.enumerate()) - others)
print(json.dumps({"modules": len(names), "env": changed, "threads": threads}))
"""


@pytest.mark.slow
def test_importing_any_module_has_no_side_effects():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["modules"] > 40
    assert got["env"] == [], f"importing changed the environment: {got['env']}"
    assert got["threads"] == [], f"importing started threads: {got['threads']}"
