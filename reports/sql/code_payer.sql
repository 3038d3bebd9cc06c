-- Expected versus actual allowed per unit, per procedure code and payer, for the top codes.
-- Grain: one row per (procedure code, payer) among the $limit codes with the most underpaid
-- dollars in $month. Averages are per unit over the compared lines (underpaid/overpaid/correct).
WITH top AS (
    SELECT procedure_code, sum(variance) AS code_underpaid
    FROM variances
    WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer) AND category = 'underpaid'
    GROUP BY procedure_code
    ORDER BY code_underpaid DESC, procedure_code
    LIMIT $limit
)
SELECT
    v.procedure_code                                                         AS procedure_code,
    v.payer_id                                                               AS payer_id,
    max(v.payer_name)                                                        AS payer_name,
    count(*)                                                                 AS lines,
    sum(v.units)::DECIMAL(18,3)                                              AS units,
    rpt_money_per(sum(v.expected_allowed), sum(v.units))::DECIMAL(38,2)       AS expected_per_unit,
    rpt_money_per(sum(v.actual_allowed), sum(v.units))::DECIMAL(38,2)         AS actual_per_unit,
    count(*) FILTER (WHERE v.category = 'underpaid')                         AS underpaid_lines,
    coalesce(sum(v.variance) FILTER (WHERE v.category = 'underpaid'), 0)::DECIMAL(38,2) AS underpaid
FROM variances v JOIN top USING (procedure_code)
WHERE v.payment_month = $month AND ($payer IS NULL OR v.payer_id = $payer)
  AND v.category IN ('underpaid', 'overpaid', 'correct')
GROUP BY v.procedure_code, v.payer_id, top.code_underpaid
ORDER BY top.code_underpaid DESC, v.procedure_code, underpaid DESC, v.payer_id
