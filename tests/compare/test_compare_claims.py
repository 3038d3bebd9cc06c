"""The comparison prices percent_of_medicare lines of `modifier_adjustments: medicare` contracts claim by
claim (fee_schedules.claims.price_claims): a line Medicare reduces at claim level (multiple procedures,
an endoscopy family, an imaging session, the anesthesia formula, a non-physician practitioner) is
expected at the reduced amount, so a payer paying exactly that is `correct`, never `underpaid`, and
the explanation names the claim step.

The Medicare amounts are the worked 2025 examples of shared/notes/medicare-payment-policy.md as
tests/fee_schedules/test_claims_examples.py states them (checked there against the independent
calculator tests/fee_schedules/mac_reference.py over the raw CMS files), never read back from the
pricer; the contract percent is applied here by hand (Decimal, half-up).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib
from decimal import Decimal as D

import pytest

from pipelines.compare.compare import VarianceRows, compare
from pipelines.core.config import Settings
from tests.fee_schedules.test_claims_examples import EXAMPLES, NOTE_FEES

_spec = importlib.util.spec_from_file_location("cmp_conftest_claims", pathlib.Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
write_contract, variance, cents = _helpers.write_contract, _helpers.variance, _helpers.cents

DOS = dt.date(2025, 3, 15)  # release A of 2025 in force, as the examples
PA_NPI, CRNA_NPI, MD_NPI = "1234567893", "1987654328", "1497758544"
ROSTER = f"npi,name,type\n{PA_NPI},Pat Assistant,PA\n{CRNA_NPI},Cora Nurse,CRNA\n"
COMMON = 'payee_tins: ["123456789"]\neffective: 2025-01-01\nmedicare: {locality: "1320201"}\n'
MEDICARE = (  # Medicare itself (Manhattan): 100% of Medicare, Medicare's modifier rules, SVC05 = minutes
    'name: Medicare\npayer: {ids: ["13202"]}\n' + COMMON + "tolerance: {amount: 0.05, percent: 0.1}\n"
    'modifier_adjustments: medicare\nterms:\n  - codes: ["*"]\n    percent_of_medicare: 100\n'
)
ACME = (  # a commercial contract at 120% of Manhattan Medicare; its 835s carry anesthesia time in 15-minute units
    'name: Acme\npayer: {ids: ["ACME1"]}\n' + COMMON + "tolerance: {amount: 1.00, percent: 0.5}\n"
    'modifier_adjustments: medicare\nanesthesia_time: units\nterms:\n  - codes: ["*"]\n    percent_of_medicare: 120\n'
)
FLAT = (  # the same 120% without Medicare's modifier rules: priced line by line, as before
    'name: Flat\npayer: {ids: ["FLAT1"]}\n' + COMMON + "tolerance: {amount: 1.00, percent: 0.5}\n"
    'terms:\n  - codes: ["*"]\n    percent_of_medicare: 120\n'
)


def example(name: str) -> list[D]:
    """The allowed amounts of one worked example, per line (tests/fee_schedules/test_claims_examples.py)."""
    return [D(w) for e in EXAMPLES if e[0] == name for w in e[5]]


def note_fee(code: str) -> D:
    """The note's step-1 amount of a Manhattan facility code (one unit, no modifier)."""
    return next(D(f[4]) for f in NOTE_FEES if f[0] == code and f[1] == "" and f[2] == ("13202", "01") and f[3])


@pytest.fixture()
def folder(tmp_path):
    folder = tmp_path / "contracts"
    write_contract(folder, "medicare.yaml", MEDICARE)
    write_contract(folder, "acme.yaml", ACME)
    write_contract(folder, "flat.yaml", FLAT)
    write_contract(folder, "providers.csv", ROSTER)
    return folder


def run(b, folder):
    result = compare(b.con, folder, settings=Settings())
    VarianceRows.validate(b.con.sql("SELECT * FROM variances").pl(), lazy=True)
    return result


def paid_as(b, claim, code, allowed, *, mods=(), units=1, charge=D("5000.00"), line_number=None, adj=()):
    """A line the payer allowed ``allowed`` of (CO-45 for the rest of the charge)."""
    adj = [("CO", "45", charge - allowed), *adj] if allowed < charge else list(adj)
    return b.line(
        claim, code, charge, mods=mods, units=units, allowed=allowed, adj=adj, dos=DOS, line_number=line_number
    )


