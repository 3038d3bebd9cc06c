"""`underpay fee-schedule import` and `underpay price` over the other Medicare schedules, through the real CLI."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from pipelines.cli.main import main
from tests.conftest import shared_path


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture()
def db(mpfs_db):
    extra = shared_path("cms", "extra")
    for path in (
        extra / "clfs" / "2025",
        extra / "asp" / "2025" / "section 508 version of Jan 2025 ASP Pricing File 121924.csv",
        extra / "asp" / "2025" / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv",
        extra / "dmepos" / "2025" / "DMEPOS_JAN.csv",
        extra / "opps_addendum_b" / "2025",
    ):
        code, out = run("fee-schedule", "import", str(path), "--db", str(mpfs_db))
        assert code == 0, out
    return mpfs_db


def test_import_says_what_it_did_and_list_shows_it(mpfs_db):
    extra = shared_path("cms", "extra")
    asp = extra / "asp" / "2025"
    code, out = run(
        "fee-schedule",
        "import",
        str(asp / "section 508 version of Jan 2025 ASP Pricing File 121924.csv"),
        "--db",
        str(mpfs_db),
    )
    assert code == 0 and "imported" in out and "876 rows" in out
    code, out = run(
        "fee-schedule",
        "import",
        str(asp / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv"),
        "--db",
        str(mpfs_db),
    )
    assert (
        code == 0
        and "replaced" in out
        and "re-release of 2025-01-01: replaces section 508 version of Jan 2025 ASP Pricing File 121924.csv" in out
    )
    code, out = run("fee-schedule", "list", "--db", str(mpfs_db))
    assert code == 0 and "asp           2025-01-01..2025-03-31" in out and "updated 030725" in out


def test_import_refuses_a_file_given_as_another_schedule(mpfs_db):
    extra = shared_path("cms", "extra")
    code, out = run(
        "fee-schedule",
        "import",
        str(extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv"),
        "--schedule",
        "asp",
        "--db",
        str(mpfs_db),
    )
    assert code == 2 and out.startswith("Error:") and "CLFS 2025 Q1V1.csv" in out and "ASP" in out
    code, out = run("fee-schedule", "import", str(extra / "clfs" / "2025"), "--year", "2025", "--db", str(mpfs_db))
    assert code == 2 and "--year" in out  # --year is for physician fee schedule releases


def test_price_batch_names_the_schedule_and_prices_units(db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "code,modifier,service_date,zip,facility,units,note\n"
        "99213,,2025-02-14,10001,false,,visit\n"
        "80053,,2025-02-14,10001,false,2,lab\n"
        "J9271,,2025-02-14,10001,false,200,drug\n"
        "E0114,NU,2025-02-14,10001,false,1,crutches\n"
        "J9271,,2026-05-01,10001,false,1,no quarter\n"
        "Z9999,,2025-02-14,10001,false,1,unknown\n"
    )
    out = tmp_path / "out.csv"
    code, text = run("price", "--batch", str(src), "--out", str(out), "--db", str(db))
    assert code == 0, text
    rows = list(csv.DictReader(open(out)))
    assert [r["note"] for r in rows] == ["visit", "lab", "drug", "crutches", "no quarter", "unknown"]
    assert [r["schedule"] for r in rows] == ["mpfs", "clfs", "asp", "dmepos", "asp", "mpfs"]
    assert [r["amount"] for r in rows[:4]] == ["101.06", "21.12", "11520.60", "61.45"]
    assert rows[2]["derivation"].startswith("ASP payment limit per 1 MG $57.603 x 200 units = $11520.60")
    assert rows[0]["derivation"].startswith("MPFS 2025 A: (work")
    assert rows[4]["status"] == "not_priced" and "2026-05-01" in rows[4]["not_priced_reason"]
    code, text = run("price", "--batch", str(src), "--out", str(out), "--schedule", "opps", "--db", str(db))
    rows = list(csv.DictReader(open(out)))
    assert rows[0]["schedule"] == "opps"  # forced: 99213 at the OPPS rate (its SI and APC say why, if not)
    assert rows[5]["not_priced_reason"] == "OPPS does not list Z9999"
    # DME under OPPS: Addendum B lists E0114 with status indicator Y (paid under DMEPOS), no rate
    assert rows[3]["status"] == "not_priced" and "status indicator Y" in rows[3]["not_priced_reason"]


def test_price_batch_bad_units_names_row(db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("code,year,zip,units\nJ9271,2025,10001,2\nJ9271,2025,10001,lots\n")
    code, text = run("price", "--batch", str(src), "--out", str(tmp_path / "o.csv"), "--db", str(db))
    assert code == 2 and "in.csv, row 3, column 'units'" in text


def test_price_one_drug_code(db):
    code, out = run("price", "J9271", "--date", "2025-02-14", "--zip", "10001", "--units", "200", "--db", str(db))
    assert code == 0 and "Medicare ASP" in out and "Allowed amount: $11520.60" in out
    code, out = run("price", "G0463", "--date", "2025-02-14", "--zip", "10001", "--schedule", "opps", "--db", str(db))
    assert code == 0 and "Allowed amount: $128.87" in out and "APC 5012" in out
