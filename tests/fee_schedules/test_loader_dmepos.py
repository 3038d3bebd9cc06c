"""DMEPOS fee schedule, PEN fee schedule and DMEPOS rural ZIP file: CMS's files read as shipped (CSV and
XLSX give the same frame), in long format with the period each is in force, and refused whole, with the
row and the column named, when they are not what they claim.

The real files are in ../shared/cms/extra/dmepos/ (SOURCES.md §3); the expected values below are the
ones SOURCES.md lists, or read off the files. Small files written here are INVENTED (codes and amounts
made up, in CMS's layout) and say so.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from decimal import Decimal

import openpyxl
import polars as pl
import pytest

from fee_schedules.files import SourceFile
from fee_schedules.loaders import dmepos
from fee_schedules.loaders.common import Period
from pipelines.core.errors import InputFileError
from tests.conftest import shared_path

RURAL = "DME Rural ZIP Code Quarter 1, 2025"
AREAS = len(dmepos.STATES)  # 53: 48 contiguous states + DC, then AK, HI, PR, VI


def src(kind: str, path) -> SourceFile:
    return SourceFile(kind, path.name, str(path), path.read_bytes())


def fake(name: str, data: bytes, kind: str = dmepos.KIND) -> SourceFile:
    return SourceFile(kind, name, f"/x/{name}", data)


def timed(read, source):
    t0 = time.perf_counter()
    out = read(source)
    return out, time.perf_counter() - t0


def fee(frame: pl.DataFrame, hcpcs: str, mod: str, state: str, mod2: str = "") -> tuple:
    row = frame.filter(hcpcs=hcpcs, modifier=mod, modifier2=mod2, state=state)
    assert row.height == 1, (hcpcs, mod, mod2, state, row.height)
    return row["fee_nonrural"][0], row["fee_rural"][0]


def D(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# ---------------------------------------------------------------- the real files, read once per module


@pytest.fixture(scope="module")
def y2025():
    return shared_path("cms", "extra", "dmepos", "2025")


@pytest.fixture(scope="module")
def y2026():
    return shared_path("cms", "extra", "dmepos", "2026")


@pytest.fixture(scope="module")
def dme25(y2025):
    return dmepos.read(src(dmepos.KIND, y2025 / "DMEPOS_JAN.csv"))


@pytest.fixture(scope="module")
def dme25_xlsx(y2025):
    return timed(dmepos.read, src(dmepos.KIND, y2025 / "DMEPOS_JAN.xlsx"))


@pytest.fixture(scope="module")
def dme26(y2026):
    return timed(dmepos.read, src(dmepos.KIND, y2026 / "DMEPOS26_JAN.xlsx"))


@pytest.fixture(scope="module")
def pen25(y2025):
    return dmepos.read_pen(src(dmepos.PEN_KIND, y2025 / "DMEPEN_JAN.csv"))


@pytest.fixture(scope="module")
def rural25(y2025):
    return dmepos.read_rural(src(dmepos.RURAL_KIND, y2025 / f"{RURAL}.txt"))


def wide_rows(frame: pl.DataFrame) -> int:
    return frame.select("hcpcs", "modifier", "modifier2").n_unique()


def test_dmepos_2025_counts_and_columns(dme25):
    frame, period = dme25
    assert frame.columns == dmepos.COLUMNS
    assert wide_rows(frame) == 3487  # the file's rows (HCPCS, Mod, Mod2 is their key)
    assert frame.height == 3487 * AREAS
    assert frame.group_by("hcpcs", "modifier", "modifier2").len()["len"].unique().to_list() == [AREAS]
    assert frame.select("hcpcs", "modifier").n_unique() < 3487  # Mod alone does not identify a row
    assert period == Period(date(2025, 1, 1))
    assert frame["schedule"].unique().to_list() == ["dmepos"]
    assert dict(frame.schema)["fee_nonrural"] == pl.Decimal(14, 2) and dict(frame.schema)["ceiling"] == pl.Decimal(
        14, 2
    )


def test_dmepos_2026_counts_and_load_time(dme26):
    (frame, period), seconds = dme26
    assert wide_rows(frame) == 3515 and frame.height == 3515 * AREAS
    assert period == Period(date(2026, 1, 1), None, None)
    assert seconds < 10, f"DMEPOS26_JAN.xlsx took {seconds:.1f} s"


def test_published_amounts(dme25, dme26):
    f25, f26 = dme25[0], dme26[0][0]
    assert fee(f26, "E0601", "RR", "PA") == (D("50.04"), D("91.18"))
    assert fee(f26, "A7032", "NU", "PA") == (D("23.29"), D("38.07"))
    assert fee(f25, "E0601", "RR", "PA") == (D("48.72"), D("89.21"))
    assert fee(f25, "A7032", "NU", "PA") == (D("22.68"), D("37.24"))
    assert fee(f25, "K0001", "RR", "PA") == (D("25.73"), D("52.48"))


def test_areas_in_header_order_and_non_continental_have_no_rural_amount(dme25):
    frame = dme25[0]
    assert frame["state"].unique(maintain_order=True).to_list() == list(dmepos.STATES)
    assert dmepos.STATES[-4:] == ("AK", "HI", "PR", "VI") and len(dmepos.CONTIGUOUS) == 49
    far = frame.filter(pl.col("state").is_in(dmepos.NON_CONTINENTAL))
    assert far["fee_rural"].null_count() == far.height
    assert fee(frame, "E0601", "RR", "AK") == (D("91.42"), None)  # R 0.00 in the file


def test_r_column_rule_and_genuine_zero_nr(dme25):
    frame = dme25[0]
    # R 0.00: the NR amount applies statewide, fee_rural None (A4216, an OS supply not adjusted with CB data)
    assert fee(frame, "A4216", "", "AL") == (D("0.57"), None)
    # KE rows: CMS gives only a rural amount in the contiguous areas (NR 0.00 kept), an NR one in AK
    assert fee(frame, "A4636", "NU", "AL", "KE") == (D("0.00"), D("4.52"))
    assert fee(frame, "A4636", "NU", "AK", "KE") == (D("5.14"), None)
    assert frame["fee_nonrural"].null_count() == 0
    assert (frame["fee_rural"] == 0).sum() == 0
    # the whole 2025 file: 18,168 area cells with NR 0.00; 69 rows at 0.00 in every area
    zero = frame.filter(pl.col("fee_nonrural") == 0)
    assert zero.height == 18168
    all_zero = frame.group_by("hcpcs", "modifier", "modifier2").agg((pl.col("fee_nonrural") == 0).all().alias("z"))
    assert all_zero["z"].sum() == 69


def test_categories_jurisdictions_ceiling_floor(dme25, dme26):
    f25, f26 = dme25[0], dme26[0][0]
    wide = f25.unique(["hcpcs", "modifier", "modifier2"])
    assert dict(wide.group_by("category").len().iter_rows()) == {
        "IN": 1638, "PO": 997, "CR": 379, "OS": 164, "SD": 91, "LC": 70, "SC": 50,
        "SU": 38, "OX": 37, "TS": 10, "FS": 8, "IL": 3, "TE": 2,
    }  # fmt: skip
    assert set(f26["category"].unique()) == set(dmepos.CATEGORIES)  # LT (labor rates) appears in 2026
    assert dict(wide.group_by("juris").len().iter_rows()) == {"D": 3217, "L": 143, "J": 127}
    a4216 = f25.filter(hcpcs="A4216", state="AL").row(0, named=True)
    assert (a4216["juris"], a4216["category"], a4216["ceiling"], a4216["floor"]) == ("J", "OS", D("0.62"), D("0.53"))
    # CB-adjusted capped rental: no ceiling or floor (CMS fills 0.00, kept as shipped)
    e0601 = f25.filter(hcpcs="E0601", modifier="RR", state="PA").row(0, named=True)
    assert (e0601["category"], e0601["ceiling"], e0601["floor"]) == ("CR", D("0.00"), D("0.00"))
    assert f25["ceiling"].null_count() == 0


def test_csv_and_xlsx_give_the_same_frame(dme25, dme25_xlsx, y2025, pen25):
    (frame, period), seconds = dme25_xlsx
    assert frame.equals(dme25[0]) and period == dme25[1]
    assert seconds < 10
    pen_xlsx = dmepos.read_pen(src(dmepos.PEN_KIND, y2025 / "DMEPEN_JAN.xlsx"))
    assert pen_xlsx[0].equals(pen25[0]) and pen_xlsx[1] == pen25[1]


def test_pen_2025_and_2026(pen25, y2026):
    frame, period = pen25
    assert frame.columns == dmepos.COLUMNS
    assert wide_rows(frame) == 50 and frame.height == 50 * AREAS and period == Period(date(2025, 1, 1))
    assert frame["schedule"].unique().to_list() == ["pen"]
    assert (
        frame.select(pl.col("juris", "category", "ceiling", "floor").null_count().sum()).row(0) == (frame.height,) * 4
    )
    assert fee(frame, "B4034", "", "AL") == (D("3.84"), D("6.03"))  # enteral: statewide, with a rural amount
    assert fee(frame, "B4164", "", "AL") == fee(frame, "B4164", "", "VI") == (D("24.66"), None)  # parenteral: national
    assert fee(frame, "E0776", "NU", "AL", "KE") == (D("0.00"), D("109.84"))
    assert fee(frame, "E0776", "NU", "AK", "KE") == (D("110.28"), None)
    f26, p26 = dmepos.read_pen(src(dmepos.PEN_KIND, y2026 / "DMEPEN26_JAN.xlsx"))
    assert (
        wide_rows(f26) == 50
        and p26 == Period(date(2026, 1, 1))
        and fee(f26, "B4034", "", "AL") == (D("3.94"), D("6.16"))
    )


def test_rural_zip_2025_q1(rural25, y2025):
    frame, period = rural25
    assert frame.columns == ["state", "zip5", "year_quarter"]
    assert frame.height == 15913 and frame["zip5"].n_unique() == 15913
    assert frame["year_quarter"].unique().to_list() == ["202501"]
    assert frame.row(0) == ("MA", "01223", "202501") and frame.row(-1) == ("WA", "99371", "202501")
    assert frame.filter(state="TX").height == 828 and frame["state"].n_unique() == 46
    assert period == Period(date(2025, 1, 1))
    xlsx, xperiod = dmepos.read_rural(src(dmepos.RURAL_KIND, y2025 / f"{RURAL}.xlsx"))
    assert xlsx.equals(frame) and xperiod == period


def test_period_function(y2025, y2026):
    assert dmepos.period(src(dmepos.KIND, y2026 / "DMEPOS26_JAN.xlsx")) == Period(date(2026, 1, 1))
    assert dmepos.period(src(dmepos.PEN_KIND, y2025 / "DMEPEN_JAN.csv")) == Period(date(2025, 1, 1))
    rural = y2025 / f"{RURAL}.txt"
    assert dmepos.period(SourceFile("?", rural.name, str(rural), rural.read_bytes())) == Period(date(2025, 1, 1))


def test_name_patterns():
    assert all(dmepos.NAME_PATTERN.search(n) for n in ("DMEPOS_JAN.csv", "DMEPOS26_JAN.xlsx", "dmepos_apr.CSV"))
    assert all(dmepos.PEN_NAME_PATTERN.search(n) for n in ("DMEPEN_JAN.csv", "DMEPEN26_JAN.xlsx", "DMEPEN25_JUL.csv"))
    assert all(
        dmepos.RURAL_NAME_PATTERN.search(n) for n in (f"{RURAL}.txt", f"{RURAL}.xlsx", "DMERuralZIP_Q1_2025.txt")
    )
    others = [
        "Former CBA Fee Schedule File_JAN 2025.csv",
        "Former CBA ZIP Code File - JAN 2025.csv",
        "Former CBA National Mail-Order DTS Fee Schedule - JAN 2025.csv",
        "DMEREAD 2025.pdf",
        "DMEBACK 2025 .pdf",
        "DMEPOS_JAN.txt",  # the one-fee-per-record text variant is not read
        "CLFS 2025 Q1V1.csv",
    ]
    for name in others:
        hits = [
            p.pattern
            for p in (dmepos.NAME_PATTERN, dmepos.PEN_NAME_PATTERN, dmepos.RURAL_NAME_PATTERN)
            if p.search(name)
        ]
        assert not hits, name
    assert not dmepos.NAME_PATTERN.search("DMEPEN_JAN.csv") and not dmepos.PEN_NAME_PATTERN.search("DMEPOS_JAN.csv")


# ---------------------------------------------------------------- invented files in CMS's layout

HEADER = ["HCPCS", "Mod", "Mod2", "JURIS", "CATG", "Ceiling", "Floor"]
AREA_HEADER = [f"{s} ({k})" for s in dmepos.STATES for k in ("NR", "R")]
PREAMBLE = [
    ["Durable Medical Equipment,"],
    ["Prosthetics, Orthotics, and Supplies"],
    ["(DMEPOS)"],
    ["January 2025 Fee Schedule"],
    [],
    [],
]


def row(
    hcpcs="X0001", mod="", mod2="", juris="D", catg="IN", ceiling="10.00", floor="8.50", fees=None, desc="Invented"
):
    """An INVENTED DMEPOS row: NR 9.00 / R 0.00 in every area unless ``fees`` says otherwise."""
    fees = fees or {}
    cells = [hcpcs, mod, mod2, juris, catg, ceiling, floor]
    for s in dmepos.STATES:
        cells += list(fees.get(s, ("9.00", "0.00")))
    return [*cells, desc]


def dme_csv(*rows, header=None, preamble=None) -> bytes:
    """An INVENTED DMEPOS CSV in CMS's layout (preamble, header, rows)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in PREAMBLE if preamble is None else preamble:
        w.writerow(r)
    w.writerow(header or [*HEADER, *AREA_HEADER, "Description"])
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode("latin-1")


