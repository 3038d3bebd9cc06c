"""Pieces shared by the report contexts: headline figures, report metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata


@dataclass(frozen=True)
class Figure:
    """One headline figure: this month's value, the previous month's, and the change."""

    key: str  # stable id (data-key in the HTML), e.g. "underpaid"
    label: str
    kind: str  # money | int | pct
    value: Decimal | int | None
    previous: Decimal | int | None
    bad_when_up: bool = False  # colours the change (a rise in underpaid dollars is bad)

    @property
    def change(self):
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def direction(self) -> str:
        c = self.change
        if not c:
            return "flat"
        up = c > 0
        return "up" if up == self.bad_when_up else "down"


def version() -> str:
    try:
        return metadata.version("underpay")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "dev"


def generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
