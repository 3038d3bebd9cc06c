"""Synthetic Transparency in Coverage in-network rate files, for the demo's negotiation pack.

One JSON file per payer, laid out as the CMS price-transparency-guide in-network schema
(version "2.0.0"): reporting entity and plan on top, ``provider_references`` (provider groups:
NPIs and a TIN), and ``in_network`` items (billing code, then ``negotiated_rates`` whose
``negotiated_prices`` give the type, rate, expiration date, billing class, places of service
and modifiers). No CPT descriptions are written (AMA copyright): ``name`` / ``description``
say only "demo code <code>".

Each payer publishes, per code and pricing modifier, one price per provider group (TIN): the
code's Medicare amount x a percent drawn around the payer's typical percent, kept between 90%
and 160% of Medicare, rounded half-up to the cent. A few prices each file also holds show what
a reader must leave out: one institutional price, one expired price, and one percentage with no
stated basis (no dollar amount).

``write_in_network_files`` writes the files and returns, beside their paths, the rows they hold
in the shape of the warehouse's ``market_files`` and ``market_rates`` tables
(pipelines/core/ddl/market.sql), so a caller can load them without parsing the JSON back.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.core.money import percent_of

SCHEMA_VERSION = "2.0.0"
NEVER = date(9999, 12, 31)  # the schema's "no expiration date"
LOW, HIGH = 90, 160  # published rates stay within these percents of Medicare
OFFICE = ["11"]  # place of service of the professional prices
RATES_DECIMAL = pl.Decimal(18, 4)  # market_rates.negotiated_rate
DOLLARS_DECIMAL = pl.Decimal(18, 2)  # market_rates.rate_in_dollars


@dataclass(frozen=True)
class MarketPayer:
    reporting_entity: str
    plan_name: str
    plan_id: str  # the plan sponsor's EIN
    typical: int  # typical percent of Medicare
    spread: int  # provider groups' percents fall within typical +- spread
    groups: int  # provider groups (TINs) the payer publishes a price for


def default_market_payers() -> list[MarketPayer]:
    """The demo's four commercial payers under their publishing names, and one payer the practice does
    not bill (its rates are market only)."""
    return [
        MarketPayer("Acme Health Insurance Company", "ACME Health Choice PPO", "111111111", 112, 10, 6),
        MarketPayer("Blue Ridge BCBS", "Blue Ridge Open Access", "222222222", 132, 14, 6),
        MarketPayer("Unity Health Plan", "Unity Select", "333333333", 124, 12, 5),
        MarketPayer("Cedar Commercial Insurance", "Cedar Group PPO", "444444444", 141, 12, 5),
        MarketPayer("Northwind Health", "Northwind Standard", "555555555", 101, 8, 5),
    ]


@dataclass
class MarketFiles:
    """What write_in_network_files wrote: the files, and their rows as the market tables hold them."""

    paths: list[Path] = field(default_factory=list)
    files: pl.DataFrame | None = None  # market_files rows
    rates: pl.DataFrame | None = None  # market_rates rows


def _code_type(code: str) -> str:
    return "HCPCS" if code[:1].isalpha() else "CPT"


def _document(payer: MarketPayer, medicare, rng: random.Random, last_updated_on: date, index: int):
    """One payer's in-network document, and its prices as (in_network index, price, group) rows."""
    groups = []
    for g in range(payer.groups):
        npis = [1000000000 + index * 10000 + g * 100 + k for k in range(1 + rng.randrange(4))]
        groups.append(
            {
                "provider_group_id": g + 1,
                "provider_groups": [
                    {"npi": npis, "tin": {"type": "ein", "value": f"{index}{g:02d}{rng.randrange(10**6):06d}"}}
                ],
            }
        )
    group_percent = [payer.typical + rng.randint(-payer.spread, payer.spread) for _ in groups]
    items: dict[str, dict] = {}
    rows: list[dict] = []
    for (code, modifier), amount in sorted(medicare.items()):
        item = items.setdefault(
            code,
            {
                "negotiation_arrangement": "ffs",
                "name": f"demo code {code}",
                "billing_code_type": _code_type(code),
                "billing_code_type_version": str(last_updated_on.year),
                "billing_code": code,
                "description": f"demo code {code}",
                "negotiated_rates": [],
            },
        )
        for g, group in enumerate(groups):
            percent = min(HIGH, max(LOW, group_percent[g] + rng.randint(-3, 3)))
            rate = percent_of(amount, percent)
            price = {
                "negotiated_type": "negotiated",
                "negotiated_rate": float(rate),  # two places: the shortest float text is the exact amount
                "expiration_date": NEVER.isoformat(),
                "service_code": OFFICE,
                "billing_class": "professional",
                "setting": "outpatient",
            }
            if modifier:
                price["billing_code_modifier"] = [modifier]
            item["negotiated_rates"].append(
                {"provider_references": [group["provider_group_id"]], "negotiated_prices": [price]}
            )
            rows.append({"price": price, "rate": rate, "group": group})
    # what a reader must leave out: institutional, expired, a percentage without a stated basis
    first = next(iter(items.values()), None)
    if first is not None:
        group = groups[0]
        for extra, dollars in (
            ({"negotiated_type": "negotiated", "negotiated_rate": 950.0, "billing_class": "institutional"}, "950.00"),
            ({"negotiated_type": "negotiated", "negotiated_rate": 1.0, "expiration_date": "2024-12-31"}, "1.00"),
            ({"negotiated_type": "percentage", "negotiated_rate": 85.0}, None),
        ):
            price = {
                "expiration_date": NEVER.isoformat(),
                "service_code": OFFICE,
                "billing_class": "professional",
                "setting": "outpatient",
                **extra,
            }
            first["negotiated_rates"].append(
                {"provider_references": [group["provider_group_id"]], "negotiated_prices": [price]}
            )
            rows.append({"price": price, "rate": None if dollars is None else Decimal(dollars), "group": group})
    document = {
        "reporting_entity_name": payer.reporting_entity,
        "reporting_entity_type": "health insurance issuer",
        "plan_name": payer.plan_name,
        "plan_id_type": "EIN",
        "plan_id": payer.plan_id,
        "plan_market_type": "group",
        "last_updated_on": last_updated_on.isoformat(),
        "version": SCHEMA_VERSION,
        "provider_references": groups,
        "in_network": list(items.values()),
    }
    return document, rows


