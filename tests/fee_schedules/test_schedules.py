"""The other Medicare schedules end to end: CMS's CLFS, ASP, DMEPOS, OPPS and ASC files imported as shipped
(../shared/cms/extra), the release in force picked by date, and lines priced from them.

The expected amounts come from a reader of our own written here (csv + Decimal over the raw CMS file, no
project code), for codes drawn at random from each file: the amount must equal the file's rate to the cent.
"""

from __future__ import annotations

import csv
import io
import random
import re
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from fee_schedules.schedule_import import find_schedule_files, import_schedules
from fee_schedules.schedule_pricing import price_medicare, price_schedules
from pipelines.core.errors import InputFileError
from pipelines.core.warehouse import connect
from tests.conftest import shared_path

CENT = Decimal("0.01")


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def extra() -> Path:
    return shared_path("cms", "extra")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, mpfs_template, extra) -> Path:
    """The MPFS test warehouse plus every CLFS, ASP, DMEPOS, OPPS and ASC file of ../shared/cms/extra."""
    path = tmp_path_factory.mktemp("sched") / "sched.duckdb"
    shutil.copy(mpfs_template, path)
    con = connect(path)
    for sub in ("clfs", "asp", "dmepos", "opps_addendum_b", "asc"):
        import_schedules(con, extra / sub)
    con.close()
    return path


@pytest.fixture()
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


# ------------------------------------------------------------------ an independent reader of the CMS files


def rows_after_header(path: Path, first_cell: str) -> tuple[list[str], list[list[str]]]:
    text = path.read_bytes().decode("latin-1")
    rows = list(csv.reader(io.StringIO(text)))
    for i, r in enumerate(rows):
        if r and r[0].strip().upper() == first_cell:
            return [c.strip() for c in r], [[c.strip() for c in x] for x in rows[i + 1 :] if x and x[0].strip()]
    raise AssertionError(f"no header starting {first_cell} in {path}")


def lines(codes, *, when: date, units=None, zip_code=None, modifiers=None) -> pl.DataFrame:
    n = len(codes)
    return pl.DataFrame(
        {
            "row_id": list(range(1, n + 1)),
            "procedure_code": list(codes),
            "modifiers": modifiers or [[] for _ in codes],
            "units": units or [Decimal(1)] * n,
            "service_date": [when] * n,
            "zip": [zip_code] * n,
        },
        schema={
            "row_id": pl.Int64,
            "procedure_code": pl.String,
            "modifiers": pl.List(pl.String),
            "units": pl.Decimal(14, 3),
            "service_date": pl.Date,
            "zip": pl.String,
        },
    )


# ------------------------------------------------------------------------------------------------ import


def test_import_keeps_every_release_with_its_period_and_checksum(con):
    got = con.sql(
        "SELECT schedule, effective_from, effective_through, file_name FROM schedule_releases ORDER BY ALL"
    ).fetchall()
    by = {(s, f): (t, n) for s, f, t, n in got}
    assert by[("clfs", date(2025, 1, 1))][0] == date(2025, 3, 31)  # the Q2 file follows it
    assert by[("clfs", date(2025, 4, 1))][0] == date(2025, 12, 31)
    assert by[("asp", date(2025, 1, 1))] == (
        date(2025, 3, 31),
        "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv",
    )
    assert by[("asp", date(2025, 10, 1))][1] == "asp_pricing.csv"  # the later re-release of October 2025
    assert ("dmepos", date(2026, 1, 1)) in by and ("dmepos_rural", date(2025, 1, 1)) in by
    assert ("opps", date(2025, 7, 1)) in by and ("asc_aa", date(2025, 1, 1)) in by
    assert by[("opps", date(2025, 7, 1))][1].endswith("07.25.25.csv")  # the corrected July file
    shas = con.execute("SELECT count(*) FROM schedule_releases WHERE length(sha256) = 64 AND row_count > 0").fetchone()[
        0
    ]
    assert shas == len(got)


