"""Places of service: the one facility list (pipelines.core.places) follows CMS, and both users
of it (fee_schedules.pricing and the comparison SQL) read that list."""

from __future__ import annotations

import polars as pl
import pytest

from fee_schedules import pricing
from pipelines.core import places


@pytest.mark.parametrize(
    "code, facility",
    [
        ("02", True),  # telehealth other than in the patient's home: facility rate (CY 2024/2025 PFS)
        ("10", False),  # telehealth in the patient's home: non-facility rate
        ("11", False),  # office
        ("12", False),  # home
        ("19", True),  # off-campus outpatient hospital
        ("21", True),
        ("22", True),  # on-campus outpatient hospital
        ("23", True),
        ("24", True),
        ("31", True),
        ("81", False),  # independent laboratory
        ("99", False),
    ],
)
def test_facility_rule(code, facility):
    assert places.is_facility(code) is facility


def test_codes_are_zero_padded_and_trimmed():
    assert places.normalize("2") == "02" and places.normalize(" 2 ") == "02" and places.normalize(2) == "02"
    assert places.is_facility("2") and places.is_facility(" 22") and not places.is_facility("1")
    assert places.normalize(None) is None and places.normalize("  ") is None
    assert not places.is_facility(None)


def test_polars_expression_agrees_with_the_scalar_rule():
    codes = ["02", "2", "10", "11", "19", " 22", "21", "81", None]
    got = pl.DataFrame({"pos": codes}).select(places.is_facility_expr(pl.col("pos")))["pos"].to_list()
    assert got == [True, True, False, False, True, True, True, False, None]
    assert got[:-1] == [places.is_facility(c) for c in codes[:-1]]


def test_one_list_shared_by_pricing_and_compare():
    assert pricing.FACILITY_POS is places.FACILITY_POS
    assert places.facility_pos_list() == sorted(places.FACILITY_POS)
    assert places.TELEHEALTH_FACILITY_POS in places.FACILITY_POS
    assert places.TELEHEALTH_HOME_POS not in places.FACILITY_POS
    assert all(len(c) == 2 and c.isdigit() for c in places.FACILITY_POS)
