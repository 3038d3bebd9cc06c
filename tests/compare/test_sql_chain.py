"""The comparison SQL reads as a chain: the declared sequence (compare.CHAIN), the files in
pipelines/compare/sql/ and its README agree; every file states purpose, grain and inputs, names
its CTEs for what they hold and ends with an explicit cast column list; the category precedence
is one ordered rule list, documented; and the rows it produces are the ones it produced before
the rewrite (tests/compare/data/chain_golden.json)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
from decimal import Decimal as D

import pytest

from pipelines.compare import compare as compare_module
from pipelines.compare.compare import CHAIN, MACROS, compare
from pipelines.compare.model import CATEGORIES, Variances
from pipelines.core.config import Settings
from pipelines.core.sql import parameters, read_sql

HERE = pathlib.Path(__file__).parent
SQL_DIR = pathlib.Path(compare_module.__file__).parent / "sql"
README = (SQL_DIR / "README.md").read_text(encoding="utf-8")


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _load("cmp_conftest_chain", HERE / "conftest.py")
_scenario = _load("cmp_chain_scenario", HERE / "chain_scenario.py")


def _text(name: str) -> str:
    return read_sql("pipelines.compare.sql", name)


def _code(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _readme_rows() -> list[tuple[str, str, str]]:
    """(step, file, table) of the README's chain table, in order."""
    return re.findall(r"^\| (\d\d) \| `([^`]+)` \| `([^`]+)` \|", README, flags=re.M)


def _final_select(sql: str) -> str:
    """The outermost SELECT list of a file (from its last column-0 SELECT to its FROM)."""
    code = _code(sql)
    start = [m.start() for m in re.finditer(r"^SELECT\b", code, flags=re.M)][-1]
    end = re.compile(r"^FROM\b", flags=re.M).search(code, start).start()
    return code[start + len("SELECT") : end]


def _items(select_list: str) -> list[str]:
    items, depth, cur = [], 0, []
    for ch in select_list:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur).strip())
    return [i for i in items if i]


def _ctes(sql: str) -> list[str]:
    return re.findall(r"(?:\bWITH|^\),?)\s*(\w+)\s+AS\s*\(", _code(sql), flags=re.M)


# ------------------------------------------------------------------ the declared sequence


def test_readme_chain_and_files_agree():
    declared = [(step.file, step.table) for step in CHAIN]
    rows = _readme_rows()
    assert [(f, t) for _, f, t in rows] == declared
    assert [n for n, _, _ in rows] == [f"{i:02d}" for i in range(1, len(CHAIN) + 1)]
    assert [f[:2] for f, _ in declared] == [n for n, _, _ in rows]  # files numbered in run order
    on_disk = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    assert on_disk == sorted([MACROS, *(f for f, _ in declared)])
    assert CHAIN[-1].table == "variances"
    assert sum(step.price_first for step in CHAIN) == 1


def test_every_file_states_step_purpose_grain_and_inputs():
    for i, step in enumerate(CHAIN, start=1):
        sql = _text(step.file)
        first = sql.splitlines()[0]
        assert first.startswith(f"-- Step {i:02d}, {step.table}: "), (step.file, first)
        assert len(first.split(": ", 1)[1]) > 15, f"{step.file}: a purpose, not a label"
        header = sql.split("\nWITH", 1)[0].split("\nSELECT", 1)[0]
        assert "-- Grain: one row per" in header, f"{step.file}: no grain"
        assert "-- Inputs:" in header, f"{step.file}: no inputs"
        for name in parameters(sql):  # every parameter is documented in the header
            assert f"${name}" in header, f"{step.file}: ${name} not in its header"
    assert "-- Grain:" in _text(MACROS)


def test_ctes_are_named_for_what_they_hold():
    vague = re.compile(r"^(step\d*|final|base|x|l|t|tmp|cte\d*|q\d*|joined)$")
    for step in CHAIN:
        names = _ctes(_text(step.file))
        assert not [n for n in names if vague.match(n)], (step.file, names)
        for name in names:  # every CTE is read by a later part of the file
            assert len(re.findall(rf"\b{name}\b", _code(_text(step.file)))) >= 2, (step.file, name)


def test_every_file_ends_with_an_explicit_cast_column_list():
    for step in CHAIN:
        select = _final_select(_text(step.file))
        assert "*" not in select, f"{step.file}: SELECT * at the end"
        items = _items(select)
        assert items and all(re.match(r"CAST\(", item) for item in items), (
            step.file,
            [i for i in items if not i.startswith("CAST(")],
        )
        assert all(re.search(r"\bAS \w+$", item) for item in items), step.file


def test_last_step_writes_every_variances_column():
    names = [re.search(r"\bAS (\w+)$", item).group(1) for item in _items(_final_select(_text(CHAIN[-1].file)))]
    assert names == list(Variances.to_schema().columns)


