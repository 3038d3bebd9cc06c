"""pipelines.market.rates on inline values: dollars from percentages, what Keep keeps, values refused."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from pipelines.market.rates import BadValue, Group, Keep, in_dollars, item_rates


@pytest.mark.parametrize(
    ("kind", "rate", "info", "dollars", "basis"),
    [
        ("negotiated", D("123.4550"), None, D("123.46"), None),  # half up to the cent
        ("per diem", D("5500"), "Daily rate", D("5500.00"), None),
        (
            "percentage",
            D("80"),
            "80% of $150.00",
            D("120.00"),
            "80% of $150.00, the base its additional_information states",
        ),
        (
            "percentage",
            D("65.5"),
            "pays 65.5% of a $1,000 case rate",
            D("655.00"),
            "65.5% of $1,000.00, the base its additional_information states",
        ),
        (
            "percentage",
            D("70"),
            "Base rate: $200",
            D("140.00"),
            "70% of $200.00, the base its additional_information states",
        ),
        ("percentage", D("65"), "65% of billed charges, capped at $500", None, None),
        ("percentage", D("75.5"), None, None, "75.5% with no basis stated in the file"),
        ("percentage", D("110"), "110% of Medicare", None, None),
    ],
)
def test_in_dollars(kind, rate, info, dollars, basis):
    got_dollars, got_basis = in_dollars(kind, rate, info)
    assert got_dollars == dollars
    if basis is not None:
        assert got_basis == basis
    elif kind == "percentage":  # no dollar base: why, quoting the file's words
        assert got_basis.startswith(f"{rate.normalize():f}% of a base the file gives no dollar figure for")
        assert info in got_basis


def test_keep_by_npi_or_tin():
    group = Group(tin="12-3456789", npis=(1234567890, 0))
    assert Keep.of(["99213"]).wants(group)
    assert Keep.of(["99213"], npis=["1234567890"]).wants(group)
    assert Keep.of(["99213"], tins=["123456789"]).wants(group)  # the dash is not compared
    assert not Keep.of(["99213"], npis=[1111111111], tins=["98-7654321"]).wants(group)
    assert not Keep.of(["99213"], tins=["12-3456789"]).wants(Group(tin=None, npis=(1234567890,)))


def test_item_rates_keeps_the_classes_asked_and_refuses_unknown_ones():
    item = {
        "billing_code_type": "CPT",
        "billing_code": "99213",
        "negotiated_rates": [
            {
                "provider_references": [3],
                "negotiated_prices": [
                    {"negotiated_type": "negotiated", "negotiated_rate": D("80.5"), "billing_class": "professional",
                     "billing_code_modifier": ["25", "59"], "expiration_date": "9999-12-31"},
                    {"negotiated_type": "negotiated", "negotiated_rate": 200, "billing_class": "institutional"},
                ],
            },
            {"provider_references": [4], "negotiated_prices": [
                {"negotiated_type": "negotiated", "negotiated_rate": 1, "billing_class": "institutional"}]},
        ],
    }  # fmt: skip
    rates = item_rates(item, "in_network[0]", Keep.of(["99213"]))
    assert len(rates) == 1 and rates[0].references == [3]
    (price,) = rates[0].prices
    assert (price.modifier, price.negotiated_rate, str(price.expiration_date)) == ("25-59", D("80.5000"), "9999-12-31")
    assert len(item_rates(item, "in_network[0]", Keep.of(["99213"], institutional=True))) == 2
    item["negotiated_rates"][1]["negotiated_prices"][0]["billing_class"] = "facility"
    with pytest.raises(
        BadValue, match=r"in_network\[0\]\.negotiated_rates\[1\]\.negotiated_prices\[0\]\.billing_class"
    ):
        item_rates(item, "in_network[0]", Keep.of(["99213"]))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("negotiated_type", "capitated", "negotiated | fee schedule | percentage | per diem | derived"),
        ("negotiated_rate", None, "a number"),
        ("negotiated_rate", D("1e15"), "a number below"),
        ("expiration_date", "12/31/2025", "a date YYYY-MM-DD"),
    ],
)
def test_values_that_cannot_be_kept(field, value, expected):
    price = {"negotiated_type": "negotiated", "negotiated_rate": 1, "billing_class": "professional", field: value}
    item = {"billing_code_type": "CPT", "billing_code": "99213",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [price]}]}  # fmt: skip
    with pytest.raises(BadValue) as info:
        item_rates(item, "in_network[7]", Keep.of(["99213"]))
    assert info.value.where == f"in_network[7].negotiated_rates[0].negotiated_prices[0].{field}"
    assert info.value.expected.startswith(expected)
