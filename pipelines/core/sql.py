"""SQL kept in packaged ``.sql`` files: read one, bind its named parameters.

Each file holds one statement with its purpose and grain on top. Values are bound as DuckDB
named parameters (``$month``), never formatted into the SQL text; :func:`bind` hands DuckDB
exactly the parameters a statement names and raises when one is missing, so a typo in a
parameter name fails at the call, not as a DuckDB binder error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def read_sql(package: str, name: str) -> str:
    """Text of the packaged file ``name`` in ``package`` (e.g. ``"pipelines.ingest.sql"``)."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def parameters(sql: str) -> set[str]:
    """The ``$name`` parameters a statement uses (comments are not read)."""
    return set(_PARAM.findall(_COMMENT.sub("", sql)))


def bind(sql: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``values`` that ``sql`` names; ``KeyError`` naming any it needs but lacks."""
    wanted = parameters(sql)
    missing = wanted - values.keys()
    if missing:
        raise KeyError(f"SQL statement needs parameter(s) {sorted(missing)} that were not given")
    return {k: values[k] for k in wanted}


def arrow_view(frame: pl.DataFrame):
    """``frame`` as an Arrow table for ``register``: with Arrow's newest layout (string views), polars
    hands its buffers over instead of copying every string column (several times faster, and no
    second copy of the frame in memory); DuckDB reads string views directly."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())