def test_second_surgical_procedure_is_expected_at_the_multiple_procedure_fifty_percent(mwh, folder):
    # 3.1 co-surgeons, Manhattan facility: 22612-62 and 63047-62; 63047 ranks second: 62.5% x 50%.
    first, second = example("3.1 co-surgeons M")
    assert second == cents(note_fee("63047") * D("0.625") * D("0.5")) == D("407.39")
    c = mwh.claim(mwh.payment("13202", "NGS MEDICARE PART B"), pos="22")
    a = paid_as(mwh, c, "22612", first, mods=["62"], line_number=1)
    b = paid_as(mwh, c, "63047", second, mods=["62"], line_number=2)
    res = run(mwh, folder)
    va, vb = variance(mwh.con, a), variance(mwh.con, b)
    assert (va["expected_allowed"], vb["expected_allowed"]) == (first, second)
    assert (va["category"], vb["category"]) == ("correct", "correct")
    assert res.by_category["underpaid"] == 0 and res.by_category["overpaid"] == 0
    # the claim step that reduced it is named, in the explanation and as the reduction reason
    assert vb["reduction_reason"] and "rank 2" in vb["reduction_reason"]
    assert vb["explanation"].startswith(
        "100% of Medicare 2025 locality 13202-01 facility claim-level allowed $407.39 ["
    )
    assert vb["reduction_reason"] in vb["explanation"]
    assert vb["explanation"].endswith(
        "= $407.39; actual allowed $407.39; correct: variance $0.00 is within tolerance ($0.05 or 0.1%)"
    )
    # no further modifier, multiple-procedure or units step after the claim pricer's allowed
    assert (vb["step_base"], vb["step_percent"], vb["step_modifier"], vb["step_units"]) == (second,) * 4
    assert vb["reduction_percent"] == 100 and vb["mppr_rank"] is None
    assert vb["medicare_allowed"] == second and vb["percent_of_medicare"] == D("100.00")


def test_a_payer_paying_the_full_amount_of_a_reduced_line_is_overpaid_and_less_is_underpaid(mwh, folder):
    first, second = example("3.1 co-surgeons M")
    c = mwh.claim(mwh.payment("13202", "NGS MEDICARE PART B"), pos="22")
    paid_as(mwh, c, "22612", first, mods=["62"], line_number=1)
    full = mwh.line(c, "63047", 5000, mods=["62"], allowed=second * 2, adj=[("CO", "45", 5000 - second * 2)], dos=DOS)
    c2 = mwh.claim(mwh.payment("13202", "NGS MEDICARE PART B"), pos="22")
    paid_as(mwh, c2, "22612", first, mods=["62"], line_number=1)
    short = paid_as(mwh, c2, "63047", second - D("100.00"), mods=["62"], line_number=2)
    run(mwh, folder)
    assert variance(mwh.con, full)["category"] == "overpaid" and variance(mwh.con, full)["variance"] == -second
    v = variance(mwh.con, short)
    assert v["category"] == "underpaid" and v["variance"] == D("100.00")
    assert v["explanation"].endswith("actual allowed $307.39; underpaid $100.00")


def test_colonoscopy_family_is_expected_as_one_family(mwh, folder):
    # 3.2 colonoscopy, Manhattan facility: 45385 + 45380 + 45378 (the base): 277.19 / 17.76 / 0
    want = example("3.2 colonoscopy M")
    assert want == [D("277.19"), D("17.76"), D("0")]
    c = mwh.claim(mwh.payment("13202", "NGS MEDICARE PART B"), pos="22")
    lines = [paid_as(mwh, c, "45385", want[0], line_number=1), paid_as(mwh, c, "45380", want[1], line_number=2)]
    base = mwh.line(c, "45378", 900, adj=[("CO", "97", 900)], dos=DOS, line_number=3)  # bundled: nothing allowed
    res = run(mwh, folder)
    got = [variance(mwh.con, i) for i in lines]
    assert [v["expected_allowed"] for v in got] == want[:2]
    assert [v["category"] for v in got] == ["correct", "correct"]
    assert got[1]["reduction_reason"] and got[1]["reduction_reason"] in got[1]["explanation"]
    vb = variance(mwh.con, base)
    assert vb["expected_allowed"] == D("0.00") and vb["variance"] == D("0.00") and vb["category"] == "denied"
    assert vb["reduction_reason"] in vb["explanation"]
    assert res.by_category["underpaid"] == 0 and res.denied_expected == 0


def test_imaging_session_at_a_contract_percent(mwh, folder):
    # 3.3 imaging, Manhattan non-facility: 70553 + 72148 + 72141-26 at 120%, each rounded half-up
    want = [cents(a * D("1.2")) for a in example("3.3 imaging M")]
    assert want == [D("433.54"), D("170.21"), D("85.61")]
    c = mwh.claim(mwh.payment("ACME1", "ACME HEALTH"), pos="11")
    ids = [
        paid_as(mwh, c, "70553", D("100.00"), line_number=1),  # underpaid
        paid_as(mwh, c, "72148", want[1], line_number=2),  # the reduced session amount: correct
        paid_as(mwh, c, "72141", want[2], mods=["26"], line_number=3),
    ]
    run(mwh, folder)
    got = [variance(mwh.con, i) for i in ids]
    assert [v["expected_allowed"] for v in got] == want
    assert [v["category"] for v in got] == ["underpaid", "correct", "correct"]
    assert got[0]["variance"] == want[0] - D("100.00")
    assert got[1]["explanation"].startswith(
        "120% of Medicare 2025 locality 13202-01 non-facility claim-level allowed $141.84 ["
    )
    assert got[1]["reduction_reason"] in got[1]["explanation"]


