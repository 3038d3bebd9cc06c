"""Price 1,000,000 MPFS lines (mixed codes, localities, ZIPs, dates/releases, year overrides, settings,
modifiers, NPP, MPPR claims; apply_policy) in < 3 s; and 1,000,000 lines of every schedule (70% physician
schedule lines as above, 10% each lab (CLFS), drugs (ASP, 1-250 units) and DME (DMEPOS with NU/RR/UE))
priced with `price_medicare`, each code from the schedule that pays it, in < 3 s.

Needs ../shared/cms (the CMS releases, and extra/ for CLFS, ASP, DMEPOS): the warehouse with 2025 A + D,
2026 C and every extra schedule file is built once under benchmarks/out/ and reused.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared"))
N_LINES = 1_000_000
TARGET_SECONDS = 3.0


def _warehouse(workdir: Path):
    from fee_schedules.importer import import_release
    from fee_schedules.schedule_import import import_schedules
    from pipelines.core.warehouse import connect

    path = workdir / "bench_pricing.duckdb"
    fresh = not path.exists()
    con = connect(path)
    cms = SHARED / "cms"
    if fresh:
        import_release(con, cms / "2025", 2025, "A")
        import_release(con, cms / "2025" / "RVU25D", 2025, "D")
        import_release(con, cms / "2026", 2026, "C")
    if not con.execute("SELECT count(*) FROM schedule_releases").fetchall()[0][0]:
        for sub in ("clfs", "asp", "dmepos"):
            import_schedules(con, cms / "extra" / sub)
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


def make_mixed_lines(con, n: int, seed: int = 0) -> pl.DataFrame:
    """n lines: 70% from make_lines, 10% each lab, drug and DME codes of the imported schedules (2025 dates)."""
    tenth = n // 10
    base = make_lines(con, n - 3 * tenth, seed).drop("claim_key", "npp")
    lab = con.sql("SELECT DISTINCT hcpcs FROM clfs_rates ORDER BY 1").pl()["hcpcs"]
    drug = con.sql("SELECT DISTINCT hcpcs FROM asp_limits ORDER BY 1").pl()["hcpcs"]
    dme = con.sql(
        "SELECT DISTINCT hcpcs, modifier FROM dmepos_fees WHERE schedule = 'dmepos' AND modifier2 = '' "
        "AND modifier IN ('', 'NU', 'RR', 'UE') ORDER BY 1, 2"
    ).pl()
    zips = base["zip"].drop_nulls()
    dates = pl.date_range(dt.date(2025, 1, 1), dt.date(2025, 12, 31), eager=True)

    def part(codes: pl.Series, mods: pl.Series, units: pl.Series, s: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "procedure_code": codes,
                "modifiers": mods,
                "service_date": dates.sample(tenth, with_replacement=True, seed=s),
                "zip": zips.sample(tenth, with_replacement=True, seed=s + 1),
                "units": units.cast(pl.Decimal(14, 3)),
            }
        )

    none = pl.Series([[]] * tenth, dtype=pl.List(pl.String))
    picked = dme.sample(tenth, with_replacement=True, seed=seed + 30)
    parts = [
        part(lab.sample(tenth, with_replacement=True, seed=seed + 10), none, pl.Series([1, 1, 2] * tenth)[:tenth], 11),
        part(
            drug.sample(tenth, with_replacement=True, seed=seed + 20),
            none,
            pl.Series([1, 2, 10, 100, 250]).sample(tenth, with_replacement=True, seed=seed + 21),
            21,
        ),
        part(
            picked["hcpcs"],
            picked.select(pl.concat_list("modifier").list.eval(pl.element().filter(pl.element() != ""))).to_series(),
            pl.Series([1] * tenth),
            31,
        ),
    ]
    other = pl.concat(parts).with_columns(
        pl.lit(None, pl.Int32).alias("year"), pl.lit(None, pl.String).alias("locality"), pl.lit(False).alias("facility")
    )
    mixed = pl.concat([base.drop("row_id"), other.select(base.drop("row_id").columns)], how="vertical_relaxed")
    return (
        mixed.sample(fraction=1.0, shuffle=True, seed=seed + 40)
        .with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64))
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
    from fee_schedules.schedule_pricing import price_medicare

    mixed = make_mixed_lines(con, N_LINES)
    price_medicare(con, mixed.head(1000))  # warm up
    walls = []
    for _ in range(max(1, int(os.environ.get("UNDERPAY_BENCH_REPEAT", "3")))):
        t2 = time.perf_counter()
        mixed_out = price_medicare(con, mixed)
        walls.append(time.perf_counter() - t2)
    seconds_mixed = statistics.median(walls)
    by_schedule = mixed_out.filter(pl.col("status") == "priced").group_by("schedule").len().sort("schedule")
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
        {
            "metric": f"price {N_LINES:,} lines of every schedule (price_medicare), median",
            "value": f"{seconds_mixed:.2f}",
            "unit": f"s (of {len(walls)}: {min(walls):.2f} .. {max(walls):.2f})",
            "target": f"< {TARGET_SECONDS:.0f} s",
        },
        {
            "metric": "  priced by schedule",
            "value": ", ".join(f"{s} {n:,}" for s, n in by_schedule.iter_rows()),
            "unit": "lines",
        },
    ]
