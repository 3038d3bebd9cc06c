"""`underpay export parquet` and `underpay load variances`: thin shells, one `Error:` line on failure."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from pipelines.cli.main import main
from pipelines.lake import layout


def test_export_then_load(site, tmp_path):
    root = tmp_path / "lake"
    db, contracts = str(site.db), str(site.contracts)
    r = CliRunner().invoke(
        main, ["export", "parquet", str(root), "--db", db, "--contracts", contracts, "--month", "2025-02"]
    )
    assert r.exit_code == 0, r.output
    assert "1 month(s) written" in r.output
    assert [p.name for p in layout.table_dir(root, "claims").iterdir()] == ["payment_month=2025-02-01"]
    r = CliRunner().invoke(main, ["export", "parquet", str(root), "--db", db, "--contracts", contracts])
    assert r.exit_code == 0, r.output
    assert "3 month(s) written, 1 unchanged" in r.output

    con = duckdb.connect(db)
    con.execute(
        "COPY (SELECT * FROM variances) TO $dir (FORMAT parquet, PARTITION_BY (payment_month))",
        {"dir": str(layout.variances_dir(root))},
    )
    n = con.execute("SELECT count(*) FROM variances").fetchall()[0][0]
    con.execute("DELETE FROM variances")
    con.close()
    r = CliRunner().invoke(main, ["load", "variances", str(root), "--db", db])
    assert r.exit_code == 0, r.output
    assert f"loaded {n:,} variances row(s)" in r.output
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM variances").fetchall()[0][0] == n
    con.close()


def test_errors_are_one_line(site, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("x")
    r = CliRunner().invoke(
        main, ["export", "parquet", str(tmp_path / "notes"), "--db", str(site.db), "--contracts", str(site.contracts)]
    )
    assert r.exit_code == 2
    assert r.output.count("Error:") == 1 and "not an underpay lake" in r.output
    r = CliRunner().invoke(main, ["load", "variances", str(tmp_path / "nothing"), "--db", str(site.db)])
    assert r.exit_code == 2
    assert r.output.strip().startswith("Error:") and "no variances folder" in r.output
    r = CliRunner().invoke(main, ["export", "parquet", str(tmp_path / "x"), "--db", str(site.db), "--month", "2025-13"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
