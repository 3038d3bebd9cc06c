"""Common CPT/HCPCS codes a small practice bills, for the synthetic 835 writer and the demo.

Only facts are kept here: the code, the Medicare PFS indicators it carries in the 2025 RVU file
(status A/R/T = payable, PC/TC indicator, multiple-procedure indicator) and our own invented
chargemaster price. No CPT descriptions (those are AMA copyright); the category is ours.
tests/ingest/test_synthetic.py checks every code against ../shared/cms/2025/PPRRVU25_JAN.csv.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    category: str  # em | addon | procedure | imaging | cardio | injection | therapy | lab | drug | supply
    pctc: str  # RVU-file PC/TC indicator: "1" = has 26/TC components
    mult_proc: str  # RVU-file MULT PROC indicator; 2/3/4/5/6/7 trigger reductions
    charge: int  # invented chargemaster price per unit, whole dollars
    max_units: int = 1
    bill_modifier: str = ""  # the modifier the line is always billed with (DME: NU new purchase)

    @property
    def has_components(self) -> bool:
        return self.pctc == "1"

    @property
    def multiple_procedure(self) -> bool:
        """True when a second such code on the same day may be reduced (MPPR and its kin)."""
        return self.mult_proc in {"2", "3", "4", "5", "6", "7"}


# fmt: off
COMMON_CODES: tuple[Code, ...] = (
    # office/outpatient E/M
    Code("99202", "em", "0", "0", 185), Code("99203", "em", "0", "0", 285),
    Code("99204", "em", "0", "0", 425), Code("99205", "em", "0", "0", 565),
    Code("99211", "em", "0", "0", 60), Code("99212", "em", "0", "0", 145),
    Code("99213", "em", "0", "0", 235), Code("99214", "em", "0", "0", 330),
    Code("99215", "em", "0", "0", 460),
    Code("G0439", "em", "0", "0", 330),
    # add-ons and small services without reductions
    Code("G2211", "addon", "0", "0", 45), Code("99406", "addon", "0", "0", 40),
    Code("96372", "injection", "5", "0", 40, 2), Code("96374", "injection", "5", "0", 90),
    Code("90471", "injection", "5", "0", 55), Code("94640", "injection", "5", "0", 25, 2),
    # minor procedures, MULT PROC indicator 2
    Code("20552", "procedure", "0", "2", 135), Code("20553", "procedure", "0", "2", 155),
    Code("20610", "procedure", "0", "2", 165), Code("20600", "procedure", "0", "2", 140),
    Code("11042", "procedure", "0", "2", 330), Code("17000", "procedure", "0", "2", 175),
    Code("17110", "procedure", "0", "2", 290), Code("11102", "procedure", "0", "2", 250),
    Code("10060", "procedure", "0", "2", 325), Code("12001", "procedure", "0", "2", 240),
    Code("69210", "procedure", "0", "2", 125), Code("11200", "procedure", "0", "2", 235),
    # imaging with professional (26) / technical (TC) components
    Code("71046", "imaging", "1", "0", 85), Code("71045", "imaging", "1", "0", 70),
    Code("73030", "imaging", "1", "0", 90), Code("73110", "imaging", "1", "0", 105),
    Code("73560", "imaging", "1", "0", 90), Code("73610", "imaging", "1", "0", 95),
    Code("72100", "imaging", "1", "0", 105), Code("72040", "imaging", "1", "0", 105),
    Code("77067", "imaging", "1", "0", 325), Code("94010", "imaging", "1", "0", 70),
    Code("70450", "imaging", "1", "4", 275), Code("74177", "imaging", "1", "4", 775),
    Code("76700", "imaging", "1", "4", 295),
    # cardiology
    Code("93000", "cardio", "4", "6", 40), Code("93306", "cardio", "1", "6", 490),
    Code("93010", "cardio", "2", "0", 25),
    # therapy (MULT PROC 5: always-therapy PE reduction)
    Code("97110", "therapy", "7", "5", 75, 4), Code("97140", "therapy", "7", "5", 75, 3),
    Code("97112", "therapy", "7", "5", 85, 3), Code("97530", "therapy", "7", "5", 90, 3),
    Code("97161", "therapy", "7", "5", 255),
)
# fmt: on

# Codes paid from Medicare's other schedules (not the physician fee schedule): clinical lab tests (CLFS),
# Part B drugs and vaccines (ASP payment limits; given with an administration code), supplies and
# durable equipment (DMEPOS). One unit each, so a per-unit contract price times the units is exact; charges
# of $30 or more, so a percent-of-charges price never sets the charge it is a percent of (writer.unit_charge).
# tests/ingest/test_synthetic.py checks each against its 2025 CMS file. pctc/mult_proc 9 (the concept
# does not apply): as the MPFS lists the lab and drug codes; it does not list the L and E codes.
# fmt: off
SCHEDULE_CODES: tuple[Code, ...] = (
    Code("80053", "lab", "9", "9", 48), Code("85025", "lab", "9", "9", 32), Code("80061", "lab", "9", "9", 55),
    Code("83036", "lab", "9", "9", 42), Code("84443", "lab", "9", "9", 68), Code("36415", "lab", "9", "9", 30),
    Code("J3301", "drug", "9", "9", 30), Code("J1885", "drug", "9", "9", 30), Code("J0696", "drug", "9", "9", 35),
    Code("J3420", "drug", "9", "9", 35), Code("90732", "drug", "9", "9", 240), Code("90715", "drug", "9", "9", 95),
    Code("L3908", "supply", "9", "9", 160), Code("L1902", "supply", "9", "9", 210),
    Code("E0114", "supply", "9", "9", 120, bill_modifier="NU"), Code("E0105", "supply", "9", "9", 130, bill_modifier="NU"),
)
# fmt: on

BY_CODE: dict[str, Code] = {c.code: c for c in (*COMMON_CODES, *SCHEDULE_CODES)}


def lookup(code: str) -> Code:
    """The built-in entry, or a neutral one for codes outside the list (no reductions)."""
    return BY_CODE.get(code) or Code(code, "other", "0", "0", 150)
