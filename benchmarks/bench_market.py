"""`underpay market import` of a ~2 GB TiC in-network file (schema 2.0 layout), plain and gzip: >= 50 MB/s,
peak RSS < 500 MB on the 2-core machine.

The file (benchmarks/out/market_<GB>gb.v<GEN_VERSION>.json and .json.gz, written once and reused) is a
single-plan 2.0 file: root values, then provider_references (60,000 groups per 2 GB, each 1-3 TINs with
1-25 NPIs), then in_network: ~16,000 procedure codes, each item with 20-300 negotiated rates of 1-6
provider_references and 1-3 prices (professional and institutional, settings, places of service, some
modifiers, some percentages with their additional_information), drawn from a pool of 20,000 rendered
rates. The import keeps KEEP (5 codes, 3 items each, spread through the file) and skips the rest.
Written from pre-rendered text (no json.dumps per item): ~100 MB/s, then gzip level 6.

Each import runs in a fresh child process into a fresh DuckDB file; the child reports the wall time of
``import_market`` (hash, parse, load, COMMIT), its CPU time and its own peak RSS (VmHWM). MB/s is the
JSON text (decompressed) per second; for the gzip file the compressed MB/s is shown too. For reference,
ijson's own ``items()`` over ``in_network.item`` of the plain file (the parser alone, nothing kept).

Environment: UNDERPAY_MARKET_GB (default 2) sets the size, e.g. 0.2 for a quick run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

from benchmarks import user_env

ROOT = Path(__file__).resolve().parent.parent
GB = float(os.environ.get("UNDERPAY_MARKET_GB", "2"))
GEN_VERSION = 1
SEED = 11
KEEP = ("99213", "99214", "99215", "97110", "20610")
KEEP_AT = (0.1, 0.5, 0.9)  # where in the file each kept code has an item
POOL_RATES = 20_000
TARGET_MB_S = 50
TARGET_PEAK_MB = 500
TIMEOUT = 900

CHILD = r"""
import json, os, resource, sys, time
from pipelines.core.warehouse import connect
from pipelines.market.load import import_market
def peak_mb():
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
db, path, codes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
con = connect(db)
c0, t0 = os.times(), time.perf_counter()
result = import_market(con, [path], codes=codes)
wall = time.perf_counter() - t0
c1 = os.times()
con.close()
f = result.files[0]
print(json.dumps({"wall": wall, "cpu": (c1.user - c0.user) + (c1.system - c0.system), "status": f.status,
                  "reason": f.reason, "rates": f.rates, "items": f.items_read, "kept": f.items_kept,
                  "backend": result.backend, "peak_mb": peak_mb()}))
"""

CEILING = r"""
import json, sys, time, ijson
backend = ijson.get_backend("yajl2_c")
t0 = time.perf_counter()
n = 0
with open(sys.argv[1], "rb") as fh:
    for _ in backend.items(fh, "in_network.item", buf_size=1 << 20):
        n += 1