def test_without_medicare_modifier_rules_lines_are_priced_alone(mwh, folder):
    # the same imaging session under a contract with modifier_adjustments none: each line at its own fee
    c = mwh.claim(mwh.payment("FLAT1", "FLAT HEALTH"), pos="11")
    line = paid_as(mwh, c, "72148", D("100.00"), line_number=2)
    paid_as(mwh, c, "70553", D("100.00"), line_number=1)
    run(mwh, folder)
    v = variance(mwh.con, line)
    full = [D(f[4]) for f in NOTE_FEES if f[0] == "72148" and f[1] == "" and f[2] == ("13202", "01")][0]
    assert v["expected_allowed"] == cents(full * D("1.2")) and "claim-level" not in v["explanation"]


def test_anesthesia_minutes_and_units(mwh, folder):
    # 3.8: 00811-QK 52 minutes (Medicare: SVC05 = minutes) and 00813-QZ by a CRNA, 95 minutes = 6.3
    # time units (Acme: SVC05 = units); the CRNA is found by the rendering NPI, else by the payee NPI.
    (qk,) = example("3.8 00811-QK M")
    (qz,) = example("3.8 00813-QZ M")
    medicare = paid_as(
        mwh, mwh.claim(mwh.payment("13202", "NGS MEDICARE PART B"), pos="22"), "00811", qk, mods=["QK"], units=52
    )
    by_rendering = paid_as(
        mwh,
        mwh.claim(mwh.payment("ACME1", "ACME HEALTH"), pos="22", rendering=CRNA_NPI),
        "00813",
        cents(qz * D("1.2")),
        mods=["QZ"],
        units=D("6.3"),
    )
    by_payee = paid_as(
        mwh,
        mwh.claim(mwh.payment("ACME1", "ACME HEALTH", payee_npi=CRNA_NPI), pos="22"),
        "00813",
        cents(qz * D("1.2")),
        mods=["QZ"],
        units=D("6.3"),
    )
    run(mwh, folder)
    v = variance(mwh.con, medicare)
    assert v["expected_allowed"] == qk == D("85.35") and v["category"] == "correct"
    assert v["medicare_allowed"] == qk and v["step_units"] == qk  # 52 is minutes, not a unit count
    for line in (by_rendering, by_payee):
        v = variance(mwh.con, line)
        assert v["expected_allowed"] == cents(qz * D("1.2")) == D("308.63") and v["category"] == "correct"


def test_provider_type_from_the_roster(mwh, folder):
    # 3.7 27447-55 by a PA (85% of the physician's postoperative share): 261.58; the same line by a
    # physician (NPI not in the roster) is expected at the physician's share.
    (pa,) = example("3.7 27447-55 PA M")
    pay = mwh.payment("13202", "NGS MEDICARE PART B")
    by_pa = paid_as(mwh, mwh.claim(pay, pos="22", rendering=PA_NPI), "27447", pa, mods=["55"])
    by_md = paid_as(mwh, mwh.claim(pay, pos="22", rendering=MD_NPI), "27447", pa, mods=["55"])
    run(mwh, folder)
    v = variance(mwh.con, by_pa)
    assert v["expected_allowed"] == pa and v["category"] == "correct"
    v = variance(mwh.con, by_md)
    assert v["expected_allowed"] > pa and v["category"] == "underpaid"


CARVE_OUT = (  # Medicare's modifier rules, one code at a fixed rate and the rest at 100% of Medicare
    'name: Carve\npayer: {ids: ["CARVE1"]}\n' + COMMON + "tolerance: {amount: 0.05, percent: 0.1}\n"
    'modifier_adjustments: medicare\nterms:\n  - codes: ["22612"]\n    rate: 2000.00\n'
    '  - codes: ["*"]\n    percent_of_medicare: 100\n'
)


def test_a_claim_level_line_is_ranked_with_the_claims_fixed_rate_lines(mwh, folder):
    # Medicare ranks every procedure of the claim together: 22612 (a fixed rate in this contract, the
    # higher Medicare fee) takes rank 1, so 63047 (percent of Medicare) is rank 2 at 50%; the payer
    # paying 50% of 63047's fee is correct, not underpaid.
    write_contract(folder, "carve.yaml", CARVE_OUT)
    assert note_fee("22612") > note_fee("63047")
    half = cents(note_fee("63047") * D("0.5"))
    c = mwh.claim(mwh.payment("CARVE1", "CARVE HEALTH"), pos="22")
    rate_line = paid_as(mwh, c, "22612", D("2000.00"), line_number=1)
    pom_line = paid_as(mwh, c, "63047", half, line_number=2)
    res = run(mwh, folder)
    v = variance(mwh.con, pom_line)
    assert (v["expected_allowed"], v["category"]) == (half, "correct")
    assert v["reduction_reason"] and "rank 2 of 2" in v["reduction_reason"]
    v = variance(mwh.con, rate_line)
    assert (v["expected_allowed"], v["category"]) == (D("2000.00"), "correct")
    assert res.by_category["underpaid"] == 0 and res.by_category["overpaid"] == 0