def test_a_re_release_replaces_and_an_older_one_does_not(tmp_path, mpfs_template, extra):
    path = tmp_path / "w.duckdb"
    shutil.copy(mpfs_template, path)
    c = connect(path)
    folder = extra / "asp" / "2025"
    first = folder / "section 508 version of Jan 2025 ASP Pricing File 121924.csv"
    updated = folder / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv"
    r1 = import_schedules(c, first)
    assert [r.action for r in r1.releases] == ["imported"]
    r2 = import_schedules(c, updated)
    assert r2.releases[0].action == "replaced" and "121924" in r2.releases[0].note
    assert "replaces" in str(r2)
    r3 = import_schedules(c, first)
    assert r3.releases[0].action == "older"
    r4 = import_schedules(c, updated)
    assert r4.releases[0].action == "unchanged"
    # the updated release's own values are the ones kept (J9204 is one of the 4 rows it changed)
    kept = dict(
        c.execute("SELECT hcpcs, payment_limit FROM asp_limits WHERE effective_from = DATE '2025-01-01'").fetchall()
    )
    _, rows = rows_after_header(updated, "HCPCS CODE")
    limits = {r[0]: Decimal(r[3]) for r in rows if re.fullmatch(r"\d+(\.\d+)?", r[3])}  # A9606 is N/A: not kept
    assert kept == limits
    assert c.execute("SELECT file_name FROM schedule_releases WHERE schedule = 'asp'").fetchone()[0] == updated.name
    c.close()


