"""Render the monthly review for a month of 1,000,000 service lines (target < 5 s, HTML < 10 MB).

The warehouse is synthetic: variances and claims rows inserted with DuckDB generate_series
(20 payers, 300 codes, every category), built once under benchmarks/out/ and reused.
"""

from __future__ import annotations

import time
from pathlib import Path

LINES = 1_000_000
LINES_PER_CLAIM = 4
SECONDS_TARGET = 5.0
SIZE_TARGET = 10 * 1024 * 1024

BUILD_CLAIMS = """
INSERT INTO claims (claim_id, payment_id, file_id, segment_number, patient_control_number, payer_claim_number,
                    patient_first_name, patient_last_name, patient_member_id)
SELECT i, i % 500, 1, i, 'PCN' || i, 'PAY' || i, 'First' || (i % 997), 'Last' || (i % 991), 'MEM' || lpad(i::VARCHAR, 9, '0')
FROM generate_series(1, $claims) t(i)
"""

BUILD_LINES = """
INSERT INTO variances BY NAME
SELECT
    i AS line_id, i // $per_claim + 1 AS claim_id, (i // $per_claim) % 500 AS payment_id, 1 AS file_id,
    'P' || lpad((h % 20)::VARCHAR, 2, '0') AS payer_id, 'Payer ' || (h % 20) AS payer_name,
    'Contract ' || (h % 20) AS contract, 'PCN' || (i // $per_claim + 1) AS patient_control_number,
    'PAY' || (i // $per_claim + 1) AS payer_claim_number, '1' AS claim_status, h % 7 = 0 AS facility,
    DATE '2026-03-01' - (h % 60)::INTEGER AS service_date, DATE '2026-03-01' + (h % 28)::INTEGER AS payment_date,
    DATE '2026-03-01' AS payment_month, (99000 + h % 300)::VARCHAR AS procedure_code,
    CASE WHEN h % 11 = 0 THEN ['26'] ELSE [] END AS modifiers, 1::DECIMAL(12,3) AS units,
    (100 + h % 400)::DECIMAL(14,2) AS billed, exp AS expected_allowed, act AS actual_allowed,
    act AS paid, 0::DECIMAL(14,2) AS patient_responsibility, (exp - act)::DECIMAL(14,2) AS variance,
    (exp * 0.8)::DECIMAL(14,2) AS medicare_allowed, (exp * 0.8)::DECIMAL(14,2) AS medicare_unit_amount,
    cat AS category,
    'Contract ' || (h % 20) || ': 125% of Medicare $' || exp || '; actual allowed $' || act AS explanation,
    CASE WHEN cat = 'denied' THEN ['CO-' || (ARRAY['97', '16', '197', '50'])[(h % 4)::BIGINT + 1]] ELSE ['CO-45'] END AS carc_codes,
    CASE WHEN cat = 'denied' THEN ['N' || (h % 30)] ELSE [] END AS rarc_codes,
    CASE WHEN cat = 'not_priced' THEN 'no RVU row for ' || (99000 + h % 300) END AS not_priced_reason
FROM (
    SELECT i, h,
        CASE WHEN r < 70 THEN 'correct' WHEN r < 82 THEN 'underpaid' WHEN r < 86 THEN 'overpaid'
             WHEN r < 94 THEN 'denied' WHEN r < 96 THEN 'not_priced' WHEN r < 98 THEN 'no_contract'
             ELSE 'secondary' END AS cat,
        (60 + h % 200)::DECIMAL(14,2) AS exp,
        CASE WHEN r < 70 THEN (60 + h % 200)::DECIMAL(14,2)
             WHEN r < 82 THEN (60 + h % 200 - 1 - h % 17)::DECIMAL(14,2)
             WHEN r < 86 THEN (60 + h % 200 + 5)::DECIMAL(14,2)
             WHEN r < 94 THEN 0::DECIMAL(14,2)
             ELSE (50 + h % 100)::DECIMAL(14,2) END AS act
    FROM (SELECT i, (hash(i) % 1000000007)::BIGINT AS h, (hash(i * 7 + 3) % 100)::INTEGER AS r FROM generate_series(1, $lines) t(i))
)
"""


def build(path: Path) -> Path:
    from pipelines.core.warehouse import connect

    if path.exists():
        return path
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    con = connect(tmp)
    con.execute(BUILD_CLAIMS, {"claims": LINES // LINES_PER_CLAIM + 1})
    con.execute(BUILD_LINES, {"lines": LINES, "per_claim": LINES_PER_CLAIM})
    con.close()
    tmp.rename(path)
    return path


def run(workdir: Path) -> list[dict]:
    import duckdb

    workdir = Path(workdir)
    t0 = time.perf_counter()
    db = build(workdir / "report_1m.duckdb")
    build_s = time.perf_counter() - t0
    con = duckdb.connect(str(db), read_only=True)
    from reports.monthly import render_monthly

    t1 = time.perf_counter()
    html = render_monthly(con, "2026-03", out_dir=workdir / "report_out")
    seconds = time.perf_counter() - t1
    from pipelines.core.months import Month
    from reports.exports import export_monthly

    t2 = time.perf_counter()
    csv_out = export_monthly(con, Month.parse("2026-03"), out_dir=workdir / "report_out", formats=("csv",))
    csv_s = time.perf_counter() - t2
    t3 = time.perf_counter()
    export_monthly(con, Month.parse("2026-03"), out_dir=workdir / "report_out", formats=("xlsx",))
    xlsx_s = time.perf_counter() - t3
    con.close()
    size = html.stat().st_size
    print(f"   monthly review of {LINES:,} lines: {seconds:.2f} s, {size / 1e6:.2f} MB ({html})")
    return [
        {"metric": "warehouse build (once, reused)", "value": f"{build_s:.1f}", "unit": "s"},
        {
            "metric": "render monthly review, 1,000,000 lines",
            "value": f"{seconds:.2f}",
            "unit": "s",
            "target": f"< {SECONDS_TARGET:.0f} s",
        },
        {"metric": "monthly review HTML size", "value": f"{size / 1e6:.2f}", "unit": "MB", "target": "< 10 MB"},
        {"metric": f"export CSV ({csv_out.rows['worklist']:,} worklist claims)", "value": f"{csv_s:.2f}", "unit": "s"},
        {"metric": "export XLSX (same tables)", "value": f"{xlsx_s:.1f}", "unit": "s"},
        {"metric": "within targets", "value": str(seconds < SECONDS_TARGET and size < SIZE_TARGET), "unit": ""},
    ]


if __name__ == "__main__":
    import sys

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    for row in run(out):
        print(row)
    sys.exit(0)
