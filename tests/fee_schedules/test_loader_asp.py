"""ASP payment limits: CMS's quarterly "ASP Pricing File" (Section 508 .csv) and the NOC file, read as shipped,
with the quarter they are in force, the order CMS issued re-releases in, and bad files refused whole.

The real files are in ../shared/cms/extra/asp/ (SOURCES.md §2); the row counts and limits below are the
ones SOURCES.md lists. Byte strings written here in CMS's layout are INVENTED (codes, limits and notes
made up) and say so; the truncated files are cut from the real bytes.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from fee_schedules.files import SourceFile
from fee_schedules.loaders import asp
from fee_schedules.loaders.common import Period
from pipelines.core.errors import InputFileError
from tests.conftest import shared_path

JAN24 = "2024/section 508 version of January 2024 ASP Pricing File 121223.csv"
APR24 = "2024/section 508 version of April 2024 ASP Pricing File 032124.csv"
JUL24 = "2024/section 508 version of Jul 2024 ASP Pricing File 062024.csv"
OCT24 = "2024/section 508 version of Oct 2024 ASP Pricing File 091824.csv"
JAN25 = "2025/section 508 version of Jan 2025 ASP Pricing File 121924.csv"
JAN25_UPDATED = "2025/section 508 version of Jan 2025 ASP Pricing File updated 030725.csv"
APR25 = "2025/section 508 version of APR 2025 ASP Pricing File 032725.csv"
JUL25 = "2025/section 508 verision of JUL 2025 ASP Pricing File 062325.csv"
OCT25 = "2025/section 508 version of Oct 2025 ASP Pricing File 091725.csv"
OCT25_UPDATED = "2025/asp_pricing.csv"  # the later Oct 2025 re-release (CMS: "... updated 120925.csv"), renamed
JAN26 = "2026/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv"
NOC = "2025/noc_pricing.csv"

# file: (data rows as SOURCES.md counts them, codes whose limit is N/A, effective from, through, issued)
NA = {"A9606"}  # radium-223: no national limit in any quarter (the microCurie AWP/WAC are in Notes)
REAL = {
    JAN24: (823, NA, date(2024, 1, 1), date(2024, 3, 31), date(2023, 12, 12)),
    APR24: (819, NA, date(2024, 4, 1), date(2024, 6, 30), date(2024, 3, 21)),
    JUL24: (846, NA, date(2024, 7, 1), date(2024, 9, 30), date(2024, 6, 20)),
    OCT24: (865, NA | {"J0739", "J0750", "J0751"}, date(2024, 10, 1), date(2024, 12, 31), date(2024, 9, 18)),
    JAN25: (877, NA, date(2025, 1, 1), date(2025, 3, 31), date(2024, 12, 19)),
    JAN25_UPDATED: (877, NA, date(2025, 1, 1), date(2025, 3, 31), date(2025, 3, 7)),
    APR25: (942, NA, date(2025, 4, 1), date(2025, 6, 30), date(2025, 3, 27)),
    JUL25: (970, NA, date(2025, 7, 1), date(2025, 9, 30), date(2025, 6, 23)),
    OCT25: (1012, NA, date(2025, 10, 1), date(2025, 12, 31), date(2025, 9, 17)),
    # no date in the name: from the "Updated January 2026" note (the month before it, see asp.py)
    OCT25_UPDATED: (1012, NA, date(2025, 10, 1), date(2025, 12, 31), date(2025, 12, 1)),
    JAN26: (877, NA, date(2026, 1, 1), date(2026, 3, 31), date(2025, 12, 17)),
}
SCHEMA = {
    "hcpcs": pl.String,
    "dosage": pl.String,
    "dosage_amount": pl.Decimal(18, 6),
    "dosage_unit": pl.String,
    "payment_limit": pl.Decimal(14, 3),
    "coinsurance_pct": pl.Decimal(7, 3),
    "notes": pl.String,
}
# Every dosage text of the real files that names no single quantity (amount and unit stay NULL)
UNPARSED = {
    # a range or a cap, not an amount per unit
    "Greater than 100 MG",
    "Less than or equal to 100 MG",
    "Greater than 7 days and up to 28 days of therapy",
    "Less than or equal to 7 days of therapy",
    "0.25 MG - 5 MG",
    "UP TO 1 GM",
    "UP TO 20 MCG",
    "up to 5 MG",
    "up to 40 Units",
    "UP TO 200 MILLION CAR T CELLS",
    "UP TO 200 MILLION AUTOLOGOUS ANTI-CD19 CAR POSITIVE VIABLE T CELLS",
    "UP TO 460 MILLION AUTOLOGOUS ANTI-BCMA CAR-POSITIVE VIABLE T CELLS",
    "UP TO 510 MILLION AUTOLOGOUS ANTI-BCMA CAR-POSITIVE VIABLE T CELLS",
    "up to 100 million autologous b-cell maturation antigen (bcma) directed car-positive t cells",
    "Up to 110 million CAR-positive viable T cells, per therapeutic dose",
    "up to 600 million CAR-positive viable T cells",
    "Per infusion (minimum 50 million cells)",
    # a combination product: several amounts
    "1 MG/2.27 MG",
    "10 MG/3MG",
    "2.5 MG/0.5 MG",
    "200 mg/25 mg",
    "200 mg/300 mg",
    "2MG/3MG",
    "3 MG & 3 MG",
    "3 mg/1 mg",
    "4 MG-4 MG-2 MG",
    "5MG-1MG",
    "75mg (50mg cft/25mg taz)",
    # a unit the table does not know
    "PER FACTOR VIII IU",
    "Per 3.2 mg single-use applicator",
}


@functools.cache
def _real(name: str) -> tuple[bytes, str]:
    path = shared_path("cms", "extra", "asp", *name.split("/"))
    return path.read_bytes(), str(path)


def src(name: str, data: bytes | None = None, kind: str = asp.KIND) -> SourceFile:
    """A real file (its bytes, or ``data`` in its place) under its own name."""
    if data is None:
        data, origin = _real(name)
    else:
        origin = f"/x/{name.rsplit('/', 1)[-1]}"
    return SourceFile(kind, name.rsplit("/", 1)[-1], origin, data)


@functools.cache
def read(name: str) -> tuple[pl.DataFrame, Period]:
    return asp.read_noc(src(name, kind=asp.NOC_KIND)) if name == NOC else asp.read(src(name))


def limits(name: str) -> dict[str, Decimal]:
    frame = read(name)[0]
    return dict(zip(frame["hcpcs"], frame["payment_limit"]))


HEADER = (
    "HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage,Vaccine AWP%,"
    "Vaccine Limit,Blood AWP%,Blood limit,Clotting Factor,Notes"
)


def invented(*rows: str, effective: str = "Effective January 1, 2025 through March 31, 2025", header=HEADER) -> bytes:
    """An ASP file in CMS's layout (preamble, header on line 9, CRLF, cells padded to 11): INVENTED rows."""
    pad = "," * (header.count(","))
    lines = [
        "Payment Allowance Limits for Medicare Part B Drugs" + pad,
        pad,
        f'"{effective}"' + pad if effective else pad,
        pad,
        "Note 1: Payment allowance limits subject to the ASP methodology are based on 3Q24 ASP data." + pad,
        pad,
        pad,
        pad,
        header,
        *rows,
    ]
    return "".join(f"{line}\r\n" for line in lines).encode("cp1252")