# ------------------------------------------------------------------ category precedence


def _categorized_cte() -> str:
    code = _code(_text(CHAIN[-1].file))
    return code[code.index("categorized AS (") : code.index("derivation AS (")]


def test_category_precedence_is_one_ordered_rule_list_documented_in_the_readme():
    decided = re.findall(r"(?:THEN|ELSE) '(\w+)'", _categorized_cte())
    # rule 0, data quality first (sql/README.md "Data quality"): an implausible line is not priced
    assert re.search(r"CASE\s+WHEN implausible IS NOT NULL THEN 'not_priced'", _code(_categorized_cte()))
    assert decided.pop(0) == "not_priced"
    assert decided == [
        "reversed",
        "secondary",
        "pending",
        "denied",
        "no_contract",
        "not_priced",
        "underpaid",
        "overpaid",
        "correct",
    ]
    assert sorted(decided) == sorted(CATEGORIES)
    section = README.split("## Category precedence", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\d\. `(\w+)`(?: / `(\w+)`)?", section, flags=re.M)
    assert [c for pair in documented for c in pair if c] == decided
    # the rule list decides; the wording lives elsewhere
    assert "explanation" not in _categorized_cte() and "||" not in _categorized_cte()
    explained = _code(_text(CHAIN[-1].file)).split("explained AS (", 1)[1]
    assert "tolerance_amount AND" not in explained and "claim_status IN ('2', '3', '20', '21')" not in explained


# ------------------------------------------------------------------ same rows as before the rewrite


def _as_text(value):
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def test_chain_rows_equal_the_golden_rows(wh, tmp_path):
    folder = tmp_path / "contracts"
    _scenario.build(wh, folder)
    result = compare(wh.con, folder, settings=Settings())
    frame = wh.con.sql("SELECT * FROM variances ORDER BY line_id").pl()
    Variances.validate(frame, lazy=True)
    got = [{k: _as_text(v) for k, v in row.items() if k != "computed_at"} for row in frame.to_dicts()]
    golden = json.loads((HERE / "data" / "chain_golden.json").read_text(encoding="utf-8"))
    assert len(got) == len(golden) == result.lines
    for mine, theirs in zip(got, golden):
        theirs = {**theirs, "contract_file": theirs["contract_file"] and pathlib.Path(theirs["contract_file"]).name}
        mine = {**mine, "contract_file": mine["contract_file"] and pathlib.Path(mine["contract_file"]).name}
        assert mine == theirs, {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs.get(k)}
    assert set(result.by_category) == set(CATEGORIES)
    assert all(result.by_category[c] for c in CATEGORIES)  # the scenario touches every category


@pytest.mark.parametrize(
    "pos, facility, expected",
    [
        ("02", True, "70.00"),
        ("2", True, "70.00"),
        ("10", False, "100.00"),
        ("11", False, "100.00"),
        ("19", True, "70.00"),
        ("22", True, "70.00"),
    ],
)
def test_place_of_service_decides_the_setting(wh, tmp_path, pos, facility, expected):
    folder = tmp_path / "contracts"
    _helpers.write_contract(
        folder,
        "acme.yaml",
        'name: Acme\npayer: {ids: ["ACME1"]}\npayee_tins: ["123456789"]\n'
        "effective: 2025-01-01\nterms:\n"
        '  - codes: ["99213"]\n    setting: facility\n    rate: 70\n'
        '  - codes: ["99213"]\n    setting: non-facility\n    rate: 100\n',
    )
    line = wh.line(wh.claim(wh.payment(), pos=pos), "99213", 300)
    compare(wh.con, folder, settings=Settings())
    row = _helpers.variance(wh.con, line)
    assert row["facility"] is facility and row["expected_allowed"] == D(expected)


def test_variances_model_is_strict_and_keeps_the_row_rules(wh, tmp_path):
    import pandera.errors
    import polars as pl

    folder = tmp_path / "contracts"
    _scenario.build(wh, folder)
    compare(wh.con, folder, settings=Settings())
    frame = wh.con.sql("SELECT * FROM variances ORDER BY line_id").pl()
    Variances.validate(frame)
    with pytest.raises(pandera.errors.SchemaError):  # strict: no column more
        Variances.validate(frame.with_columns(pl.lit(1).alias("extra")))
    with pytest.raises(pandera.errors.SchemaError):  # strict: no column less
        Variances.validate(frame.drop("rate_row"))
    with pytest.raises(pandera.errors.SchemaError):  # variance = expected - actual
        Variances.validate(frame.with_columns(pl.col("variance") + pl.col("variance").abs() + D("1")))
    with pytest.raises(pandera.errors.SchemaError):  # types as the DDL
        Variances.validate(frame.with_columns(pl.col("mppr_rank").cast(pl.Int64)))
