"""Procedure-code specifications ("99213", "99202-99215", "*") and modifier classes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.files import brief

CODE_RE = re.compile(r"^[A-Z0-9]{5}$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")

# Modifiers that change how a service is bundled or reported, never its price: they never stop a
# term or rate row from matching (NCCI/distinct-service, laterality, anatomical sites, visit
# context, repeat services, telehealth and informational modifiers).
PRICE_NEUTRAL_MODIFIERS = frozenset(
    "25 51 57 59 76 77 78 79 91 95 XE XS XP XU LT RT E1 E2 E3 E4 F1 F2 F3 F4 F5 F6 F7 F8 F9 FA "
    "TA T1 T2 T3 T4 T5 T6 T7 T8 T9 LC LD LM RC RI GT GQ GC GE GA GY GZ KX Q5 Q6 QW CR SA".split()
)
# Component modifiers: select the professional / technical row of the fee schedule.
COMPONENT_MODIFIERS = ("26", "TC")
# Modifiers that Medicare prices from the RVU file's payment-policy indicators.
MEDICARE_POLICY_MODIFIERS = ("50", "62", "80", "81", "82", "AS")


@dataclass(frozen=True)
class CodeSpec:
    """An inclusive range of codes of one length; "*" is every code."""

    text: str
    low: str
    high: str

    def covers(self, other: CodeSpec) -> bool:
        if self.text == "*":
            return True
        if other.text == "*":
            return False
        return len(self.low) == len(other.low) and self.low <= other.low and other.high <= self.high

    def contains(self, code: str) -> bool:
        return self.text == "*" or (len(code) == len(self.low) and self.low <= code <= self.high)


def parse_code_spec(value) -> CodeSpec:
    """'99213' | '99202-99215' | '*'; ValueError says what is wrong."""
    if isinstance(value, int):
        value = f"{value:05d}"
    if not isinstance(value, str):
        raise ValueError(f"code {brief(value)} is not text")
    text = value.strip().upper()
    if text == "*":
        return CodeSpec("*", "", "")
    if "-" in text:
        low, _, high = (p.strip() for p in text.partition("-"))
        for part in (low, high):
            if not CODE_RE.match(part):
                raise ValueError(f"range end {brief(part)} in {brief(value)} is not a 5-character CPT/HCPCS code")
        if low[0].isdigit() != high[0].isdigit() or low > high:
            raise ValueError(f"range {brief(value)} runs backwards or mixes code kinds")
        return CodeSpec(f"{low}-{high}", low, high)
    if not CODE_RE.match(text):
        raise ValueError(f"code {brief(value)} is not a 5-character CPT/HCPCS code, a range LOW-HIGH or '*'")
    return CodeSpec(text, text, text)


def parse_modifier(value) -> str:
    if isinstance(value, int):
        value = f"{value:02d}"
    text = str(value).strip().upper()
    if not MODIFIER_RE.match(text):
        raise ValueError(f"modifier {brief(value)} is not a 2-character modifier")
    return text
