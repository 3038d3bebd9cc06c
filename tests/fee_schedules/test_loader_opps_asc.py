"""OPPS Addendum B and ASC addenda AA/BB read as CMS ships them, and refused whole when they are not.

The real files are in ../shared/cms/extra/opps_addendum_b/ and asc/2025/ (SOURCES.md §4); they are read
where they are, never copied. The expected values are the ones SOURCES.md lists, plus counts found in
the files themselves. Small files written here are INVENTED (codes, weights and rates made up, in CMS's
layout) and say so.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import polars as pl
import pytest

from fee_schedules.files import SourceFile
from fee_schedules.loaders import asc, opps
from fee_schedules.loaders.common import Period
from pipelines.core.errors import InputFileError
from tests.conftest import shared_path

JAN24 = "2024/Section 508 version of January_Web_2024_Addendum_B.04.24.24.csv"
JAN25 = "2025/Section 508 version of January 2025 Web Addendum B.12.31.24.csv"
JUL25_FIRST = "2025/Section 508 version of July 2025 Web Addendum B.06.26.25.csv"
JUL25 = "2025/Section 508 of July 2025 Web Addendum B.07.25.25.csv"  # corrected 07/25/25
OCT25 = "2025/508 version of October 2025 Web Addendum B.10.31.25.csv"
AA = "508-Version-Jan-2025-ASC-AA.csv"
BB = "508-Version-Jan-2025-ASC-BB.csv"
CLFS = ("clfs", "2025", "CLFS 2025 Q1V1.csv")

OPPS_COLUMNS = {
    "hcpcs": pl.String,
    "status_indicator": pl.String,
    "apc": pl.String,
    "relative_weight": pl.Decimal(12, 4),
    "payment_rate": pl.Decimal(14, 3),  # drug rates have 3 places ($130.664): kept, not rounded
    "national_copay": pl.Decimal(14, 2),
    "minimum_copay": pl.Decimal(14, 2),
}
# (file, data rows, effective_from, issued): the rows counted in each file (one per HCPCS code)
OPPS_FILES = [
    (JAN24, 18109, date(2024, 1, 1), date(2024, 4, 24)),
    (JAN25, 18562, date(2025, 1, 1), date(2024, 12, 31)),
    (JUL25_FIRST, 18704, date(2025, 7, 1), date(2025, 6, 26)),
    (JUL25, 18704, date(2025, 7, 1), date(2025, 7, 25)),
    (OCT25, 18798, date(2025, 10, 1), date(2025, 10, 31)),
]
CF_ASC_2025 = Decimal("54.895")
CENT = Decimal("0.01")


def source(path, kind="x") -> SourceFile:
    return SourceFile(kind, path.name, str(path), path.read_bytes())


def invented(name: str, data: bytes) -> SourceFile:
    return SourceFile("x", name, f"/x/{name}", data)


@pytest.fixture(scope="module")
def opps_dir():
    return shared_path("cms", "extra", "opps_addendum_b")


@pytest.fixture(scope="module")
def asc_dir():
    return shared_path("cms", "extra", "asc", "2025")


@pytest.fixture(scope="module")
def addendum_b(opps_dir):
    """Every Addendum B file read once: {file: (frame, period)}."""
    return {f: opps.read(source(opps_dir / f)) for f, *_ in OPPS_FILES}


@pytest.fixture(scope="module")
def aa(asc_dir):
    return asc.read_aa(source(asc_dir / AA))


@pytest.fixture(scope="module")
def bb(asc_dir):
    return asc.read_bb(source(asc_dir / BB))


def rows_by_code(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["hcpcs"]: r for r in frame.iter_rows(named=True)}


# ---------------------------------------------------------------- Addendum B, the real files


@pytest.mark.parametrize(("name", "height", "start", "issued"), OPPS_FILES, ids=lambda v: str(v)[:30])
def test_every_addendum_b_loads(addendum_b, name, height, start, issued):
    frame, period = addendum_b[name]
    assert dict(frame.schema) == OPPS_COLUMNS  # exactly these columns: no descriptor (AMA text)
    assert frame.height == height
    assert frame["hcpcs"].n_unique() == height  # one row per HCPCS code
    assert frame["hcpcs"].str.contains(r"^[0-9A-Z]{5}$").all()  # no stray byte, no padding left
    assert period == Period(start, None, issued)


def test_jan_2025_spot_values(addendum_b):
    by = rows_by_code(addendum_b[JAN25][0])
    g = by["G0463"]
    assert (g["status_indicator"], g["apc"], g["relative_weight"], g["payment_rate"]) == (
        "J2",
        "5012",
        Decimal("1.4452"),
        Decimal("128.87"),
    )
    assert g["minimum_copay"] == Decimal("25.78") and g["national_copay"] is None  # '.' in the file
    assert (g["relative_weight"] * Decimal("89.169")).quantize(CENT, ROUND_HALF_UP) == g["payment_rate"]  # OPPS CF 2025
    assert by["96413"]["payment_rate"] == Decimal("331.69")
    assert by["74177"]["payment_rate"] == Decimal("357.13")
    venipuncture = by["36415"]
    assert venipuncture["status_indicator"] == "Q4" and venipuncture["apc"] == ""
    assert venipuncture["payment_rate"] is None and venipuncture["relative_weight"] is None
    assert by["69930"]["national_copay"] == Decimal("6942.79")  # one of the few rows with a national copayment


def test_jan_2024_spot_values(addendum_b):
    g = rows_by_code(addendum_b[JAN24][0])["G0463"]
    assert (g["status_indicator"], g["apc"], g["payment_rate"]) == ("J2", "5012", Decimal("125.95"))
    assert (g["relative_weight"] * Decimal("87.382")).quantize(CENT, ROUND_HALF_UP) == Decimal("125.95")


def test_status_indicators(addendum_b):
    si_2025 = {"A", "B", "C", "E1", "E2", "F", "G", "H", "H1", "J1", "J2", "K", "K1", "L", "M", "N", "P"}
    si_2025 |= {"Q1", "Q2", "Q3", "Q4", "R", "S", "T", "U", "V", "Y"}
    for name in (JAN25, JUL25_FIRST, JUL25, OCT25):
        assert set(addendum_b[name][0]["status_indicator"]) == si_2025
    assert set(addendum_b[JAN24][0]["status_indicator"]) == si_2025 - {"H1", "K1"}  # H1/K1 are new in 2025
    # every row with a payment rate has a minimum copayment; Q4 (lab, paid on the CLFS) never has a rate
    for frame, _ in addendum_b.values():
        assert frame.filter(pl.col("payment_rate").is_not_null() & pl.col("minimum_copay").is_null()).height == 0
        assert frame.filter((pl.col("status_indicator") == "Q4") & pl.col("payment_rate").is_not_null()).height == 0


def test_stray_bytes_after_the_code(opps_dir, addendum_b):
    """A4341 (and G0465 in 2024) are followed by a stray byte in CMS's file; the row still loads."""
    for name in (JAN25, JUL25_FIRST, JUL25, OCT25):
        assert b"\r\nA4341\xff," in (opps_dir / name).read_bytes()
        assert rows_by_code(addendum_b[name][0])["A4341"]["status_indicator"] == "N"
    raw_2024 = (opps_dir / JAN24).read_bytes()
    assert b"\r\nA4341\xef\xbf\xbd," in raw_2024 and b"\r\nG0465\xef\xbf\xbd," in raw_2024
    g0465 = rows_by_code(addendum_b[JAN24][0])["G0465"]
    assert (g0465["status_indicator"], g0465["apc"], g0465["payment_rate"]) == ("T", "5054", Decimal("1737.53"))
    assert rows_by_code(addendum_b[JAN24][0])["A4341"]["status_indicator"] == "N"


