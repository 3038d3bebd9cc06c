"""Money is divided and rounded in one place: the macros of pipelines/compare/sql/00_macros.sql.

Every other file of the comparison chain is parsed (SQLGlot, DuckDB dialect) and any division,
integer division, modulo, ROUND, FLOOR, CEIL or TRUNC in it fails this test, so both engines
(DuckDB, and Spark through the inlined macros) round at the same steps, half-up to the cent.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from pipelines.compare.compare import CHAIN, MACROS, _sql

FORBIDDEN = (exp.Div, exp.IntDiv, exp.Mod, exp.Round, exp.Floor, exp.Ceil)
FORBIDDEN_NAMES = {"round", "round_even", "floor", "ceil", "ceiling", "trunc", "divide", "fdiv", "fmod"}


def violations(sql: str) -> list[str]:
    """The divisions and roundings of ``sql`` (a DuckDB statement), as SQL snippets."""
    found = []
    for node in sqlglot.parse_one(sql, read="duckdb").walk():
        named = isinstance(node, exp.Anonymous) and str(node.this).lower() in FORBIDDEN_NAMES
        truncated = isinstance(node, exp.Func) and node.sql_name().lower() in FORBIDDEN_NAMES
        if isinstance(node, FORBIDDEN) or named or truncated:
            found.append(node.sql("duckdb")[:80])
    return found


@pytest.mark.parametrize("step", CHAIN, ids=lambda s: s.file)
def test_no_chain_step_divides_or_rounds_outside_the_rounding_helper(step):
    assert violations(_sql(step.file)) == [], f"{step.file}: use a macro of {MACROS} (cmp_cents, cmp_pct_of, ...)"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT round(a * b, 2) FROM t",
        "SELECT a / b FROM t",
        "SELECT a // b FROM t",
        "SELECT a % 100 FROM t",
        "SELECT floor(units) FROM t",
        "SELECT ceil(x) FROM t",
        "SELECT trunc(x) FROM t",
        "SELECT CASE WHEN x > 0 THEN CAST(round(x, 2) AS DECIMAL(38,2)) END FROM t",
    ],
)
def test_the_lint_finds_a_planted_division_or_rounding(sql):
    assert violations(sql), sql


def test_the_helpers_themselves_round_and_divide():  # the lint would be vacuous if nothing did
    text = _sql(MACROS).lower()
    assert "round(" in text and "//" in text


def test_dates_truncated_to_the_month_are_not_money():
    assert violations("SELECT CAST(date_trunc('month', d) AS DATE) FROM t") == []
