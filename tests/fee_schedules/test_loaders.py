"""Loaders read CMS files as shipped (CSV, TXT, XLSX, zip) and reject files that are not what they claim."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from fee_schedules.files import SourceFile, find_release_files, infer_release
from fee_schedules.loaders import LOADERS, anes, gpci, locco, rvu, zipcodes
from pipelines.core.errors import InputFileError


def src(kind: str, path: Path, name: str | None = None, data: bytes | None = None) -> SourceFile:
    return SourceFile(kind, name or path.name, str(path), data if data is not None else path.read_bytes())


def test_release_folders_are_recognised(cms_dir):
    a = find_release_files(cms_dir / "2025")
    assert {k: [f.name for f in v] for k, v in a.items()} == {
        "rvu": ["PPRRVU25_JAN.csv"],
        "gpci": ["GPCI2025.csv"],
        "locco": ["25LOCCO.csv"],
        "anes": ["ANES2025.csv"],
        "oppscap": ["OPPSCAP_JAN.csv"],
        "zip5": ["ZIP5_OCT2025.txt"],
    }
    d = find_release_files(cms_dir / "2025" / "RVU25D")
    assert sorted(d) == ["oppscap", "rvu"]
    c = find_release_files(cms_dir / "2026")  # partial_unverified/ is a sub-folder: never read
    assert sorted(c) == ["rvu"]
    assert (
        infer_release(cms_dir / "2025", a),
        infer_release(cms_dir / "2025" / "RVU25D", d),
        infer_release(cms_dir / "2026", c),
    ) == ("A", "D", "C")


@pytest.mark.parametrize(
    "path,rows,cf",
    [
        ("2025/PPRRVU25_JAN.csv", 18865, "32.3465"),
        ("2025/RVU25D/PPRRVU2025_Oct.csv", 19090, "32.3465"),
        ("2026/PPRRVU2026_Jul_nonQPP.csv", 19356, "33.4009"),
    ],
)
def test_rvu_columns_found_by_header_name(cms_dir, path, rows, cf):
    frame = rvu.load(src("rvu", cms_dir / path))
    assert frame.height == rows  # the blank trailing row of the Jan CSV is skipped
    assert [str(c) for c in frame["conversion_factor"].unique()] == [cf]  # 2026: PRIC IND shifted it
    assert "description" not in frame.columns  # AMA-copyright descriptors are never read
    g0121 = frame.filter(frame["hcpcs"] == "G0121").sort("modifier")
    assert g0121["modifier"].to_list() == ["", "53"]
    if path.startswith("2026"):
        assert frame["pric_ind"].unique().to_list() == ["9"]


def test_rvu_txt_variant_equals_csv(cms_dir):
    csv_frame = rvu.load(src("rvu", cms_dir / "2025/PPRRVU25_JAN.csv"))
    txt_frame = rvu.load(src("rvu", cms_dir / "2025/PPRRVU25_JAN.txt"))
    assert txt_frame.drop("pric_ind").equals(csv_frame.drop("pric_ind"))


def test_rvu_xlsx_variant(cms_dir, tmp_path):
    lines = (cms_dir / "2025/PPRRVU25_JAN.csv").read_text(encoding="latin-1").splitlines()[:60]
    import csv

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in csv.reader(lines):
        ws.append([float(c) if c.replace(".", "", 1).isdigit() and "." in c else c for c in row])
    buf = io.BytesIO()
    wb.save(buf)
    frame = rvu.load(src("rvu", tmp_path / "PPRRVU25_JAN.xlsx", data=buf.getvalue()))
    ref = rvu.load(src("rvu", cms_dir / "2025/PPRRVU25_JAN.csv")).head(50)
    assert frame.height == 50
    assert frame.select("hcpcs", "status_code", "work_rvu", "conversion_factor").equals(
        ref.select("hcpcs", "status_code", "work_rvu", "conversion_factor")
    )


def test_bad_rvu_cell_names_file_row_and_column(cms_dir):
    data = (cms_dir / "2025/PPRRVU25_JAN.csv").read_bytes()
    lines = data.split(b"\r\n")
    fields = lines[20].split(b",")
    fields[5] = b"1.2x"  # WORK RVU of file row 21
    lines[20] = b",".join(fields)
    with pytest.raises(InputFileError) as err:
        rvu.load(src("rvu", cms_dir / "2025/PPRRVU25_JAN.csv", data=b"\r\n".join(lines)))
    assert err.value.row == 21 and err.value.column == "WORK RVU"
    assert "PPRRVU25_JAN.csv, row 21, column 'WORK RVU'" in str(err.value) and "'1.2x'" in str(err.value)


def test_file_that_is_not_an_rvu_file(cms_dir):
    with pytest.raises(InputFileError, match="header row not found"):
        rvu.load(src("rvu", cms_dir / "2025/GPCI2025.csv", name="PPRRVU25_JAN.csv"))


def test_gpci_with_floor_column_and_footnotes(cms_dir):
    frame = gpci.load(src("gpci", cms_dir / "2025/GPCI2025.csv"))
    assert frame.height == 109
    ak = frame.filter(frame["carrier"] == "02102").row(0, named=True)
    assert (str(ak["work_gpci"]), ak["locality"], ak["locality_name"]) == ("1.500", "01", "ALASKA")
    ny = frame.filter(frame["state"] == "NY").sort("locality")
    assert ny.select("carrier", "locality").rows() == [
        ("13202", "01"),
        ("13202", "02"),
        ("13202", "03"),
        ("13292", "04"),
        ("13282", "99"),
    ]


def test_gpci_2026_style_with_and_without_floor(tmp_path):
    text = (
        "ADDENDUM E. FINAL CY 2026 GPCIs,,,,,,,\n,,,,,,,\n"
        "Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,"
        "2026 PW GPCI (without 1.0 Floor),2026 PW GPCI (with 1.0 Floor)***,2026 PE GPCI,2026 MP GPCI\n"
        "10112,AL,00,ALABAMA,0.957,1,0.87,0.57\n,,,,,,,\n***footnote,,,,,,,\n"
    )
    frame = gpci.load(SourceFile("gpci", "GPCI2026.csv", "GPCI2026.csv", text.encode()))
    assert [str(v) for v in frame.row(0)[4:]] == ["1.000", "0.870", "0.570"]


def test_locco_zero_padding_and_state_carry(cms_dir):
    frame = locco.load(src("locco", cms_dir / "2025/25LOCCO.csv"))
    ak = frame.filter(frame["carrier"] == "02102").row(0, named=True)
    assert (ak["locality"], ak["state"], ak["fee_schedule_area"]) == ("01", "ALASKA", "STATEWIDE")
    marin = frame.filter(frame["counties"] == "MARIN").row(0, named=True)
    assert (marin["carrier"], marin["locality"], marin["state"]) == ("01112", "52", "CALIFORNIA")


def test_anes_trailing_spaces_and_national_cf(cms_dir):
    source = src("anes", cms_dir / "2025/ANES2025.csv")
    frame = anes.load(source)
    assert frame.height == 109
    assert frame.filter(frame["carrier"] == "02102").select("locality", "anesthesia_cf").rows()[0][0] == "01"
    assert str(anes.national_cf(source)) == "20.3178"


def test_zip5_fixed_width(cms_dir):
    frame = zipcodes.load_zip5(src("zip5", cms_dir / "2025/ZIP5_OCT2025.txt"))
    assert frame.height == 42956 and int(frame["plus_four_flag"].sum()) == 580
    ny = frame.filter(frame["zip5"] == "10001").row(0, named=True)
    assert (ny["state"], ny["carrier"], ny["locality"], ny["year_quarter"]) == ("NY", "13202", "01", "20254")


def test_zip9_fixed_width_layout():
    rec = ("CA902650118217      11234      A").ljust(75) + "20252"
    frame = zipcodes.load_zip9(SourceFile("zip9", "ZIP9_APR2025.txt", "x", (rec + "\r\n").encode()))
    assert frame.rows() == [("CA", "90265", "1234", "01182", "17", "", "20252")]
    with pytest.raises(InputFileError, match="row 1, column 'plus4"):
        zipcodes.load_zip9(SourceFile("zip9", "ZIP9_APR2025.txt", "x", (rec[:21] + "12a4" + rec[25:]).encode()))


def test_zip_archive_release(cms_dir, tmp_path):
    archive = tmp_path / "rvu25d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in (cms_dir / "2025/RVU25D").iterdir():
            zf.write(p, p.name)
    files = find_release_files(archive)
    assert sorted(files) == ["oppscap", "rvu"] and infer_release(archive, files) == "D"
    assert LOADERS["rvu"](files["rvu"][0]).height == 19090


def test_not_a_release(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(InputFileError, match="not a CMS release"):
        find_release_files(bogus)


# ---------------------------------------------------------------- PRE OP / INTRA OP / POST OP (global package shares)


def _shares(frame, code):
    row = frame.filter((frame["hcpcs"] == code) & (frame["modifier"] == "")).row(0, named=True)
    return tuple(str(row[c]) for c in ("global_days", "pre_op", "intra_op", "post_op"))


@pytest.mark.parametrize(
    "path",
    [
        "2025/PPRRVU25_JAN.csv",
        "2025/PPRRVU25_JAN.txt",  # fixed width: positions 107-109, 110-112, 113-115, written ".10"
        "2025/RVU25D/PPRRVU2025_Oct.csv",
        "2026/PPRRVU2026_Jul_nonQPP.csv",
    ],
)
def test_rvu_global_package_shares(cms_dir, path):
    frame = rvu.load(src("rvu", cms_dir / path))
    assert str(frame.schema["pre_op"]) == str(frame.schema["post_op"]) == "Decimal(precision=5, scale=2)"
    assert _shares(frame, "27447") == ("090", "0.10", "0.69", "0.21")  # total knee arthroplasty
    assert _shares(frame, "66984") == ("090", "0.10", "0.70", "0.20")
    assert _shares(frame, "10060") == ("010", "0.10", "0.80", "0.10")
    assert _shares(frame, "99213") == ("XXX", "0.00", "0.00", "0.00")
    assert frame.select(["pre_op", "intra_op", "post_op"]).null_count().row(0) == (0, 0, 0)
    # every row's shares add up to the whole package (1.00) or are all zero (no global package)
    total = frame["pre_op"] + frame["intra_op"] + frame["post_op"]
    assert {str(t) for t in total.unique()} == {"0.00", "1.00"}
    assert frame.filter((total == 1) & ~frame["global_days"].is_in(["010", "090"])).height == 0


def test_bad_rvu_share_cell_names_its_column(cms_dir):
    data = (cms_dir / "2025/PPRRVU25_JAN.csv").read_bytes()
    lines = data.split(b"\r\n")
    fields = lines[30].split(b",")
    fields[16] = b"69%"  # INTRA OP of file row 31
    lines[30] = b",".join(fields)
    with pytest.raises(InputFileError) as err:
        rvu.load(src("rvu", cms_dir / "2025/PPRRVU25_JAN.csv", data=b"\r\n".join(lines)))
    assert err.value.row == 31 and err.value.column == "INTRA OP" and "'69%'" in str(err.value)