def load_invented(data: bytes, name="section 508 version of Jan 2025 ASP Pricing File 121924.csv"):
    return asp.load(SourceFile(asp.KIND, name, f"/x/{name}", data))


# ---------------------------------------------------------------- every real file


@pytest.mark.parametrize("name", list(REAL))
def test_real_file_loads(name):
    count, na, start, through, issued = REAL[name]
    frame, period = read(name)
    assert frame.schema == pl.Schema(SCHEMA)
    assert frame.height + len(na) == count  # every data row but the N/A ones
    assert not set(frame["hcpcs"]) & na and frame["hcpcs"].n_unique() == frame.height
    assert frame["payment_limit"].null_count() == 0 and frame["coinsurance_pct"].null_count() == 0
    assert frame["notes"].null_count() == 0 and frame["dosage"].str.strip_chars().equals(frame["dosage"])
    assert period == Period(start, through, issued)
    assert asp.period(src(name)) == period  # the same from period() alone


def test_real_file_data_rows_match_sources_md():
    """The N/A rows are in the file: the loader drops them, not the reader (counted with the raw CSV here)."""
    import csv
    import io

    for name, (count, na, *_) in REAL.items():
        rows = list(csv.reader(io.StringIO(_real(name)[0].decode("cp1252"), newline="")))
        h = next(i for i, r in enumerate(rows) if r and r[0] == "HCPCS Code")
        data = [r for r in rows[h + 1 :] if any(c.strip() for c in r)]
        assert len(data) == count, name
        assert {r[0] for r in data if r[3] == "N/A"} == na, name


