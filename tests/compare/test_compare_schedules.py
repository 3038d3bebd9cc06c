"""The comparison over lab, drug and DME lines: contracts priced from the CLFS, ASP and DMEPOS schedules flag
exactly the lines paid below them, never a line paid right, and a drug billed in units that do not fit its
dosage is a data-quality line, not an underpayment.

The Medicare amounts are read here from CMS's own files (csv + Decimal, tests/fee_schedules/test_schedules.py's
reader), the contract percent applied by hand (half-up), never read back from the pricer.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib
from decimal import Decimal as D

import pytest

from fee_schedules.schedule_import import import_schedules
from pipelines.compare.compare import VarianceRows, compare
from pipelines.core.config import Settings
from pipelines.core.warehouse import connect
from tests.conftest import shared_path
from tests.fee_schedules.test_schedules import cents, rows_after_header

_spec = importlib.util.spec_from_file_location("cmp_conftest_sched", pathlib.Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
Builder, write_contract, variance = _helpers.Builder, _helpers.write_contract, _helpers.variance

DOS = dt.date(2025, 2, 10)  # CLFS 2025 Q1, ASP Jan 2025 (updated 030725), DMEPOS January 2025
COMMON = 'payee_tins: ["123456789"]\neffective: 2025-01-01\nmedicare: {zip: "15201"}\n'  # Pittsburgh, PA (not rural)
BY_SCHEDULE = (  # terms that name their schedule
    'name: Keystone\npayer: {ids: ["KEY1"]}\n' + COMMON + "tolerance: {amount: 0.01, percent: 0}\nterms:\n"
    '  - codes: ["80000-89999"]\n    percent_of_clfs: 100\n'
    '  - codes: ["J0000-J9999"]\n    percent_of_asp: 106\n'
    '  - codes: ["E0100-E9999", "A4000-A9999"]\n    percent_of_dmepos: 85\n'
    '  - codes: ["36415"]\n    percent_of_asp: 100\n'  # a lab code under a drug term: can never price
)
ANY = (  # percent_of_medicare: each code from the schedule that pays it
    'name: Plain\npayer: {ids: ["PLAIN1"]}\n' + COMMON + "tolerance: {amount: 0.01, percent: 0}\n"
    'terms:\n  - codes: ["*"]\n    percent_of_medicare: 110\n'
)


@pytest.fixture(scope="module")
def extra():
    return shared_path("cms", "extra")


@pytest.fixture()
def swh(mpfs_db, extra):
    con = connect(mpfs_db)
    import_schedules(con, extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv")
    import_schedules(
        con, extra / "asp" / "2025" / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv"
    )
    folder = extra / "dmepos" / "2025"
    for name in ("DMEPOS_JAN.csv", "DME Rural ZIP Code Quarter 1, 2025.txt"):
        import_schedules(con, folder / name)
    yield Builder(con)
    con.close()


@pytest.fixture()
def folder(tmp_path):
    folder = tmp_path / "contracts"
    write_contract(folder, "keystone.yaml", BY_SCHEDULE)
    write_contract(folder, "plain.yaml", ANY)
    return folder


def file_rates(extra):
    header, rows = rows_after_header(extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv", "YEAR")
    clfs = {r[header.index("HCPCS")]: D(r[header.index("RATE")]) for r in rows if r[header.index("MOD")] == ""}
    _, rows = rows_after_header(
        extra / "asp" / "2025" / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv", "HCPCS CODE"
    )
    asp = {r[0]: D(r[3]) for r in rows if r[3].replace(".", "").isdigit()}
    header, rows = rows_after_header(extra / "dmepos" / "2025" / "DMEPOS_JAN.csv", "HCPCS")
    pa = header.index("PA (NR)")
    dme = {(r[0], r[1]): D(r[pa]) for r in rows if r[2] == ""}
    return clfs, asp, dme


def paid(b, claim, code, allowed, *, mods=(), units=1, charge=D("20000.00")):
    adj = [("CO", "45", charge - allowed)] if allowed < charge else []
    return b.line(claim, code, charge, mods=list(mods), units=units, allowed=allowed, adj=adj, dos=DOS)


def test_lab_drug_and_dme_lines_are_flagged_exactly_when_paid_below_their_schedules(swh, folder, extra):
    clfs, asp, dme = file_rates(extra)
    c = swh.claim(swh.payment("KEY1", "KEYSTONE HEALTH"), pos="11")
    lab_ok = paid(swh, c, "80053", clfs["80053"])
    lab_low = paid(swh, c, "85025", clfs["85025"] - D("0.50"))
    drug_ok = paid(swh, c, "J9271", cents(asp["J9271"] * 200 * D("1.06")), units=200)
    drug_low = paid(swh, c, "J3301", cents(asp["J3301"] * 40 * D("1.06")) - D("3.00"), units=40)
    rent_ok = paid(swh, c, "E0601", cents(dme[("E0601", "RR")] * D("0.85")), mods=["RR", "KH"])
    rent_month4 = paid(swh, c, "E0601", cents(cents(dme[("E0601", "RR")] * D("0.75")) * D("0.85")), mods=["RR", "KJ"])
    supply_low = paid(swh, c, "A7032", cents(dme[("A7032", "NU")] * D("0.85")) - D("1.00"), mods=["NU"])
    odd_units = paid(swh, c, "J9271", D("100.00"), units=D("2.5"))
    wrong_term = paid(swh, c, "36415", D("9.09"))
    result = compare(swh.con, folder, settings=Settings())
    VarianceRows.validate(swh.con.sql("SELECT * FROM variances").pl(), lazy=True)
    v = {
        name: variance(swh.con, i)
        for name, i in locals().items()
        if name
        in (
            "lab_ok",
            "lab_low",
            "drug_ok",
            "drug_low",
            "rent_ok",
            "rent_month4",
            "supply_low",
            "odd_units",
            "wrong_term",
        )
    }
    assert {k: x["category"] for k, x in v.items()} == {
        "lab_ok": "correct",
        "lab_low": "underpaid",
        "drug_ok": "correct",
        "drug_low": "underpaid",
        "rent_ok": "correct",
        "rent_month4": "correct",
        "supply_low": "underpaid",
        "odd_units": "not_priced",
        "wrong_term": "not_priced",
    }
    assert v["lab_low"]["variance"] == D("0.50") and v["drug_low"]["variance"] == D("3.00")
    assert v["supply_low"]["variance"] == D("1.00")
    assert result.underpaid_total == D("4.50")
    assert v["drug_ok"]["medicare_schedule"] == "asp" and v["lab_ok"]["medicare_schedule"] == "clfs"
    assert v["rent_ok"]["medicare_schedule"] == "dmepos"
    # the explanation states the file's rate, the units and the schedule's release
    ex = v["drug_ok"]["explanation"]
    assert f"${asp['J9271']}" in ex and "x 200 units" in ex and "106% of" in ex and "030725" in ex
    assert v["drug_ok"]["medicare_allowed"] == cents(asp["J9271"] * 200)
    assert "75%" in v["rent_month4"]["explanation"]
    assert v["odd_units"]["not_priced_reason"].startswith("data quality: units_mismatch")
    assert "priced by Medicare's CLFS schedule, not ASP" in v["wrong_term"]["not_priced_reason"]


def test_percent_of_medicare_prices_each_code_from_the_schedule_that_pays_it(swh, folder, extra):
    clfs, asp, _ = file_rates(extra)
    c = swh.claim(swh.payment("PLAIN1", "PLAIN HEALTH"), pos="11")
    lab = paid(swh, c, "80053", cents(clfs["80053"] * 2 * D("1.10")), units=2)
    drug = paid(swh, c, "J3301", cents(asp["J3301"] * 10 * D("1.10")) - D("0.02"), units=10)
    visit = paid(swh, c, "99213", D("1.00"))  # the physician schedule still prices what it pays
    compare(swh.con, folder, settings=Settings())
    vl, vd, vv = (variance(swh.con, i) for i in (lab, drug, visit))
    assert (vl["category"], vl["medicare_schedule"]) == ("correct", "clfs")
    assert (vd["category"], vd["variance"], vd["medicare_schedule"]) == ("underpaid", D("0.02"), "asp")
    assert vv["medicare_schedule"] == "mpfs" and vv["category"] == "underpaid"
