"""Compare 1,000,000 service lines against 20 contracts and the 2025 MPFS: < 10 s, < 2 GB.

The warehouse is built once (benchmarks/out/compare_1m.duckdb, reused between runs): the 2025
CMS release imported from ../shared/cms, then payments / claims / service_lines / adjustments
written directly with set-based SQL (10 payers x 2 contract versions; the common codes of
pipelines.synthetic.codes; a mix of places of service, modifiers, units, denials, reversals, secondary
claims and same-day procedures). `pipelines.compare.compare.compare` then runs in a fresh child
process, which reports its wall time and peak resident memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_CMS = Path(os.environ.get("UNDERPAY_SHARED", ROOT.parent / "shared")) / "cms"
N_LINES = 1_000_000
PAYERS = [f"PAY{i:02d}" for i in range(10)]

CHILD = r"""
import json, os, resource, sys, time
from pipelines.compare.compare import compare
from pipelines.core.config import Settings
from pipelines.core.warehouse import connect
con = connect(sys.argv[1])
c0, t0 = os.times(), time.perf_counter()
r = compare(con, sys.argv[2], settings=Settings(practice_zip="10001"))
seconds, c1 = time.perf_counter() - t0, os.times()
con.close()
print(json.dumps({"seconds": seconds, "cpu": (c1.user - c0.user) + (c1.system - c0.system),
                  "load": os.getloadavg()[0], "lines": r.lines,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "categories": r.by_category}))
"""

BUILD = """
CREATE OR REPLACE TEMP TABLE bench_codes AS
    SELECT * FROM (VALUES {codes}) t(idx, code, pctc, charge);
INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, payment_date, payer_id, payer_n1_id,
                      payer_name, payee_tin, total_paid)
    SELECT i, 1, i, i, DATE '2025-01-06' + CAST(i % 350 AS INTEGER), 'PAY' || lpad(CAST(i % 10 AS VARCHAR), 2, '0'),
           'PAY' || lpad(CAST(i % 10 AS VARCHAR), 2, '0'), 'BENCH PAYER ' || (i % 10), '123456789', 0
    FROM range(1, 2001) r(i);
INSERT INTO claims (claim_id, payment_id, file_id, segment_number, status_code, charge, paid, place_of_service,
                    patient_control_number, payer_claim_number)
    SELECT c, 1 + c % 2000, 1, c,
           CASE WHEN c % 97 = 0 THEN '22' WHEN c % 53 = 0 THEN '2' WHEN c % 41 = 0 THEN '4' ELSE '1' END,
           0, 0, CASE WHEN c % 7 = 0 THEN '22' WHEN c % 11 = 0 THEN '24' ELSE '11' END,
           'PCN' || c, 'ICN' || (CASE WHEN c % 97 = 0 THEN c - 1 ELSE c END)
    FROM range(1, {claims} + 1) r(c);
INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number, qualifier,
                           procedure_code, modifiers, charge, paid, units, service_date, allowed, line_control_number)
    SELECT l, 1 + l // 3, 1 + (1 + l // 3) % 2000, 1, 1 + l, 1 + l % 3, 'HC', bc.code,
           CASE WHEN bc.pctc = '1' AND l % 5 = 0 THEN ['26'] WHEN l % 13 = 0 THEN ['25']
                WHEN l % 17 = 0 THEN ['59', 'LT'] ELSE [] END,
           CAST(bc.charge AS DECIMAL(14,2)), 0, CAST(1 + (l % 4 = 0)::INTEGER AS DECIMAL(12,3)),
           DATE '2025-01-02' + CAST((l // 3) % 330 AS INTEGER),
           CASE WHEN l % 6 = 0 THEN NULL ELSE CAST(bc.charge * 0.55 AS DECIMAL(14,2)) END, 'L' || l
    FROM range(0, {lines}) r(l) JOIN bench_codes bc ON bc.idx = (l * 7 + l // 5) % {ncodes};
INSERT INTO adjustments (file_id, payment_id, claim_id, line_id, segment_number, triplet_index, group_code,
                         reason_code, amount)
    SELECT 1, payment_id, claim_id, line_id, segment_number + 1, 1, 'CO',
           CASE WHEN line_id % 29 = 0 THEN '50' ELSE '45' END,
           CASE WHEN line_id % 29 = 0 THEN charge ELSE CAST(charge * 0.45 AS DECIMAL(14,2)) END
    FROM service_lines;
INSERT INTO adjustments (file_id, payment_id, claim_id, line_id, segment_number, triplet_index, group_code,
                         reason_code, amount)
    SELECT 1, payment_id, claim_id, line_id, segment_number + 1, 2, 'PR', '2', CAST(charge * 0.1 AS DECIMAL(14,2))
    FROM service_lines WHERE line_id % 2 = 0;
"""


def _contracts(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    methods = ["percent_of_medicare: 120", "rate: 95", "percent_of_charges: 60", "percent_of_medicare: 105"]
    for i, payer in enumerate(PAYERS):
        for v, (start, end) in enumerate((("2025-01-01", "2025-06-30"), ("2025-07-01", "2026-12-31"))):
            year = "2025" if i % 3 == 0 else "service"
            mods = "medicare" if i % 2 else '{"26": 40, "50": 150}'
            last = methods[(i + v) % len(methods)]
            (folder / f"{payer}_{v}.yaml").write_text(
                f'name: {payer} v{v}\npayer: {{ids: ["{payer}"]}}\npayee_tins: ["123456789"]\n'
                f'effective: {start}\nexpires: {end}\nmedicare: {{zip: "10001", year: {year}}}\n'
                f"lesser_of_charges: {str(i % 2 == 0).lower()}\n"
                f"modifier_adjustments: {mods}\n"
                "terms:\n"
                '  - codes: ["20552", "20553"]\n    rate: 118\n'
                '  - codes: ["99202-99215"]\n    percent_of_medicare: 125\n'
                '  - codes: ["71046"]\n    modifiers: ["26"]\n    percent_of_medicare: 140\n'
                '  - codes: ["*"]\n    ' + last + "\n"
            )


def _build(db: Path) -> None:
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect
    from pipelines.synthetic import codes as codebook

    tmp = db.with_suffix(".building")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    con = connect(tmp)
    import_release(con, SHARED_CMS / "2025", 2025, "A")
    import_release(con, SHARED_CMS / "2025" / "RVU25D", 2025, "D")
    codes = ", ".join(f"({i}, '{c.code}', '{c.pctc}', {c.charge})" for i, c in enumerate(codebook.COMMON_CODES))
    n_claims = N_LINES // 3 + 1
    for statement in BUILD.format(codes=codes, claims=n_claims, lines=N_LINES, ncodes=len(codebook.COMMON_CODES)).split(
        ";"
    ):
        if statement.strip():
            con.execute(statement)
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(db)


def run(workdir: Path) -> list[dict]:
    workdir = Path(workdir)
    db = workdir / "compare_1m.duckdb"
    if not db.exists():
        _build(db)
    contracts = workdir / "compare_contracts"
    _contracts(contracts)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), str(contracts)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    cats = got["categories"]
    return [
        {"metric": "service lines compared", "value": f"{got['lines']:,}", "unit": "lines"},
        {"metric": "contracts (10 payers x 2 versions)", "value": len(list(contracts.glob("*.yaml"))), "unit": ""},
        {"metric": "compare wall time", "value": f"{got['seconds']:.2f}", "unit": "s", "target": "< 10 s"},
        {"metric": "CPU time of compare() (user+sys, both cores)", "value": f"{got['cpu']:.2f}", "unit": "s"},
        {"metric": "machine load average during the run", "value": f"{got['load']:.1f}", "unit": "(2 cores)"},
        {
            "metric": "peak memory of the compare process",
            "value": f"{got['peak_mb']:.0f}",
            "unit": "MB",
            "target": "< 2048 MB",
        },
        {"metric": "lines per second", "value": f"{got['lines'] / got['seconds']:,.0f}", "unit": "lines/s"},
        {"metric": "categories", "value": ", ".join(f"{k} {v}" for k, v in cats.items() if v), "unit": ""},
    ]
