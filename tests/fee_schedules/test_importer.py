"""Import: idempotent, one transaction, manifest, inheritance between releases, clear errors."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal

import duckdb
import pytest

from fee_schedules.importer import import_release, list_releases
from pipelines.core.errors import InputFileError
from pipelines.core.sql import read_sql
from pipelines.core.warehouse import connect

TABLES = (
    "mpfs_rvu",
    "mpfs_gpci",
    "mpfs_locality_counties",
    "mpfs_anesthesia_cf",
    "mpfs_anesthesia_base_units",
    "mpfs_opps_cap",
    "mpfs_zip5",
    "mpfs_zip9",
    "mpfs_conversion_factors",
    "mpfs_release_files",
    "mpfs_releases",
)


def counts(con):
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def test_template_has_every_release(mpfs_con):
    rel = mpfs_con.sql(
        "SELECT year, release, effective_from::VARCHAR, effective_through::VARCHAR FROM mpfs_releases ORDER BY 1, 2"
    ).fetchall()
    assert rel == [
        (2025, "A", "2025-01-01", "2025-09-30"),
        (2025, "D", "2025-10-01", "2025-12-31"),
        (2026, "C", "2026-07-01", "2026-12-31"),
    ]
    files = {
        (y, r, k): (n, inh)
        for y, r, k, n, inh in mpfs_con.sql(
            "SELECT year, release, kind, file_name, inherited_from FROM mpfs_release_files"
        ).fetchall()
    }
    assert files[(2025, "D", "gpci")] == ("GPCI2025.csv", "A")
    # the base units sit beside the releases (../shared/cms/extra/anesthesia/2022/), found by each import
    for key in ((2025, "A", "anes_base"), (2025, "D", "anes_base"), (2026, "C", "anes_base")):
        assert files[key] == ("CY_2022_Anesthesia_Base_Units_110921.xlsx", None)
    assert files[(2025, "D", "rvu")] == ("PPRRVU2025_Oct.csv", None)
    assert (2026, "C", "gpci") not in files and files[(2026, "C", "rvu")][1] is None
    sha = mpfs_con.execute("SELECT sha256 FROM mpfs_release_files WHERE year = 2026 AND kind = 'rvu'").fetchall()[0][0]
    assert sha == "b7d197e73211ef6854c213c267d5fa9dec8df995db8e1ee7d44c0556ad7cee21"  # SOURCES.md
    assert (
        mpfs_con.execute("SELECT count(*) FROM mpfs_rvu WHERE year = 2025 AND release = 'D'").fetchall()[0][0] == 19090
    )


def test_reimport_replaces_never_doubles(mpfs_db, cms_dir):
    con = connect(mpfs_db)
    before = counts(con)
    result = import_release(con, cms_dir / "2025", 2025, "A")
    import_release(con, cms_dir / "2025" / "RVU25D", 2025)  # release inferred (RVU25D)
    assert counts(con) == before
    assert "inherited" not in str(result) and "GPCI2025.csv" in str(result)
    con.close()


def test_failed_import_leaves_warehouse_untouched(mpfs_db, cms_dir, tmp_path):
    bad = tmp_path / "RVU25D"
    shutil.copytree(cms_dir / "2025" / "RVU25D", bad)
    (bad / "OPPSCAP_Oct.csv").chmod(0o644)
    text = (
        (bad / "OPPSCAP_Oct.csv")
        .read_text(encoding="latin-1")
        .replace("93990,TC,A,15202,00,97.07", "93990,TC,A,15202,00,9x.07")
    )
    (bad / "OPPSCAP_Oct.csv").write_text(text, encoding="latin-1")
    con = connect(mpfs_db)
    before = counts(con)
    with pytest.raises(InputFileError, match=r"OPPSCAP_Oct.csv, row \d+, column 'FACILITY PRICE'"):
        import_release(con, bad, 2025, "D")
    assert counts(con) == before
    con.close()


def test_inheritance_follows_import_order(tmp_path, cms_dir):
    con = connect(tmp_path / "w.duckdb")
    r = import_release(con, cms_dir / "2025" / "RVU25D", 2025, "D")  # D before A: nothing to inherit
    assert "gpci" in r.missing and "GPCI2025.csv" in str(r)
    import_release(con, cms_dir / "2025", 2025, "A")
    got = dict(
        con.sql("SELECT kind, inherited_from FROM mpfs_release_files WHERE year = 2025 AND release = 'D'").fetchall()
    )
    assert got["gpci"] == "A" and got["zip5"] == "A" and got["rvu"] is None and got["oppscap"] is None
    assert con.execute("SELECT count(*) FROM mpfs_gpci WHERE release = 'D'").fetchall()[0][0] == 109
    assert got["anes_base"] is None  # D found the base units beside it (extra/anesthesia/2022/) itself
    listing = list_releases(con)
    assert listing.height == 14 and set(listing["origin"]) == {"shipped", "inherited from A"}
    con.close()


def test_wrong_year_and_unknown_release(tmp_path, cms_dir):
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(InputFileError, match="file is for 2025, not 2024"):
        import_release(con, cms_dir / "2025" / "RVU25D", 2024)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="no CMS fee schedule files found"):
        import_release(con, empty, 2025)
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copy(cms_dir / "2025" / "GPCI2025.csv", odd / "GPCI2025.csv")
    with pytest.raises(InputFileError, match="--release A, B, C or D"):
        import_release(con, odd, 2025)
    con.close()


def test_qpp_rvu_file_gives_the_qp_conversion_factor(tmp_path, cms_dir):
    folder = tmp_path / "rvu26c"
    folder.mkdir()
    text = (cms_dir / "2026" / "PPRRVU2026_Jul_nonQPP.csv").read_bytes()
    (folder / "PPRRVU2026_Jul_nonQPP.csv").write_bytes(text)
    (folder / "PPRRVU2026_Jul_QPP.csv").write_bytes(text.replace(b",33.4009,", b",33.5675,"))
    con = connect(tmp_path / "w.duckdb")
    result = import_release(con, folder, 2026)
    assert result.release == "C" and result.files[0].name == "PPRRVU2026_Jul_QPP.csv, PPRRVU2026_Jul_nonQPP.csv"
    got = dict(con.execute("SELECT qp, source FROM mpfs_conversion_factors WHERE year = 2026").fetchall())
    assert got == {
        False: "CONV FACTOR column of PPRRVU2026_Jul_nonQPP.csv",
        True: "CONV FACTOR column of PPRRVU2026_Jul_QPP.csv",
    }
    assert con.execute("SELECT count(*) FROM mpfs_rvu").fetchall()[0][0] == 19356
    con.close()


def test_a_warehouse_without_the_op_shares_and_base_units_is_migrated(tmp_path, cms_dir):
    """A warehouse made before mpfs_rvu had PRE/INTRA/POST OP and before the base-unit table: opening it
    adds the columns (nullable: its rows hold NULL there) and the table; re-importing fills them."""
    ddl = read_sql("fee_schedules.sql", "schema.sql")
    old_ddl = re.sub(r"\n    (pre_op|intra_op|post_op) [^\n]*", "", ddl)
    old_ddl = re.sub(r"CREATE TABLE IF NOT EXISTS mpfs_anesthesia_base_units \(.*?\);", "", old_ddl, flags=re.S)
    assert "pre_op" not in old_ddl and "mpfs_anesthesia_base_units" not in old_ddl
    db = tmp_path / "old.duckdb"
    old = duckdb.connect(str(db))
    old.execute(old_ddl)
    old.execute(
        "INSERT INTO mpfs_rvu (year, release, hcpcs, modifier, status_code, work_rvu, nf_pe_rvu, nf_na, f_pe_rvu, "
        "f_na, mp_rvu, pctc, global_days, mult_proc, bilat_surg, asst_surg, co_surg, team_surg, conversion_factor, "
        "opps_nf_pe_rvu, opps_f_pe_rvu, opps_mp_rvu) VALUES (2024, 'A', '27447', '', 'A', 19.60, 15.30, true, "
        "15.30, false, 3.98, '0', '090', '2', '1', '2', '1', '0', 32.3562, 0, 0, 0)"
    )
    old.close()
    con = connect(db)
    cols = {r[0]: (r[1], r[2]) for r in con.execute("DESCRIBE mpfs_rvu").fetchall()}
    assert cols["pre_op"] == cols["intra_op"] == cols["post_op"] == ("DECIMAL(5,2)", "YES")
    assert con.execute("SELECT hcpcs, work_rvu, pre_op, intra_op, post_op FROM mpfs_rvu").fetchall() == [
        ("27447", Decimal("19.60"), None, None, None)
    ]
    assert con.execute("SELECT count(*) FROM mpfs_anesthesia_base_units").fetchall() == [(0,)]
    import_release(con, cms_dir / "2025", 2025, "A")
    assert con.execute(
        "SELECT year, pre_op, intra_op, post_op FROM mpfs_rvu WHERE hcpcs = '27447' ORDER BY year"
    ).fetchall() == [(2024, None, None, None), (2025, Decimal("0.10"), Decimal("0.69"), Decimal("0.21"))]
    con.close()
