"""Meanings of adjustment codes (CARC, RARC, group codes, PLB reasons) for report labels.

The meanings in reports/codes/*.csv are short paraphrases written for this project.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def meanings(kind: str) -> dict[str, str]:
    """kind: 'carc', 'rarc', 'groups' or 'plb' -> {code: meaning}."""
    text = resources.files("reports.codes").joinpath(f"{kind}.csv").read_text(encoding="utf-8")
    return {row["code"].strip().upper(): row["meaning"].strip() for row in csv.DictReader(text.splitlines())}


def meaning(kind: str, code: str | None) -> str:
    if not code:
        return ""
    return meanings(kind).get(str(code).strip().upper(), "(meaning not on file)")
