-- Text and arithmetic helpers for the comparison queries (temporary macros, one connection).
-- Grain: none (scalar macros, created before step 01). Percent arithmetic multiplies by 0.01
-- because DuckDB turns DECIMAL / DECIMAL into DOUBLE, and amounts must stay exact.
-- A number as text without trailing zeros: 62.500 -> '62.5', 150.000 -> '150'.
CREATE OR REPLACE TEMP MACRO cmp_num(x) AS
    CASE WHEN contains(CAST(x AS VARCHAR), '.') THEN rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.')
         ELSE CAST(x AS VARCHAR) END;
-- An amount as text, '$12.30' / '-$4.00'; x is always a 2-place DECIMAL here (every money
-- column is DECIMAL(14,2)).
CREATE OR REPLACE TEMP MACRO cmp_money(x) AS
    CASE WHEN x < 0 THEN '-$' || CAST(-x AS VARCHAR) ELSE '$' || CAST(x AS VARCHAR) END;
-- amount x percent, rounded half-up to the cent (DECIMAL(14,2)).
CREATE OR REPLACE TEMP MACRO cmp_pct_of(amount, pct) AS
    CAST(round(CAST(amount AS DECIMAL(14,2)) * CAST(pct AS DECIMAL(9,3)) * 0.01, 2) AS DECIMAL(14,2));
-- a / b x 100 rounded half-up to 2 places, in integer cents (no floating point).
CREATE OR REPLACE TEMP MACRO cmp_ratio_pct(a, b) AS
    CASE WHEN b IS NULL OR b = 0 OR a IS NULL THEN NULL
         ELSE CAST(sign(a) * ((2 * abs(CAST(a * 100 AS HUGEINT)) * 10000 + CAST(b * 100 AS HUGEINT))
                              // (2 * CAST(b * 100 AS HUGEINT))) AS DECIMAL(18,0)) * 0.01 END;
-- product of two percents, kept to 3 places (150 x 50 -> 75.000).
CREATE OR REPLACE TEMP MACRO cmp_pct_mul(a, b) AS
    CAST(round(CAST(a AS DECIMAL(9,3)) * CAST(b AS DECIMAL(9,3)) * 0.01, 3) AS DECIMAL(9,3));
