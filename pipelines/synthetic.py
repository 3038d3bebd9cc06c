"""Synthetic 835 writer: realistic remittances with known truth, for tests, benchmarks and the demo.

INTERFACE STUB — the implementation replaces the bodies; keep the names and fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class SynthPayer:
    payer_id: str                 # written as N1*PR04 (qualifier XV) and REF*2U; TRN03 = "1" + tin
    name: str                     # N1*PR02
    kind: str = "commercial"      # "medicare": PR-2 20% coinsurance + CO-253 2% sequestration
    share: float = 0.2            # fraction of claims sent to this payer
    tin: str = "999999999"


@dataclass(frozen=True)
class SynthPayee:
    name: str = "MIDTOWN FAMILY MEDICINE PC"
    npi: str = "1234567893"
    tin: str = "123456789"
    address: str = "350 FIFTH AVENUE"
    city: str = "NEW YORK"
    state: str = "NY"
    zip: str = "10001"


def default_payers() -> list[SynthPayer]:
    return [
        SynthPayer("13202", "NGS MEDICARE PART B", "medicare", 0.30, "135598881"),
        SynthPayer("ACME1", "ACME HEALTH", "commercial", 0.20, "111111111"),
        SynthPayer("BRBS1", "BLUE RIDGE BCBS", "commercial", 0.20, "222222222"),
        SynthPayer("UNITY", "UNITY HEALTH PLAN", "commercial", 0.15, "333333333"),
        SynthPayer("CEDAR", "CEDAR COMMERCIAL INSURANCE", "commercial", 0.15, "444444444"),
    ]


@dataclass
class SynthSpec:
    start: date = date(2025, 1, 1)          # first month of service dates
    months: int = 1
    claims_per_month: int = 300
    max_lines_per_claim: int = 4
    seed: int = 0
    payers: list[SynthPayer] = field(default_factory=default_payers)
    payee: SynthPayee = field(default_factory=SynthPayee)
    # Contract allowed amount per unit. Columns: payer_id, procedure_code, modifier ("" = none),
    # facility (bool), unit_allowed (Decimal(14,2)). When given, only codes priced for the payer
    # are billed to it, and every line that is not injected is allowed exactly unit_allowed x units.
    prices: pl.DataFrame | None = None
    codes: list[str] | None = None          # default: built-in list of common CPT/HCPCS codes
    underpay_rate: float = 0.03             # lines allowed below the contract (beyond any tolerance)
    denial_rate: float = 0.05
    reversal_rate: float = 0.01             # claims reversed and corrected in a later file
    secondary_rate: float = 0.0             # claims processed as secondary (CLP02=2)
    plb_rate: float = 0.1                   # payments carrying PLB (interest, recoupment)
    facility_rate: float = 0.15             # claims with a facility place of service


@dataclass
class SynthResult:
    files: list[Path]
    # One row per service line written (reversal/correction lines included):
    # file_name, payer_id, trace_number, payment_date, patient_control_number,
    # payer_claim_number, claim_status, place_of_service, facility, line_control_number,
    # procedure_code, modifiers (list[str]), units, service_date, billed, contract_allowed,
    # actual_allowed, paid, patient_responsibility, injected (null | underpaid | denied |
    # reversed | secondary), underpaid_by
    truth: pl.DataFrame


def write_remittances(spec: SynthSpec, out_dir: Path) -> SynthResult:
    raise NotImplementedError


def write_big(path: Path, n_lines: int, seed: int = 0) -> Path:
    raise NotImplementedError
