-- Text and arithmetic helpers for the comparison queries (temporary macros, one connection).
-- This file is the one rounding helper: every division and every rounding of the chain is one of
-- these macros (tests/compare/test_money_lint.py fails any other), so both engines (DuckDB, and
-- Spark through pipelines.spark.dialect, which inlines them) round at the same steps.
-- Grain: none (scalar macros, created before step 01). Percent arithmetic multiplies by 0.01
-- because DuckDB turns DECIMAL / DECIMAL into DOUBLE, and amounts must stay exact.
-- Headroom: intermediate amounts are DECIMAL(38,2), so ANY amount the warehouse can hold
-- (DECIMAL(14,2), up to 999999999999.99) times any percent or unit count computes; a result
-- is stored into a DECIMAL(14,2) column only through cmp_in_money (NULL when it does not fit,
-- and such a line is left not priced as a data-quality problem, step 12).
-- A number as text without trailing zeros: 62.500 -> '62.5', 150.000 -> '150'.
CREATE OR REPLACE TEMP MACRO cmp_num(x) AS
    CASE WHEN contains(CAST(x AS VARCHAR), '.') THEN rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.')
         ELSE CAST(x AS VARCHAR) END;
-- An amount as text, '$12.30' / '-$4.00'; x is always a 2-place DECIMAL here (every money
-- column is DECIMAL(14,2), every intermediate DECIMAL(38,2)).
CREATE OR REPLACE TEMP MACRO cmp_money(x) AS
    CASE WHEN x < 0 THEN '-$' || CAST(-x AS VARCHAR) ELSE '$' || CAST(x AS VARCHAR) END;
-- amount x percent, rounded half-up to the cent (DECIMAL(38,2): room for any stored amount).
CREATE OR REPLACE TEMP MACRO cmp_pct_of(amount, pct) AS
    CAST(round(CAST(amount AS DECIMAL(38,2)) * CAST(pct AS DECIMAL(18,3)) * 0.01, 2) AS DECIMAL(38,2));
-- x rounded half-up to the cent, as DECIMAL(38,2) (unit rate x units, percent-applied amount x units).
CREATE OR REPLACE TEMP MACRO cmp_cents(x) AS
    CAST(round(x, 2) AS DECIMAL(38,2));
-- a unit count with no fraction (a drug's units must be whole multiples of its HCPCS dosage).
CREATE OR REPLACE TEMP MACRO cmp_is_whole(x) AS
    x = floor(x);
-- x as a DECIMAL(14,2) column value when it fits (|x| <= 999999999999.99), else NULL.
CREATE OR REPLACE TEMP MACRO cmp_in_money(x) AS
    CASE WHEN abs(x) <= 999999999999.99 THEN CAST(x AS DECIMAL(14,2)) END;
-- a / b x 100 rounded half-up to 2 places, in integer cents (no floating point; HUGEINT and
-- DECIMAL(38,0) leave room for any stored amount over a one-cent one).
CREATE OR REPLACE TEMP MACRO cmp_ratio_pct(a, b) AS
    CASE WHEN b IS NULL OR b = 0 OR a IS NULL THEN NULL
         ELSE CAST(CASE WHEN a < 0 THEN -1 ELSE 1 END * ((2 * abs(CAST(a * 100 AS HUGEINT)) * 10000 + CAST(b * 100 AS HUGEINT))
                              // (2 * CAST(b * 100 AS HUGEINT))) AS DECIMAL(38,0)) * 0.01 END;
-- product of two percents, kept to 3 places (150 x 50 -> 75.000).
CREATE OR REPLACE TEMP MACRO cmp_pct_mul(a, b) AS
    CAST(round(CAST(a AS DECIMAL(9,3)) * CAST(b AS DECIMAL(9,3)) * 0.01, 3) AS DECIMAL(9,3));
-- An X12 segment and qualifier as the 835 writes them ('AMT', 'B6' -> 'AMT*B6'), for explanations
-- (the chain's final SELECT lists hold no literal '*': tests/compare/test_sql_chain.py).
CREATE OR REPLACE TEMP MACRO cmp_seg(tag, qualifier) AS tag || chr(42) || qualifier;