def write_in_network_files(
    out_dir: Path,
    medicare: Mapping[tuple[str, str], Decimal],
    *,
    seed: int = 7,
    last_updated_on: date = date(2025, 1, 1),
    payers: Sequence[MarketPayer] | None = None,
) -> MarketFiles:
    """Write one in-network JSON file per payer into ``out_dir`` for the (code, modifier) keys of
    ``medicare`` (the code's Medicare amount per unit; modifier '', '26' or 'TC')."""
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = MarketFiles()
    manifest, rates = [], []
    for index, payer in enumerate(payers or default_market_payers(), start=1):
        document, rows = _document(payer, medicare, rng, last_updated_on, index)
        text = json.dumps(document, separators=(",", ":")).encode("utf-8")
        path = out_dir / f"{payer.reporting_entity.lower().replace(' ', '-')}_in-network-rates.json"
        path.write_bytes(text)
        sha = hashlib.sha256(text).hexdigest()
        result.paths.append(path)
        by_code = {
            id(p): item["billing_code"]
            for item in document["in_network"]
            for nr in item["negotiated_rates"]
            for p in nr["negotiated_prices"]
        }
        for r in rows:
            price, group = r["price"], r["group"]["provider_groups"][0]
            percentage = price["negotiated_type"] == "percentage"
            rates.append(
                {
                    "source_sha256": sha,
                    "reporting_entity": payer.reporting_entity,
                    "plan_name": payer.plan_name,
                    "plan_id": payer.plan_id,
                    "last_updated_on": last_updated_on,
                    "billing_code_type": _code_type(by_code[id(price)]),
                    "billing_code": by_code[id(price)],
                    "modifier": "-".join(price.get("billing_code_modifier", [])),
                    "negotiated_type": price["negotiated_type"],
                    "negotiated_rate": Decimal(str(price["negotiated_rate"])),
                    "rate_in_dollars": r["rate"],
                    "dollars_basis": "percentage without a stated basis" if percentage else None,
                    "billing_class": price["billing_class"],
                    "setting": price["setting"],
                    "service_codes": price["service_code"],
                    "expiration_date": date.fromisoformat(price["expiration_date"]),
                    "npi_count": len(group["npi"]),
                    "tin": group["tin"]["value"],
                }
            )
        manifest.append(
            {
                "source_sha256": sha,
                "file_name": path.name,
                "bytes": len(text),
                "schema_version": SCHEMA_VERSION,
                "reporting_entity": payer.reporting_entity,
                "last_updated_on": last_updated_on,
                "rates": len(rows),
                "items_read": len(document["in_network"]),
            }
        )
    result.files = pl.DataFrame(manifest)
    result.rates = pl.DataFrame(
        rates,
        schema_overrides={
            "negotiated_rate": RATES_DECIMAL,
            "rate_in_dollars": DOLLARS_DECIMAL,
            "service_codes": pl.List(pl.Utf8),
            "npi_count": pl.Int32,
        },
        infer_schema_length=None,
    )
    return result