def load_fake(data: bytes, name="DMEPOS_JAN.csv"):
    return dmepos.read(fake(name, data))


def test_invented_file_loads():
    frame, period = load_fake(
        dme_csv(
            row(fees={"PA": ("50.00", "90.00"), "TX": ("0.00", "12.50"), "OH": ("7.25", "")}),
            row(mod2="KU", catg="CR", ceiling="0.00", floor="", fees={"PA": ("1", ".5")}),
        )
    )
    assert period == Period(date(2025, 1, 1)) and frame.height == 2 * AREAS
    assert fee(frame, "X0001", "", "PA") == (D("50.00"), D("90.00"))
    assert fee(frame, "X0001", "", "TX") == (D("0.00"), D("12.50"))
    assert fee(frame, "X0001", "", "OH") == (D("7.25"), None)  # empty R: NR statewide
    assert fee(frame, "X0001", "", "AL") == (D("9.00"), None)  # R 0.00: NR statewide
    assert fee(frame, "X0001", "", "PA", "KU") == (D("1.00"), D("0.50"))
    ku = frame.filter(modifier2="KU").row(0, named=True)
    assert (ku["ceiling"], ku["floor"], ku["category"]) == (D("0.00"), None, "CR")


def test_truncated_real_csv_names_the_last_row(y2025):
    data = (y2025 / "DMEPOS_JAN.csv").read_bytes()
    cut = data[: data.rindex(b"\n", 0, len(data) - 1) + 1 + 300]  # the last row (file row 3494) cut in its fees
    with pytest.raises(InputFileError) as err:
        load_fake(cut)
    assert err.value.row == 3494 and "row ends early" in str(err.value) and "truncated" in str(err.value)
    assert err.value.column.endswith("(NR)") or err.value.column.endswith("(R)")
    assert "114 cells" in str(err.value)


