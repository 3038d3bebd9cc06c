"""The DuckDB -> Spark SQL shims (pipelines.spark.dialect): each one on its own, every chain step
through all of them, and the macros evaluated on both engines over the same values."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipelines.compare.compare import CHAIN, MACROS, _sql
from pipelines.spark.dialect import expand_macros, macros, read_macros, to_spark

pytestmark = pytest.mark.xdist_group("spark")  # with the sameness tests: one Spark session per run


def spark_sql(duckdb_sql: str) -> str:
    return to_spark(duckdb_sql).replace("\n", " ")


def test_the_macros_file_is_read_into_name_params_and_body():
    known = macros()
    assert {"cmp_pct_of", "cmp_cents", "cmp_ratio_pct", "cmp_money", "cmp_in_money", "cmp_is_whole"} <= set(known)
    assert known["cmp_pct_of"].params == ("amount", "pct")
    assert known["cmp_seg"].params == ("tag", "qualifier")


def test_a_statement_other_than_create_macro_in_the_macros_file_is_refused():
    with pytest.raises(ValueError, match="only CREATE MACRO"):
        read_macros("CREATE TEMP MACRO f(x) AS x + 1; SELECT 1")


def test_nested_macro_calls_expand_from_the_inside_out_with_arguments_parenthesised():
    tree = sqlglot.parse_one("SELECT cmp_money(cmp_pct_of(a + b, 50)) AS m FROM t", read="duckdb")
    text = expand_macros(tree, macros()).sql("duckdb")
    assert "cmp_" not in text.lower()
    assert "(a + b)" in text  # the argument as one operand, not a + b * ...
    assert text.count("ROUND(") == 3  # cmp_money names x three times: three copies, as DuckDB expands it


def test_a_macro_called_with_the_wrong_number_of_arguments_is_refused():
    tree = sqlglot.parse_one("SELECT cmp_pct_of(a) FROM t", read="duckdb")
    with pytest.raises(ValueError, match="cmp_pct_of takes 2"):
        expand_macros(tree, macros())


def test_hugeint_becomes_a_38_digit_decimal():
    assert "CAST(x AS DECIMAL(38, 0))" in spark_sql("SELECT CAST(x AS HUGEINT) FROM t")


def test_list_subscripts_become_one_based_try_element_at_with_the_index_as_written():
    text = spark_sql("SELECT l[1] AS a, l[i + 1] AS b, l[p.pos] AS c FROM t, p")
    assert "TRY_ELEMENT_AT(l, 1)" in text
    assert "TRY_ELEMENT_AT(l, i + 1)" in text
    assert "TRY_ELEMENT_AT(l, p.pos)" in text


def test_list_functions_become_their_spark_names():
    text = spark_sql("SELECT list_has_any(a, b) AS x, list_position(a, 'y') AS y FROM t")
    assert "ARRAYS_OVERLAP(a, b)" in text
    assert "ARRAY_POSITION(a, 'y')" in text


def test_parameters_stay_named_markers_never_values():
    text = spark_sql("SELECT * FROM t WHERE d >= CAST($month_start AS DATE) AND p = $payer")
    assert ":month_start" in text and ":payer" in text
    assert "$" not in text


@pytest.mark.parametrize("step", CHAIN, ids=lambda s: s.file)
def test_every_chain_step_transpiles_with_no_duckdb_only_part_left(step):
    text = to_spark(_sql(step.file))
    lowered = re.sub(r"/\*.*?\*/", "", text.lower(), flags=re.S)  # the file's comments are kept
    for name in macros():
        assert not re.search(rf"\b{name}\s*\(", lowered), f"{step.file}: macro {name} not expanded"
    for duckdb_only in ("int128", "hugeint", "list_position", "list_has_any", "regexp_full_match"):
        assert duckdb_only not in lowered, f"{step.file}: {duckdb_only}"
    assert not re.search(r"\$[a-z_]", lowered), f"{step.file}: a DuckDB $parameter left"
    sqlglot.parse_one(text, read="spark")  # and it reads back as Spark SQL


def test_the_macros_file_itself_is_not_part_of_the_chain():
    assert MACROS not in {s.file for s in CHAIN}


# --- the same values through both engines -----------------------------------------------------

EXPRESSIONS = {
    "pct_of": "cmp_pct_of(amount, pct)",
    "cents": "cmp_cents(CAST(amount AS DECIMAL(38,2)) * units)",
    "ratio": "cmp_ratio_pct(amount, other)",
    "pct_mul": "cmp_pct_mul(pct, pct2)",
    "in_money": "cmp_in_money(CAST(amount AS DECIMAL(38,2)) * units)",
    "whole": "cmp_is_whole(units)",
    "money": "cmp_money(cmp_pct_of(amount, pct))",
    "num": "cmp_num(pct)",
    "first_mod": "mods[1]",
    "third_mod": "mods[3]",
    "pos": "coalesce(list_position(mods, '26'), 0)",
    "overlap": "list_has_any(mods, ['26', 'TC'])",
}

amounts = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2)
small = st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2)
percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("999.999"), places=3)
units = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.999"), places=3)
mods = st.lists(st.sampled_from(["26", "TC", "50", "59", "LT", "RT"]), max_size=4)
rows = st.tuples(st.one_of(amounts, small), small, percents, percents, units, mods)


def _duckdb(values: list[tuple]) -> list[tuple]:
    con = duckdb.connect()
    con.execute(_sql(MACROS))
    con.execute(
        "CREATE TABLE v (i INTEGER, amount DECIMAL(14,2), other DECIMAL(14,2), pct DECIMAL(9,3), "
        "pct2 DECIMAL(9,3), units DECIMAL(12,3), mods VARCHAR[])"
    )
    con.executemany("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(values)])
    select = ", ".join(f"CAST({e} AS VARCHAR) AS {k}" for k, e in EXPRESSIONS.items())
    return con.execute(f"SELECT i, {select} FROM v ORDER BY i").fetchall()


def _spark(spark, values: list[tuple]) -> list[tuple]:
    from pyspark.sql.types import (
        ArrayType,
        DecimalType,
        IntegerType,
        StringType,
        StructField,
        StructType,
    )

    schema = StructType(
        [
            StructField("i", IntegerType()),
            StructField("amount", DecimalType(14, 2)),
            StructField("other", DecimalType(14, 2)),
            StructField("pct", DecimalType(9, 3)),
            StructField("pct2", DecimalType(9, 3)),
            StructField("units", DecimalType(12, 3)),
            StructField("mods", ArrayType(StringType())),
        ]
    )
    spark.createDataFrame([(i, *r) for i, r in enumerate(values)], schema).createOrReplaceTempView("v")
    select = ", ".join(f"CAST({e} AS VARCHAR) AS {k}" for k, e in EXPRESSIONS.items())
    return [tuple(r) for r in spark.sql(to_spark(f"SELECT i, {select} FROM v ORDER BY i")).collect()]


# Each example is one query of up to 300 rows per engine; no shrinking (a Spark query per step).
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(rows, min_size=1, max_size=300))
def test_the_macros_and_list_functions_give_the_same_text_on_duckdb_and_spark(spark, values):
    assert _spark(spark, values) == _duckdb(values)


def test_edge_values_give_the_same_text_on_both_engines(spark):
    edge = [
        (Decimal("0.01"), Decimal("0.03"), Decimal("50.000"), Decimal("33.333"), Decimal("1.000"), []),
        (Decimal("-0.05"), Decimal("0.00"), Decimal("0.500"), Decimal("100.000"), Decimal("2.500"), ["26"]),
        (Decimal("12.345") / 1, Decimal("-7.00"), Decimal("150.000"), Decimal("0.001"), Decimal("0.333"), ["TC", "26"]),
        (
            Decimal("999999999999.99"),
            Decimal("0.01"),
            Decimal("999.999"),
            Decimal("999.999"),
            Decimal("99999.999"),
            ["50", "LT", "RT", "59"],
        ),
        (None, None, None, None, None, None),
    ]
    edge = [tuple(round(v, 2) if isinstance(v, Decimal) and i < 2 else v for i, v in enumerate(r)) for r in edge]
    assert _spark(spark, edge) == _duckdb(edge)


def test_the_spark_submit_entry_refuses_a_folder_that_is_not_a_lake_in_one_line(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.spark", str(tmp_path), "--month", "2025-03"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: {tmp_path}: not an underpay lake (no manifest); run `underpay export parquet {tmp_path}` first"
    ]
