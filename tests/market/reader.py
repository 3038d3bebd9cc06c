"""The tests' own reader of a TiC in-network file, independent of pipelines.market: ``json.load`` of the
whole (small) file and plain Python over its structure, giving the market_rates rows it should yield.

Rules it states on its own (docs/market.md): one row per kept price x TIN of the provider groups the
price applies to (inline, by provider_group_id, or from a provider-reference file); groups of one price
with the same TIN count their NPIs once, 0 not counted; a price whose providers are not given gets one
row with tin None and npi_count 0.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

COLUMNS = ("billing_code", "modifier", "negotiated_type", "negotiated_rate", "billing_class", "setting",
           "service_codes", "expiration_date", "tin", "npi_count")  # fmt: skip
ROW_SQL = f"SELECT {', '.join(COLUMNS)} FROM market_rates"


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)


def expected_rows(doc: dict, codes, classes=("professional", "both"), external: dict | None = None) -> Counter:
    """The rows ``doc`` yields for ``codes``: a Counter of tuples in COLUMNS order (strings and Decimals
    as the warehouse returns them, dates as ISO text). ``external``: provider_group_id -> the groups of
    the provider-reference file its location names, when that file is given."""
    references = {}
    for ref in doc.get("provider_references", []):
        if "provider_groups" in ref:
            references[ref["provider_group_id"]] = ref["provider_groups"]
        elif external and ref["provider_group_id"] in external:
            references[ref["provider_group_id"]] = external[ref["provider_group_id"]]
    rows: Counter = Counter()
    for item in doc["in_network"]:
        if item["billing_code"] not in codes:
            continue
        for rate in item["negotiated_rates"]:
            groups = list(rate.get("provider_groups", []))
            unknown = not rate.get("provider_groups") and not rate.get("provider_references")
            for ref in rate.get("provider_references", []):
                if ref in references:
                    groups += references[ref]
                else:
                    unknown = True
            npis_by_tin: dict[str, set] = {}
            for group in groups:
                npis_by_tin.setdefault(group["tin"]["value"], set()).update(n for n in group["npi"] if n != 0)
            for price in rate["negotiated_prices"]:
                if price["billing_class"] not in classes:
                    continue
                base = (
                    item["billing_code"],
                    "-".join(price.get("billing_code_modifier", [])),
                    price["negotiated_type"],
                    Decimal(price["negotiated_rate"]).quantize(Decimal("0.0001")),
                    price["billing_class"],
                    price.get("setting"),
                    tuple(price["service_code"]) if "service_code" in price else None,
                    price.get("expiration_date"),
                )
                for tin, npis in npis_by_tin.items():
                    rows[(*base, tin, len(npis))] += 1
                if unknown:
                    rows[(*base, None, 0)] += 1
    return rows


def stored_rows(con, sha256: str | None = None) -> Counter:
    """The market_rates rows (of one file), in the same shape as ``expected_rows``."""
    sql, params = (ROW_SQL, []) if sha256 is None else (ROW_SQL + " WHERE source_sha256 = ?", [sha256])
    out: Counter = Counter()
    for row in con.execute(sql, params).fetchall():
        row = list(row)
        row[6] = tuple(row[6]) if row[6] is not None else None
        row[7] = row[7].isoformat() if row[7] is not None else None
        out[tuple(row)] += 1
    return out


def all_codes(doc: dict) -> set[str]:
    return {item["billing_code"] for item in doc["in_network"]}