def test_a_bad_file_is_refused_whole_and_nothing_of_the_import_is_kept(tmp_path, mpfs_template, extra):
    path = tmp_path / "w.duckdb"
    shutil.copy(mpfs_template, path)
    c = connect(path)
    folder = tmp_path / "in"
    folder.mkdir()
    good = extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv"
    shutil.copy(good, folder / good.name)
    data = (extra / "clfs" / "2025" / "CLFS 2025 Q2V1.csv").read_bytes()
    (folder / "CLFS 2025 Q2V1.csv").write_bytes(data[: len(data) // 2])  # truncated mid-way
    with pytest.raises(InputFileError) as err:
        import_schedules(c, folder)
    assert "CLFS 2025 Q2V1.csv" in str(err.value) and "row" in str(err.value)
    assert c.execute("SELECT count(*) FROM schedule_releases").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM clfs_rates").fetchone()[0] == 0
    c.close()


def test_a_file_of_another_schedule_given_as_this_one_is_refused(tmp_path, extra):
    asp_file = extra / "asp" / "2025" / "section 508 version of APR 2025 ASP Pricing File 032725.csv"
    single = tmp_path / "lab.csv"
    shutil.copy(asp_file, single)
    assert [s.kind for s in find_schedule_files(single, "clfs")] == ["clfs"]  # read as the schedule given
    c = connect(tmp_path / "w.duckdb")
    with pytest.raises(InputFileError) as err:
        import_schedules(c, single, "clfs")
    assert "lab.csv" in str(err.value) and "expected" in str(err.value).lower()
    assert c.execute("SELECT count(*) FROM schedule_releases").fetchone()[0] == 0
    c.close()


# ----------------------------------------------------------------------------------------------- pricing


@pytest.mark.parametrize(
    "name,when",
    [
        ("clfs/2025/CLFS 2025 Q1V1.csv", date(2025, 2, 14)),
        ("clfs/2025/CLFS 2025 Q2V1.csv", date(2025, 5, 2)),
        ("clfs/2026/PUF_CLFS_CY2026_Q2V1.csv", date(2026, 6, 30)),
    ],
)
def test_clfs_lines_are_priced_at_the_files_rate_times_units(con, extra, name, when):
    header, rows = rows_after_header(extra / name, "YEAR")
    i_code, i_mod, i_rate = header.index("HCPCS"), header.index("MOD"), header.index("RATE")
    base = {r[i_code]: Decimal(r[i_rate]) for r in rows if r[i_mod] == ""}
    rng = random.Random(name)
    codes = rng.sample(sorted(base), 40)
    units = [Decimal(rng.randint(1, 4)) for _ in codes]
    out = price_medicare(con, lines(codes, when=when, units=units), on_missing="mark")
    for code, n, row in zip(codes, units, out.iter_rows(named=True)):
        if base[code] == 0:  # locally priced (indicator L): no national amount
            continue
        assert row["schedule"] == "clfs", (code, row["derivation"], row["not_priced_reason"])
        assert row["line_amount"] == cents(base[code] * n), (code, row["derivation"])
        assert Path(name).name in row["derivation"]


ASP_FILES = [
    ("asp/2025/section 508 version of Jan 2025 ASP Pricing File updated 030725.csv", date(2025, 3, 3)),
    ("asp/2025/section 508 verision of JUL 2025 ASP Pricing File 062325.csv", date(2025, 8, 20)),
    ("asp/2025/asp_pricing.csv", date(2025, 12, 31)),
    ("asp/2026/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv", date(2026, 1, 5)),
]


@pytest.mark.parametrize("name,when", ASP_FILES)
def test_drug_lines_are_priced_at_the_asp_limit_times_units(con, extra, name, when):
    header, rows = rows_after_header(extra / name, "HCPCS CODE")
    limits = {r[0]: (Decimal(r[3]), r[2]) for r in rows if re.fullmatch(r"\d+(\.\d+)?", r[3] or "")}
    rng = random.Random(name)
    codes = rng.sample(sorted(limits), 40)
    units = [Decimal(rng.choice([1, 2, 10, 100, 250])) for _ in codes]
    out = price_medicare(con, lines(codes, when=when, units=units), on_missing="mark")
    for code, n, row in zip(codes, units, out.iter_rows(named=True)):
        limit, dosage = limits[code]
        assert row["schedule"] == "asp", (code, row["not_priced_reason"])
        assert row["line_amount"] == cents(limit * n), (code, row["derivation"])
        assert dosage in row["derivation"] and str(limit) in row["derivation"]


def test_asp_for_a_quarter_not_imported_is_not_priced_with_what_to_do(con):
    out = price_schedules(con, lines(["J9271"], when=date(2026, 5, 1)))
    row = out.row(0, named=True)
    assert row["schedule"] == "asp" and row["amount"] is None
    assert "2026-05-01" in row["reason"] and "import" in row["reason"]


def test_drug_units_that_do_not_fit_the_dosage_are_a_data_quality_note(con):
    out = price_schedules(con, lines(["J9271"], when=date(2025, 2, 1), units=[Decimal("2.5")]))
    row = out.row(0, named=True)
    assert row["amount"] is None and row["reason"].startswith("data quality: units_mismatch")


def dmepos_frame(path: Path) -> tuple[list[str], list[list[str]]]:
    return rows_after_header(path, "HCPCS")


@pytest.mark.parametrize(
    "zip_code,state,rural", [("15201", "PA", False), ("16720", "PA", None), ("10001", "NY", False)]
)
def test_dmepos_lines_are_priced_at_the_state_fee_rural_or_not(con, extra, zip_code, state, rural):
    path = extra / "dmepos" / "2025" / "DMEPOS_JAN.csv"
    header, rows = dmepos_frame(path)
    nr, r_ = header.index(f"{state} (NR)"), header.index(f"{state} (R)")
    rural_zips = {
        line.split("\t")[1].strip()
        for line in (extra / "dmepos" / "2025" / "DME Rural ZIP Code Quarter 1, 2025.txt")
        .read_text("latin-1")
        .splitlines()[1:]
        if "\t" in line
    }
    is_rural = zip_code in rural_zips
    if rural is not None:
        assert is_rural == rural
    fees = {}
    for r in rows:
        code, mod, mod2 = r[0], r[1], r[2]
        if mod in ("NU", "RR", "UE") and mod2 == "":
            fee = Decimal(r[nr])
            if is_rural and r[r_] not in ("", "0.00") and Decimal(r[r_]) != 0:
                fee = Decimal(r[r_])
            fees[(code, mod)] = fee
    rng = random.Random(zip_code)
    keys = rng.sample(sorted(fees), 40)
    out = price_medicare(
        con,
        lines([k[0] for k in keys], when=date(2025, 3, 1), zip_code=zip_code, modifiers=[[k[1]] for k in keys]),
        on_missing="mark",
    )
    for key, row in zip(keys, out.iter_rows(named=True)):
        assert row["schedule"] in ("dmepos",), (key, row["not_priced_reason"])
        assert row["line_amount"] == cents(fees[key]), (key, row["derivation"])
        assert state in row["derivation"]


def test_dmepos_known_fees(con):
    out = price_medicare(
        con,
        lines(["E0601", "A7032"], when=date(2026, 2, 1), zip_code="15201", modifiers=[["RR"], ["NU"]]),
        on_missing="mark",
    )
    assert out["line_amount"].to_list() == [Decimal("50.04"), Decimal("23.29")]


def test_the_physician_schedule_keeps_the_codes_it_pays(con):
    out = price_medicare(con, lines(["99213", "80053", "J9271"], when=date(2025, 2, 1), zip_code="10001"))
    assert out["schedule"].to_list() == ["mpfs", "clfs", "asp"]
    assert out["line_amount"][1] == Decimal("10.56")


def test_opps_and_asc_are_priced_when_asked(con):
    out = price_medicare(con, lines(["G0463"], when=date(2025, 2, 1)), schedule="opps")
    assert out["line_amount"].to_list() == [Decimal("128.87")] and out["schedule"][0] == "opps"
    out = price_medicare(con, lines(["66984"], when=date(2025, 2, 1)), schedule="asc")
    assert out["line_amount"].to_list() == [Decimal("1214.31")] and out["schedule"][0] == "asc_aa"


@pytest.mark.parametrize("kinds", [["clfs"], ["asp"], ["dmepos", "dmepos_pen"], ["opps"], ["asc_aa", "asc_bb"]])
def test_every_line_a_schedule_takes_ends_with_an_amount_or_a_reason(con, kinds):
    """Codes of every release, on dates from before the first to after the last release: a line the
    schedule lists is priced (amount and derivation) or says why not; never neither."""
    table = {
        "clfs": "clfs_rates",
        "asp": "asp_limits",
        "dmepos": "dmepos_fees",
        "opps": "opps_rates",
        "asc_aa": "asc_rates",
    }
    codes = [r[0] for r in con.execute(f"SELECT DISTINCT hcpcs FROM {table[kinds[0]]} ORDER BY 1").fetchall()]
    rng = random.Random(kinds[0])
    picked = rng.sample(codes, 300)
    days = [date(2023, 12, 1), date(2025, 2, 1), date(2025, 8, 1), date(2026, 2, 1), date(2026, 9, 1)]
    frame = (
        pl.concat([lines(picked, when=d, zip_code=rng.choice(["10001", "15201", "16720", "99501"])) for d in days])
        .drop("row_id")
        .with_row_index("row_id", offset=1)
        .with_columns(pl.col("row_id").cast(pl.Int64))
    )
    out = price_schedules(con, frame, kinds)
    assert out.filter(pl.col("schedule").is_null()).height == 0
    neither = out.filter(pl.col("amount").is_null() & pl.col("reason").is_null())
    both = out.filter(pl.col("amount").is_not_null() & pl.col("reason").is_not_null())
    assert neither.height == 0 and both.height == 0, (neither.head(3), both.head(3))
    assert out.filter(pl.col("amount").is_not_null() & pl.col("derivation").is_null()).height == 0


def test_a_noc_drug_line_that_names_its_drug_is_priced_from_the_noc_file(con, extra):
    # noc_pricing.csv (Oct-Dec 2025): Vasopressin (Long Grove), 1 UNIT, $2.462
    rows = list(csv.reader(io.StringIO((extra / "asp" / "2025" / "noc_pricing.csv").read_bytes().decode("latin-1"))))
    vaso = next(r for r in rows if r and r[0].startswith("Vasopressin"))
    frame = lines(["J3490", "J3490", "J3490"], when=date(2025, 11, 3), units=[Decimal(20)] * 3).with_columns(
        pl.Series("drug", ["vasopressin", "aspirin", None])
    )
    out = price_medicare(con, frame)
    first, unknown, unnamed = out.iter_rows(named=True)
    assert first["schedule"] == "asp_noc" and first["line_amount"] == cents(Decimal(vaso[2].lstrip("$")) * 20)
    assert vaso[0] in first["derivation"] and "per 1 UNIT" in first["derivation"]
    assert unknown["line_amount"] is None and "no drug named aspirin" in unknown["not_priced_reason"]
    assert unnamed["schedule"] == "mpfs" and unnamed["status"] == "not_priced"  # no name: J3490 is status E
    # outside the NOC file's quarter
    later = price_medicare(con, frame.head(1).with_columns(service_date=pl.lit(date(2026, 2, 1))))
    assert later["line_amount"][0] is None and "2026-02-01" in later["not_priced_reason"][0]


def test_the_negotiation_pack_takes_each_codes_medicare_amount_from_its_schedule(con):
    from reports.negotiate import medicare_at_location

    keys = [("80053", "", False), ("99213", "", False), ("J3301", "", False), ("L3908", "", False)]
    out, note = medicare_at_location(con, keys, date(2025, 2, 14), zip="10001", locality=None)
    assert out[("80053", "")] == Decimal("10.56") and out[("J3301", "")] == Decimal("0.90")  # $0.898 a unit
    assert out[("L3908", "")] > 0 and out[("99213", "")] > 0
    assert "4 of 4 codes" in note and "CLFS x1" in note and "ASP x1" in note