def test_truncated_real_xlsx_is_refused(y2025):
    data = (y2025 / "DMEPOS_JAN.xlsx").read_bytes()
    with pytest.raises(InputFileError, match="not a readable XLSX workbook"):
        load_fake(data[: len(data) // 2], "DMEPOS_JAN.xlsx")


def test_another_schedules_file_is_refused(y2025):
    clfs = shared_path("cms", "extra", "clfs", "2025", "CLFS 2025 Q1V1.csv")
    with pytest.raises(InputFileError, match="header row not found") as err:
        dmepos.read(SourceFile(dmepos.KIND, clfs.name, str(clfs), clfs.read_bytes()))
    assert "HCPCS, Mod, Mod2, JURIS, CATG, Ceiling, Floor" in str(err.value)
    pen = y2025 / "DMEPEN_JAN.csv"
    with pytest.raises(InputFileError) as err:
        dmepos.read(src(dmepos.KIND, pen))  # the PEN file read as DMEPOS
    assert err.value.row == 5 and err.value.column == "JURIS" and "header column missing" in str(err.value)
    with pytest.raises(InputFileError) as err:
        dmepos.read_pen(src(dmepos.PEN_KIND, y2025 / "DMEPOS_JAN.csv"))  # and the other way round
    assert err.value.row == 7 and err.value.column == "JURIS" and "unexpected header column" in str(err.value)
    assert "DMEPEN_JAN.csv" in str(err.value)


def test_missing_ceiling_column():
    header = [h for h in [*HEADER, *AREA_HEADER, "Description"] if h != "Ceiling"]
    rows = [[c for i, c in enumerate(row()) if i != 5]]
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(*rows, header=header))
    assert (err.value.row, err.value.column) == (7, "Ceiling") and "header column missing" in str(err.value)


def test_broken_state_pair():
    header = [h for h in [*HEADER, *AREA_HEADER, "Description"] if h != "AL (R)"]
    rows = [[c for i, c in enumerate(row()) if i != 8]]
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(*rows, header=header))
    assert (err.value.row, err.value.column) == (7, "AL (NR)") and "'AL (R)' beside 'AL (NR)'" in str(err.value)


