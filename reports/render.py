"""The strict Jinja environment, value formatting, and private file writing for reports.

Templates live in reports/templates (a base page plus small partials). Autoescaping is on
and undefined names raise (StrictUndefined), so a typo in a template fails the tests rather
than printing an empty cell. Files are written mode 0600 through pipelines.core.outputs.private_open.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from pipelines.core.money import half_up, to_cent
from pipelines.core.outputs import make_private_dirs, private_open


def money(value) -> str:
    """$1,234.56; negative as -$1,234.56; None as an empty string."""
    if value is None:
        return ""
    d = to_cent(value)
    sign = "-" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


def number(value, places: int | None = None) -> str:
    if value is None:
        return ""
    d = Decimal(value)
    if places is None:
        places = 0 if d == d.to_integral_value() else 2
    return f"{half_up(d, places):,.{places}f}"


def percent(value) -> str:
    if value is None:
        return ""
    return f"{half_up(value, 1):,.1f}%"


def cell(value, kind: str = "text") -> str:
    """Format one table cell by its column kind (text is returned as is; Jinja escapes it)."""
    if value is None:
        return ""
    if kind == "money":
        return money(value)
    if kind == "int":
        return number(value, 0)
    if kind == "num":
        return number(value)
    if kind == "pct":
        return percent(value)
    if kind == "date":
        return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return str(value)


def tokens(text: str) -> Markup:
    """Space-separated codes ("CO-16 CO-96"), each kept whole on a line where it fits (a line may
    break between codes, not at a code's hyphen); every code escaped. One code is left as it is."""
    words = str(text).split()
    if len(words) < 2:
        return Markup.escape(text)
    return Markup(" ").join(Markup('<span class="tok">{}</span>').format(w) for w in words)


def sort_key(value, kind: str = "text") -> str:
    """Raw value for the optional sorting script (data-v attribute)."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, number=number, percent=percent, cell=cell, sort_key=sort_key, tokens=tokens)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def safe_name(text: str) -> str:
    """A file-name-safe version of an id from outside (payer ids)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "payer"


def ensure_dir(path: Path) -> Path:
    """The output folder, created with any missing parents mode 0700 whatever the umask (an
    existing folder is left as it is): reports hold PHI."""
    return make_private_dirs(path)


def write_text(path: Path, text: str) -> Path:
    with private_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    with private_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def file_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
