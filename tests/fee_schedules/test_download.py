"""download() against a real local HTTP server serving the CMS mirror (../shared/cms layout), and a folder mirror;
find_release's order (mirror -> shared -> cache -> download) and its fast failure offline, on small folders
built here (file names as CMS ships them; their bytes are never parsed by these look-ups)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
import time

import pytest

from fee_schedules import download as download_mod
from fee_schedules.download import (
    DownloadError,
    ReleaseNotFound,
    default_cache_dir,
    download,
    download_and_import,
    find_release,
    verify_cache,
)
from pipelines.core.warehouse import connect


@contextlib.contextmanager
def serving(folder):
    """A real HTTP server listing ``folder`` (http.server's directory pages), on a free local port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def mirror_url(cms_dir):
    with serving(cms_dir) as url:
        yield url


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
    # the base units come from the mirror's extra/anesthesia/2022/ (no 2025 file there), cached as laid out
    assert sorted(n for n, _, _ in result.anes_base) == [
        "extra/anesthesia/2022/CY_2022_Anesthesia_Base_Units_110921.xlsx",
        "extra/anesthesia/2022/Section 508 compliant version of CY_2022_Anesthesia_Base_Units_110921.txt",
    ]
    assert verify_cache(tmp_path / "cache" / "extra" / "anesthesia" / "2022") == []
    assert not (tmp_path / "cache" / "extra" / "anesthesia" / "2025").exists()  # the CF workbook is not fetched
    assert con.execute(
        "SELECT release, count(*), min(source_year) FROM mpfs_anesthesia_base_units GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("A", 276, 2022), ("D", 276, 2022)]
    assert "CY_2022_Anesthesia_Base_Units_110921.xlsx" in str(result)
    con.close()


def test_download_2026_skips_unverified_partial_folder(mirror_url, tmp_path):
    folder = download(2026, mirror=mirror_url, cache_dir=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["PPRRVU2026_Jul_nonQPP.csv", "SHA256SUMS"]


def test_corrupt_cache_is_detected(mirror_url, tmp_path):
    folder = download(2026, mirror=mirror_url, cache_dir=tmp_path)
    (folder / "PPRRVU2026_Jul_nonQPP.csv").write_bytes(b"garbage")
    assert verify_cache(folder) == ["PPRRVU2026_Jul_nonQPP.csv"]


def test_folder_mirror_with_bad_checksum(tmp_path):
    mirror = tmp_path / "mirror" / "2026"
    mirror.mkdir(parents=True)
    (mirror / "PPRRVU2026_Jul_nonQPP.csv").write_text("any bytes: only the checksum is compared\n")
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
    got = runner.invoke(
        main,
        [
            "fee-schedule",
            "download",
            "--year",
            "2026",
            "--mirror",
            mirror_url,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--db",
            str(db),
        ],
        catch_exceptions=False,
    )
    assert got.exit_code == 0 and "Imported MPFS 2026 release C" in got.output and "GPCI2026.csv" in got.output
    got = runner.invoke(main, ["price", "99213", "--year", "2026", "--national", "--db", str(db)])
    assert got.exit_code == 0 and "Allowed amount: $95.19" in got.output  # (1.30+1.46+0.09) x 33.4009


# ---------------------------------------------------------------- find_release: where a year's files come from


def fake_release(root, year=2025, later="RVU25D"):
    """``root/<year>/`` laid out as a mirror: a first release on top and one later release folder."""
    top = root / str(year)
    (top / later).mkdir(parents=True)
    for name in (f"PPRRVU{year % 100}_JAN.csv", f"GPCI{year}.csv"):
        (top / name).write_text(f"{root.name} {name}\n")
    (top / later / f"PPRRVU{year}_Oct.csv").write_text("later\n")
    return root


@pytest.fixture()
def places(tmp_path, monkeypatch):
    """No mirror, an empty shared folder, an empty cache, and a cms.gov that refuses at once."""
    monkeypatch.delenv("UNDERPAY_CMS_MIRROR", raising=False)
    monkeypatch.setenv("UNDERPAY_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(download_mod, "CMS_RVU_PAGE", f"http://127.0.0.1:{port}/pfs-relative-value-files")
    return tmp_path


def test_find_release_order_mirror_then_shared_then_cache(places, monkeypatch):
    cache = places / "data" / "underpay" / "cms"
    download(2025, mirror=fake_release(places / "seed"), cache_dir=cache)
    assert find_release(2025) == cache / "2025"
    fake_release(places / "shared" / "cms")
    assert find_release(2025) == places / "shared" / "cms" / "2025"
    monkeypatch.setenv("UNDERPAY_CMS_MIRROR", str(fake_release(places / "mirror")))
    assert find_release(2025) == places / "mirror" / "2025"
    explicit = fake_release(places / "explicit")
    assert find_release(2025, explicit) == explicit / "2025"
    assert download_mod.release_folders(find_release(2025, explicit)) == [
        explicit / "2025",
        explicit / "2025" / "RVU25D",
    ]


def test_mirror_variable_without_the_year_is_passed_over_but_an_explicit_one_is_an_error(places, monkeypatch):
    fake_release(places / "shared" / "cms")
    monkeypatch.setenv("UNDERPAY_CMS_MIRROR", str(fake_release(places / "mirror", 2026, "RVU26C")))
    assert find_release(2025) == places / "shared" / "cms" / "2025"
    with pytest.raises(DownloadError, match="no 2025/ folder of CMS files there"):
        find_release(2025, places / "mirror")


def test_url_mirror_is_fetched_once_into_the_cache(places, monkeypatch):
    with serving(fake_release(places / "served")) as url:
        monkeypatch.setenv("UNDERPAY_CMS_MIRROR", url)
        first = find_release(2025)
    assert first == places / "data" / "underpay" / "cms" / "2025"
    assert sorted(p.name for p in first.iterdir()) == ["GPCI2025.csv", "PPRRVU25_JAN.csv", "RVU25D", "SHA256SUMS"]
    assert find_release(2025) == first  # the server is gone: the verified cache answers


def test_corrupt_cache_is_not_used(places):
    cache = places / "data" / "underpay" / "cms"
    folder = download(2025, mirror=fake_release(places / "seed"), cache_dir=cache)
    assert find_release(2025, fetch=False) == folder
    (folder / "GPCI2025.csv").write_text("changed\n")
    with pytest.raises(ReleaseNotFound, match="not in the cache"):
        find_release(2025, fetch=False)


def test_nothing_anywhere_and_offline_names_what_is_missing(places):
    t0 = time.perf_counter()
    with pytest.raises(ReleaseNotFound) as info:
        find_release(2025)
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert msg.startswith("CMS 2025 release not found (no 2025/ in ")
    assert str(places / "shared" / "cms") in msg and str(places / "data" / "underpay" / "cms" / "2025") in msg
    assert "download failed" in msg and "UNDERPAY_CMS_MIRROR" in msg and "../shared" in msg
    assert info.value.failure and "127.0.0.1" in info.value.failure


def test_a_silent_cms_gov_fails_after_the_probe_timeout_not_the_transfer_timeout(places, monkeypatch):
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        monkeypatch.setattr(download_mod, "CMS_RVU_PAGE", f"http://127.0.0.1:{silent.getsockname()[1]}/page")
        monkeypatch.setattr(download_mod, "PROBE_TIMEOUT", 0.5)
        monkeypatch.setattr(download_mod, "TIMEOUT", 60)
        t0 = time.perf_counter()
        with pytest.raises(ReleaseNotFound, match="timed out"):
            find_release(2025)
        assert time.perf_counter() - t0 < 5
    finally:
        silent.close()


# ---------------------------------------------------------------- anesthesia base units: mirror and cms.gov


def base_unit_txt(year: int, *rows: str) -> bytes:
    """An INVENTED base-unit file in CMS's 508 .txt layout (tab-delimited, 3-row header)."""
    return "".join(f"{r}\r\n" for r in (f"CODE\t{year}", "\tBASE", "\tUNIT", *rows)).encode("ascii")


def test_folder_mirror_base_units_from_the_latest_earlier_year(tmp_path):
    from tests.tiny_mpfs import write_release

    mirror = tmp_path / "mirror"
    write_release(mirror)  # the tests' own invented 2025 release in mirror/2025/
    for year, rows in ((2022, ("00100\t5",)), (2023, ("00100\t5", "00790\t7")), (2026, ("00100\t9",))):
        folder = mirror / "extra" / "anesthesia" / str(year)
        folder.mkdir(parents=True)
        (folder / f"CY_{year}_Anesthesia_Base_Units.txt").write_bytes(base_unit_txt(year, *rows))
    con = connect(tmp_path / "w.duckdb")
    result = download_and_import(con, 2025, mirror=mirror, cache_dir=tmp_path / "cache")
    assert [n for n, _, _ in result.anes_base] == ["extra/anesthesia/2023/CY_2023_Anesthesia_Base_Units.txt"]
    assert con.execute(
        "SELECT hcpcs, base_units, source_year FROM mpfs_anesthesia_base_units ORDER BY 1"
    ).fetchall() == [
        ("00100", 5, 2023),
        ("00790", 7, 2023),
    ]
    con.close()


def test_mirror_without_base_units_still_downloads(tmp_path):
    from tests.tiny_mpfs import write_release

    write_release(tmp_path / "mirror")
    con = connect(tmp_path / "w.duckdb")
    result = download_and_import(con, 2025, mirror=tmp_path / "mirror", cache_dir=tmp_path / "cache")
    assert result.anes_base == [] and "none for 2025 or an earlier year" in result.anes_base_note
    assert "anes_base" in result.releases[0].missing and "anesthesia base units not found" in str(result)
    con.close()


@pytest.fixture()
def fake_cms(tmp_path, monkeypatch):
    """A local server laid out like cms.gov: the RVU page linking rvu25a.zip (the tests' invented release),
    an empty ZIP-code page, and /files/zip/<yyyy>-anesthesia-base-units-cpt-code.zip for the years the
    test puts there (others answer 404)."""
    import zipfile

    from tests.tiny_mpfs import write_release

    site = tmp_path / "site"
    (site / "files" / "zip").mkdir(parents=True)
    top = write_release(tmp_path / "release")
    with zipfile.ZipFile(site / "files" / "zip" / "rvu25a.zip", "w") as zf:
        for p in sorted(top.iterdir()):
            zf.write(p, p.name)
    (site / "rvu-page.html").write_text('<a href="/files/zip/rvu25a.zip">RVU25A</a>')
    (site / "zip-page.html").write_text("<p>no zip code files</p>")
    with serving(site) as url:
        monkeypatch.setattr(download_mod, "CMS_RVU_PAGE", url + "rvu-page.html")
        monkeypatch.setattr(download_mod, "CMS_ZIP_PAGE", url + "zip-page.html")
        monkeypatch.setattr(
            download_mod, "CMS_ANES_BASE_URL", url + "files/zip/{yyyy}-anesthesia-base-units-cpt-code.zip"
        )
        yield site


def put_cms_zip(site, year: int, members: dict[str, bytes]):
    import zipfile

    with zipfile.ZipFile(site / "files" / "zip" / f"{year}-anesthesia-base-units-cpt-code.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{year}-anesthesia-base-units/{name}", data)


def test_cms_base_units_tried_from_the_year_down(fake_cms, tmp_path):
    """2025 and 2024 answer 404, 2023 answers an HTML page (not a zip): passed over; 2022 is the file."""
    (fake_cms / "files" / "zip" / "2023-anesthesia-base-units-cpt-code.zip").write_text("<html>moved</html>")
    put_cms_zip(
        fake_cms,
        2022,
        {
            "Anesthesia Base Units readme.pdf": b"%PDF not a table",  # not a table: not fetched
            "CY_2022_Anesthesia_Base_Units.txt": base_unit_txt(2022, "00100\t5", "01967\t5"),
        },
    )
    con = connect(tmp_path / "w.duckdb")
    result = download_and_import(con, 2025, cache_dir=tmp_path / "cache")
    assert sorted(n for n, _, _ in result.files) == [
        "25LOCCO.csv",
        "ANES2025.csv",
        "GPCI2025.csv",
        "PPRRVU25_JAN.csv",
        "ZIP5_JAN2025.txt",
    ]
    assert [n for n, _, _ in result.anes_base] == ["extra/anesthesia/2022/CY_2022_Anesthesia_Base_Units.txt"]
    assert (tmp_path / "cache" / "extra" / "anesthesia" / "2022" / "SHA256SUMS").exists()
    got = con.execute("SELECT hcpcs, base_units, source_year FROM mpfs_anesthesia_base_units ORDER BY 1").fetchall()
    assert got == [("00100", 5, 2022), ("01967", 5, 2022)]
    con.close()


def test_cms_without_any_base_unit_zip_still_downloads(fake_cms, tmp_path):
    result = download(2025, cache_dir=tmp_path / "cache")
    assert (result / "PPRRVU25_JAN.csv").exists()
    assert not (tmp_path / "cache" / "extra").exists()


def test_corrupt_cached_base_units_make_find_release_download_again(places, monkeypatch):
    from tests.tiny_mpfs import write_release

    seed = places / "seed"
    write_release(seed)
    folder = seed / "extra" / "anesthesia" / "2022"
    folder.mkdir(parents=True)
    (folder / "CY_2022_Anesthesia_Base_Units.txt").write_bytes(base_unit_txt(2022, "00100\t5"))
    cache = places / "data" / "underpay" / "cms"
    download(2025, mirror=seed, cache_dir=cache)
    assert find_release(2025, fetch=False) == cache / "2025"
    (cache / "extra" / "anesthesia" / "2022" / "CY_2022_Anesthesia_Base_Units.txt").write_text("changed\n")
    with pytest.raises(ReleaseNotFound, match="not in the cache"):
        find_release(2025, fetch=False)
