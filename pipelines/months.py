"""Payment months: the one parser every stage uses for a `--month YYYY-MM` value."""

from __future__ import annotations

from datetime import date, datetime

from pipelines.errors import ConfigError


def parse_month(month) -> date | None:
    """None | date | datetime | 'YYYY-MM' -> the first day of that month (None stays None)."""
    if month is None:
        return None
    if isinstance(month, (date, datetime)):
        return date(month.year, month.month, 1)
    try:
        parsed = datetime.strptime(str(month).strip(), "%Y-%m")
    except ValueError:
        raise ConfigError(f"month {month!r}: expected YYYY-MM, e.g. 2025-03") from None
    return date(parsed.year, parsed.month, 1)
