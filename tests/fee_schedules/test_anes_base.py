"""Anesthesia base units: CMS's "Anesthesia Base Units by CPT Code" read as shipped (the .xlsx and its
Section 508 .txt), found beside a release (extra/anesthesia/<year>/, else the latest earlier year),
inherited between releases, and rejected with the row named when malformed.

The real file is the CY 2022 table in ../shared/cms/extra/anesthesia/2022/ (SOURCES.md §6); the
expected values below are the ones SOURCES.md lists. Small files written here are INVENTED
(codes and units made up, in CMS's layout) and say so.
"""

from __future__ import annotations

import io
import shutil

import openpyxl
import pytest

from fee_schedules.files import SourceFile, find_release_files
from fee_schedules.importer import cms_root, find_anes_base, import_release, missing_help
from fee_schedules.loaders import anes_base
from pipelines.core.errors import InputFileError
from pipelines.core.warehouse import connect
from tests.conftest import shared_path
from tests.tiny_mpfs import write_release

XLSX = "CY_2022_Anesthesia_Base_Units_110921.xlsx"
TXT = "Section 508 compliant version of CY_2022_Anesthesia_Base_Units_110921.txt"
XLSX_SHA = "96e14219fc1fd72af49ee3ed6bea10fd5cdbaaf258a9a77080ce80d8efb18508"  # SOURCES.md §6


@pytest.fixture(scope="module")
def cy2022():
    return shared_path("cms", "extra", "anesthesia", "2022")


def load(folder, name):
    path = folder / name
    return anes_base.load(SourceFile("anes_base", name, str(path), path.read_bytes()))


def load_bytes(name, data: bytes):
    return anes_base.load(SourceFile("anes_base", name, f"/x/{name}", data))


def txt(*rows: str, year="2022") -> bytes:
    """A base-unit file in the 508 .txt layout (tab-delimited, CRLF, 3-row header)."""
    return "".join(f"{r}\r\n" for r in (f"CODE\t{year}", "\tBASE", "\tUNIT", *rows)).encode("ascii")


# ---------------------------------------------------------------- the real CY2022 file, both variants


@pytest.mark.parametrize("name", [XLSX, TXT])
def test_real_2022_file(cy2022, name):
    frame = load(cy2022, name)
    assert frame.height == 276
    assert frame.columns == ["hcpcs", "base_units", "source_year"]
    units = dict(zip(frame["hcpcs"], frame["base_units"]))
    assert units["00790"] == 7 and units["01967"] == 5 and units["00796"] == 30 and units["01999"] == 0
    assert units["00100"] == 5 and units["00840"] == 6 and units["01968"] == 2 and units["01953"] == 1
    assert "00740" not in units and "00810" not in units  # deleted in 2018: the post-2018 code set
    assert frame["source_year"].unique().to_list() == [2022]  # the year in the header cell
    assert all(len(c) == 5 and c.startswith("0") for c in frame["hcpcs"])  # leading zeros kept


def test_txt_equals_xlsx(cy2022):
    assert load(cy2022, TXT).equals(load(cy2022, XLSX))


def test_folder_holds_one_base_unit_file_in_two_variants(cy2022):
    """The 508 .txt is the same file as the .xlsx: one anes_base file, the .xlsx preferred."""
    found = find_release_files(cy2022)
    assert {k: [f.name for f in v] for k, v in found.items()} == {"anes_base": [XLSX]}


def test_locality_cf_workbook_is_not_a_base_unit_file():
    folder = shared_path("cms", "extra", "anesthesia", "2025")
    assert find_release_files(folder) == {}


# ---------------------------------------------------------------- malformed files name the row


def test_bad_code_names_row_and_column():
    with pytest.raises(InputFileError) as err:
        load_bytes("x_anesthesia_base_units.txt", txt("00100\t5", "0079O\t7", "01967\t5"))
    assert err.value.row == 5 and err.value.column == "CODE" and "'0079O'" in str(err.value)
    assert str(err.value).startswith("/x/x_anesthesia_base_units.txt, row 5, column 'CODE': unexpected value")


def test_bad_unit_names_row_and_column():
    with pytest.raises(InputFileError) as err:
        load_bytes("x_anesthesia_base_units.txt", txt("00100\t5", "00102\t6", "00103\t4.5"))
    assert err.value.row == 6 and err.value.column == "BASE UNIT" and "'4.5'" in str(err.value)


