"""find_schedule / download_schedule / `fee-schedule download --schedule`: the CLFS, ASP, DMEPOS, OPPS and ASC
files of a year from a mirror laid out like ../shared/cms (``extra/<dir>/<year>/``), verified and cached;
cms.gov's URL rules against a local server standing in for it; fast failure offline.

The mirrors are built in tmp_path from a few real CMS files of ../shared/cms/extra (read there, copied
only into tmp_path); their SHA256SUMS lines are the shared folder's own."""

from __future__ import annotations

import io
import shutil
import socket
import time
import zipfile

import pytest
from click.testing import CliRunner

from fee_schedules import download as download_mod
from fee_schedules.download import (
    DownloadError,
    ReleaseNotFound,
    ScheduleNotFound,
    download_and_import_schedule,
    download_schedule,
    find_schedule,
    verify_cache,
)
from pipelines.cli.main import main
from pipelines.core.warehouse import connect
from tests.conftest import shared_path
from tests.fee_schedules.test_download import serving

CLFS_FILES = ("CLFS 2025 Q1V1.csv", "CLFS 2025 Q1V1.pdf", "CLFS 2025 Q2V1.csv")
ASP_FILE = "section 508 version of APR 2025 ASP Pricing File 032725.csv"
ASC_FILES = ("508-Version-Jan-2025-ASC-AA.csv", "508-Version-Jan-2025-ASC-BB.csv")


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture()
def mirror(tmp_path):
    """``tmp/mirror/extra/``: clfs/2025/ (two quarters' CSVs and a PDF layout), asp/2025/ holding a zip of
    one quarter's file (and a readme), and extra/SHA256SUMS with the shared folder's lines for them."""
    extra = shared_path("cms", "extra")
    root = tmp_path / "mirror"
    (root / "extra" / "clfs" / "2025").mkdir(parents=True)
    for name in CLFS_FILES:
        shutil.copyfile(extra / "clfs" / "2025" / name, root / "extra" / "clfs" / "2025" / name)
    (root / "extra" / "asp" / "2025").mkdir(parents=True)
    asp = (extra / "asp" / "2025" / ASP_FILE).read_bytes()
    (root / "extra" / "asp" / "2025" / "april-2025-asp-pricing-file.zip").write_bytes(
        zipped({f"april-2025/{ASP_FILE}": asp, "april-2025/readme.pdf": b"%PDF not a table"})
    )
    keep = [f"clfs/2025/{n}" for n in CLFS_FILES]
    lines = [ln for ln in (extra / "SHA256SUMS").read_text().splitlines() if ln.split("  ", 1)[-1] in keep]
    assert len(lines) == len(CLFS_FILES)
    (root / "extra" / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture()
def places(tmp_path, monkeypatch):
    """No mirror variable, an empty shared folder, an empty cache, and a cms.gov that refuses at once."""
    monkeypatch.delenv("UNDERPAY_CMS_MIRROR", raising=False)
    monkeypatch.setenv("UNDERPAY_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(download_mod, "CMS_CLFS_URL", refused + "/files/zip/{yy}clabq{q}.zip")
    monkeypatch.setattr(download_mod, "CMS_DMEPOS_URLS", (refused + "/files/zip/dme{yy}.zip",))
    for name in ("asp", "opps", "asc", "dmepos"):
        monkeypatch.setitem(download_mod.CMS_SCHEDULE_PAGES, name, f"{refused}/{name}-page")
    return tmp_path


def test_find_schedule_from_a_url_mirror_into_the_cache(mirror, places):
    with serving(mirror) as url:
        folder = find_schedule("clfs", 2025, url)
    cache = places / "data" / "underpay" / "cms"
    assert folder == cache / "extra" / "clfs" / "2025"
    # the CSVs (verified against the mirror's extra/SHA256SUMS); the PDF layout is not a CLFS file
    assert sorted(p.name for p in folder.iterdir()) == ["CLFS 2025 Q1V1.csv", "CLFS 2025 Q2V1.csv", "SHA256SUMS"]
    sums = (mirror / "extra" / "SHA256SUMS").read_text()
    assert all(line.split()[0] in sums for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert verify_cache(folder) == []
    assert find_schedule("clfs", 2025) == folder  # the server is gone: the verified cache answers


def test_zip_members_are_taken_and_the_folder_imports(mirror, tmp_path):
    folder = download_schedule("asp", 2025, mirror, cache_dir=tmp_path / "cache")
    assert folder == tmp_path / "cache" / "extra" / "asp" / "2025"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "SHA256SUMS",
        f"april-2025-asp-pricing-file/{ASP_FILE}",
    ]
    con = connect(tmp_path / "w.duckdb")
    result = download_and_import_schedule(con, "asp", 2025, mirror, tmp_path / "cache")
    assert [(r.kind, str(r.effective_from), r.action) for r in result.imported.releases] == [
        ("asp", "2025-04-01", "imported")
    ]
    assert f"Downloaded 1 ASP file(s) for 2025 from {mirror}" in str(result) and "Imported 1 schedule" in str(result)
    con.close()


def test_a_corrupt_cached_file_is_reported_then_fetched_again(mirror, places):
    cache = places / "data" / "underpay" / "cms"
    folder = download_schedule("clfs", 2025, mirror, cache_dir=cache)
    good = (folder / "CLFS 2025 Q2V1.csv").read_bytes()
    (folder / "CLFS 2025 Q2V1.csv").write_bytes(good[:-10])
    assert verify_cache(folder) == ["CLFS 2025 Q2V1.csv"]
    with pytest.raises(ScheduleNotFound, match=r"CLFS 2025 Q2V1\.csv no longer match SHA256SUMS"):
        find_schedule("clfs", 2025, fetch=False)
    with serving(mirror) as url:
        assert find_schedule("clfs", 2025, url) == folder
    assert (folder / "CLFS 2025 Q2V1.csv").read_bytes() == good and verify_cache(folder) == []


def test_a_mirror_file_not_matching_its_sha256sums_is_refused(mirror, tmp_path):
    path = mirror / "extra" / "clfs" / "2025" / "CLFS 2025 Q1V1.csv"
    path.write_bytes(path.read_bytes().replace(b"10.56", b"10.57", 1))
    with pytest.raises(DownloadError, match=r"CLFS 2025 Q1V1\.csv: sha256 .* does not match the mirror's SHA256SUMS"):
        download_schedule("clfs", 2025, mirror, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "extra" / "clfs" / "2025" / "CLFS 2025 Q1V1.csv").exists()


def test_a_missing_year_names_every_place_looked_at(mirror, places, monkeypatch):
    monkeypatch.setenv("UNDERPAY_CMS_MIRROR", str(mirror))
    with pytest.raises(ReleaseNotFound) as info:
        find_schedule("clfs", 2024, fetch=False)
    msg = str(info.value)
    assert msg.startswith("CLFS 2024 files not found (no extra/clfs/2024/ in ")
    assert str(mirror) in msg and str(places / "shared" / "cms") in msg
    assert str(places / "data" / "underpay" / "cms" / "extra" / "clfs" / "2024") in msg
    assert "UNDERPAY_CMS_MIRROR" in msg and "../shared" in msg and "--schedule clfs --year 2024" in msg
    with pytest.raises(ScheduleNotFound, match=r"no CLFS file in .*extra/clfs/2024"):
        find_schedule("clfs", 2024, mirror)  # an explicit mirror must hold the year
    assert find_schedule("clfs", 2025) == mirror / "extra" / "clfs" / "2025"  # used in place


@pytest.mark.parametrize("schedule", ["clfs", "asp"])
def test_cms_gov_unreachable_fails_fast(places, schedule):
    t0 = time.perf_counter()
    with pytest.raises(ScheduleNotFound) as info:
        find_schedule(schedule, 2025)
    assert time.perf_counter() - t0 < 5
    assert info.value.unreachable and "127.0.0.1" in info.value.failure
    assert "download failed" in str(info.value) and "not in the cache" in str(info.value)


def test_a_silent_cms_gov_fails_after_the_probe_timeout(places, monkeypatch):
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/files/zip/{{yy}}clabq{{q}}.zip"
        monkeypatch.setattr(download_mod, "CMS_CLFS_URL", url)
        monkeypatch.setattr(download_mod, "PROBE_TIMEOUT", 0.5)
        monkeypatch.setattr(download_mod, "TIMEOUT", 60)
        t0 = time.perf_counter()
        with pytest.raises(ScheduleNotFound, match="timed out"):
            find_schedule("clfs", 2025)
        assert time.perf_counter() - t0 < 5
    finally:
        silent.close()


def test_cms_url_rules_against_a_local_stand_in(places, monkeypatch):
    """CLFS: <yy>clabq<q>.zip per quarter (404s passed over); ASC: the page's year-named zips, also on its
    year-named sub-pages, other years' links left alone."""
    extra = shared_path("cms", "extra")
    site = places / "site"
    (site / "files" / "zip").mkdir(parents=True)
    q1 = (extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv").read_bytes()
    (site / "files" / "zip" / "25clabq1.zip").write_bytes(
        zipped({"CLFS 2025 Q1V1.csv": q1, "CLFS 2025 Q1V1.pdf": b"%PDF layout"})
    )
    aa, bb = ((extra / "asc" / "2025" / n).read_bytes() for n in ASC_FILES)
    (site / "files" / "zip" / "january-2025-asc-approved-hcpcs-code-and-payment-rates.zip").write_bytes(
        zipped({f"jan/{ASC_FILES[0]}": aa, f"jan/{ASC_FILES[1]}": bb})
    )
    (site / "files" / "zip" / "october-2024-asc-approved-hcpcs.zip").write_text("never fetched")
    (site / "asc-page" / "january-2025").mkdir(parents=True)
    (site / "asc-page" / "index.html").write_text(
        '<a href="/asc-page/january-2025/">January 2025</a><a href="/files/zip/october-2024-asc-approved-hcpcs.zip">'
    )
    (site / "asc-page" / "january-2025" / "index.html").write_text(
        '<a href="/files/zip/january-2025-asc-approved-hcpcs-code-and-payment-rates.zip">zip</a>'
    )
    cache = places / "data" / "underpay" / "cms"
    with serving(site) as url:
        monkeypatch.setattr(download_mod, "CMS_CLFS_URL", url + "files/zip/{yy}clabq{q}.zip")
        monkeypatch.setitem(download_mod.CMS_SCHEDULE_PAGES, "asc", url + "asc-page")
        clfs = find_schedule("clfs", 2025)
        asc = find_schedule("asc", 2025)
    assert sorted(str(p.relative_to(clfs)) for p in clfs.rglob("*.csv")) == ["25clabq1/CLFS 2025 Q1V1.csv"]
    assert sorted(str(p.relative_to(asc)) for p in asc.rglob("*.csv")) == [
        f"january-2025-asc-approved-hcpcs-code-and-payment-rates/{n}" for n in ASC_FILES
    ]
    assert clfs == cache / "extra" / "clfs" / "2025" and verify_cache(clfs) == [] and verify_cache(asc) == []
    with serving(site) as url:  # a year cms.gov has nothing for: not found, not a network failure
        monkeypatch.setattr(download_mod, "CMS_CLFS_URL", url + "files/zip/{yy}clabq{q}.zip")
        with pytest.raises(ScheduleNotFound, match="cms.gov has no 2023 file") as info:
            find_schedule("clfs", 2023)
    assert not info.value.unreachable


def cli(*args):
    return CliRunner().invoke(main, ["fee-schedule", "download", *args])


def test_cli_download_clfs_from_a_mirror_imports_it(mirror, tmp_path):
    db = tmp_path / "w.duckdb"
    common = ["--mirror", str(mirror), "--cache-dir", str(tmp_path / "cache"), "--db", str(db)]
    got = cli("--schedule", "clfs", "--year", "2025", *common)
    assert got.exit_code == 0, got.output
    assert f"Downloaded 2 CLFS file(s) for 2025 from {mirror}" in got.output
    assert "Imported 2 schedule file(s)" in got.output and "CLFS 2025 Q2V1.csv" in got.output
    con = connect(db)
    rows = con.execute("SELECT effective_from::VARCHAR, count(*) FROM clfs_rates GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert rows == [("2025-01-01", 2087), ("2025-04-01", 2105)]
    got = cli("--schedule", "clfs", "--year", "2024", *common)
    assert got.exit_code == 2
    lines = got.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: CLFS 2024 files not found (no extra/clfs/2024/ on the mirror"
    )


def test_cli_download_all_reports_schedules_without_files(mirror, tmp_path):
    from tests.tiny_mpfs import write_release

    write_release(mirror)  # the tests' invented 2025 physician release in mirror/2025/
    db = tmp_path / "w.duckdb"
    got = cli(
        "--schedule",
        "all",
        "--year",
        "2025",
        "--mirror",
        str(mirror),
        "--cache-dir",
        str(tmp_path / "c"),
        "--db",
        str(db),
    )
    assert got.exit_code == 0, got.output
    assert "Imported MPFS 2025 release A" in got.output
    assert "Downloaded 2 CLFS file(s)" in got.output and "Downloaded 1 ASP file(s)" in got.output
    for label in ("DMEPOS", "OPPS Addendum B", "ASC"):
        assert f"{label} 2025: no files found, nothing imported" in got.output
    con = connect(db)
    assert con.execute("SELECT count(DISTINCT schedule) FROM schedule_releases").fetchall() == [(2,)]
    con.close()
