-- Step 06, cmp_price_rows: the distinct Medicare pricing keys of the lines in scope (what
-- fee_schedules.schedule_pricing.price_medicare is asked to price); price_row numbers them in key
-- order (the same numbers on every engine).
-- Grain: one row per distinct (code, component modifier, date, year, zip, locality, setting, qp, schedule
-- modifiers, schedule asked for).
-- Tens of thousands of rows for a million lines.
-- Inputs: cmp_line_keys (05).
WITH distinct_keys AS (
    SELECT DISTINCT procedure_code, price_modifier, service_date, k_year, k_zip, k_locality, facility, qp, k_mods, k_schedule
    FROM cmp_line_keys
)
SELECT
    CAST(row_number() OVER (ORDER BY procedure_code, price_modifier, service_date, k_year, k_zip, k_locality,
                                     facility, qp, k_mods, k_schedule) AS BIGINT) AS price_row,
    CAST(procedure_code AS VARCHAR)            AS procedure_code,
    CAST(price_modifier AS VARCHAR)            AS price_modifier,
    CAST(service_date AS DATE)                 AS service_date,
    CAST(k_year AS INTEGER)                    AS k_year,
    CAST(k_zip AS VARCHAR)                     AS k_zip,
    CAST(k_locality AS VARCHAR)                AS k_locality,
    CAST(facility AS BOOLEAN)                  AS facility,
    CAST(qp AS BOOLEAN)                        AS qp,
    CAST(k_mods AS VARCHAR)                    AS k_mods,
    CAST(k_schedule AS VARCHAR)                AS k_schedule
FROM distinct_keys
