"""download() against a real local HTTP server serving ../shared/cms (the mirror layout), and a folder mirror."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from fee_schedules.download import DownloadError, default_cache_dir, download, download_and_import, verify_cache
from pipelines.core.warehouse import connect
from tests.conftest import CMS


@pytest.fixture(scope="module")
def mirror_url():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(CMS))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_from_http_mirror_then_import(mirror_url, tmp_path):
    con = connect(tmp_path / "w.duckdb")
    result = download_and_import(con, 2025, mirror=mirror_url, cache_dir=tmp_path / "cache")
    folder = tmp_path / "cache" / "2025"
    assert result.folder == folder
    names = {name for name, _, _ in result.files}
    assert {"PPRRVU25_JAN.csv", "GPCI2025.csv", "ZIP5_OCT2025.txt", "RVU25D/PPRRVU2025_Oct.csv"} <= names
    assert not any(n.startswith("PFREV25C") or "lyout" in n or n.endswith(".pdf") for n in names)
    assert [(r.year, r.release) for r in result.releases] == [(2025, "A"), (2025, "D")]
    assert verify_cache(folder) == []
    assert (folder / "SHA256SUMS").read_text().count("\n") == len(result.files)
    assert con.execute("SELECT count(*) FROM mpfs_rvu").fetchall()[0][0] == 18865 + 19090
    con.close()


def test_download_2026_skips_unverified_partial_folder(mirror_url, tmp_path):
    folder = download(2026, mirror=mirror_url, cache_dir=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["PPRRVU2026_Jul_nonQPP.csv", "SHA256SUMS"]


def test_corrupt_cache_is_detected(mirror_url, tmp_path):
    folder = download(2026, mirror=mirror_url, cache_dir=tmp_path)
    (folder / "PPRRVU2026_Jul_nonQPP.csv").write_bytes(b"garbage")
    assert verify_cache(folder) == ["PPRRVU2026_Jul_nonQPP.csv"]


def test_folder_mirror_with_bad_checksum(tmp_path, cms_dir):
    mirror = tmp_path / "mirror" / "2026"
    mirror.mkdir(parents=True)
    shutil.copy(cms_dir / "2026" / "PPRRVU2026_Jul_nonQPP.csv", mirror)
    (mirror / "SHA256SUMS").write_text("0" * 64 + "  PPRRVU2026_Jul_nonQPP.csv\n")
    with pytest.raises(DownloadError, match="does not match the mirror's SHA256SUMS"):
        download(2026, mirror=tmp_path / "mirror", cache_dir=tmp_path / "cache")


def test_missing_year_on_mirror(mirror_url, tmp_path):
    with pytest.raises(DownloadError):
        download(2019, mirror=mirror_url, cache_dir=tmp_path)


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "underpay" / "cms"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert str(default_cache_dir()).endswith(".local/share/underpay/cms")


def test_cli_download_then_price(mirror_url, tmp_path):
    from click.testing import CliRunner

    from pipelines.cli.main import main

    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    got = runner.invoke(main, ["fee-schedule", "download", "--year", "2026", "--mirror", mirror_url,
                               "--cache-dir", str(tmp_path / "cache"), "--db", str(db)], catch_exceptions=False)
    assert got.exit_code == 0 and "Imported MPFS 2026 release C" in got.output and "GPCI2026.csv" in got.output
    got = runner.invoke(main, ["price", "99213", "--year", "2026", "--national", "--db", str(db)])
    assert got.exit_code == 0 and "Allowed amount: $95.19" in got.output    # (1.30+1.46+0.09) x 33.4009