print(json.dumps({"wall": time.perf_counter() - t0, "items": n}))
"""


# ------------------------------------------------------------------------------------------- the file
def _codes(rng: random.Random) -> list[str]:
    """~16,000 procedure codes (CPT-like 5 digits, HCPCS-like letter + 4 digits), none of KEEP."""
    cpt = [f"{c:05d}" for c in range(10021, 99607, 7)]
    hcpcs = [f"{letter}{n:04d}" for letter in "AGJ" for n in range(0, 9999, 3)]
    codes = [c for c in cpt + hcpcs if c not in KEEP]
    rng.shuffle(codes)
    return codes[:16_000]


def _pool(rng: random.Random, n_refs: int) -> list[str]:
    """POOL_RATES rendered negotiated_rates entries."""
    out = []
    for _ in range(POOL_RATES):
        refs = ",".join(str(rng.randint(1, n_refs)) for _ in range(rng.randint(1, 6)))
        prices = []
        for p in range(rng.randint(1, 3)):
            cls = "professional" if p != 1 else "institutional"
            setting = rng.choice(("outpatient", "inpatient", "both"))
            extra = ""
            if rng.random() < 0.1:
                extra += f', "billing_code_modifier": ["{rng.choice(("26", "TC", "25", "59", "AS"))}"]'
            if rng.random() < 0.05:
                pct = rng.randint(40, 95)
                prices.append(
                    f'{{"negotiated_type": "percentage", "negotiated_rate": {pct}.0, "expiration_date": "9999-12-31", '
                    f'"service_code": ["11", "22"], "billing_class": "{cls}", "setting": "{setting}", '
                    f'"additional_information": "{pct}% of billed charges"{extra}}}'
                )
                continue
            kind = rng.choice(("negotiated", "negotiated", "negotiated", "fee schedule", "derived"))
            places = ", ".join(f'"{rng.choice((11, 19, 21, 22, 23, 24, 81)):02d}"' for _ in range(rng.randint(1, 4)))
            service = f', "service_code": [{places}]' if cls == "professional" else ""
            rate = f"{rng.randint(8, 4000)}.{rng.randrange(100):02d}"
            expires = rng.choice(("9999-12-31", "2026-12-31", "2025-06-30"))
            prices.append(
                f'{{"negotiated_type": "{kind}", "negotiated_rate": {rate}, "expiration_date": "{expires}"{service}, '
                f'"billing_class": "{cls}", "setting": "{setting}"{extra}}}'
            )
        out.append(f'{{"provider_references": [{refs}], "negotiated_prices": [{", ".join(prices)}]}}')
    return out


def _item(code: str, kind: str, rates: str) -> str:
    return (
        f'{{"negotiation_arrangement": "ffs", "name": "Procedure {code}", "billing_code_type": "{kind}", '
        f'"billing_code_type_version": "2025", "billing_code": "{code}", "description": "Synthetic procedure {code}", '
        f'"negotiated_rates": [{rates}]}}'
    )


def write_file(path: Path, target_bytes: int, seed: int = SEED) -> None:
    """A 2.0 in-network file of about ``target_bytes``."""
    rng = random.Random(seed)
    n_refs = max(1000, int(60_000 * target_bytes / 2e9))
    codes = _codes(rng)
    pool = _pool(rng, n_refs)
    keep_at = sorted((int(at * target_bytes), code) for at in KEEP_AT for code in KEEP)
    with open(path, "w", encoding="ascii", buffering=8 << 20) as out:
        out.write(
            '{"reporting_entity_name": "Bench Health Insurance", "reporting_entity_type": "health insurance issuer", '
            '"plan_name": "Bench PPO", "issuer_name": "Bench Issuer", "plan_id_type": "hios", "plan_id": "12345678901", '
            '"plan_market_type": "group", "last_updated_on": "2025-01-01", "version": "2.0.0",\n'
            '"provider_references": [\n'
        )
        for ref in range(1, n_refs + 1):
            groups = []
            for _ in range(rng.randint(1, 3)):
                npis = ", ".join(str(1_000_000_000 + rng.randrange(899_999_999)) for _ in range(rng.randint(1, 25)))
                tin = f"{rng.randrange(10, 99):02d}-{rng.randrange(10**7):07d}"
                groups.append(
                    f'{{"npi": [{npis}], "tin": {{"type": "ein", "value": "{tin}", "business_name": "Group {ref}"}}}}'
                )
            comma = "," if ref > 1 else ""
            out.write(
                f'{comma}{{"provider_group_id": {ref}, "network_name": ["Bench Network"], '
                f'"provider_groups": [{", ".join(groups)}]}}\n'
            )
        out.write('],\n"in_network": [\n')
        written = out.tell()
        first, i = True, 0
        while written < target_bytes:
            if keep_at and written >= keep_at[0][0]:
                code, kind = keep_at.pop(0)[1], "CPT"
            else:
                code = codes[i % len(codes)]
                kind = "HCPCS" if code[0].isalpha() else "CPT"
                i += 1
            start = rng.randrange(len(pool))
            k = rng.randint(20, 300)
            rates = ", ".join(pool[(start + j) % len(pool)] for j in range(k))
            text = ("" if first else ",\n") + _item(code, kind, rates)
            out.write(text)
            written += len(text)
            first = False
        out.write("\n]}\n")


def gzip_file(src: Path, dest: Path, level: int = 6) -> None:
    deflate = zlib.compressobj(level, zlib.DEFLATED, 31)
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while block := fin.read(8 << 20):
            fout.write(deflate.compress(block))
        fout.write(deflate.flush())


def _files(workdir: Path) -> tuple[Path, Path, float | None]:
    """(plain, gzip, seconds spent writing them or None when reused)."""
    stem = f"market_{GB:g}gb.v{GEN_VERSION}"
    plain, packed = workdir / f"{stem}.json", workdir / f"{stem}.json.gz"
    for stale in workdir.glob("market_*gb.v*.json*"):
        if stale not in (plain, packed) and f".v{GEN_VERSION}." not in stale.name:
            stale.unlink()
    t0 = time.perf_counter()
    made = False
    if not plain.exists():
        tmp = plain.with_suffix(".tmp")
        write_file(tmp, int(GB * 1e9))
        tmp.rename(plain)
        made = True
    if not packed.exists():
        tmp = packed.with_suffix(".tmp")
        gzip_file(plain, tmp)
        tmp.rename(packed)
        made = True
    return plain, packed, (time.perf_counter() - t0) if made else None


# ------------------------------------------------------------------------------------------- timing
def _child(code: str, *args: str) -> dict:
    env = {**user_env(), "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=TIMEOUT
    )
    if proc.returncode != 0:
        tail = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        return {"error": (tail[-1] if tail else "no output")[:110]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _import(workdir: Path, path: Path) -> dict:
    db = workdir / "bench_market.duckdb"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    try:
        return _child(CHILD, str(db), str(path), ",".join(KEEP))
    finally:
        for stale in (db, Path(f"{db}.wal")):
            stale.unlink(missing_ok=True)


def run(workdir: Path) -> list[dict]:
    workdir = Path(workdir)
    plain, packed, made = _files(workdir)
    json_mb, gz_mb = plain.stat().st_size / 1e6, packed.stat().st_size / 1e6
    rows: list[dict] = []
    if made is not None:
        rows.append({"metric": "write the files (plain, then gzip -6)", "value": f"{made:.0f}", "unit": "s"})
    rows.append(
        {"metric": "in-network file (schema 2.0)", "value": f"{json_mb:,.0f}", "unit": f"MB JSON, {gz_mb:,.0f} MB gzip"}
    )
    for label, path in (("plain .json", plain), ("gzip .json.gz", packed)):
        got = _import(workdir, path)
        if "error" in got or got.get("status") != "imported":
            rows.append({"metric": f"import {label}", "value": "failed", "unit": got.get("error") or got.get("reason")})
            continue
        rows.append(
            {
                "metric": f"import {label}: JSON text per second",
                "value": f"{json_mb / got['wall']:,.0f}",
                "unit": f"MB/s ({got['wall']:.1f} s, {got['cpu']:.1f} CPU-s, backend {got['backend']})",
                "target": f">= {TARGET_MB_S} MB/s",
            }
        )
        if path is packed:
            rows.append(
                {"metric": "  compressed bytes per second", "value": f"{gz_mb / got['wall']:,.1f}", "unit": "MB/s"}
            )
        rows.append(
            {
                "metric": f"  peak RSS of the import process ({label})",
                "value": f"{got['peak_mb']:,.0f}",
                "unit": "MB",
                "target": f"< {TARGET_PEAK_MB} MB",
            }
        )
        rows.append(
            {
                "metric": "  rows kept",
                "value": f"{got['rates']:,}",
                "unit": f"market_rates ({got['kept']} of {got['items']:,} items: {len(KEEP)} codes)",
            }
        )
    ceiling = _child(CEILING, str(plain))
    if "error" not in ceiling:
        rows.append(
            {
                "metric": "reference: ijson items(in_network.item) alone",
                "value": f"{json_mb / ceiling['wall']:,.0f}",
                "unit": f"MB/s (parser only, nothing kept; {ceiling['items']:,} items)",
            }
        )
    return rows