def test_j9271_and_j3301_by_quarter():
    j9271 = {JAN25: "57.603", APR25: "59.349", JUL25: "58.562", OCT25: "60.291", JAN26: "59.726"}
    j3301 = {JAN25: "0.898", APR25: "0.870", JUL25: "0.862", OCT25: "0.844", JAN26: "0.741"}
    for name in j9271:
        got = limits(name)
        assert (got["J9271"], got["J3301"]) == (Decimal(j9271[name]), Decimal(j3301[name])), name
    row = read(JAN26)[0].filter(pl.col("hcpcs") == "J9271").row(0, named=True)
    assert (row["dosage"], row["dosage_amount"], row["dosage_unit"]) == ("1 MG", Decimal(1), "MG")
    assert row["coinsurance_pct"] == Decimal("20.000")


def _changed(a: str, b: str) -> set[str]:
    fa, fb = read(a)[0], read(b)[0]
    assert fa["hcpcs"].sort().equals(fb["hcpcs"].sort())
    both = fa.join(fb, on="hcpcs", suffix="_b")
    differs = pl.any_horizontal(~pl.col(c).eq_missing(pl.col(f"{c}_b")) for c in SCHEMA if c != "hcpcs")
    return set(both.filter(differs)["hcpcs"])


def test_jan_2025_re_release():
    assert _changed(JAN25, JAN25_UPDATED) == {"J7213", "J9204", "Q5126", "Q5130"}
    first, updated = limits(JAN25), limits(JAN25_UPDATED)
    assert (first["J7213"], updated["J7213"]) == (Decimal("2.202"), Decimal("1.855"))
    notes = read(JAN25_UPDATED)[0].filter(pl.col("hcpcs").is_in(["J7213", "J9204", "Q5126", "Q5130"]))["notes"]
    assert all(n.startswith("Updated April 2025") for n in notes)
    assert read(JAN25)[1].issued < read(JAN25_UPDATED)[1].issued  # the update replaces the first release


def test_oct_2025_re_release():
    assert _changed(OCT25, OCT25_UPDATED) == {"J2782"}
    assert (limits(OCT25)["J2782"], limits(OCT25_UPDATED)["J2782"]) == (Decimal("105.124"), Decimal("103.397"))
    assert read(OCT25)[1].issued < read(OCT25_UPDATED)[1].issued


def test_issued_from_notes_when_the_name_has_no_date():
    """The rule that dates asp_pricing.csv, on the Jan 2025 re-release whose day is known (03/07/25)."""
    renamed = asp.period(src("asp_pricing.csv", _real(JAN25_UPDATED)[0]))
    assert renamed.issued == date(2025, 3, 1)  # the month before "Updated April 2025"
    assert read(JAN25)[1].issued < renamed.issued <= read(JAN25_UPDATED)[1].issued
    # a first release under a dateless name says nothing
    assert asp.period(src("asp_pricing.csv", _real(OCT25)[0])).issued is None
    # INVENTED: a correction named for the file's own first month is still after its first release
    data = invented("J9999,Invented drug,1 MG,1.000,20.000,,,,,,Updated January 2025")
    assert asp.period(src("asp_pricing.csv", data)).issued == date(2025, 1, 1)


def test_noc_file():
    frame, period = read(NOC)
    assert frame.schema == pl.Schema(
        {k if k != "hcpcs" else "drug_name": v for k, v in SCHEMA.items() if k != "coinsurance_pct"}
    )
    assert frame.rows() == [("Vasopressin (Long Grove)", "1 UNIT", Decimal(1), "UNITS", Decimal("2.462"), "")]
    assert period == Period(date(2025, 10, 1), date(2025, 12, 31), None)
    assert asp.period(src(NOC, kind=asp.NOC_KIND)) == period
    assert asp.load_noc(src(NOC, kind=asp.NOC_KIND)).equals(frame)


def test_no_cpt_descriptor_is_kept():
    frame = read(JAN26)[0]
    text = " ".join(" ".join(str(v) for v in frame[c]) for c in frame.columns)
    assert "Hep b ig im" not in text and "Rabies ig" not in text  # Short Description is never read


