"""Contracts as small frames the comparison SQL joins against (one job: flatten the model).

Frames (registered in DuckDB under these names by pipelines.compare.compare):
- ct_contracts:  one row per contract version
- ct_payer_keys: one row per (contract, payer id or payer name)
- ct_tins:       one row per (contract, payee TIN)
- ct_terms:      one row per (contract, term, code spec): first match wins by term_idx
- ct_rates:      one row per rates_csv row (a row there beats the terms)
- ct_modpct:     one row per (contract, modifier) of a modifier -> percent table
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from contracts.model import Contract
from pipelines.core.money import MONEY

PCT = pl.Decimal(9, 3)  # percents and multipliers, to 0.001 (ct_contracts, ct_terms, ct_modpct)

CONTRACTS_SCHEMA = {
    "contract_idx": pl.Int32,
    "contract_name": pl.Utf8,
    "contract_file": pl.Utf8,
    "effective": pl.Date,
    "expires": pl.Date,
    "medicare_zip": pl.Utf8,
    "medicare_locality": pl.Utf8,
    "medicare_year": pl.Int32,
    "medicare_qp": pl.Boolean,
    "lesser_of_charges": pl.Boolean,
    "tolerance_amount": MONEY,
    "tolerance_percent": PCT,
    "modifier_mode": pl.Utf8,
    "mppr": pl.List(PCT),
    "rates_file": pl.Utf8,
    "anesthesia_time": pl.Utf8,  # minutes | units: what SVC05 of an anesthesia line carries
}
TERMS_SCHEMA = {
    "contract_idx": pl.Int32,
    "term_idx": pl.Int32,
    "term_line": pl.Int32,
    "any_code": pl.Boolean,
    "code_low": pl.Utf8,
    "code_high": pl.Utf8,
    "code_len": pl.Int32,
    "term_modifiers": pl.List(pl.Utf8),
    "term_setting": pl.Utf8,
    "method": pl.Utf8,
    "term_value": pl.Decimal(14, 3),
    "exclude": pl.Boolean,
    "term_label": pl.Utf8,
}
RATES_SCHEMA = {
    "contract_idx": pl.Int32,
    "rate_code": pl.Utf8,
    "rate_modifier": pl.Utf8,
    "rate_setting": pl.Utf8,
    "rate": MONEY,
    "rate_row": pl.Int32,
}


def _q(value: Decimal | None, places: str) -> Decimal | None:
    """``value`` at the frame column's scale (``places`` such as "0.001"). Decimal's default
    rounding (half-even) applies to a value written with more places than the column holds;
    kept as it was so the frames the comparison joins against do not change."""
    return None if value is None else value.quantize(Decimal(places))


def contract_frames(contracts: list[Contract]) -> dict[str, pl.DataFrame]:
    rows, keys, tins, terms, rates, mods = [], [], [], [], [], []
    for idx, c in enumerate(contracts):
        rows.append(
            {
                "contract_idx": idx,
                "contract_name": c.name,
                "contract_file": str(c.file),
                "effective": c.effective,
                "expires": c.expires,
                "medicare_zip": c.medicare_zip,
                "medicare_locality": c.medicare_locality,
                "medicare_year": c.medicare_year,
                "medicare_qp": c.medicare_qp,
                "lesser_of_charges": c.lesser_of_charges,
                "tolerance_amount": _q(c.tolerance_amount, "0.01"),
                "tolerance_percent": _q(c.tolerance_percent, "0.001"),
                "modifier_mode": c.modifier_mode,
                "mppr": [_q(p, "0.001") for p in c.mppr] if c.mppr else None,
                "rates_file": c.rates_file.name if c.rates_file else None,
                "anesthesia_time": c.anesthesia_time,
            }
        )
        keys += [{"contract_idx": idx, "kind": "id", "key": k} for k in c.payer_ids]
        keys += [{"contract_idx": idx, "kind": "name", "key": k} for k in c.payer_names]
        tins += [{"contract_idx": idx, "tin": t} for t in c.payee_tins]
        for t in c.terms:
            for spec in t.codes:
                terms.append(
                    {
                        "contract_idx": idx,
                        "term_idx": t.index,
                        "term_line": t.line,
                        "any_code": spec.text == "*",
                        "code_low": spec.low or None,
                        "code_high": spec.high or None,
                        "code_len": len(spec.low),
                        "term_modifiers": list(t.modifiers) if t.modifiers else None,
                        "term_setting": t.setting,
                        "method": t.method,
                        "term_value": _q(t.value, "0.001"),
                        "exclude": t.exclude,
                        "term_label": t.describe(),
                    }
                )
        rates += [
            {
                "contract_idx": idx,
                "rate_code": r.code,
                "rate_modifier": r.modifier,
                "rate_setting": r.setting,
                "rate": r.rate,
                "rate_row": r.row,
            }
            for r in c.rates
        ]
        mods += [
            {"contract_idx": idx, "modifier": m, "percent": _q(p, "0.001")} for m, p in c.modifier_percents.items()
        ]
    return {
        "ct_contracts": pl.DataFrame(rows, schema=CONTRACTS_SCHEMA),
        "ct_payer_keys": pl.DataFrame(keys, schema={"contract_idx": pl.Int32, "kind": pl.Utf8, "key": pl.Utf8}),
        "ct_tins": pl.DataFrame(tins, schema={"contract_idx": pl.Int32, "tin": pl.Utf8}),
        "ct_terms": pl.DataFrame(terms, schema=TERMS_SCHEMA),
        "ct_rates": pl.DataFrame(rates, schema=RATES_SCHEMA),
        "ct_modpct": pl.DataFrame(mods, schema={"contract_idx": pl.Int32, "modifier": pl.Utf8, "percent": PCT}),
    }