def test_duplicate_code_names_a_row():
    with pytest.raises(InputFileError) as err:
        load_bytes("x_anesthesia_base_units.txt", txt("00100\t5", "00100\t6"))
    assert err.value.row in (4, 5) and "one_row_per_code" in str(err.value)


def test_not_a_base_unit_file():
    with pytest.raises(InputFileError, match="header row not found"):
        load_bytes("x_anesthesia_base_units.txt", b"HCPCS\tUNITS\r\n00100\t5\r\n")
    with pytest.raises(InputFileError, match=r"row 1, column 'B': header column missing"):
        load_bytes("x_anesthesia_base_units.txt", b"CODE\t2022\r\n\tRVU\r\n00100\t5\r\n")
    with pytest.raises(InputFileError, match="cannot tell which calendar year"):
        load_bytes("x_anesthesia_base_units.txt", txt("00100\t5", year="units"))


def test_xlsx_code_that_lost_its_leading_zeros():
    """A re-saved sheet holding 790 as a number: the code is CPT 00790 (five characters)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["CODE", 2022], [None, "BASE"], [None, "UNIT"], [790, 7], ["01967", 5]):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    frame = load_bytes("CY_2022_Anesthesia_Base_Units.xlsx", buf.getvalue())
    assert frame.rows() == [("00790", 7, 2022), ("01967", 5, 2022)]


# ---------------------------------------------------------------- where the importer finds it


@pytest.fixture()
def root(tmp_path):
    """A CMS root as ../shared/cms lays it out: the tests' tiny 2025 release in 2025/ (invented rows), no extra/."""
    write_release(tmp_path / "cms")
    return tmp_path / "cms"


def put(root, year, name, data: bytes):
    folder = root / "extra" / "anesthesia" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def base_units(con, release="A"):
    return con.execute(
        "SELECT hcpcs, base_units, source_year FROM mpfs_anesthesia_base_units WHERE year = 2025 AND release = ? "
        "ORDER BY hcpcs",
        [release],
    ).fetchall()


def manifest(con, release="A"):
    return con.execute(
        "SELECT file_name, sha256, row_count, inherited_from FROM mpfs_release_files "
        "WHERE year = 2025 AND release = ? AND kind = 'anes_base'",
        [release],
    ).fetchall()


def test_cms_root_is_the_parent_of_the_year_folder(tmp_path):
    assert cms_root(tmp_path / "cms" / "2025", 2025) == tmp_path / "cms"
    assert cms_root(tmp_path / "cms" / "2025" / "RVU25D", 2025) == tmp_path / "cms"
    assert cms_root(tmp_path / "cms" / "2025" / "rvu25a.zip", 2025) == tmp_path / "cms"
    assert cms_root(tmp_path / "rvu25d", 2025) is None


def test_not_found_anywhere_import_still_succeeds(root, tmp_path):
    con = connect(tmp_path / "w.duckdb")
    result = import_release(con, root / "2025", 2025, "A")
    assert "anes_base" in result.missing and base_units(con) == [] and manifest(con) == []
    text = str(result)
    assert "Anesthesia Base Units by CPT Code" in text and "underpay fee-schedule download --year 2025" in text
    assert "https://www.cms.gov/files/zip/2025-anesthesia-base-units-cpt-code.zip" in text
    assert "extra/anesthesia/" in missing_help("anes_base", 2025)
    con.close()


def test_latest_earlier_year_folder_is_used(root, tmp_path, cy2022):
    # 2022: the real CMS file (both variants); 2025: only the locality CF workbook's name (not base units);
    # 2026: a later year, never used for 2025
    for name in (XLSX, TXT):
        put(root, 2022, name, (cy2022 / name).read_bytes())
    put(root, 2025, "Anesthesia CY 2025 locality adjusted CF_floor extension 23DEC24_Sheet 2.txt", b"not units\r\n")
    put(root, 2026, "CY_2026_Anesthesia_Base_Units.txt", txt("00100\t9", year="2026"))  # INVENTED
    con = connect(tmp_path / "w.duckdb")
    result = import_release(con, root / "2025", 2025, "A")
    assert "anes_base" not in result.missing
    got = base_units(con)
    assert len(got) == 276 and ("00790", 7, 2022) in got and ("01967", 5, 2022) in got
    assert manifest(con) == [(XLSX, XLSX_SHA, 276, None)]
    # a file for a nearer year (2024) wins over 2022
    put(root, 2024, "CY_2024_Anesthesia_Base_Units.txt", txt("00100\t5", "00790\t8", year="2024"))  # INVENTED
    import_release(con, root / "2025", 2025, "A")
    assert base_units(con) == [("00100", 5, 2024), ("00790", 8, 2024)]
    assert manifest(con)[0][0] == "CY_2024_Anesthesia_Base_Units.txt"
    con.close()


