"""One vocabulary: a month is a ``Month``, parsed once at the edge; money types and rounding live
in ``pipelines.core.money`` only.

The Month tests pin the type the CLI, reports and runs pass inward; the source checks walk
the code (AST, not text: comments and docstrings do not count) so that a second month parser
or a second money dtype cannot creep back in.
"""

from __future__ import annotations

import ast
from datetime import date, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipelines.cli.commands.common import MONTH, MonthType
from pipelines.cli.main import main
from pipelines.core.errors import ConfigError, UnderpayError
from pipelines.core.months import Month

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pipelines", "fee_schedules", "contracts", "reports")

months = st.builds(Month, st.integers(1000, 8999), st.integers(1, 12))


# --------------------------------------------------------------------------- Month


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "March", "2025/03", "", "03-2025", "2025-03-01", "20250"])
def test_parse_rejects_what_is_not_yyyy_mm(text):
    with pytest.raises(ConfigError, match="expected YYYY-MM") as info:
        Month.parse(text)
    assert isinstance(info.value, UnderpayError)  # the CLI turns it into one `Error:` line


def test_parse_reads_yyyy_mm_and_labels_it_back():
    m = Month.parse(" 2025-03 ")
    assert (m.year, m.month, m.label, str(m)) == (2025, 3, "2025-03", "2025-03")


@pytest.mark.parametrize("year, month", [(2025, 0), (2025, 13), (0, 5), (10000, 1)])
def test_a_month_outside_the_calendar_is_refused(year, month):
    with pytest.raises(ConfigError, match="not a calendar month"):
        Month(year, month)


def test_add_crosses_years_both_ways():
    assert Month(2025, 12).add(1) == Month(2026, 1)
    assert Month(2025, 1).add(-1) == Month(2024, 12)
    assert Month(2026, 3).add(-11) == Month(2025, 4)  # the first of a 12-month window
    assert Month(2025, 3).add(-27) == Month(2022, 12)
    assert Month(2025, 3).add(0) == Month(2025, 3)


def test_start_end_and_last_day_are_a_half_open_range():
    feb = Month(2024, 2)
    assert (feb.start, feb.end, feb.last_day) == (date(2024, 2, 1), date(2024, 3, 1), date(2024, 2, 29))
    dec = Month(2025, 12)
    assert (dec.end, dec.last_day) == (date(2026, 1, 1), date(2025, 12, 31))


def test_months_order_by_time_and_hash_as_values():
    assert sorted([Month(2026, 1), Month(2025, 12), Month(2025, 2)]) == [
        Month(2025, 2),
        Month(2025, 12),
        Month(2026, 1),
    ]
    assert Month(2025, 12) < Month(2026, 1) and not Month(2026, 1) < Month(2025, 12)
    assert len({Month(2025, 3), Month.parse("2025-03"), Month.of(date(2025, 3, 31))}) == 1


def test_coerce_takes_the_loose_values_a_library_caller_passes():
    m = Month(2025, 3)
    assert Month.coerce(m) is m
    assert Month.coerce("2025-03") == Month.coerce(date(2025, 3, 17)) == Month.coerce(datetime(2025, 3, 1, 9)) == m
    with pytest.raises(TypeError, match="expected a Month"):
        Month.coerce(202503)
    with pytest.raises(ConfigError, match="expected YYYY-MM"):
        Month.coerce("March")
    assert Month.coerce("2025-03").start == date(2025, 3, 1)


@given(months, st.integers(-2400, 2400))
def test_add_then_subtract_is_the_same_month(m, n):
    assert m.add(n).add(-n) == m


@given(months, st.integers(-600, 600), st.integers(-600, 600))
def test_add_composes_and_keeps_order(m, a, b):
    assert m.add(a).add(b) == m.add(a + b)
    assert (m.add(a) < m.add(b)) == (a < b)
    assert m.add(a).start.day == 1 and m.add(a).end == m.add(a + 1).start


@given(months)
def test_label_round_trips(m):
    assert Month.parse(m.label) == m
    assert Month.of(m.start) == Month.of(m.last_day) == m


# --------------------------------------------------------------------------- the click type