# ---------------------------------------------------------------- names


def test_name_patterns_on_the_real_names():
    for name in REAL:
        base = name.rsplit("/", 1)[-1]
        assert asp.NAME_PATTERN.search(base) and not asp.NOC_NAME_PATTERN.search(base), base
    assert asp.NOC_NAME_PATTERN.search("noc_pricing.csv") and not asp.NAME_PATTERN.search("noc_pricing.csv")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("section 508 version of October 2025 ASP Pricing File updated 120925.csv", asp.KIND),
        ("Section 508 Verision of JUL 2025 ASP PRICING FILE 062325.CSV", asp.KIND),
        ("October 2025 NOC Pricing File 091725.csv", asp.NOC_KIND),
        ("section 508 version of October 2025 NOC Pricing File.csv", asp.NOC_KIND),
        ("October 2025 ASP NDC-HCPCS Crosswalk 090525.csv", None),
        ("asp_crosswalk.csv", None),
        ("CLFS 2025 Q1V1.csv", None),
        ("section 508 version of Jan 2025 ASP Pricing File 121924.xlsx", None),
        ("Section 508 version of January 2025 Web Addendum B.12.31.24.csv", None),
    ],
)
def test_name_patterns(name, kind):
    hits = {k for k, p in ((asp.KIND, asp.NAME_PATTERN), (asp.NOC_KIND, asp.NOC_NAME_PATTERN)) if p.search(name)}
    assert hits == ({kind} if kind else set())


# ---------------------------------------------------------------- dosage text


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("1 MG", "1", "MG"),
        ("0.1 MG", "0.1", "MG"),
        ("0.1 mg", "0.1", "MG"),
        (".625 GM", "0.625", "GM"),
        ("1MG", "1", "MG"),
        ("150 IU", "150", "IU"),
        ("1 ML", "1", "ML"),
        ("1 CC", "1", "ML"),
        ("100 UNITS", "100", "UNITS"),
        ("5 Unit", "5", "UNITS"),
        ("100,000 UNITS", "100000", "UNITS"),
        ("1 USP UNIT", "1", "USP UNITS"),
        ("1 EA", "1", "EA"),
        ("1 EACH", "1", "EA"),
        ("EA", "1", "EA"),
        ("PER DOSE", "1", "DOSE"),
        ("per 10 mg", "10", "MG"),
        ("1 SQ CM", "1", "SQ CM"),
        ("1 million\xa0PFU", "1000000", "PFU"),
        ("300 MCG (1500 IU)", "300", "MCG"),
        ("1 I.U. VWF:RCO", "1", "IU VWF:RCO"),
        ("1 microCurie", "1", "MICROCURIE"),
        ("2 MEQ", "2", "MEQ"),
        ("1 MG/2.27 MG", None, None),
        ("UP TO 1 GM", None, None),
        ("Greater than 100 MG", None, None),
        ("1 TABLET", None, None),  # a unit not in the table is not guessed at
        ("0.0000001 MG", None, None),  # more places than Decimal(18,6) holds: never rounded
        ("", None, None),
    ],
)
def test_parse_dosage(text, amount, unit):
    assert asp.parse_dosage(text) == ((Decimal(amount) if amount else None), unit)


def test_every_real_dosage_parses_or_is_listed():
    dosages = set()
    for name in REAL:
        dosages |= set(read(name)[0]["dosage"])
    unparsed = {d for d in dosages if asp.parse_dosage(d) == (None, None)}
    assert unparsed == UNPARSED  # none missed, and the list holds no text the files do not have
    frame = pl.concat([read(name)[0] for name in REAL])
    listed = pl.col("dosage").is_in(list(UNPARSED))
    parsed = pl.col("dosage_amount").is_not_null() & pl.col("dosage_unit").is_not_null()
    assert frame.filter(listed == parsed).height == 0  # the frame's columns agree: NULL exactly for the listed


def test_dosage_is_stripped_and_the_0xa0_byte_read_as_windows_1252():
    frame = read(JAN26)[0]
    dosage = dict(zip(frame["hcpcs"], frame["dosage"]))
    assert dosage["J7686"] == "1.74 MG"  # CMS writes " 1.74 MG"
    assert dosage["J9325"] == "1 million\xa0PFU"  # CMS's byte 0xA0, a no-break space; not mojibake
    assert frame.filter(pl.col("hcpcs") == "J9325")["dosage_amount"].item() == Decimal(1_000_000)


