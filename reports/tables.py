"""The table model every report section renders through one partial (partials/table.html.j2).

A ``Table`` is plain data: an id (the HTML id, stable for tests and links), a caption, typed
columns, and rows as dicts keyed by column key. Column kinds drive formatting and sorting:
text, code, money, int, num, pct, date, and explain (long free text, wrapped to a readable width).

A table with ``detail`` shows each row as one line with its own rows folded under it (a
``<details>`` per row: no script needed), e.g. the worklist's claims and their service lines. A
``fixed`` table lays its columns out from ``Column.width`` and wraps long text inside its column,
so it never grows wider than the page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text | code | money | int | num | pct | date | explain
    phi: bool = False  # holds patient data (masked unless --show-phi)
    width: str = ""  # CSS width in a fixed table, e.g. "7%"; "" shares what the others leave


@dataclass(frozen=True)
class Detail:
    """Rows folded under each row of a table: each row holds them, as dicts, under ``key``."""

    key: str
    columns: list[Column]
    noun: str = "line"  # the summary reads "3 lines: <what>"
    what: str = ""

    def summary(self, n: int) -> str:
        text = f"{n:,} {self.noun}{'' if n == 1 else 's'}"
        return f"{text}: {self.what}" if self.what else text


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
    fixed: bool = False  # column widths from Column.width; text wraps within its column
    detail: Detail | None = None  # each row's own rows, expandable under it

    @property
    def capped(self) -> bool:
        return self.total_rows is not None and self.total_rows > len(self.rows)


def cols(*specs: tuple) -> list[Column]:
    """cols(("payer_name", "Payer"), ("lines", "Lines", "int"), ...)."""
    return [Column(*s) for s in specs]