def test_three_decimal_rates_are_kept(addendum_b):
    jul = rows_by_code(addendum_b[JUL25][0])
    assert jul["90371"]["payment_rate"] == Decimal("130.664")  # SI K, ASP-based
    assert jul["J1411"]["payment_rate"] == Decimal("3685266.667")
    assert rows_by_code(addendum_b[OCT25][0])["0071T"]["payment_rate"] == Decimal("3179.53")  # '$3,179.530'
    rates = addendum_b[JUL25][0]["payment_rate"].drop_nulls().to_list()
    # CMS writes 628 Jul 2025 rates with 3 places; 497 of them have a third digit other than 0: all kept
    assert sum(r != r.quantize(CENT) for r in rates) == 497


def test_july_2025_correction_differs_in_five_rows(addendum_b):
    first, corrected = addendum_b[JUL25_FIRST][0], addendum_b[JUL25][0]
    assert set(first["hcpcs"]) == set(corrected["hcpcs"])
    changed = first.join(corrected, on="hcpcs", suffix="_new").filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_new")) for c in list(OPPS_COLUMNS)[1:])
    )
    assert sorted(changed["hcpcs"]) == ["A9596", "A9697", "C9089", "J2724", "Q5146"]
    by = {r["hcpcs"]: r for r in changed.iter_rows(named=True)}
    assert (by["A9697"]["payment_rate"], by["A9697"]["payment_rate_new"]) == (Decimal("11379.909"), Decimal("1137.991"))
    assert (by["J2724"]["payment_rate"], by["J2724"]["payment_rate_new"]) == (Decimal("1.503"), Decimal("15.031"))
    q = by["Q5146"]
    assert (q["status_indicator"], q["apc"], q["payment_rate"]) == ("E2", "", None)
    assert (q["status_indicator_new"], q["apc_new"], q["payment_rate_new"]) == ("K", "0865", Decimal("76.181"))


