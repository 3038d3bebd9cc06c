"""The tests' own small release (tests/tiny_mpfs.py) is a valid CMS-layout release: the real importer reads
every file of it, and the real pricer gives the amount computed here by hand from its invented rows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
from click.testing import CliRunner

from pipelines.cli.main import main
from pipelines.synthetic.codes import COMMON_CODES
from tests.tiny_mpfs import CONVERSION_FACTOR, GPCI, build_warehouse, rvu_rows


def test_tiny_release_imports_every_file_and_code(tmp_path):
    db = build_warehouse(tmp_path / "w.duckdb", tmp_path / "cms")
    con = duckdb.connect(str(db), read_only=True)
    try:
        codes = {r[0] for r in con.execute("SELECT DISTINCT hcpcs FROM mpfs_rvu").fetchall()}
        counts = [
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("mpfs_rvu", "mpfs_gpci", "mpfs_zip5", "mpfs_locality_counties", "mpfs_anesthesia_cf")
        ]
    finally:
        con.close()
    assert codes == {c.code for c in COMMON_CODES}
    assert counts == [len(rvu_rows()), 1, 1, 1, 1]


def test_tiny_release_prices_at_zip_10001_as_computed_by_hand(tmp_path):
    db = build_warehouse(tmp_path / "w.duckdb", tmp_path / "cms")
    row = next(r for r in rvu_rows() if (r["hcpcs"], r["modifier"]) == ("99213", ""))
    w, pe, mp = (Decimal(g) for g in GPCI)
    want = ((row["work"] * w + row["nf_pe"] * pe + row["mp"] * mp) * Decimal(CONVERSION_FACTOR)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    got = CliRunner().invoke(main, ["price", "99213", "--year", "2025", "--zip", "10001", "--db", str(db)])
    assert got.exit_code == 0, got.output
    assert f"Allowed amount: ${want}" in got.output and "TEST LOCALITY" in got.output