def test_utf8_copy_reads_the_same():
    data = _real(JAN26)[0].decode("cp1252").encode("utf-8")
    assert asp.load(src(JAN26, data)).equals(read(JAN26)[0])


def test_multi_line_note_and_row_numbers_after_it():
    """A9606's note spans two lines: a bad row after it is named by its file line, not its record number."""
    data = _real(JAN26)[0]
    lines = data.split(b"\r\n")
    i = next(n for n, line in enumerate(lines) if line.startswith(b"J9271,"))
    lines[i] = lines[i].replace(b"J9271,", b"J927,", 1)
    with pytest.raises(InputFileError) as err:
        asp.load(src(JAN26, b"\r\n".join(lines)))
    line = b"\r\n".join(lines[:i]).count(b"\n") + 2  # lines before it (the note's inner LF counts) + 1
    assert err.value.row == line and err.value.column == "HCPCS Code" and "'J927'" in str(err.value)
    assert line == i + 2  # one more than its record number: A9606's note holds a line break


# ---------------------------------------------------------------- bad input is refused whole


def test_empty_file():
    for data in (b"", b"\r\n", b",,,,\r\n,,,,\r\n"):
        with pytest.raises(InputFileError, match="the file is empty") as err:
            load_invented(data)
        assert "ASP pricing file" in str(err.value)


def test_file_cut_in_the_last_row():
    data = _real(JAN26)[0]
    cut = data[: data.rindex(b"8.268")]  # Q9997: stops after the dosage
    with pytest.raises(InputFileError, match="ends in the middle of a row") as err:
        asp.load(src(JAN26, cut))
    assert err.value.row == cut.count(b"\n") + 1 and "download it again" in str(err.value)


def test_file_cut_in_the_last_note_of_an_11_column_file():
    """Every cell is there, but the last note is cut: only the missing line break tells."""
    data = _real(OCT25)[0]
    with pytest.raises(InputFileError, match="ends in the middle of a row"):
        asp.load(src(OCT25, data[:-12]))
    assert asp.load(src(OCT25, data[:-2] + b"\n")).equals(read(OCT25)[0])  # an LF ending is a line break too


def test_file_cut_inside_a_quoted_note():
    data = _real(JAN26)[0]
    cut = data[: data.index(b"microCurie 100% WAC")]  # after the inner line break of A9606's note
    with pytest.raises(InputFileError, match="not readable as CSV") as err:
        asp.load(src(JAN26, cut))
    start = data[: data.index(b"A9606,")].count(b"\n") + 1
    assert err.value.row == start


def test_file_cut_in_the_preamble():
    data = _real(JAN26)[0]
    with pytest.raises(InputFileError, match="header row not found"):
        asp.load(src(JAN26, data[:300]))


def test_another_schedule_given_as_asp():
    path = shared_path("cms", "extra", "clfs", "2025", "CLFS 2025 Q1V1.csv")
    with pytest.raises(InputFileError, match="header row not found") as err:
        asp.load(SourceFile(asp.KIND, path.name, str(path), path.read_bytes()))
    assert "HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit" in str(err.value)
    assert err.value.path == str(path)


def test_noc_and_asp_files_are_not_each_other():
    with pytest.raises(InputFileError, match=r"header row not found.*HCPCS Code Dosage"):
        asp.load(src(NOC))
    with pytest.raises(InputFileError, match=r"header row not found.*Drug Generic Name \(Trade Name\)"):
        asp.load_noc(src(JAN26, kind=asp.NOC_KIND))


def test_quarter_without_payment_limit_column():
    data = _real(APR25)[0].replace(b"HCPCS Code Dosage,Payment Limit,", b"HCPCS Code Dosage,", 1)
    with pytest.raises(InputFileError) as err:
        asp.load(src(APR25, data))
    assert (err.value.row, err.value.column, err.value.detail) == (9, "Payment Limit", "header column missing")