def test_issued_orders_the_releases(addendum_b):
    periods = {name: period for name, (_, period) in addendum_b.items()}
    order = sorted(periods, key=lambda n: (periods[n].effective_from, periods[n].issued))
    assert order == [JAN24, JAN25, JUL25_FIRST, JUL25, OCT25]
    assert periods[JUL25].issued > periods[JUL25_FIRST].issued  # the correction replaces the first release
    assert periods[JAN25].issued < periods[JAN25].effective_from  # issued before the quarter starts
    assert all(p.effective_through is None for p in periods.values())  # CMS states no end date


# ---------------------------------------------------------------- ASC AA and BB, the real files


def test_asc_aa(aa):
    frame, period = aa
    assert dict(frame.schema) == {
        "hcpcs": pl.String,
        "payment_indicator": pl.String,
        "multiple_procedure_discount": pl.Boolean,
        "payment_weight": pl.Decimal(12, 4),
        "payment_rate": pl.Decimal(14, 2),
    }
    assert frame.height == 4183 and frame["hcpcs"].n_unique() == 4183
    assert period == Period(date(2025, 1, 1), None, None)
    counts = dict(frame["payment_indicator"].value_counts().iter_rows())
    assert counts == {"A2": 2018, "G2": 631, "J8": 516, "N1": 443, "P3": 406, "P2": 67, "R2": 57, "D2": 45}
    assert dict(frame["multiple_procedure_discount"].value_counts().iter_rows()) == {True: 3601, False: 582}
    by = rows_by_code(frame)
    assert (by["66984"]["payment_indicator"], by["66984"]["payment_weight"], by["66984"]["payment_rate"]) == (
        "A2",
        Decimal("22.1206"),
        Decimal("1214.31"),
    )
    assert by["45378"]["payment_rate"] == Decimal("489.47") and by["43239"]["payment_rate"] == Decimal("503.39")
    assert by["66984"]["multiple_procedure_discount"] is True and by["0214T"]["multiple_procedure_discount"] is False
    # N1 (packaged) has neither weight nor rate; P3 (office-based, MPFS rate) a rate without a weight
    assert frame.filter((pl.col("payment_indicator") == "N1") & pl.col("payment_rate").is_not_null()).height == 0
    p3 = frame.filter(pl.col("payment_indicator") == "P3")
    assert p3["payment_weight"].null_count() == p3.height == 406 and p3["payment_rate"].null_count() == 0


def reproduced(frame: pl.DataFrame) -> tuple[int, list[str]]:
    """How many rows with a weight and a rate have rate = weight x CF 54.895 rounded half up; the others."""
    both = frame.filter(pl.col("payment_weight").is_not_null() & pl.col("payment_rate").is_not_null())
    wrong = [
        code
        for code, w, rate in both.select("hcpcs", "payment_weight", "payment_rate").iter_rows()
        if (w * CF_ASC_2025).quantize(CENT, ROUND_HALF_UP) != rate
    ]
    return both.height, wrong


def test_asc_rates_are_weight_times_cf(aa, bb):
    assert reproduced(aa[0]) == (3334, [])  # every AA row with a weight and a rate: 3,334 of 3,334
    assert reproduced(bb[0]) == (316, [])  # BB: the 316 Z2 rows


