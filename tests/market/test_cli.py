"""`underpay market import` through the CLI (click's CliRunner on the real `underpay` group): what it prints,
its exit status, tables of contents, and the --zip note."""

from __future__ import annotations

import json
import shutil

import duckdb
from click.testing import CliRunner

from pipelines.cli.main import main

ALL_TYPES = "v2.2.0/examples/in-network-rates/in-network-rates-all-negotiated-types-sample.json"
FFS_2 = "v2.2.0/examples/in-network-rates/in-network-rates-fee-for-service-single-plan-sample.json"
TOC = "v2.2.0/examples/table-of-contents/table-of-contents-sample.json"


def run(*args):
    return CliRunner().invoke(main, ["market", "import", *map(str, args)], catch_exceptions=False)


def rows(db, sql="SELECT count(*) FROM market_rates"):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_import_then_again(tic, tmp_path):
    db = tmp_path / "w.duckdb"
    first = run(tic / ALL_TYPES, "--codes", "99214,80053", "--codes", "97110", "--db", db)
    assert first.exit_code == 0, first.output
    assert "imported:" in first.stdout and "3 of 6 items (schema 2.0.0)" in first.stdout
    assert "1 imported, 0 duplicate, 0 refused" in first.stdout
    assert rows(db) == [(6,)]
    again = run(tic / ALL_TYPES, "--codes", "99214", "--db", db)
    assert again.exit_code == 0
    assert "duplicate:" in again.stdout and "nothing added" in again.stdout
    assert rows(db) == [(6,)]


def test_refused_file_is_one_error_line_and_exit_1(tic, tmp_path):
    db = tmp_path / "w.duckdb"
    cut = tmp_path / "cut.json"
    cut.write_bytes((tic / FFS_2).read_bytes()[:1500])
    res = run(cut, tic / ALL_TYPES, "--codes", "99214,27447", "--db", db)
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {cut}: the JSON ends early at byte offset 1,500 of the file, inside in_network[0]: the "
        "file is cut short; nothing of it was kept; expected the rest of the JSON. Download the file again"
    ]
    assert "1 imported, 0 duplicate, 1 refused" in res.stdout
    assert rows(db, "SELECT count(*) FROM market_files") == [(1,)]


def test_no_codes_to_keep_is_exit_2(tic, tmp_path):
    res = run(tic / ALL_TYPES, "--db", tmp_path / "w.duckdb")
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: no billing codes to keep") and "--codes" in res.stderr


def test_bad_npi_is_a_usage_error(tic, tmp_path):
    res = run(tic / ALL_TYPES, "--codes", "99214", "--npi", "12345", "--db", tmp_path / "w.duckdb")
    assert res.exit_code == 2 and "an NPI is 10 digits" in res.output


def test_zip_is_not_a_filter_and_says_so(tic, tmp_path):
    db = tmp_path / "w.duckdb"
    res = run(tic / ALL_TYPES, "--codes", "99214", "--zip", "02139", "--npi", "4567890123", "--db", db)
    assert res.exit_code == 0, res.output
    assert "--zip 02139 is not used to filter" in res.stderr and "no location" in res.stderr
    assert rows(db, "SELECT tin, npi_count FROM market_rates") == [("23-4567890", 1)]


def test_table_of_contents_reads_the_local_copies(tic, tmp_path):
    """The TOC lists three files by URL: the one with a copy beside it is read, the others are reported."""
    folder = tmp_path / "acme"
    folder.mkdir()
    toc = folder / "toc.json"
    shutil.copy(tic / TOC, toc)
    shutil.copy(tic / ALL_TYPES, folder / "in-network-file-123456.json")
    db = tmp_path / "w.duckdb"
    res = run(toc, "--codes", "99214", "--db", db)
    assert res.exit_code == 0, res.output
    assert f"table of contents {toc}: lists 3 in-network file(s); read 1" in res.stdout
    locations = [
        e["location"] for s in json.loads(toc.read_text())["reporting_structure"] for e in s["in_network_files"]
    ]
    for url in locations[1:]:
        assert f"not read (no local copy beside it): {url}" in res.stdout
    assert "imported: " + str(folder / "in-network-file-123456.json") in res.stdout
    assert rows(db) == [(2,)]


def test_help_says_what_it_does():
    res = CliRunner().invoke(main, ["market", "import", "--help"])
    assert res.exit_code == 0
    for text in ("tables of contents", "--codes", "--institutional", "--npi", "--tin", "--zip", "--db"):
        assert text in res.output
