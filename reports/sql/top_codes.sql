-- Top procedure codes by underpaid dollars in $month.
-- Grain: one row per procedure code with underpaid lines, the $limit largest.
SELECT
    procedure_code                                   AS procedure_code,
    count(*)                                         AS underpaid_lines,
    count(DISTINCT payer_id)                         AS payers,
    sum(expected_allowed)::DECIMAL(38,2)             AS expected_allowed,
    sum(actual_allowed)::DECIMAL(38,2)               AS actual_allowed,
    sum(variance)::DECIMAL(38,2)                     AS underpaid
FROM variances
WHERE payment_month = $month
  AND ($payer IS NULL OR payer_id = $payer)
  AND category = 'underpaid'
GROUP BY procedure_code
ORDER BY underpaid DESC, procedure_code
LIMIT $limit