def test_asc_bb(bb, asc_dir):
    frame, period = bb
    assert dict(frame.schema) == {
        "hcpcs": pl.String,
        "payment_indicator": pl.String,
        "payment_weight": pl.Decimal(12, 4),
        "payment_rate": pl.Decimal(14, 2),
    }
    assert period == Period(date(2025, 1, 1), None, None)
    # 2,458 data lines; 90684, A2027, A2028 and A2029 are each repeated identically: read once
    raw = (asc_dir / BB).read_bytes()
    assert raw.count(b"\r\nA2027,,Matriderm per sq cm,,N1,,,\r\n") == 1 and raw.count(b"\r\nA2027,") == 2
    assert frame.height == 2454 and frame["hcpcs"].n_unique() == 2454
    counts = dict(frame["payment_indicator"].value_counts().iter_rows())
    assert counts == {
        "N1": 1183,
        "K2": 579,
        "Z2": 316,
        "K5": 140,
        "D1": 77,
        "Z3": 72,
        "L1": 37,
        "H2": 17,
        "J7": 15,
        "F4": 8,
        "K7": 5,
        "L6": 5,
    }
    by = rows_by_code(frame)
    assert (by["0331T"]["payment_indicator"], by["0331T"]["payment_weight"], by["0331T"]["payment_rate"]) == (
        "Z2",
        Decimal("12.983"),
        Decimal("712.70"),
    )
    assert by["90684"]["payment_indicator"] == "L1" and by["90684"]["payment_rate"] is None


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Section 508 version of January 2025 Web Addendum B.12.31.24.csv", "opps"),
        ("Section 508 of July 2025 Web Addendum B.07.25.25.csv", "opps"),
        ("508 version of October 2025 Web Addendum B.10.31.25.csv", "opps"),
        ("January_Web_2024_Addendum_B.04.24.24.csv", "opps"),
        ("SECTION 508 VERSION OF JANUARY 2025 WEB ADDENDUM B.12.31.24.CSV", "opps"),
        ("January 2025 Web Addendum B.12.31.24.xlsx", "opps"),
        ("508-Version-Jan-2025-ASC-AA.csv", "asc_aa"),
        ("508-Version-Jan-2025-ASC-BB.csv", "asc_bb"),
        ("Jan 2025 ASC Addendum AA.xlsx", "asc_aa"),
        ("Jan_2025_ASC_Addendum_BB.csv", "asc_bb"),
        ("508-Version-Jan-2025-ASC-DD1.csv", None),
        ("508-Version-Jan-2025-ASC-DD2.csv", None),
        ("508-Version-Jan-2025-ASC-EE.csv", None),
        ("508-Version-Jan-2025-ASC-FF.csv", None),
        ("January 2025 Web Addendum A.12.31.24.csv", None),
        ("CLFS 2025 Q1V1.csv", None),
        ("section 508 version of Jan 2025 ASP Pricing File 121924.csv", None),
        ("January 2025 Web Addendum B.12.31.24.pdf", None),
    ],
)
def test_name_patterns(name, kind):
    hits = [
        k
        for k, p in (("opps", opps.NAME_PATTERN), ("asc_aa", asc.AA_NAME_PATTERN), ("asc_bb", asc.BB_NAME_PATTERN))
        if p.search(name)
    ]
    assert hits == ([kind] if kind else [])
    assert (opps.KIND, asc.AA_KIND, asc.BB_KIND) == ("opps", "asc_aa", "asc_bb")


def test_real_file_names_match_their_pattern(opps_dir, asc_dir):
    assert all(opps.NAME_PATTERN.search(f) for f, *_ in OPPS_FILES)
    names = sorted(p.name for p in asc_dir.iterdir())
    assert [n for n in names if asc.AA_NAME_PATTERN.search(n)] == [AA]
    assert [n for n in names if asc.BB_NAME_PATTERN.search(n)] == [BB]
    assert not any(opps.NAME_PATTERN.search(n) for n in names)


# ---------------------------------------------------------------- bad input: refused whole, row and column named

OPPS_HEADER = (
    "HCPCS Code,Short Descriptor,SI,APC,Relative Weight,Payment Rate,National Unadjusted Copayment,"
    "Minimum Unadjusted Copayment,IRA Coinsurance percentage,Adjusted Beneficiary Copayment,"
    "Drug and Device Pass-Through Expiration during Calendar Year,Note,* Indicates a Change"
)
OPPS_NAME = "January 2025 Web Addendum B.12.31.24.csv"


