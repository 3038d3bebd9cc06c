"""Recovery matching: a worklist of 1,000,000 open lines, then 100,000 new remittance lines, in < 10 s.

A warehouse is built in SQL (benchmarks/out/bench_worklist.duckdb, rebuilt every run): one payer, 1,000,000
one-line claims paid in January 2025, each flagged underpaid ($80.00 allowed of $100.00, REF*6R line control
numbers); then February's 100,000 new lines on 50,000 of those claims: 25,000 reversals with their corrected
claims (a new payer claim number) paying in full, and 50,000 supplemental payments of $10.00 (half of them
on the same claims as... no: on 50,000 other claims). Timed: the first refresh (detecting 1,000,000 lines) and
the refresh after February's remittances (matching them against the 1,000,000 open lines), each one
transaction, with the peak RSS of the process.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

N_OPEN = 1_000_000
N_REVERSED = 25_000  # reversal + corrected claim: 2 lines each
N_SUPPLEMENTAL = 50_000
TARGET_SECONDS = 10.0

_PAYMENTS = """
INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, total_paid, payment_date, payer_id, payer_name)
VALUES ({pid}, {pid}, 1, 1, 0, DATE '{day}', 'ACME1', 'ACME HEALTH')
"""
_CLAIMS = """
INSERT INTO claims (claim_id, payment_id, file_id, segment_number, patient_control_number, status_code, charge, paid,
                    payer_claim_number)
SELECT claim_id, {pid}, {pid}, claim_id, 'PCN' || family, status, charge, paid, icn FROM ({rows})
"""
_LINES = """
INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number, procedure_code,
                           modifiers, charge, paid, units, service_date, allowed, line_control_number)
SELECT claim_id, claim_id, {pid}, {pid}, claim_id, 1, '99213', [], charge, paid, 1, DATE '2025-01-06', paid,
       'L' || family FROM ({rows})
"""
_JAN = "SELECT i AS claim_id, i AS family, '1' AS status, 200.00 AS charge, 80.00 AS paid, 'I' || i AS icn FROM range(1, {n} + 1) t(i)"
_FEB = """
SELECT {n} + i AS claim_id, i AS family, '22' AS status, -200.00 AS charge, -80.00 AS paid, 'I' || i AS icn
FROM range(1, {rev} + 1) t(i)
UNION ALL
SELECT {n} + {rev} + i, i, '1', 200.00, 100.00, 'J' || i FROM range(1, {rev} + 1) t(i)
UNION ALL
SELECT {n} + 2 * {rev} + i, {rev} + i, '1', 0.00, 10.00, 'I' || ({rev} + i) FROM range(1, {sup} + 1) t(i)
"""
_VARIANCES = """
INSERT INTO variances (line_id, claim_id, payer_id, category, expected_allowed, actual_allowed, paid,
                       patient_control_number, payer_claim_number, payment_month, payment_date, explanation)
SELECT line_id, claim_id, 'ACME1', 'underpaid', 100.00, 80.00, 80.00, 'PCN' || line_id, 'I' || line_id,
       DATE '2025-01-01', DATE '2025-01-20', 'underpaid $20.00'
FROM service_lines WHERE payment_id = 1
"""


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(workdir: Path) -> list[dict]:
    from pipelines.core.warehouse import connect
    from pipelines.worklist.refresh import refresh_worklist

    path = Path(workdir) / "bench_worklist.duckdb"
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    con = connect(path)
    t0 = time.perf_counter()
    con.execute(_PAYMENTS.format(pid=1, day="2025-01-20"))
    jan = _JAN.format(n=N_OPEN)
    con.execute(_CLAIMS.format(pid=1, rows=jan))
    con.execute(_LINES.format(pid=1, rows=jan))
    con.execute(_VARIANCES)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    first = refresh_worklist(con)
    detect = time.perf_counter() - t1
    feb = _FEB.format(n=N_OPEN, rev=N_REVERSED, sup=N_SUPPLEMENTAL)
    con.execute(_PAYMENTS.format(pid=2, day="2025-02-20"))
    con.execute(_CLAIMS.format(pid=2, rows=feb))
    con.execute(_LINES.format(pid=2, rows=feb))
    t2 = time.perf_counter()
    second = refresh_worklist(con)
    match = time.perf_counter() - t2
    statuses = dict(con.execute("SELECT payment_status, count(*) FROM worklist_lines GROUP BY 1").fetchall())
    con.close()
    new_lines = 2 * N_REVERSED + N_SUPPLEMENTAL
    return [
        {"metric": f"build the warehouse ({N_OPEN:,} flagged lines, SQL)", "value": f"{build:.1f}", "unit": "s"},
        {
            "metric": f"first refresh: detect {N_OPEN:,} lines as cases",
            "value": f"{detect:.2f}",
            "unit": "s",
            "target": f"< {TARGET_SECONDS:.0f} s",
        },
        {
            "metric": f"refresh after {new_lines:,} new lines against {N_OPEN:,} open ones",
            "value": f"{match:.2f}",
            "unit": "s",
            "target": f"< {TARGET_SECONDS:.0f} s",
        },
        {"metric": "  lines changed by the new remittances", "value": f"{second.changed_lines:,}", "unit": "lines"},
        {
            "metric": "  payment statuses",
            "value": ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())),
            "unit": "",
        },
        {"metric": "  cases detected", "value": f"{first.new_cases:,}", "unit": "cases"},
        {"metric": "peak RSS of the process", "value": f"{_peak_mb():,.0f}", "unit": "MB"},
    ]