def test_file_in_the_release_folder_comes_first(root, tmp_path):
    put(root, 2024, "CY_2024_Anesthesia_Base_Units.txt", txt("00100\t5", year="2024"))  # INVENTED
    (root / "2025" / "CY_2025_Anesthesia_Base_Units.txt").write_bytes(txt("00100\t6", year="2025"))  # INVENTED
    con = connect(tmp_path / "w.duckdb")
    import_release(con, root / "2025", 2025, "A")
    assert base_units(con) == [("00100", 6, 2025)]
    con.close()


def test_a_base_unit_file_newer_than_the_release_is_refused(root, tmp_path):
    (root / "2025" / "CY_2026_Anesthesia_Base_Units.txt").write_bytes(txt("00100\t6", year="2026"))  # INVENTED
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(InputFileError, match="anesthesia base units for CY 2026, newer than 2025"):
        import_release(con, root / "2025", 2025, "A")
    con.close()


def test_later_release_beside_the_year_folder_finds_it_too(root, tmp_path):
    """RVU25D/ inside 2025/: the same root, so the same lookup (recorded as found, not inherited)."""
    put(root, 2022, "CY_2022_Anesthesia_Base_Units.txt", txt("00100\t5", "00790\t7"))  # INVENTED
    later = root / "2025" / "RVU25D"
    later.mkdir()
    shutil.copy(root / "2025" / "PPRRVU25_JAN.csv", later / "PPRRVU2025_Oct.csv")
    assert [f.name for f in find_anes_base(later, 2025)] == ["CY_2022_Anesthesia_Base_Units.txt"]
    con = connect(tmp_path / "w.duckdb")
    import_release(con, root / "2025", 2025, "A")
    import_release(con, later, 2025, "D")
    assert base_units(con, "D") == [("00100", 5, 2022), ("00790", 7, 2022)]
    assert manifest(con, "D")[0][3] is None
    con.close()


def test_release_outside_a_cms_root_inherits_from_an_earlier_release(root, tmp_path):
    put(root, 2022, "CY_2022_Anesthesia_Base_Units.txt", txt("00100\t5", "00790\t7"))  # INVENTED
    alone = tmp_path / "rvu25d"  # not under a 2025/ folder: nothing to look beside
    alone.mkdir()
    shutil.copy(root / "2025" / "PPRRVU25_JAN.csv", alone / "PPRRVU2025_Oct.csv")
    con = connect(tmp_path / "w.duckdb")
    first = import_release(con, alone, 2025)  # D before A: nothing to inherit yet
    assert first.release == "D" and "anes_base" in first.missing
    import_release(con, root / "2025", 2025, "A")
    assert base_units(con, "D") == base_units(con, "A") == [("00100", 5, 2022), ("00790", 7, 2022)]
    assert manifest(con, "D")[0][3] == "A"  # inherited from release A
    con.close()


def test_template_has_base_units_for_every_release(mpfs_template, cms_dir):
    """tests/conftest.py imports ../shared/cms/2025, 2025/RVU25D and 2026: each finds the CY2022 file."""
    import duckdb

    if not (cms_dir / "extra" / "anesthesia" / "2022").is_dir():
        pytest.skip(f"{cms_dir}/extra/anesthesia/2022/ not found: the CY2022 base-unit file sits in ../shared/cms")
    con = duckdb.connect(str(mpfs_template), read_only=True)
    got = con.execute(
        "SELECT year, release, count(*), min(source_year), max(source_year), "
        "max(base_units) FILTER (WHERE hcpcs = '00790') FROM mpfs_anesthesia_base_units GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    con.close()
    assert got == [(2025, "A", 276, 2022, 2022, 7), (2025, "D", 276, 2022, 2022, 7), (2026, "C", 276, 2022, 2022, 7)]