def opps_file(*rows: str, header: str = OPPS_HEADER, cy: str = "2025") -> bytes:
    """An INVENTED Addendum B in CMS's layout: title, notice, blank, header (line 4), rows; CRLF."""
    lines = [f",Addendum B.-- OPPS Payment by HCPCS Code for CY {cy},,,,,,,,,,,", ",Invented notice,,,,,,,,,,,"]
    return "".join(f"{r}\r\n" for r in (*lines, ",,,,,,,,,,,,", header, *rows)).encode("latin-1")


def orow(code="99991", si="T", apc="5012", w="1.2345", rate="$110.08", nat=".", mn="$22.02") -> str:
    """An INVENTED Addendum B row (13 cells)."""
    cells = [code, "Invented descriptor", si, apc, w, rate, nat, mn, "", "", "", "", ""]
    return ",".join(f'"{c}"' if "," in c else c for c in cells)


def aa_file(*rows: str, month="January 2025") -> bytes:
    """An INVENTED ASC Addendum AA in CMS's layout (header on line 4, 7 cells)."""
    head = [
        "Addendum AA -- ASC Covered Surgical Procedures for CY 2025,,,,,,",
        "Invented notice,,,,,,",
        ",,,,,,",
        f"HCPCS Code,,Short Descriptor,Subject to Multiple Procedure Discounting,{month} Payment Indicator,"
        f"{month}  Payment Weight  ,{month} Payment Rate ",
    ]
    return "".join(f"{r}\r\n" for r in (*head, *rows, ",,,,,,", "NOTE 1: invented footnote,,,,,,")).encode()


def arow(code="99991", mpd="Y", pi="A2", w="2.0000", rate="$109.79") -> str:
    """An INVENTED AA row (7 cells)."""
    rate = f'"{rate}"' if "," in rate else rate
    return f"{code},,Invented descriptor,{mpd},{pi},{w},{rate}"


def test_invented_files_load():
    frame, period = opps.read(invented(OPPS_NAME, opps_file(orow(), orow("99992", "N", "", "", "", "", ""))))
    assert frame.rows() == [
        ("99991", "T", "5012", Decimal("1.2345"), Decimal("110.08"), None, Decimal("22.02")),
        ("99992", "N", "", None, None, None, None),
    ]
    assert period == Period(date(2025, 1, 1), None, date(2024, 12, 31))
    frame, period = asc.read_aa(invented("Jan-2025-ASC-AA.csv", aa_file(arow(), arow("99992", "N", "N1", "", ""))))
    assert frame.rows() == [
        ("99991", "A2", True, Decimal("2.0000"), Decimal("109.79")),
        ("99992", "N1", False, None, None),
    ]
    assert period.effective_from == date(2025, 1, 1)


