"""Clinical Laboratory Fee Schedule: CMS's CLFS public use file read as shipped (the .csv and the
tilde-delimited .txt), the quarter it is in force, and malformed files refused whole with the row named.

The real files are in ../shared/cms/extra/clfs/ (SOURCES.md §1), read where they lie; the expected
values below are the ones SOURCES.md lists, and the counts were taken from the files. Small files
written here are INVENTED (codes, rates and descriptions made up, in CMS's layout) and say so.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from fee_schedules.files import SourceFile
from fee_schedules.loaders import clfs
from fee_schedules.loaders.common import Period
from pipelines.core.errors import InputFileError
from tests.conftest import shared_path

Q1_2025 = ("2025", "CLFS 2025 Q1V1.csv")
Q1_2025_TXT = ("2025", "CLFS 2025 Q1V1.txt")
Q2_2025 = ("2025", "CLFS 2025 Q2V1.csv")
Q2_2026 = ("2026", "PUF_CLFS_CY2026_Q2V1.csv")
Q2_2026_TXT = ("2026", "PUF_CLFS_CY2026_Q2V1.txt")
SCHEMA = {
    "hcpcs": pl.String,
    "modifier": pl.String,
    "eff_date": pl.Date,
    "indicator": pl.String,
    "rate": pl.Decimal(14, 2),
    "year": pl.Int32,
}


def real(year: str, name: str) -> Path:
    return shared_path("cms", "extra", "clfs", year, name)


def source(name: str, data: bytes, origin: str | None = None) -> SourceFile:
    return SourceFile(clfs.KIND, name, origin or f"/x/{name}", data)


def load_real(year: str, name: str, as_name: str | None = None) -> pl.DataFrame:
    path = real(year, name)
    return clfs.load(source(as_name or name, path.read_bytes(), str(path)))


def load_bytes(data: bytes, name: str = "CLFS 2025 Q1V1.csv") -> pl.DataFrame:
    return clfs.load(source(name, data))


def rates(frame: pl.DataFrame) -> dict[tuple[str, str], Decimal]:
    return {(h, m): r for h, m, r in frame.select("hcpcs", "modifier", "rate").iter_rows()}


# INVENTED: a CLFS .csv in CMS's layout (title, three preamble lines, the header on line 5, CRLF);
# codes, rates and descriptions are made up.
PREAMBLE = (
    "2025 Clinical Diagnostic Laboratory Fee Schedule ,,,,,,,,",
    '"Invented copyright line, as in CMS\'s preamble",,,,,,,,',
    "Invented note,,,,,,,,",
    ",,,,,,,,",
)
HEADER = "YEAR,HCPCS,MOD,EFF_DATE,INDICATOR,RATE,SHORTDESC,LONGDESC,EXTENDED LONGDESC"


def row(hcpcs="80053", mod="", eff="20250101", ind="N", rate="00010.56", year="2025") -> str:
    return f'{year},{hcpcs},{mod},{eff},{ind},{rate},Invented short,"Invented, long",Invented extended'


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return "".join(f"{line}\r\n" for line in (*PREAMBLE, header, *rows)).encode("latin-1")


# INVENTED: the 2025 .txt layout (two HDR~ lines, then fixed-width tilde-delimited records, no header)
def txt_bytes(*rows: str) -> bytes:
    lines = ("HDR~Invented copyright line".ljust(97), "HDR~Invented second line".ljust(97), *rows)
    return "".join(f"{line}\r\n" for line in lines).encode("latin-1")


def refused(data: bytes, name: str = "CLFS 2025 Q1V1.csv") -> InputFileError:
    with pytest.raises(InputFileError) as err:
        load_bytes(data, name)
    assert str(err.value).startswith(f"/x/{name}")  # the message names the file
    return err.value


# ---------------------------------------------------------------- the real files


@pytest.mark.parametrize(
    "file, records, national, local, qw, year",
    [
        (Q1_2025, 2087, 2042, 45, 116, 2025),
        (Q1_2025_TXT, 2087, 2042, 45, 116, 2025),
        (Q2_2025, 2105, 2039, 66, 118, 2025),
        (Q2_2026, 2179, 2130, 49, 124, 2026),
        (Q2_2026_TXT, 2179, 2130, 49, 124, 2026),
    ],
)
def test_real_file_counts(file, records, national, local, qw, year):
    frame = load_real(*file)
    assert frame.schema == pl.Schema(SCHEMA)  # exactly these columns: no descriptors (AMA text)
    assert frame.height == records
    assert frame["indicator"].value_counts(sort=True).rows() == [("N", national), ("L", local)]
    assert frame["modifier"].value_counts(sort=True).rows() == [("", records - qw), ("QW", qw)]  # no 90/91 rows
    assert frame["year"].unique().to_list() == [year]
    assert frame.select("hcpcs", "modifier").is_unique().all()  # the key holds: (HCPCS, MOD)


@pytest.mark.parametrize(
    "file, expected",
    [
        (Q1_2025, {"80053": "10.56", "85025": "7.77", "36415": "9.09", "G0471": "11.09", "80061": "13.39"}),
        (Q1_2025, {"83036": "9.71", "84443": "16.80", "80048": "8.46", "81001": "3.17", "U0002": "51.31"}),
        (Q2_2025, {"80053": "10.56", "85025": "7.77", "36415": "9.09", "G0471": "11.09", "80061": "13.39"}),
        (Q2_2026, {"80053": "10.56", "85025": "7.77", "36415": "9.34", "G0471": "11.34", "84112": "98.11"}),
        (Q2_2026, {"81001": "3.17", "80061": "13.39"}),
    ],
)
def test_real_file_rates(file, expected):
    got = rates(load_real(*file))
    assert {code: got[(code, "")] for code in expected} == {c: Decimal(r) for c, r in expected.items()}


@pytest.mark.parametrize("file", [Q1_2025, Q2_2025, Q2_2026])
def test_qw_rows_repeat_the_base_rate_and_l_rows_are_unpriced(file):
    frame = load_real(*file)
    base = frame.filter(pl.col("modifier") == "")
    qw = frame.filter(pl.col("modifier") == "QW").join(base, on="hcpcs", how="left", suffix="_base")
    assert qw["rate_base"].null_count() == 0  # every QW code also has its unmodified row
    assert (qw["rate"] == qw["rate_base"]).all() and (qw["indicator"] == qw["indicator_base"]).all()
    assert (frame.filter(pl.col("indicator") == "L")["rate"] == 0).all()  # L: priced locally by the MAC
    assert frame.filter(pl.col("indicator") == "N")["rate"].min() == Decimal("2.17")


def test_effective_dates():
    q1, q2, y26 = (load_real(*f) for f in (Q1_2025, Q2_2025, Q2_2026))
    assert q1["eff_date"].unique().to_list() == [date(2025, 1, 1)]
    april = q2.filter(pl.col("eff_date") == date(2025, 4, 1))
    assert april.height == 22 and q2.height - april.height == q2.filter(pl.col("eff_date") == date(2025, 1, 1)).height
    assert set(april["hcpcs"]) == {f"0{n}U" for n in range(531, 552)} | {"G0567"}
    assert set(y26.filter(pl.col("eff_date") == date(2026, 4, 1))["hcpcs"]) == {f"0{n}U" for n in range(614, 631)}


def test_2025_q2_repeats_q1_rates():
    q1, q2 = rates(load_real(*Q1_2025)), rates(load_real(*Q2_2025))
    shared = q1.keys() & q2.keys()
    assert len(shared) == 2081 and all(q1[k] == q2[k] for k in shared)
    assert len(q2.keys() - q1.keys()) == 24
    assert q1.keys() - q2.keys() == {
        ("0066U", ""),
        ("0078U", ""),
        ("81433", ""),
        ("81436", ""),
        ("81438", ""),
        ("86327", ""),
    }


@pytest.mark.parametrize("csv_file, txt_file", [(Q1_2025, Q1_2025_TXT), (Q2_2026, Q2_2026_TXT)])
def test_txt_equals_csv(csv_file, txt_file):
    """The 2025 .txt has no header (HDR~ lines, fixed layout); the 2026 one has the preamble and a header."""
    assert load_real(*txt_file).equals(load_real(*csv_file))


# ---------------------------------------------------------------- names, period, version


@pytest.mark.parametrize(
    "file, expected",
    [
        (Q1_2025, Period(date(2025, 1, 1), date(2025, 3, 31), None)),
        (Q1_2025_TXT, Period(date(2025, 1, 1), date(2025, 3, 31), None)),
        (Q2_2025, Period(date(2025, 4, 1), date(2025, 6, 30), None)),
        (Q2_2026, Period(date(2026, 4, 1), date(2026, 6, 30), None)),
        (Q2_2026_TXT, Period(date(2026, 4, 1), date(2026, 6, 30), None)),
    ],
)
def test_period_of_real_files(file, expected):
    path = real(*file)
    src = source(path.name, path.read_bytes(), str(path))
    assert clfs.period(src, clfs.load(src)) == expected
    assert clfs.version(src) == 1


def test_version_orders_re_releases():
    assert [clfs.version(source(n, b"")) for n in ("CLFS 2025 Q1V1.csv", "CLFS 2025 Q1V2.csv")] == [1, 2]
    assert clfs.version(source("PUF_CLFS_CY2026_Q2V3.txt", b"")) == 3
    assert clfs.version(source("CLFS.csv", b"")) == 0  # the name does not say


def test_period_of_a_renamed_file_comes_from_year_and_latest_eff_date():
    q2 = real(*Q2_2025).read_bytes()
    src = source("CLFS.csv", q2)
    assert clfs.period(src, clfs.load(src)) == Period(date(2025, 4, 1), date(2025, 6, 30), None)
    src = source("clfs_lab.csv", real(*Q1_2025).read_bytes())
    assert clfs.period(src, clfs.load(src)) == Period(date(2025, 1, 1), date(2025, 3, 31), None)


@pytest.mark.parametrize(
    "eff, quarter",
    [("20250101", 1), ("20250331", 1), ("20250401", 2), ("20250630", 2), ("20250701", 3), ("20251201", 4)],
)
def test_period_of_a_renamed_file_at_each_quarter_boundary(eff, quarter):
    # INVENTED rows: the latest EFF_DATE is ``eff``
    src = source("CLFS.csv", csv_bytes(row(), row("85025", eff=eff)))
    got = clfs.period(src, clfs.load(src))
    assert (got.effective_from, got.issued) == (date(2025, 3 * quarter - 2, 1), None)
    assert got.effective_through.month == 3 * quarter


def test_period_unknown_asks_to_rename():
    # INVENTED frame: YEAR 2025 but every EFF_DATE in 2024, and a name without year or quarter
    frame = clfs.load(source("CLFS.csv", csv_bytes(row(eff="20241001"))))
    with pytest.raises(InputFileError, match="cannot tell which quarter") as err:
        clfs.period(source("CLFS.csv", b""), frame)
    assert "Rename the file as CMS ships it" in str(err.value)


def test_year_in_name_and_year_column_disagree():
    data = real(*Q1_2025).read_bytes()
    with pytest.raises(InputFileError) as err:
        clfs.load(source("CLFS 2026 Q1V1.csv", data))
    assert err.value.row == 6 and err.value.column == "YEAR" and "'2025'" in str(err.value)
    assert "expected 2026, the year the file name says" in str(err.value)
    frame = clfs.load(source("CLFS 2025 Q1V1.csv", data))  # period() checks a frame it is given, too
    with pytest.raises(InputFileError, match="disagrees with the year in the file name"):
        clfs.period(source("CLFS 2026 Q1V1.csv", data), frame)


def test_name_pattern():
    for name in (
        "CLFS 2025 Q1V1.csv",
        "CLFS 2025 Q1V1.txt",
        "clfs 2025 q2v1.CSV",
        "PUF_CLFS_CY2026_Q2V1.csv",
        "PUF_CLFS_CY2026_Q2V1.txt",
        "CLFS.csv",
    ):
        assert clfs.NAME_PATTERN.match(name), name
    for name in (
        "25CLABQ1.zip",
        "CLFS 2025 Q1V1.pdf",
        "PUF CLFS CY2026 Q2V1.pdf",
        "DMEPOS_JAN.csv",
        "section 508 version of APR 2025 ASP Pricing File 032725.csv",
        "PPRRVU25_JAN.csv",
        "CLFSX.csv",
    ):
        assert not clfs.NAME_PATTERN.match(name), name


# ---------------------------------------------------------------- small invented files


def test_invented_csv_loads():
    frame = load_bytes(csv_bytes(row(), row(mod="QW"), row("0001U", ind="L", rate="0"), row("85025", rate="7.7")))
    assert frame.rows() == [
        ("80053", "", date(2025, 1, 1), "N", Decimal("10.56"), 2025),
        ("80053", "QW", date(2025, 1, 1), "N", Decimal("10.56"), 2025),
        ("0001U", "", date(2025, 1, 1), "L", Decimal("0.00"), 2025),
        ("85025", "", date(2025, 1, 1), "N", Decimal("7.70"), 2025),
    ]


@pytest.mark.parametrize(
    "bad, column, found",
    [
        (row(rate="00720."), "RATE", "'00720.'"),  # a rate cut after its point
        (row(rate="10.567"), "RATE", "'10.567'"),
        (row(hcpcs="8005"), "HCPCS", "'8005'"),
        (row(hcpcs="80o53"), "HCPCS", "'80o53'"),
        (row(mod="Q"), "MOD", "'Q'"),
        (row(eff="2025011"), "EFF_DATE", "'2025011'"),
        (row(eff="20250231"), "EFF_DATE", "'20250231'"),  # no such day
        (row(ind="X"), "INDICATOR", "'X'"),
        (row(year="25"), "YEAR", "'25'"),
    ],
)
def test_bad_cell_names_row_and_column(bad, column, found):
    err = refused(csv_bytes(row("85025", rate="7.77"), bad))
    assert (err.row, err.column) == (7, column) and f"found {found}" in str(err)


def test_duplicate_code_and_modifier():
    err = refused(csv_bytes(row(), row(mod="QW"), row(rate="00011.00")))
    assert err.row == 6 and "one_row_per_code_modifier" in str(err)


def test_two_years_in_one_file():
    err = refused(csv_bytes(row(), row("85025", year="2024")))
    assert err.row == 7 and "one_year_per_file" in str(err)


def test_empty_file():
    for data in (b"", b"\r\n\r\n", b"\x1a"):
        err = refused(data)
        assert "empty file" in str(err) and "YEAR,HCPCS,MOD,EFF_DATE,INDICATOR,RATE" in str(err)


def test_header_without_records():
    err = refused(csv_bytes())
    assert err.row == 5 and "no CLFS records below the header" in str(err)


def test_missing_column():
    err = refused(csv_bytes(row(), header=HEADER.replace("RATE,", "")))
    assert (err.row, err.column) == (5, "RATE") and "header column missing" in str(err)


def test_header_not_found_says_what_was_expected():
    err = refused(b"HCPCS,MOD,RATE\r\n80053,,10.56\r\n")
    assert "header row not found" in str(err) and f"expected a header row {HEADER}" in str(err)


@pytest.mark.parametrize(
    "path",
    [
        ("asp", "2025", "section 508 version of APR 2025 ASP Pricing File 032725.csv"),
        ("dmepos", "2025", "DMEPOS_JAN.csv"),
        ("opps_addendum_b", "2025", "Section 508 version of January 2025 Web Addendum B.12.31.24.csv"),
    ],
)
def test_another_schedule_given_as_clfs(path):
    data = shared_path("cms", "extra", *path).read_bytes()
    err = refused(data)
    assert "header row not found" in str(err) and "YEAR,HCPCS,MOD,EFF_DATE,INDICATOR,RATE" in str(err)


def test_unsupported_variant():
    err = refused(b"PK\x03\x04", name="CLFS 2025 Q1V1.xlsx")
    assert "unsupported variant .xlsx" in str(err)


def test_short_row_names_the_first_missing_column():
    err = refused(csv_bytes(row(), "2025,85025,,20250101,N,00007."))
    assert (err.row, err.column) == (7, "SHORTDESC") and "row cut short" in str(err) and "found 6 cells" in str(err)
    err = refused(csv_bytes(row(), "2025,85025,,2025"))
    assert (err.row, err.column) == (7, "INDICATOR")


def test_extra_cells():
    # INVENTED: trailing empty cells (as some CMS CSVs have) are harmless; a filled one is not
    assert load_bytes(csv_bytes(row() + ",,"))["hcpcs"].to_list() == ["80053"]
    err = refused(csv_bytes(row(), row("85025") + ",7.77"))
    assert err.row == 7 and "row has more cells than the header" in str(err) and "found 10 cells" in str(err)


def test_broken_quote():
    # an unterminated quote at the end of the file
    err = refused(csv_bytes(row()) + b'2025,85025,,20250101,N,00007.77,Invented,"Invented, lo')
    assert err.row == 7 and "unreadable CSV record" in str(err)
    # a quote that swallows the next line up to that line's first quote
    err = refused(csv_bytes(row(), '2025,85025,,20250101,N,00007.77,Invented,"Invented, lo', row("36415", rate="9.09")))
    assert err.row == 7 and "unreadable CSV record" in str(err)
    # a quoted cell holding a line break: the record spans two lines (never so in CMS's files)
    err = refused(
        csv_bytes(row(), '2025,85025,,20250101,N,00007.77,Invented,"Invented\r\nlong",Invented', row("36415"))
    )
    assert err.row == 7 and "a quoted cell runs on from line 7 to line 8" in str(err) and err.column == "LONGDESC"


def test_invented_txt_layout():
    good = "2025~80053~  ~20250101~N~00010.56~Invented short".ljust(74)
    qw = "2025~80053~QW~20250101~N~00010.56~Invented short".ljust(74)
    assert load_bytes(txt_bytes(good, qw), "CLFS 2025 Q1V1.txt")["modifier"].to_list() == ["", "QW"]
    err = refused(txt_bytes(good, "2025~85025~  ~2025"), "CLFS 2025 Q1V1.txt")
    assert (err.row, err.column) == (4, "INDICATOR") and "row cut short" in str(err)
    err = refused(txt_bytes(good, "2025~85025~  ~20250101~N~00007.~Invented"), "CLFS 2025 Q1V1.txt")
    assert (err.row, err.column) == (4, "RATE")
    err = refused(b"Invented~text\r\n80053~10.56\r\n", "CLFS 2025 Q1V1.txt")
    assert "header row not found" in str(err)


# ---------------------------------------------------------------- truncations of the real bytes


def _head(data: bytes, lines: int) -> tuple[bytes, bytes]:
    """The first ``lines - 1`` lines of ``data`` (with their line breaks) and line ``lines`` without its break."""
    parts = data.split(b"\n")
    return b"\n".join(parts[: lines - 1]) + b"\n", parts[lines - 1].rstrip(b"\r")


@pytest.mark.parametrize("file, line", [(Q1_2025, 8), (Q2_2026, 8)])
def test_real_csv_cut_inside_a_record_is_never_loaded_wrong(file, line):
    """Cut line 8 (a record whose descriptors are quoted) at every byte: every cut up to the end of
    RATE is refused naming line 8; a cut further on is refused too, unless the six data cells are whole
    (a cut between descriptors cannot be seen, and loses nothing that is kept)."""
    data = real(*file).read_bytes()
    head, last = _head(data, line)
    whole = clfs.load(source(file[1], head + last + b"\r\n"))
    assert whole.height == line - 5
    rate_end = len(b",".join(last.split(b",")[:6]))
    loaded = []
    for k in range(1, len(last)):
        try:
            frame = clfs.load(source(file[1], head + last[:k]))
        except InputFileError as err:
            assert err.row == line, (k, str(err))
            continue
        assert k > rate_end and frame.equals(whole), k
        loaded.append(k)
    assert len(loaded) <= 2, loaded  # only cuts right after a comma between descriptor cells


def test_real_csv_truncated_in_the_middle_of_its_last_rate():
    data = real(*Q1_2025).read_bytes()  # the last record is U0002 QW at 51.31, line 2092
    assert data.rstrip().rsplit(b"\n", 1)[1].startswith(b"2025,U0002,QW,20250101,N,51.31,")
    cut = data[: data.rindex(b"51.31") + 3]  # "...,N,51."
    err = refused(cut)
    assert (err.row, err.column) == (2092, "SHORTDESC") and "found 6 cells" in str(err)


def test_real_txt_cut_inside_a_record_is_refused():
    data = real(*Q1_2025_TXT).read_bytes()
    head, last = _head(data, 5)  # HDR, HDR, then the third record
    assert last.startswith(b"2025~0002U~  ~20250101~N~00025.00~")
    for k in range(1, 34):  # through the end of RATE (PDF layout: positions 26-33)
        with pytest.raises(InputFileError) as err:
            clfs.load(source(Q1_2025_TXT[1], head + last[:k]))
        assert err.value.row == 5, k