def test_missing_area_and_unknown_column():
    header = [h for h in [*HEADER, *AREA_HEADER, "Description"] if not h.startswith("WV ")]
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(header=header))
    assert err.value.column == "WV (NR)" and "header column missing" in str(err.value)
    header = [*HEADER, *AREA_HEADER, "Notes", "Description"]
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(header=header))
    assert err.value.column == "Notes" and "unexpected header column" in str(err.value)


def test_no_fee_schedule_line():
    preamble = [r for r in PREAMBLE if r != ["January 2025 Fee Schedule"]]
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(), preamble=preamble))
    assert "cannot tell from which month" in str(err.value) and "'January 2025 Fee Schedule'" in str(err.value)
    # the month and year are read off that line: April 2025 -> 2025-04-01
    preamble = [["April 2025 Fee Schedule"] if r == ["January 2025 Fee Schedule"] else r for r in PREAMBLE]
    assert load_fake(dme_csv(row(), preamble=preamble))[1] == Period(date(2025, 4, 1))


def test_empty_files():
    for data in (b"", b"\r\n", b",,,\r\n,,,\r\n"):
        with pytest.raises(InputFileError, match="the file is empty"):
            load_fake(data)
    with pytest.raises(InputFileError, match="no fee rows below the header") as err:
        load_fake(dme_csv())
    assert err.value.row == 7