def test_xlsx_variant_loads():
    """The .xlsx CMS ships beside the 508 .csv (INVENTED rows): numbers as numbers, no '$'."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (
        [None, "Addendum B.-- OPPS Payment by HCPCS Code for CY 2025"],
        [],
        OPPS_HEADER.split(","),
        ["99991", "Invented descriptor", "T", "5012", 1.2345, 110.08, None, 22.02],
        ["99992", "Invented descriptor", "K", "0846", None, 41.486, None, 8.3],
    ):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    frame, period = opps.read(invented("January 2025 Web Addendum B.12.31.24.xlsx", buf.getvalue()))
    assert frame["payment_rate"].to_list() == [Decimal("110.08"), Decimal("41.486")]
    assert frame["minimum_copay"].to_list() == [Decimal("22.02"), Decimal("8.30")]
    assert period.effective_from == date(2025, 1, 1)


@pytest.mark.parametrize("data", [b"", b"\r\n", b" \r\n\r\n"])
def test_empty_file(data):
    with pytest.raises(InputFileError, match=r"^/x/.*: empty file; expected the Addendum B header"):
        opps.read(invented(OPPS_NAME, data))
    with pytest.raises(InputFileError, match=r"empty file; expected the Addendum AA header"):
        asc.read_aa(invented(AA, data))


def test_another_schedule_is_refused(opps_dir, asc_dir):
    clfs = shared_path("cms", "extra", *CLFS)
    for read, what in ((opps.read, "Addendum B"), (asc.read_aa, "Addendum AA"), (asc.read_bb, "Addendum BB")):
        with pytest.raises(
            InputFileError, match=f"header row not found; expected the {what} header 'HCPCS Code,"
        ) as err:
            read(source(clfs))
        assert err.value.path == str(clfs)
    for name in (AA, BB, "508-Version-Jan-2025-ASC-FF.csv"):  # an ASC addendum given as Addendum B
        with pytest.raises(InputFileError, match="header row not found; expected the Addendum B header"):
            opps.read(source(asc_dir / name))
    with pytest.raises(InputFileError, match="header row not found; expected the Addendum AA header"):
        asc.read_aa(source(opps_dir / JAN25))
    with pytest.raises(InputFileError, match=r"row 1: this is ASC Addendum BB, not Addendum AA"):
        asc.read_aa(source(asc_dir / BB))
    with pytest.raises(InputFileError, match=r"row 1: this is ASC Addendum AA, not Addendum BB"):
        asc.read_bb(source(asc_dir / AA))
    with pytest.raises(InputFileError, match=r"row 1: this is ASC Addendum FF, not Addendum AA"):
        asc.read_aa(source(asc_dir / "508-Version-Jan-2025-ASC-FF.csv"))
    # AA without its title (INVENTED rows): its discounting column still says it is not BB
    untitled = b"\r\n".join(aa_file(arow()).split(b"\r\n")[3:])
    with pytest.raises(InputFileError, match=r"row 1, column 'Subject to .*: this is ASC Addendum AA"):
        asc.read_bb(invented(BB, untitled))


def test_missing_column_names_it(opps_dir, asc_dir):
    real = (opps_dir / JAN25).read_bytes()
    assert real.count(b",Payment Rate,") == 1
    with pytest.raises(InputFileError) as err:
        opps.read(invented(JAN25.split("/")[1], real.replace(b",Payment Rate,", b",Rate,")))
    assert (err.value.row, err.value.column, err.value.detail) == (5, "Payment Rate", "header column missing")
    assert "expected exactly one column headed 'Payment Rate'" in str(err.value)
    aa_real = (asc_dir / AA).read_bytes()
    with pytest.raises(InputFileError) as err:
        asc.read_aa(invented(AA, aa_real.replace(b",Subject to Multiple Procedure Discounting,", b",,")))
    assert (err.value.row, err.value.column) == (4, "Subject to Multiple Procedure Discounting")
    with pytest.raises(InputFileError) as err:
        asc.read_aa(invented(AA, aa_real.replace(b",January 2025 Payment Rate ", b",Rate")))
    assert (err.value.row, err.value.column) == (4, "January 2025 Payment Rate")


def line_of(data: bytes, marker: bytes) -> tuple[int, int]:
    """(1-based line, byte offset) of the line starting with ``marker``."""
    at = data.index(b"\n" + marker) + 1
    return data.count(b"\n", 0, at) + 1, at


def test_truncated_real_files(opps_dir, asc_dir):
    real = (opps_dir / JAN25).read_bytes()
    line, at = line_of(real, b"G0463,")
    cut = real[: at + len(b"G0463,Hospital outpt clinic visit,J2,5012,1.44")]  # mid-weight
    with pytest.raises(InputFileError) as err:
        opps.read(invented(JAN25.split("/")[1], cut))
    assert err.value.row == line and err.value.detail == "the last row ends without a line break"
    assert "found 5 cells and then the end of the file" in str(err.value) and "download it again" in str(err.value)
    aa_real = (asc_dir / AA).read_bytes()
    line, at = line_of(aa_real, b"43239,")
    cut = aa_real[: at + len(b"43239,,Egd biopsy single/multiple,Y,A2,9.17,$503.3")]  # mid-rate, the last column
    with pytest.raises(InputFileError, match="the last row ends without a line break") as err:
        asc.read_aa(invented(AA, cut))
    assert err.value.row == line
    line, at = line_of(aa_real, b"66984,")
    cut = aa_real[: at + len(b'66984,,Xcapsl ctrc rmvl w/o ecp,Y,A2,22.1206,"$1,21')]  # inside a quoted rate
    with pytest.raises(InputFileError, match=r"unreadable CSV row \(unexpected end of data\)") as err:
        asc.read_aa(invented(AA, cut))
    assert err.value.row == line


def test_row_cut_short_in_the_middle():
    data = opps_file(orow(), "99992,Invented descriptor,T,5012", orow("99993"))  # INVENTED
    with pytest.raises(InputFileError) as err:
        opps.read(invented(OPPS_NAME, data))
    assert (err.value.row, err.value.column, err.value.detail) == (6, "Relative Weight", "row cut short")
    assert "expected 13 cells, as in the header (line 4), found 4 cells" in str(err.value)
    data = aa_file(arow(), arow("99992") + ",extra")  # INVENTED: a stray comma adds a cell
    with pytest.raises(InputFileError, match="row 6: row has more cells than the header"):
        asc.read_aa(invented(AA, data))


@pytest.mark.parametrize(
    ("row", "column", "found"),
    [
        (orow(rate="$12.3456"), "Payment Rate", "'$12.3456'"),  # 4 places
        (orow(si="j2"), "SI", "'j2'"),
        (orow(apc="512"), "APC", "'512'"),
        (orow(w="1,2345"), "Relative Weight", "'1,2345'"),
        (orow(nat="n/a"), "National Unadjusted Copayment", "'n/a'"),
        (orow(mn="$22.025"), "Minimum Unadjusted Copayment", "'$22.025'"),
        (orow(code="9999"), "HCPCS Code", "'9999'"),
    ],
)
def test_bad_value_names_row_and_column(row, column, found):
    data = opps_file(orow("99990"), row)  # INVENTED
    with pytest.raises(InputFileError) as err:
        opps.read(invented(OPPS_NAME, data))
    assert (err.value.row, err.value.column, err.value.found) == (6, column, found)
    assert str(err.value).startswith(f"/x/{OPPS_NAME}, row 6, column {column!r}: unexpected value")


def test_bad_asc_value_names_row_and_column():
    with pytest.raises(InputFileError) as err:
        asc.read_aa(invented(AA, aa_file(arow(), arow("99992", mpd="X"))))  # INVENTED
    assert (err.value.row, err.value.column, err.value.found) == (6, "Subject to Multiple Procedure Discounting", "'X'")
    with pytest.raises(InputFileError) as err:
        asc.read_aa(invented(AA, aa_file(arow(rate="$109.795"))))  # INVENTED: 3 places in an ASC rate
    assert (err.value.row, err.value.column) == (5, "January 2025 Payment Rate")


def test_duplicate_codes():
    # INVENTED: the same code twice with different rates is refused ...
    with pytest.raises(InputFileError, match=r"row (5|6): check one_row_per_code failed"):
        opps.read(invented(OPPS_NAME, opps_file(orow(), orow(rate="$1.00"))))
    # ... the same row repeated identically (as BB Jan 2025 does) is read once
    frame, _ = opps.read(invented(OPPS_NAME, opps_file(orow(), orow(), orow("99992"))))
    assert frame["hcpcs"].to_list() == ["99991", "99992"]


def test_period_must_be_stated():
    with pytest.raises(InputFileError, match="cannot tell which month the rates take effect"):
        opps.read(invented("Web Addendum B.csv", opps_file(orow())))  # INVENTED
    with pytest.raises(InputFileError, match=r"row 1: the title's calendar year disagrees with the file name"):
        opps.read(invented(OPPS_NAME, opps_file(orow(), cy="2024")))  # INVENTED
    with pytest.raises(InputFileError, match="the date at the end of the file name is not a date"):
        opps.read(invented("January 2025 Web Addendum B.13.45.24.csv", opps_file(orow())))  # INVENTED
    frame, period = opps.read(invented("October 2025 Web Addendum B.csv", opps_file(orow())))  # INVENTED
    assert period == Period(date(2025, 10, 1), None, None)  # no date suffix: issued unknown
    # ASC: the month heading the rate columns and the one in the name must agree (INVENTED)
    with pytest.raises(InputFileError, match=r"row 4: the header's month disagrees with the file name") as err:
        asc.read_aa(invented("508-Version-Apr-2025-ASC-AA.csv", aa_file(arow())))
    assert "found April 2025, January 2025" in str(err.value)
    _, period = asc.read_aa(invented("ASC-AA.csv", aa_file(arow(), month="April 2025")))
    assert period.effective_from == date(2025, 4, 1)  # the header alone states it
