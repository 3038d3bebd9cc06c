-- Negotiation pack, Market section: the distribution of payers' published in-network rates per code
-- (market_rates, loaded by `underpay market import`).
-- Grain: one row per (scope, procedure code, pricing modifier) among the codes in $codes that have a kept rate.
--   scope 'all'   : every payer's kept rates;
--   scope 'payer' : the kept rates whose reporting_entity or plan_name contains $entity, case-insensitively
--                   (none when $entity is '').
-- A rate is kept when it is a CPT/HCPCS code, billing_class 'professional' (or 'both'), has a dollar amount
-- (rate_in_dollars NOT NULL: a percentage without a stated basis has none), is not expired on $on_date
-- (expiration_date NULL or on/after it), and comes from the newest file (last_updated_on) that gives that
-- code and pricing modifier for its (reporting entity, plan): a payer republishing its file every month
-- counts its rates once. pricing modifier: '26' / 'TC' when the published modifier(s) hold it, else ''
-- (the pack's codes are keyed the same way: negotiation_codes.sql).
-- Quantiles are nearest-rank (Hyndman-Fan type 1, the same values as DuckDB's quantile_disc): the p-th
-- percentile of n ascending rates is the one at 1-based position ceil(n x p / 100), computed in integers
-- (no floating point), so every figure is one of the published rates, exact to the cent.
WITH kept AS (
    SELECT
        reporting_entity,
        plan_name,
        plan_id,
        last_updated_on,
        upper(trim(billing_code))                                              AS procedure_code,
        CASE WHEN list_contains(string_split(upper(modifier), '-'), '26') THEN '26'
             WHEN list_contains(string_split(upper(modifier), '-'), 'TC') THEN 'TC'
             ELSE '' END                                                       AS modifier,
        rate_in_dollars
    FROM market_rates
    WHERE upper(billing_code_type) IN ('CPT', 'HCPCS')
      AND billing_class IN ('professional', 'both')
      AND rate_in_dollars IS NOT NULL
      AND (expiration_date IS NULL OR expiration_date >= $on_date)
      AND list_contains($codes, upper(trim(billing_code)))
), newest_file AS (
    SELECT *
    FROM kept
    QUALIFY last_updated_on IS NOT DISTINCT FROM max(last_updated_on) OVER (
        PARTITION BY reporting_entity, plan_id, plan_name, procedure_code, modifier)
), scoped AS (
    SELECT 'all' AS scope, * FROM newest_file
    UNION ALL
    SELECT 'payer' AS scope, * FROM newest_file
    WHERE $entity <> ''
      AND (contains(lower(coalesce(reporting_entity, '')), lower($entity))
           OR contains(lower(coalesce(plan_name, '')), lower($entity)))
), sorted AS (
    SELECT scope, procedure_code, modifier,
           count(*)                                       AS n,
           list_sort(list(rate_in_dollars))               AS rates,
           list_sort(list(DISTINCT coalesce(reporting_entity, '(no reporting entity)'))) AS entities
    FROM scoped
    GROUP BY scope, procedure_code, modifier
)
SELECT
    scope                                                 AS scope,            -- 'payer' | 'all'
    procedure_code                                        AS procedure_code,
    modifier                                              AS modifier,         -- '' | '26' | 'TC'
    n::INTEGER                                            AS rates_count,
    rates[(n * 10 + 99) // 100]::DECIMAL(18,2)            AS p10,
    rates[(n * 25 + 99) // 100]::DECIMAL(18,2)            AS p25,
    rates[(n * 50 + 99) // 100]::DECIMAL(18,2)            AS median,
    rates[(n * 75 + 99) // 100]::DECIMAL(18,2)            AS p75,
    rates[(n * 90 + 99) // 100]::DECIMAL(18,2)            AS p90,
    rates::DECIMAL(18,2)[]                                AS rates,            -- ascending, for percentile ranks
    entities::VARCHAR[]                                   AS entities          -- reporting entities in the scope
FROM sorted
ORDER BY procedure_code, modifier, scope
