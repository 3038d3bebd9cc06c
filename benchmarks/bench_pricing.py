"""Price 1,000,000 MPFS lines (mixed codes, localities, ZIPs, dates/releases, year overrides, settings,
modifiers, NPP, MPPR claims; apply_policy) in < 3 s.

Needs ../shared/cms (the CMS releases): the warehouse with 2025 A + D and 2026 C is built once
under benchmarks/out/ and reused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared"))
N_LINES = 1_000_000
TARGET_SECONDS = 3.0


def _warehouse(workdir: Path):
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect

    path = workdir / "bench_pricing.duckdb"
    fresh = not path.exists()
    con = connect(path)
    if fresh:
        cms = SHARED / "cms"
        import_release(con, cms / "2025", 2025, "A")
        import_release(con, cms / "2025" / "RVU25D", 2025, "D")
        import_release(con, cms / "2026", 2026, "C")
    return con


def make_lines(con, n: int, seed: int = 0) -> pl.DataFrame:
    """n lines drawn (seeded) from real codes, localities and ZIPs of the imported 2025 release."""
    codes = con.sql(
        "SELECT hcpcs, modifier FROM mpfs_rvu WHERE year = 2025 AND release = 'A' "
        "AND status_code IN ('A','R','T','C','B') ORDER BY hcpcs, modifier"
    ).pl()
    localities = con.sql(
        "SELECT carrier || locality AS loc FROM mpfs_gpci WHERE year = 2025 AND release = 'A' ORDER BY 1"
    ).pl()["loc"]
    zips = con.sql("SELECT zip5 FROM mpfs_zip5 WHERE year = 2025 AND release = 'A' ORDER BY 1").pl()["zip5"]
    extra = pl.Series(["", "", "", "", "50", "51", "59", "80", "AS", "62", "25", "LT"])
    drawn = codes.sample(n, with_replacement=True, seed=seed)
    i = pl.int_range(n, dtype=pl.Int64)
    frame = pl.DataFrame(
        {
            "row_id": pl.int_range(n, dtype=pl.Int64, eager=True),
            "procedure_code": drawn["hcpcs"],
            "rvu_mod": drawn["modifier"],
            "extra": extra.sample(n, with_replacement=True, seed=seed + 1),
            "zip": zips.sample(n, with_replacement=True, seed=seed + 2),
            "locality": localities.sample(n, with_replacement=True, seed=seed + 3),
            "day": pl.Series(range(545)).sample(n, with_replacement=True, seed=seed + 4),  # 2025-01-01..2026-06-29
            "r": pl.Series(range(100)).sample(n, with_replacement=True, seed=seed + 5),
        }
    )
    return frame.select(
        "row_id",
        "procedure_code",
        pl.concat_list("rvu_mod", "extra").list.eval(pl.element().filter(pl.element() != "")).alias("modifiers"),
        (pl.date(2025, 1, 1) + pl.duration(days=pl.col("day"))).alias("service_date"),
        # 2026 dates priced "at 2025 Medicare" (no 2026 GPCI file exists): the year override path
        pl.when(pl.col("day") >= 365).then(pl.lit(2025)).cast(pl.Int32).alias("year"),
        pl.when(pl.col("r") % 2 == 0).then(pl.col("zip")).alias("zip"),
        pl.when(pl.col("r") % 2 == 1).then(pl.col("locality")).alias("locality"),
        (pl.col("r") < 30).alias("facility"),
        (i // 4).cast(pl.String).alias("claim_key"),
        pl.lit(1, pl.Decimal(14, 3)).alias("units"),
        (pl.col("r") % 10 == 3).alias("npp"),
    )


def run(workdir: Path) -> list[dict]:
    from fee_schedules.pricing import price_lines

    con = _warehouse(workdir)
    lines = make_lines(con, N_LINES)
    price_lines(con, lines.head(1000), apply_policy=True)  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    out = price_lines(con, lines, apply_policy=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    priced = int((out["status"] == "priced").sum())
    # 2026 lines, national (no 2026 GPCI exists): the year override path
    t1 = time.perf_counter()
    out26 = price_lines(con, lines.head(200_000).with_columns(year=pl.lit(2026, pl.Int32)), national=True)
    seconds26 = time.perf_counter() - t1
    con.close()
    return [
        {
            "metric": f"price {N_LINES:,} lines (apply_policy)",
            "value": f"{seconds:.2f}",
            "unit": "s",
            "target": f"< {TARGET_SECONDS:.0f} s",
        },
        {"metric": "lines per second", "value": f"{N_LINES / seconds:,.0f}", "unit": "lines/s"},
        {"metric": "CPU seconds (all threads of this process)", "value": f"{cpu:.2f}", "unit": "s"},
        {
            "metric": "1-minute load average during the run",
            "value": f"{load:.1f}",
            "unit": "",
            "target": "wall time is only meaningful near 0",
        },
        {"metric": "lines priced (rest: not_priced with reason)", "value": f"{priced:,}", "unit": "lines"},
        {"metric": "price 200,000 lines 2026 national", "value": f"{seconds26:.2f}", "unit": "s"},
        {
            "metric": "2026 national lines priced",
            "value": f"{int((out26['status'] == 'priced').sum()):,}",
            "unit": "lines",
        },
    ]
