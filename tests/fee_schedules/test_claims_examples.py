"""Every worked 2025 example of shared/notes/medicare-payment-policy.md (§3.1-3.8, open question 8),
checked against the independent calculator (mac_reference.py, raw CMS files) and against
fee_schedules.claims.price_claims over the imported warehouse. Manhattan 13202-01 and Arkansas 07102-13.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import shared_path
from tests.fee_schedules.mac_reference import MacReference, claims_frame

M = ("13202", "01")  # Manhattan
A = ("07102", "13")  # Arkansas
BASE_UNITS = (
    "cms",
    "extra",
    "anesthesia",
    "2022",
    "Section 508 compliant version of CY_2022_Anesthesia_Base_Units_110921.txt",
)


def L(code, mods="", **kw):  # noqa: N802 - a line spec, read like the note's tables
    return {"code": code, "modifiers": mods.split(), **kw}


D = Decimal
F, NF = True, False

# (id, locality, facility, provider_type, lines, expected allowed per line, expected claim total or None)
EXAMPLES = [
    # 3.1 MULT PROC 2
    ("3.1 co-surgeons M", M, F, None, [L("22612", "62"), L("63047", "62")], ["1149.92", "407.39"], None),
    ("3.1 co-surgeons A", A, F, None, [L("22612", "62"), L("63047", "62")], ["855.75", "299.18"], None),
    ("3.1 bilateral + 20610 M", M, F, None, [L("29881", "50"), L("20610")], ["939.99", "25.39"], None),
    ("3.1 bilateral + 20610 A", A, F, None, [L("29881", "50"), L("20610")], ["719.03", "19.99"], None),
    # 3.2 endoscopy families
    ("3.2 colonoscopy M", M, F, None, [L("45385"), L("45380"), L("45378")], ["277.19", "17.76", "0"], "294.95"),
    ("3.2 colonoscopy A", A, F, None, [L("45385"), L("45380"), L("45378")], ["223.41", "14.27", "0"], "237.68"),
    ("3.2 EGD + hernia M", M, F, None, [L("43251"), L("43239"), L("49505")], ["107.12", "8.16", "606.73"], "722.01"),
    ("3.2 EGD + hernia A", A, F, None, [L("43251"), L("43239"), L("49505")], ["86.15", "6.83", "457.45"], "550.43"),
    # 3.3 imaging
    ("3.3 imaging M", M, NF, None, [L("70553"), L("72148"), L("72141", "26")], ["361.28", "141.84", "71.34"], "574.46"),
    ("3.3 imaging A", A, NF, None, [L("70553"), L("72148"), L("72141", "26")], ["278.71", "112.64", "60.87"], "452.22"),
    # 3.4 cardiovascular and ophthalmology
    ("3.4 cardio M", M, NF, None, [L("93306"), L("93880")], ["179.61", "210.78"], "390.39"),
    ("3.4 cardio A", A, NF, None, [L("93306"), L("93880")], ["141.18", "158.96"], "300.14"),
    ("3.4 ophth M", M, NF, None, [L("92134"), L("92250"), L("92083")], ["32.51", "36.77", "69.97"], "139.25"),
    ("3.4 ophth A", A, NF, None, [L("92134"), L("92250"), L("92083")], ["25.78", "29.49", "54.62"], "109.89"),
    # 3.5 therapy (PT)
    (
        "3.5 therapy M",
        M,
        NF,
        "PT",
        [L("97110", units=2), L("97140"), L("97530", units=2), L("97112", "CQ")],
        ["48.30", "22.89", "66.47", "22.79"],
        "160.45",
    ),
    (
        "3.5 therapy A",
        A,
        NF,
        "PT",
        [L("97110", units=2), L("97140"), L("97530", units=2), L("97112", "CQ")],
        ["41.40", "19.64", "54.67", "19.57"],
        "135.28",
    ),
    # 3.6 bilateral and the pair's charges
    (
        "3.6 RT/LT ind 1 M",
        M,
        F,
        None,
        [L("64721", "RT", charge=D(400)), L("64721", "LT", charge=D(200))],
        ["508.24", "91.76"],
        "600.00",
    ),
    (
        "3.6 RT/LT ind 1 A",
        A,
        F,
        None,
        [L("64721", "RT", charge=D(400)), L("64721", "LT", charge=D(200))],
        ["386.82", "193.41"],
        None,
    ),
    ("3.6 RT/LT ind 0 M", M, F, None, [L("11042", "RT"), L("11042", "LT")], ["67.40", "0"], None),
    ("3.6 RT/LT ind 0 A", A, F, None, [L("11042", "RT"), L("11042", "LT")], ["53.76", "0"], None),
    ("3.6 -50 charged 600 M", M, F, None, [L("64721", "50", charge=D(600))], ["600.00"], None),
    # 3.7 split care
    ("3.7 27447-54 M", M, F, None, [L("27447", "54")], ["1157.71"], None),
    ("3.7 27447-54 A", A, F, None, [L("27447", "54")], ["889.77"], None),
    ("3.7 27447-55 PA M", M, F, "PA", [L("27447", "55")], ["261.58"], None),
    ("3.7 27447-55 PA A", A, F, "PA", [L("27447", "55")], ["201.04"], None),
    # 3.8 anesthesia
    ("3.8 00811-QK M", M, F, None, [L("00811", "QK", minutes=52)], ["85.35"], None),
    ("3.8 00811-QK A", A, F, None, [L("00811", "QK", minutes=52)], ["72.04"], None),
    ("3.8 00813-QZ M", M, F, "CRNA", [L("00813", "QZ", minutes=95)], ["257.19"], None),
    ("3.8 00813-QZ A", A, F, "CRNA", [L("00813", "QZ", minutes=95)], ["217.07"], None),
    # open question 8: 78 reorders the ranking (11102's amount is the note's claim total minus the other two)
    (
        "Q8 78 ranking A",
        A,
        NF,
        None,
        [L("11104"), L("11102"), L("10120", "78")],
        ["105.30", "42.34", "52.18"],
        "199.82",
    ),
]

# Step 1 amounts the note states (code, row modifier, locality, facility, amount).
NOTE_FEES = [
    ("22612", "", M, F, "1839.87"),
    ("63047", "", M, F, "1303.66"),
    ("22612", "", A, F, "1369.20"),
    ("63047", "", A, F, "957.37"),
    ("29881", "", M, F, "626.66"),
    ("29881", "", A, F, "479.35"),
    ("20610", "", M, F, "50.77"),
    ("20610", "", A, F, "39.97"),
    ("45380", "", M, F, "220.61"),
    ("45378", "", M, F, "202.85"),
    ("45380", "", A, F, "176.72"),
    ("45378", "", A, F, "162.45"),
    ("43251", "", M, F, "214.23"),
    ("43239", "", M, F, "151.42"),
    ("43235", "", M, F, "135.11"),
    ("70553", "TC", M, NF, "244.50"),
    ("70553", "26", M, NF, "116.78"),
    ("72148", "", M, NF, "216.10"),
    ("72148", "TC", M, NF, "141.00"),
    ("72148", "26", M, NF, "75.10"),
    ("72148", "", A, NF, "167.61"),
    ("72141", "26", A, NF, "64.07"),
    ("93880", "TC", M, NF, "170.20"),
    ("93306", "TC", M, NF, "143.42"),
    ("92083", "TC", M, NF, "41.65"),
    ("92134", "TC", M, NF, "16.75"),
    ("92250", "TC", M, NF, "18.64"),
    ("64721", "", M, F, "508.24"),
    ("27447", "", M, F, "1465.45"),
    ("27447", "", A, F, "1126.29"),
    ("97110", "", M, NF, "32.26"),
    ("97530", "", M, NF, "39.08"),
]
# Published 50%-PE therapy amounts quoted by the note (Manhattan NF, S3).
NOTE_THERAPY_REDUCED = [("97110", "24.15"), ("97530", "27.39"), ("97161", "82.54"), ("92597", "62.52")]


def claim_lines(loc, facility, ptype, specs, key="c1"):
    out = []
    for i, spec in enumerate(specs, start=1):
        line = {
            "claim_key": key,
            "line": i,
            "units": None,
            "minutes": None,
            "charge": None,
            "carrier": loc[0],
            "locality": loc[1],
            "facility": facility,
            "provider_type": ptype,
        }
        line.update(spec)
        out.append(line)
    return out


@pytest.fixture(scope="module")
def reference(cms_dir) -> MacReference:
    return MacReference(cms_dir / "2025", shared_path(*BASE_UNITS))


def _ids(examples):
    return [e[0] for e in examples]


@pytest.mark.parametrize("code,mod,loc,facility,want", NOTE_FEES)
def test_reference_fees_equal_the_note(reference, code, mod, loc, facility, want):
    assert reference.fee(code, mod, loc[0], loc[1], facility) == Decimal(want)


@pytest.mark.parametrize("code,want", NOTE_THERAPY_REDUCED)
def test_reference_therapy_reduced_equal_the_published_amounts(reference, code, want):
    assert reference.therapy_reduced(reference.rvus[(code, "")], *M, False) == Decimal(want)


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_reference_reproduces_the_note(reference, example):
    _id, loc, facility, ptype, specs, want, total = example
    out = reference.price(claim_lines(loc, facility, ptype, specs))
    got = [o["allowed"] for o in out]
    assert [o["reason"] for o in out] == [None] * len(out), out
    assert got == [Decimal(w) for w in want], [o["steps"] for o in out]
    if total is not None:
        assert sum(got) == Decimal(total)


@pytest.fixture(scope="module")
def price_claims():
    claims = pytest.importorskip("fee_schedules.claims", reason="fee_schedules.claims not written yet")
    return claims.price_claims


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_price_claims_reproduces_the_note(mpfs_con, price_claims, example):
    _id, loc, facility, ptype, specs, want, total = example
    lines = claim_lines(loc, facility, ptype, specs)
    out = price_claims(mpfs_con, claims_frame(lines)).sort("row_id")
    assert out["status"].to_list() == ["priced"] * len(lines), out["reason"].to_list()
    got = out["allowed"].to_list()
    assert got == [Decimal(w) for w in want], out["derivation"].to_list()
    if total is not None:
        assert sum(got) == Decimal(total)


def test_note_claims_in_one_frame_price_as_separate_claims(mpfs_con, price_claims, reference):
    """All examples in one frame (one claim_key each): every line equals the reference, to the cent."""
    lines = []
    for k, (_id, loc, facility, ptype, specs, _want, _total) in enumerate(EXAMPLES):
        lines += claim_lines(loc, facility, ptype, specs, key=f"claim{k}")
    want = [o["allowed"] for o in reference.price(lines)]
    out = price_claims(mpfs_con, claims_frame(lines)).sort("row_id")
    assert out["allowed"].to_list() == want


def test_a_59_imaging_session_stays_its_own_whatever_its_row_id(mpfs_con, price_claims, reference):
    """Regression: the 59/XE session was keyed by row_id with 0 meaning "the claim's session", so a
    59 line with row_id 0 joined the others and cut their TC/PC. 70450-59 is its own session: the
    second 70450 is the session's only study and is paid in full."""
    lines = claim_lines(M, NF, None, [L("70450", "59"), L("10060"), L("70450")])
    frame = claims_frame(lines)
    assert frame["row_id"].to_list()[0] == 0
    out = price_claims(mpfs_con, frame).sort("row_id")
    want = [o["allowed"] for o in reference.price(lines)]
    assert want[0] == want[2]  # two sessions of one study each
    assert out["allowed"].to_list() == want
