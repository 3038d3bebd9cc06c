"""Places of service: which CMS place-of-service (POS) codes Medicare prices at the facility rate.

The Medicare physician fee schedule has two practice-expense RVUs per code: the facility PE RVU
"for services performed in inpatient or outpatient hospital settings, emergency rooms, skilled
nursing facilities, or ambulatory surgical centers", the non-facility one "for services furnished
in all other settings" (CMS RVU25A.pdf, the 2025 PFS relative value file documentation). Which POS
codes (CMS Place of Service Code Set, the two-digit 837P CLM05-1 / 835 value) count as a facility
is the list below: the one list, used by ``fee_schedules.pricing`` and the comparison.

Telehealth (CY 2024 PFS final rule, continued for CY 2025 by the CY 2025 PFS final rule; CMS MLN
"Telehealth & Remote Patient Monitoring" booklet): a telehealth service billed with
POS 02 (telehealth provided other than in the patient's home) is paid at the facility rate;
one billed with POS 10 (telehealth provided in the patient's home) at the non-facility rate.

Codes arrive as text, sometimes unpadded ('2' for '02') or padded with blanks: :func:`normalize`
trims and zero-pads them to two digits before the lookup.
"""

from __future__ import annotations

import polars as pl

# The facility POS codes, with their CMS names.
FACILITY_PLACES: dict[str, str] = {
    "02": "Telehealth provided other than in patient's home",
    "19": "Off campus-outpatient hospital",
    "21": "Inpatient hospital",
    "22": "On campus-outpatient hospital",
    "23": "Emergency room - hospital",
    "24": "Ambulatory surgical center",
    "26": "Military treatment facility",
    "31": "Skilled nursing facility",
    "34": "Hospice",
    "41": "Ambulance - land",
    "42": "Ambulance - air or water",
    "51": "Inpatient psychiatric facility",
    "52": "Psychiatric facility - partial hospitalization",
    "53": "Community mental health center",
    "56": "Psychiatric residential treatment center",
    "61": "Comprehensive inpatient rehabilitation facility",
}
FACILITY_POS: frozenset[str] = frozenset(FACILITY_PLACES)

# Named because people ask: telehealth in the patient's home is NOT a facility place of service.
TELEHEALTH_FACILITY_POS = "02"
TELEHEALTH_HOME_POS = "10"


def normalize(code: str | int | None) -> str | None:
    """A POS code as two digits: ' 2' -> '02', 11 -> '11'; None or blank -> None."""
    if code is None:
        return None
    text = str(code).strip()
    return text.zfill(2) if text else None


def is_facility(code: str | int | None) -> bool:
    """True when Medicare prices a service at ``code`` with the facility PE RVU."""
    return normalize(code) in FACILITY_POS


def is_facility_expr(expr: pl.Expr) -> pl.Expr:
    """:func:`is_facility` as a polars expression (null stays null)."""
    return expr.cast(pl.String).str.strip_chars().str.zfill(2).is_in(sorted(FACILITY_POS))


def facility_pos_list() -> list[str]:
    """The facility POS codes, sorted: the SQL parameter form (``$facility_pos``)."""
    return sorted(FACILITY_POS)
