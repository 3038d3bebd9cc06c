"""The comparison's DuckDB SQL as Spark SQL: SQLGlot's transpiler plus the shims it needs.

The SQL stays one source (pipelines/compare/sql). :func:`to_spark` parses a DuckDB statement with
SQLGlot, applies the shims below to the parsed tree, and writes Spark SQL:

- **macros**: Spark has no ``CREATE MACRO``; each call of a 00_macros.sql macro is replaced by the
  macro's body with its parameters substituted (parenthesised arguments; nested calls expand from
  the inside out), so the rounding helpers stay written once;
- **HUGEINT** (DuckDB's 128-bit integer, used by ``cmp_ratio_pct`` for integer-cent division) becomes
  ``DECIMAL(38,0)``: the same exact integers up to 38 digits, and Spark's ``div`` truncates toward zero
  as DuckDB's ``//`` does;
- **list subscripts**: DuckDB's ``list[i]`` is 1-based and NULL out of range; SQLGlot shifts only
  constant indexes, so every subscript becomes ``try_element_at(list, i)`` (1-based, NULL out of
  range) with the index exactly as written;
- **list functions** SQLGlot leaves by name: ``list_has_any`` (parsed as ``&&``) becomes
  ``arrays_overlap`` and ``list_position`` ``array_position`` (both 1-based, 0 when absent, where
  the chain always coalesces NULL to 0).

Parameters stay parameters: DuckDB's ``$name`` is written as Spark's named marker ``:name`` and the
values are bound by ``spark.sql(text, args=...)``, never formatted into the text.
Decimal semantics are the session's (pipelines.spark.session): no precision loss in decimal
arithmetic, so every product keeps all its places until the one rounding helper rounds it
half-up to the cent, exactly as DuckDB does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp

from pipelines.compare.compare import MACROS, SQL_PACKAGE
from pipelines.core.sql import read_sql

__all__ = ["Macro", "expand_macros", "macros", "shim", "to_spark"]


@dataclass(frozen=True)
class Macro:
    """A scalar DuckDB macro: ``name(params) AS body``."""

    name: str
    params: tuple[str, ...]
    body: exp.Expression


def read_macros(sql: str) -> dict[str, Macro]:
    """The ``CREATE ... MACRO`` statements of ``sql`` by (lower-case) name."""
    out: dict[str, Macro] = {}
    for statement in sqlglot.parse(sql, read="duckdb"):
        if not isinstance(statement, exp.Create) or str(statement.args.get("kind", "")).upper() != "MACRO":
            raise ValueError(f"expected only CREATE MACRO statements, got: {statement.sql('duckdb')[:80]}")
        udf = statement.this
        name = udf.this.name.lower()
        params = tuple(p.name.lower() for p in udf.expressions)
        out[name] = Macro(name, params, statement.expression)
    return out


@cache
def macros() -> dict[str, Macro]:
    """The comparison's macros (pipelines/compare/sql/00_macros.sql)."""
    return read_macros(read_sql(SQL_PACKAGE, MACROS))


def _call_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return None


def expand_macros(tree: exp.Expression, known: dict[str, Macro]) -> exp.Expression:
    """``tree`` with every call of a macro in ``known`` replaced by its body (arguments substituted)."""

    def expand(node: exp.Expression) -> exp.Expression:
        name = _call_name(node)
        if name is None or name not in known:
            return node
        macro = known[name]
        args = [expand_macros(a.copy(), known) for a in node.expressions]
        if len(args) != len(macro.params):
            raise ValueError(f"macro {name} takes {len(macro.params)} argument(s), called with {len(args)}")
        by_param = dict(zip(macro.params, args))

        def substitute(inner: exp.Expression) -> exp.Expression:
            if isinstance(inner, exp.Column) and not inner.table and inner.name.lower() in by_param:
                return exp.Paren(this=by_param[inner.name.lower()].copy())
            return inner

        body = macro.body.copy().transform(substitute)
        return exp.Paren(this=expand_macros(body, known))

    return tree.transform(expand)


def _shim(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        index = node.expressions[0]
        # SQLGlot stores a constant DuckDB index 0-based (it shifted it on reading); others as written
        if isinstance(index, exp.Literal) and not index.is_string:
            index = exp.Literal.number(int(index.this) + 1)
        return exp.Anonymous(this="TRY_ELEMENT_AT", expressions=[node.this, index])
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="ARRAYS_OVERLAP", expressions=[node.this, node.expression])
    if _call_name(node) == "list_position":
        return exp.Anonymous(this="ARRAY_POSITION", expressions=list(node.expressions))
    return node


def shim(tree: exp.Expression) -> exp.Expression:
    """``tree`` (a parsed DuckDB statement) with the Spark shims applied (module docstring)."""
    return expand_macros(tree, macros()).transform(_shim)


@cache
def to_spark(sql: str) -> str:
    """The DuckDB statement ``sql`` (one SELECT of the comparison chain) as Spark SQL."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return shim(tree).sql(dialect="spark", pretty=True)
