"""Payment months: one type, parsed once at the edge (a `--month YYYY-MM` option, a config value)
and passed inward as a :class:`Month`; every layer below takes the value, never the string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipelines.core.errors import ConfigError


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month. ``start`` is its first day, ``end`` the first day of the next month
    (half-open ranges, as the SQL uses them: ``payment_date >= start AND payment_date < end``)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ConfigError(f"month {self.year}-{self.month:02d}: not a calendar month")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``'YYYY-MM'`` -> Month; a :class:`ConfigError` saying what is expected otherwise."""
        try:
            parsed = datetime.strptime(str(text).strip(), "%Y-%m")
        except ValueError:
            raise ConfigError(f"month {text!r}: expected YYYY-MM, e.g. 2025-03") from None
        return cls(parsed.year, parsed.month)

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a date (or datetime) falls in."""
        return cls(day.year, day.month)

    @classmethod
    def coerce(cls, value: Month | date | str) -> Month:
        """A library caller's loose value (Month, date, datetime or ``'YYYY-MM'``) -> Month.

        Only the public entry points of reports and runs call this, once, where a value from
        outside comes in; the CLI already hands them a Month."""
        if isinstance(value, Month):
            return value
        if isinstance(value, (date, datetime)):
            return cls.of(value)
        if isinstance(value, str):
            return cls.parse(value)
        raise TypeError(f"month: expected a Month, a date or 'YYYY-MM', not {type(value).__name__}")

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return self.add(1).start

    @property
    def last_day(self) -> date:
        """The month's last day (``end`` minus one day)."""
        return self.end - timedelta(days=1)

    def add(self, n: int) -> Month:
        """The month ``n`` months after this one (``n`` may be negative)."""
        total = self.year * 12 + (self.month - 1) + n
        return Month(total // 12, total % 12 + 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label
