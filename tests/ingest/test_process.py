"""pipelines.core.process: the ingest's one process-tuning call, and what it leaves alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FRESH = r"""
import gc, json, os, sys
from pipelines.core import process
assert "numpy" not in sys.modules and "polars" not in sys.modules
tuning = process.tune_for_ingest()
import polars
frozen = gc.get_freeze_count()
tuning.freeze_imports()
print(json.dumps({"set": [tuning.allocator, tuning.blas_threads],
                  "env": [os.environ.get("_RJEM_MALLOC_CONF"), os.environ.get("OPENBLAS_NUM_THREADS")],
                  "frozen": [frozen, gc.get_freeze_count()]}))
"""


def _run(code: str, **env_extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "OPENBLAS_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, **env_extra}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tuning_sets_the_allocator_and_blas_threads_and_freezes_imports():
    got = _run(_FRESH)
    assert got["set"] == ["dirty_decay_ms:5000,muzzy_decay_ms:5000", "1"]
    conf, blas = got["env"]
    assert conf.startswith("dirty_decay_ms:500,")  # polars' defaults first, then ours
    assert conf.endswith(",dirty_decay_ms:5000,muzzy_decay_ms:5000") and blas == "1"
    assert got["frozen"][0] == 0 and got["frozen"][1] > 1000  # the imported objects set aside


def test_tuning_leaves_the_users_own_settings_alone():
    got = _run(_FRESH, _RJEM_MALLOC_CONF="dirty_decay_ms:0", OPENBLAS_NUM_THREADS="3")
    assert got["set"] == [None, None]
    conf, blas = got["env"]
    assert conf.endswith(",dirty_decay_ms:0") and "5000" not in conf and blas == "3"


def test_tuning_sets_nothing_once_the_library_is_loaded():
    """numpy (OpenBLAS) and polars read their setting when they load: set later, it would change
    nothing here and only leak into child processes."""
    code = (
        "import json, os, numpy, polars\nfrom pipelines.core.process import tune_for_ingest\n"
        "before = os.environ.get('_RJEM_MALLOC_CONF')\nt = tune_for_ingest()\n"
        "print(json.dumps({'set': [t.allocator, t.blas_threads], 'same': os.environ.get('_RJEM_MALLOC_CONF') == before,"
        " 'blas': os.environ.get('OPENBLAS_NUM_THREADS')}))"
    )
    got = _run(code)
    assert got == {"set": [None, None], "same": True, "blas": None}