def test_bad_amount_names_the_area_column():
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(), row(hcpcs="X0002", fees={"PA": ("12.345", "0.00")})))
    assert (err.value.row, err.value.column) == (9, "PA (NR)") and "'12.345'" in str(err.value)
    assert "an amount with at most 2 decimals" in str(err.value)
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(fees={"TX": ("1.00", "n/a")})))
    assert (err.value.row, err.value.column) == (8, "TX (R)") and "'n/a'" in str(err.value)
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(fees={"VI": ("", "0.00")})))  # an NR amount is always given
    assert (err.value.row, err.value.column) == (8, "VI (NR)")


def test_bad_fixed_columns():
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(), row(hcpcs="X0002", juris="X")))
    assert (err.value.row, err.value.column) == (9, "JURIS") and "'X'" in str(err.value)
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(hcpcs="X001")))
    assert (err.value.row, err.value.column) == (8, "HCPCS")
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(ceiling="1,234.00")))
    assert (err.value.row, err.value.column) == (8, "Ceiling")


def test_duplicate_key_is_refused_and_mod2_tells_rows_apart():
    load_fake(dme_csv(row(mod="NU"), row(mod="NU", mod2="KU"), row(mod="NU", mod2="KE")))
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(mod="NU"), row(mod="RR"), row(mod="NU")))
    assert "one_row_per_code_modifiers_state" in str(err.value) and err.value.row in (8, 10)


def test_row_longer_than_header_is_refused():
    with pytest.raises(InputFileError) as err:
        load_fake(dme_csv(row(), [*row(hcpcs="X0002"), "stray"]))
    assert err.value.row == 9 and "more cells than the header" in str(err.value)


