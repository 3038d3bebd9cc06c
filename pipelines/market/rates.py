"""Step 3, what is kept of an in-network file, as rows: pure functions from the JSON objects ijson builds
(dicts, lists, str, int, Decimal) to the tuples the loader stages. No I/O.

- ``Keep``: the billing codes, billing classes, NPIs and TINs to keep.
- ``item_rates``: one in_network item -> its negotiated rates that have a price kept: the prices
  (``Price``), and the provider groups they apply to, inline (1.x ``provider_groups``) or as the
  provider_group_ids of the root ``provider_references`` (1.x and 2.0).
- ``reference``: one root ``provider_references`` entry -> its id and groups, or the location of the
  provider-reference file (1.x) that holds them.
- ``in_dollars``: a price in dollars; a percentage only where the file states its dollar base.

A value the loader cannot keep (a price that is not a number, a date that is not one) raises
``BadValue`` naming where it is in the file (``in_network[12].negotiated_rates[0]...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.core.errors import brief
from pipelines.core.money import half_up, percent_of, to_cent
from pipelines.market.model import BILLING_CLASSES, NEGOTIATED_TYPES, RATE_PRECISION, RATE_SCALE

# Billing classes kept by default: a practice's own claims are professional; "both" covers them too.
PROFESSIONAL = frozenset({"professional", "both"})
RATE_LIMIT = Decimal(10) ** (RATE_PRECISION - RATE_SCALE)  # DECIMAL(18,4) holds less than this

# A percentage becomes dollars only where the text states its dollar base: "65% of $200.00", or
# "base rate of $200" / "base: $200". Any other wording (billed charges, Medicare) is left as a percentage.
_STATED_BASE = (
    re.compile(r"%\s*of\s+(?:an?\s+|the\s+)?\$\s*(?P<amount>[0-9][0-9,]*(?:\.[0-9]+)?)", re.IGNORECASE),
    re.compile(
        r"\bbase(?:\s+rate|\s+amount)?\s*(?:of|is|=|:)?\s*\$\s*(?P<amount>[0-9][0-9,]*(?:\.[0-9]+)?)", re.IGNORECASE
    ),
)


class BadValue(Exception):
    """A value of the file that cannot be kept: where it is (a JSON path), what was expected, what was found."""

    def __init__(self, where: str, expected: str, found: Any):
        self.where, self.expected, self.found = where, expected, found
        super().__init__(f"{where}: expected {expected}, found {brief(found)}")


def normal_code(code: Any) -> str:
    """A billing code as compared: text, trimmed, upper case (CPT/HCPCS codes are)."""
    return str(code).strip().upper()


def tin_key(tin: Any) -> str:
    """A TIN as compared: letters and digits only, upper case ("12-3456789" == "123456789")."""
    return "".join(ch for ch in str(tin) if ch.isalnum()).upper()


@dataclass(frozen=True)
class Keep:
    """What an import keeps: prices for ``codes`` of the billing ``classes``; with ``npis`` or ``tins``,
    only provider groups that list one of the NPIs or have one of the TINs."""

    codes: frozenset[str]
    classes: frozenset[str] = PROFESSIONAL
    npis: frozenset[int] = frozenset()
    tins: frozenset[str] = frozenset()  # tin_key values

    @classmethod
    def of(cls, codes, *, institutional: bool = False, npis=(), tins=()) -> Keep:
        return cls(
            codes=frozenset(normal_code(c) for c in codes),
            classes=frozenset(BILLING_CLASSES) if institutional else PROFESSIONAL,
            npis=frozenset(int(n) for n in npis),
            tins=frozenset(tin_key(t) for t in tins),
        )

    @property
    def by_provider(self) -> bool:
        return bool(self.npis or self.tins)

    def wants(self, group: Group) -> bool:
        """Whether rows for ``group`` are kept (always, unless NPIs or TINs were given)."""
        if not self.by_provider:
            return True
        return bool(self.npis.intersection(group.npis)) or (group.tin is not None and tin_key(group.tin) in self.tins)


@dataclass(frozen=True)
class Group:
    """A provider group: one TIN and the NPIs billing under it (``(0,)``: a TIN-only contract)."""

    tin: str | None
    npis: tuple[int, ...]


@dataclass(frozen=True)
class Price:
    """One negotiated price kept, with the item's code (the columns market_rates takes from the price)."""

    billing_code_type: str
    billing_code: str
    modifier: str
    negotiated_type: str
    negotiated_rate: Decimal
    rate_in_dollars: Decimal | None
    dollars_basis: str | None
    billing_class: str
    setting: str | None
    service_codes: list[str] | None
    expiration_date: date | None


@dataclass
class Rate:
    """One negotiated_rates entry with at least one price kept."""

    prices: list[Price]
    groups: list[Group] = field(default_factory=list)  # inline (1.x)
    references: list[int] = field(default_factory=list)  # provider_group_ids


@dataclass(frozen=True)
class Reference:
    """A root provider_references entry: its groups, or where the file holding them is."""

    group_id: int
    groups: list[Group] | None
    location: str | None


def item_code(item: Any) -> str | None:
    """The billing code of an in_network item, as compared (None when it has none)."""
    if type(item) is not dict:
        return None
    code = item.get("billing_code")
    return None if code is None else normal_code(code)


