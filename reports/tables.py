"""The table model every report section renders through one partial (partials/table.html.j2).

A ``Table`` is plain data: an id (the HTML id, stable for tests and links), a caption, typed
columns, and rows as dicts keyed by column key. Column kinds drive formatting and sorting:
text, code, money, int, num, pct, date.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text | code | money | int | num | pct | date
    phi: bool = False  # holds patient data (masked unless --show-phi)


@dataclass
class Table:
    id: str
    caption: str
    columns: list[Column]
    rows: list[dict]
    total_rows: int | None = None  # rows in the full result when ``rows`` is capped
    note: str = ""  # shown under the table (what is counted, caps)
    empty: str = "None this month."  # shown instead of an empty table
    footer: dict | None = None  # a totals row, keyed like rows

    @property
    def capped(self) -> bool:
        return self.total_rows is not None and self.total_rows > len(self.rows)


def cols(*specs: tuple) -> list[Column]:
    """cols(("payer_name", "Payer"), ("lines", "Lines", "int"), ...)."""
    return [Column(*s) for s in specs]