def test_invented_xlsx_numbers_read_like_csv():
    """An INVENTED workbook storing amounts as numbers (0 for 0.00), as CMS's sheets do."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in PREAMBLE:
        ws.append(r)
    ws.append([*HEADER, *AREA_HEADER, "Description"])
    values = {"PA": (48.72, 89.21), "AL": (0, 4.5)}
    ws.append([(float(c) if c not in ("", "X0001", "D", "IN", "Invented") else c) for c in row()][:7]
              + [v for s in dmepos.STATES for v in values.get(s, (9, 0))] + ["Invented"])  # fmt: skip
    buf = io.BytesIO()
    wb.save(buf)
    frame, _ = load_fake(buf.getvalue(), "DMEPOS_JAN.xlsx")
    assert fee(frame, "X0001", "", "PA") == (D("48.72"), D("89.21"))
    assert fee(frame, "X0001", "", "AL") == (D("0.00"), D("4.50"))
    assert fee(frame, "X0001", "", "AK") == (D("9.00"), None)
    assert frame.equals(load_fake(dme_csv(row(fees={"PA": ("48.72", "89.21"), "AL": ("0.00", "4.50")})))[0])


# ---------------------------------------------------------------- invented rural ZIP files


def rural_txt(*lines: str) -> bytes:
    """An INVENTED rural ZIP file in CMS's tab-delimited layout."""
    return "".join(f"{line}\n" for line in ("STATE\tDMEPOS RURAL ZIP CODE\tYEAR/QTR", *lines)).encode("ascii")


def load_rural(data: bytes, name=f"{RURAL}.txt"):
    return dmepos.read_rural(fake(name, data, dmepos.RURAL_KIND))


def test_rural_invented_and_period():
    frame, period = load_rural(rural_txt("PA\t15001\t202503", "TX\t79001\t202503"))
    assert frame.rows() == [("PA", "15001", "202503"), ("TX", "79001", "202503")]
    assert period == Period(date(2025, 7, 1))


def test_rural_bad_files():
    with pytest.raises(InputFileError) as err:
        load_rural(rural_txt("PA\t15001\t202501", "PA\t1500\t202501"))
    assert (err.value.row, err.value.column) == (3, "DMEPOS RURAL ZIP CODE") and "'1500'" in str(err.value)
    with pytest.raises(InputFileError, match="one_quarter_per_file"):
        load_rural(rural_txt("PA\t15001\t202501", "PA\t15002\t202502"))
    with pytest.raises(InputFileError, match="one_row_per_zip"):
        load_rural(rural_txt("PA\t15001\t202501", "OH\t15001\t202501"))
    with pytest.raises(InputFileError) as err:
        load_rural(rural_txt("PA\t15001\t2025Q1"))
    assert err.value.column == "YEAR/QTR"
    with pytest.raises(InputFileError, match="the file is empty"):
        load_rural(b"")
    with pytest.raises(InputFileError, match="no ZIP codes below the header"):
        load_rural(rural_txt())
    with pytest.raises(InputFileError) as err:
        load_rural(b"STATE\tDMEPOS RURAL ZIP CODE\nPA\t15001\n")
    assert err.value.column == "YEAR/QTR" and "header column missing" in str(err.value)
    with pytest.raises(InputFileError, match="header row not found"):
        load_rural(b"HCPCS\tMOD\nA0001\t\n")


def test_rural_truncated_real_bytes(y2025):
    data = (y2025 / f"{RURAL}.txt").read_bytes()
    with pytest.raises(InputFileError) as err:
        load_rural(data[:-3])  # the last line "WA\t99371\t202501\n" cut to "WA\t99371\t2025"
    assert (err.value.row, err.value.column) == (15914, "YEAR/QTR") and "'2025'" in str(err.value)


def test_rural_xlsx_zip_stored_as_number():
    """An INVENTED re-saved sheet holding ZIP 01223 as the number 1223."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (["STATE", "DMEPOS RURAL ZIP CODE", "YEAR/QTR"], ["MA", 1223, 202501], ["PA", "15001", 202501]):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    frame, _ = load_rural(buf.getvalue(), f"{RURAL}.xlsx")
    assert frame.rows() == [("MA", "01223", "202501"), ("PA", "15001", "202501")]