def test_click_type_converts_once_into_a_month():
    assert MONTH.convert("2025-03", None, None) == Month(2025, 3)
    assert MONTH.convert(Month(2025, 3), None, None) == Month(2025, 3)
    with pytest.raises(click.BadParameter, match="expected YYYY-MM"):
        MonthType().convert("2025-13", None, None)


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--month", "2025-13"],
        ["run", "--month", "March"],
        ["compare", "--month", "2025/03"],
        ["negotiate", "--payer", "ACME1", "--through", "03-2025"],
    ],
)
def test_a_bad_month_on_the_command_line_is_a_usage_error(args, tmp_path):
    res = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--" in res.output and "expected YYYY-MM" in res.output
    assert "Usage:" in res.output
    assert not (tmp_path / "none.duckdb").exists()  # refused before anything opened the warehouse


def test_month_options_show_the_expected_format_in_help():
    for command in ("report", "run", "compare"):
        res = CliRunner().invoke(main, [command, "--help"])
        assert res.exit_code == 0 and "--month YYYY-MM" in res.output, res.output


# --------------------------------------------------------------------------- the source


def _sources() -> list[Path]:
    return [p for top in SOURCES for p in sorted((ROOT / top).rglob("*.py"))]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    """``pl.Decimal`` -> "pl.Decimal", ``datetime.strptime`` -> "datetime.strptime"."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _constants(node: ast.AST) -> list:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_only_core_months_parses_yyyy_mm():
    """``strptime(..., "%Y-%m")`` (or a click.DateTime of that format) outside pipelines/core/months.py
    is a second month parser: use Month.parse at the edge, or the CLI's MONTH type."""
    allowed = ROOT / "pipelines" / "core" / "months.py"
    found = []
    for path in _sources():
        for call in _calls(path):
            name = _name(call.func)
            if (name.endswith("strptime") or name.endswith("DateTime")) and "%Y-%m" in _constants(call):
                if path != allowed:
                    found.append(_where(path, call))
    assert not found, f"YYYY-MM parsed outside pipelines/core/months.py: {found}"


def _is_money_dtype(call: ast.Call) -> bool:
    if _name(call.func) not in ("pl.Decimal", "polars.Decimal", "Decimal"):
        return False
    values = [a.value for a in call.args if isinstance(a, ast.Constant)]
    values += [
        k.value.value for k in call.keywords if k.arg in ("precision", "scale") and isinstance(k.value, ast.Constant)
    ]
    return values == [14, 2]


def test_only_core_money_declares_the_money_dtype():
    """``pl.Decimal(14, 2)`` anywhere but pipelines/core/money.py is a second money type: use money.MONEY."""
    allowed = ROOT / "pipelines" / "core" / "money.py"
    found = [
        _where(path, call) for path in _sources() if path != allowed for call in _calls(path) if _is_money_dtype(call)
    ]
    assert not found, f"money dtype declared outside pipelines/core/money.py (use MONEY): {found}"


def test_only_core_money_rounds_half_up():
    """``ROUND_HALF_UP`` outside pipelines/core/money.py is a local rounding helper: use to_cent,
    half_up or percent_of."""
    allowed = ROOT / "pipelines" / "core" / "money.py"
    found = []
    for path in _sources():
        if path == allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and node.id == "ROUND_HALF_UP":
                found.append(_where(path, node))
            elif isinstance(node, ast.Attribute) and node.attr == "ROUND_HALF_UP":
                found.append(_where(path, node))
    assert not found, f"half-up rounding outside pipelines/core/money.py: {found}"


def test_the_source_checks_see_what_they_look_for(tmp_path):
    """The checks above would catch an offender (they are not vacuous)."""
    sample = tmp_path / "offender.py"
    sample.write_text(
        "import polars as pl\nfrom datetime import datetime\n"
        "M = pl.Decimal(14, 2)\nN = pl.Decimal(precision=14, scale=2)\nQ = pl.Decimal(12, 3)\n"
        "d = datetime.strptime('2025-03', '%Y-%m')\n"
    )
    calls = list(_calls(sample))
    assert [_is_money_dtype(c) for c in calls if _name(c.func) == "pl.Decimal"] == [True, True, False]
    assert any(_name(c.func).endswith("strptime") and "%Y-%m" in _constants(c) for c in calls)
