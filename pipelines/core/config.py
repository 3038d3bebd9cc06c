"""Layered configuration: defaults in code < underpay.toml < environment < flags.

Each field is documented where it is declared. ``underpay.toml`` is looked for in the
current directory unless ``--config PATH`` (or UNDERPAY_CONFIG) names another file.
Environment variables are ``UNDERPAY_<FIELD>`` in upper case (e.g. UNDERPAY_WAREHOUSE).

Example underpay.toml::

    [paths]
    warehouse  = "warehouse.duckdb"
    inbox      = "inbox"
    archive    = "archive"
    quarantine = "quarantine"
    contracts  = "contracts"
    reports    = "reports/out"

    [practice]
    zip = "10001"            # or locality = "1320201"

    [tolerance]
    amount  = 1.00
    percent = 0.5

    [nightly]
    settle_seconds = 60      # inbox files younger than this are left for the next run

    [limits]
    memory = "2GB"           # DuckDB's buffer limit for the nightly / monthly run and report workers
    compare_chunk_lines = 250000   # a comparison holding more lines runs in chunks of whole payment days
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path

from pipelines.core.errors import ConfigError

DEFAULT_CONFIG = Path("underpay.toml")


@dataclass(frozen=True)
class Settings:
    warehouse: Path = Path("warehouse.duckdb")  # the DuckDB file
    inbox: Path = Path("inbox")  # nightly: new 835 files arrive here
    archive: Path = Path("archive")  # nightly: loaded (or duplicate) files move here
    quarantine: Path = Path("quarantine")  # nightly: rejected files + .error.txt move here
    contracts: Path = Path("contracts")  # folder of contract YAML files
    reports: Path = Path("reports/out")  # reports and exports are written under here
    practice_zip: str | None = None  # where the practice works: prices Medicare
    practice_locality: str | None = None  # or carrier+locality, e.g. "1320201"
    tolerance_amount: Decimal = Decimal("1.00")  # default when a contract states none
    tolerance_percent: Decimal = Decimal("0.5")
    settle_seconds: int = 60  # nightly: skip inbox files modified this recently
    # DuckDB's buffer limit (memory_limit) on the connections of the nightly and monthly runs and of
    # their report workers: beyond it DuckDB spills to <warehouse>.tmp/ beside the file. DuckDB's own
    # default is 80% of the machine's memory; the run's peak resident memory is about this plus the
    # Python side of one comparison chunk (docs/scale.md).
    memory_limit: str = "2GB"
    # Lines one pass of the comparison holds at most (about): a month (or a whole-warehouse pass)
    # with more is compared in chunks of whole payment days (pipelines.compare.compare.compare).
    compare_chunk_lines: int = 250_000

    def override(self, **flags) -> Settings:
        """Apply flags that were given (None means 'not given')."""
        given = {k: v for k, v in flags.items() if v is not None}
        return replace(self, **{k: _coerce(k, v) for k, v in given.items()})


_TOML_KEYS = {
    ("paths", "warehouse"): "warehouse",
    ("paths", "inbox"): "inbox",
    ("paths", "archive"): "archive",
    ("paths", "quarantine"): "quarantine",
    ("paths", "contracts"): "contracts",
    ("paths", "reports"): "reports",
    ("practice", "zip"): "practice_zip",
    ("practice", "locality"): "practice_locality",
    ("tolerance", "amount"): "tolerance_amount",
    ("tolerance", "percent"): "tolerance_percent",
    ("nightly", "settle_seconds"): "settle_seconds",
    ("limits", "memory"): "memory_limit",
    ("limits", "compare_chunk_lines"): "compare_chunk_lines",
}


def _coerce(name: str, value):
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if "Path" in str(kind):
            return Path(str(value)).expanduser()
        if "Decimal" in str(kind):
            return Decimal(str(value))
        if str(kind) == "int":
            return int(value)
        return None if value is None else str(value)
    except Exception as exc:  # noqa: BLE001 - re-raised with the key named
        raise ConfigError(f"setting {name}: cannot use {value!r} ({exc})") from exc


def load_settings(config: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    path = Path(config) if config else Path(env.get("UNDERPAY_CONFIG", DEFAULT_CONFIG))
    settings = Settings()
    values: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file or pass --config") from exc
        for section, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: top-level key {section!r} should be a [section]")
            for key, value in table.items():
                name = _TOML_KEYS.get((section, key))
                if name is None:
                    known = ", ".join(f"{s}.{k}" for s, k in _TOML_KEYS)
                    raise ConfigError(f"{path}: unknown setting {section}.{key}; known settings: {known}")
                values[name] = value
        # relative paths in the file are relative to the file
        for name in ("warehouse", "inbox", "archive", "quarantine", "contracts", "reports"):
            if name in values and not Path(values[name]).is_absolute():
                values[name] = path.parent / values[name]
    elif config:
        raise ConfigError(f"{path}: config file not found")
    for f in fields(Settings):
        key = f"UNDERPAY_{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    return settings.override(**values)