def test_no_effective_line():
    data = invented("J9999,Invented drug,1 MG,1.000,20.000,,,,,,", effective="")  # INVENTED
    with pytest.raises(InputFileError, match="cannot tell when the payment limits are in force") as err:
        load_invented(data)
    assert "Effective <Month D, YYYY> through <Month D, YYYY>" in str(err.value) and err.value.row is None
    # INVENTED: an Effective line without its end date is named by its line
    data = invented("J9999,Invented drug,1 MG,1.000,20.000,,,,,,", effective="Effective January 1, 2025")
    with pytest.raises(InputFileError, match="cannot tell when") as err:
        load_invented(data)
    assert err.value.row == 3 and "'Effective January 1, 2025'" in str(err.value)
    with pytest.raises(InputFileError, match="not a date") as err:
        load_invented(invented(effective="Effective Janvier 1, 2025 through March 31, 2025"))
    with pytest.raises(InputFileError, match="end before they start"):
        load_invented(invented(effective="Effective April 1, 2025 through March 31, 2025"))


def test_no_rows_below_the_header():
    with pytest.raises(InputFileError, match="no rows below the header") as err:
        load_invented(invented())
    assert err.value.row == 9


@pytest.mark.parametrize(
    ("row", "column", "found"),
    [  # INVENTED rows; the file line is 11 (two good invented rows come first)
        ("J927,Invented drug,1 MG,1.000,20.000,,,,,,", "HCPCS Code", "'J927'"),
        ("j9999,Invented drug,1 MG,1.000,20.000,,,,,,", "HCPCS Code", "'j9999'"),
        ("J9999,Invented drug,1 MG,1.0005,20.000,,,,,,", "Payment Limit", "'1.0005'"),
        ("J9999,Invented drug,1 MG,,20.000,,,,,,", "Payment Limit", "''"),
        ("J9999,Invented drug,1 MG,$1.000,20.000,,,,,,", "Payment Limit", "'$1.000'"),
        ("J9999,Invented drug,1 MG,1.000,20%,,,,,,", "Co-insurance Percentage", "'20%'"),
        ("J9999,Invented drug,,1.000,20.000,,,,,,", "HCPCS Code Dosage", "''"),
    ],
)
def test_bad_value_names_row_and_column(row, column, found):
    good = ("J9997,Invented drug a,1 MG,1.000,20.000,,,,,,", "J9998,Invented drug b,10 MG,2.500,,,,,,,")
    with pytest.raises(InputFileError, match="unexpected value") as err:
        load_invented(invented(*good, row))
    assert (err.value.row, err.value.column) == (12, column) and f"found {found}" in str(err.value)


def test_invented_file_loads():
    """The layout the bad-input tests start from reads (so they fail for the reason they name)."""
    frame = load_invented(
        invented(  # INVENTED
            "J9997,Invented drug a,1 MG,1.000,20.000,,,,,,",
            "J9998,Invented drug b,10 MG,2.500,,,,,,,",
            "J9999,Invented drug c,PER VIAL,N/A,0.000,,,,,,Priced by the MAC",
        )
    )
    assert frame.rows() == [
        ("J9997", "1 MG", Decimal(1), "MG", Decimal("1.000"), Decimal("20.000"), ""),
        ("J9998", "10 MG", Decimal(10), "MG", Decimal("2.500"), None, ""),
    ]


def test_duplicate_code():
    rows = ("J9998,Invented drug,1 MG,1.000,20.000,,,,,,", "J9998,Invented drug,1 MG,1.100,20.000,,,,,,")
    with pytest.raises(InputFileError, match="one_row_per_code") as err:  # INVENTED
        load_invented(invented(*rows))
    assert err.value.row in (10, 11)


def test_row_with_a_cell_too_many_or_too_few():
    extra = "J9998,Invented drug, unquoted comma,1 MG,1.000,20.000,,,,,,"  # INVENTED
    with pytest.raises(InputFileError, match="the row has 12 cells, the header 11") as err:
        load_invented(invented("J9997,Invented drug,1 MG,1.000,20.000,,,,,,", extra))
    assert err.value.row == 11
    with pytest.raises(InputFileError, match="the row has 5 cells, the header 11") as err:
        load_invented(invented("J9997,Invented drug,1 MG,1.000,20.000"))
    assert err.value.row == 10 and "cut short" in str(err.value)


def test_bad_noc_limit():
    data = _real(NOC)[0].replace(b"$2.462", b"$2.4625")
    with pytest.raises(InputFileError) as err:
        asp.load_noc(src(NOC, data, kind=asp.NOC_KIND))
    assert (err.value.row, err.value.column) == (14, "Payment Limit")