def item_rates(item: dict, where: str, keep: Keep) -> list[Rate]:
    """The negotiated rates of ``item`` (at JSON path ``where``) with a price ``keep`` keeps."""
    code_type = _text(
        item.get("billing_code_type"), f"{where}.billing_code_type", "a billing code type (CPT, HCPCS, ...)"
    )
    code = normal_code(item["billing_code"])
    rates = item.get("negotiated_rates")
    if type(rates) is not list:
        raise BadValue(f"{where}.negotiated_rates", "an array of negotiated rates", rates)
    out = []
    for i, rate in enumerate(rates):
        at = f"{where}.negotiated_rates[{i}]"
        if type(rate) is not dict:
            raise BadValue(at, "an object", rate)
        prices = rate.get("negotiated_prices")
        if type(prices) is not list:
            raise BadValue(f"{at}.negotiated_prices", "an array of prices", prices)
        kept = []
        for j, price in enumerate(prices):
            at_price = f"{at}.negotiated_prices[{j}]"
            if type(price) is not dict:
                raise BadValue(at_price, "an object", price)
            cls = price.get("billing_class")
            if cls not in BILLING_CLASSES:
                raise BadValue(f"{at_price}.billing_class", " | ".join(BILLING_CLASSES), cls)
            if cls in keep.classes:
                kept.append(_price(price, at_price, code_type, code))
        if not kept:
            continue
        out.append(
            Rate(
                prices=kept,
                groups=[
                    group(g, f"{at}.provider_groups[{k}]") for k, g in enumerate(rate.get("provider_groups") or [])
                ],
                references=[
                    _integer(r, f"{at}.provider_references[{k}]", "a provider_group_id (integer)")
                    for k, r in enumerate(rate.get("provider_references") or [])
                ],
            )
        )
    return out


def reference(entry: Any, where: str) -> Reference:
    """A root provider_references entry (at JSON path ``where``)."""
    if type(entry) is not dict:
        raise BadValue(where, "an object", entry)
    group_id = _integer(entry.get("provider_group_id"), f"{where}.provider_group_id", "an integer")
    groups = entry.get("provider_groups")
    if groups is not None:
        if type(groups) is not list:
            raise BadValue(f"{where}.provider_groups", "an array of provider groups", groups)
        return Reference(group_id, [group(g, f"{where}.provider_groups[{k}]") for k, g in enumerate(groups)], None)
    location = entry.get("location")
    if not isinstance(location, str) or not location.strip():
        raise BadValue(where, "provider_groups or a location", entry)
    return Reference(group_id, None, location.strip())


def group(obj: Any, where: str) -> Group:
    """One provider group ``{npi: [...], tin: {type, value}}`` (at JSON path ``where``)."""
    if type(obj) is not dict:
        raise BadValue(where, "a provider group {npi, tin}", obj)
    npis = obj.get("npi")
    if type(npis) is not list:
        raise BadValue(f"{where}.npi", "an array of NPIs", npis)
    tin = obj.get("tin")
    value = tin.get("value") if type(tin) is dict else tin
    if all(type(n) is int for n in npis):  # as the schema says: numbers
        numbers = tuple(npis)
    else:
        numbers = tuple(_integer(n, f"{where}.npi[{k}]", "a 10-digit NPI (or 0)") for k, n in enumerate(npis))
    return Group(tin=None if value is None else str(value).strip(), npis=numbers)


def _price(p: dict, where: str, code_type: str, code: str) -> Price:
    kind = p.get("negotiated_type")
    if kind not in NEGOTIATED_TYPES:
        raise BadValue(f"{where}.negotiated_type", " | ".join(NEGOTIATED_TYPES), kind)
    rate = _rate(p.get("negotiated_rate"), f"{where}.negotiated_rate")
    info = p.get("additional_information")
    dollars, basis = in_dollars(kind, rate, info if isinstance(info, str) else None)
    modifiers = p.get("billing_code_modifier") or []
    codes = p.get("service_code")
    setting = p.get("setting")
    return Price(
        billing_code_type=code_type,
        billing_code=code,
        modifier="-".join(str(m).strip() for m in modifiers) if type(modifiers) is list else str(modifiers).strip(),
        negotiated_type=kind,
        negotiated_rate=rate,
        rate_in_dollars=dollars,
        dollars_basis=basis,
        billing_class=p["billing_class"],
        setting=None if setting is None else str(setting),
        service_codes=[str(c) for c in codes] if type(codes) is list else None,
        expiration_date=_date(p.get("expiration_date"), f"{where}.expiration_date"),
    )


def in_dollars(negotiated_type: str, rate: Decimal, info: str | None) -> tuple[Decimal | None, str | None]:
    """(rate_in_dollars, dollars_basis) of a price: dollars as given, except a percentage, which becomes
    dollars only where ``info`` (its additional_information) states the dollar base; otherwise None and
    the reason."""
    if negotiated_type != "percentage":
        return to_cent(rate), None
    shown = f"{rate.normalize():f}%"
    if info:
        for pattern in _STATED_BASE:
            m = pattern.search(info)
            if m:
                base = Decimal(m.group("amount").replace(",", ""))
                dollars = percent_of(base, rate)
                return dollars, f"{shown} of ${base:,.2f}, the base its additional_information states"
        return (
            None,
            f"{shown} of a base the file gives no dollar figure for (additional_information: {brief(info, 80)})",
        )
    return None, f"{shown} with no basis stated in the file"


def _rate(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise BadValue(where, "a number", value)
    try:
        rate = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise BadValue(where, "a number", value) from None
    if not rate.is_finite() or abs(rate) >= RATE_LIMIT:
        raise BadValue(where, f"a number below {RATE_LIMIT:,}", value)
    return half_up(rate, RATE_SCALE)


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadValue(where, "a date YYYY-MM-DD", value)


def root_date(value: Any, where: str) -> date | None:
    """A root date (last_updated_on)."""
    return _date(value, where)


def _integer(value: Any, where: str, expected: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise BadValue(where, expected, value)


def _text(value: Any, where: str, expected: str) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise BadValue(where, expected, value)
    return str(value).strip()
