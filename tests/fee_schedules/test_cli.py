"""`underpay price` and `underpay fee-schedule` through the real CLI entry point."""

from __future__ import annotations

import csv
import os
import stat

from click.testing import CliRunner

from pipelines.cli.main import main


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_price_one_code_prints_amount_and_derivation(mpfs_db):
    code, out = run("price", "20553", "--year", "2025", "--locality", "13202-01", "--db", str(mpfs_db))
    assert code == 0, out
    assert "Allowed amount: $67.08" in out
    assert "(work 0.75 x 1.065 + PE 0.98 x 1.166 + MP 0.08 x 1.656) x CF 32.3465 = $67.08" in out
    assert "Medicare pays: $52.59" in out and "deductible ignored" in out


def test_price_zip_facility_modifier(mpfs_db):
    code, out = run(
        "price", "71046", "--modifier", "26", "--year", "2025", "--zip", "99501", "--facility", "--db", str(mpfs_db)
    )
    assert code == 0 and "71046-26" in out and "ALASKA" in out and "facility" in out


def test_price_2026_locality_fails_with_next_step_national_works(mpfs_db):
    code, out = run("price", "99213", "--year", "2026", "--locality", "1320201", "--db", str(mpfs_db))
    assert code == 2 and "GPCI2026.csv" in out and "underpay fee-schedule download --year 2026" in out
    code, out = run("price", "99213", "--year", "2026", "--national", "--qp", "--db", str(mpfs_db))
    assert code == 0 and "CF 33.5675" in out and "NATIONAL" in out


def test_price_not_priced_status(mpfs_db):
    code, out = run(
        "price", "0633T", "--modifier", "TC", "--year", "2025", "--locality", "0111205", "--db", str(mpfs_db)
    )
    assert code == 0 and "Not priced: status C: carrier (MAC) priced" in out


def test_price_usage_errors(mpfs_db):
    code, out = run("price", "99213", "--year", "2025", "--db", str(mpfs_db))
    assert code == 2 and "--zip or --locality" in out
    code, out = run("price", "--batch", str(mpfs_db), "--db", str(mpfs_db))
    assert code == 2 and "--out" in out


def test_price_batch(mpfs_db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "code,modifier,year,zip,locality,facility,note\n"
        "20553,,2025,,1320201,false,a\n"
        "71046,26,2025,99501,,true,b\n"
        "99213,,2026,10001,,false,c\n"
        "0633T,TC,2025,,0111205,false,d\n"
        "27447,80,2025,,1320201,true,e\n"
    )
    out = tmp_path / "out.csv"
    code, text = run("price", "--batch", str(src), "--out", str(out), "--db", str(mpfs_db))
    assert code == 0 and "Priced 3 of 5 lines" in text
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(open(out)))
    assert [r["note"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert rows[0]["amount"] == "67.08" and rows[0]["status"] == "priced" and rows[0]["medicare_paid"] == "52.59"
    assert rows[1]["locality_code"] == "0210201" and rows[1]["rvu_modifier"] == "26"
    assert rows[2]["status"] == "not_priced" and "GPCI2026.csv" in rows[2]["not_priced_reason"]
    assert rows[3]["not_priced_reason"] == "status C: carrier (MAC) priced" and rows[3]["amount"] == ""
    assert rows[4]["amount"] == rows[4]["fee_schedule_amount"]  # no --policy: 80 does not change price
    code, text = run("price", "--batch", str(src), "--out", str(out), "--policy", "--db", str(mpfs_db))
    rows = list(csv.DictReader(open(out)))
    assert rows[4]["policy_percent"] == "0.1600000"


def test_price_batch_bad_value_names_row(mpfs_db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("code,modifier,year,locality,facility\n99213,,2025,1320201,false\n99213,,2025,1320201,maybe\n")
    code, text = run("price", "--batch", str(src), "--out", str(tmp_path / "o.csv"), "--db", str(mpfs_db))
    assert code == 2 and "in.csv, row 3, column 'facility'" in text and "true or false" in text


def test_fee_schedule_import_and_list(tmp_path, cms_dir):
    db = tmp_path / "w.duckdb"
    code, out = run("fee-schedule", "import", str(cms_dir / "2025" / "RVU25D"), "--year", "2025", "--db", str(db))
    assert code == 0 and "release D" in out and "missing" in out
    code, out = run("fee-schedule", "list", "--db", str(db))
    assert code == 0 and "PPRRVU2025_Oct.csv" in out and "19090 rows" in out
    code, out = run("fee-schedule", "import", str(cms_dir / "2025" / "RVU25D"), "--year", "2024", "--db", str(db))
    assert code == 2 and "file is for 2025, not 2024" in out
