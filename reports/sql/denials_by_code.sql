-- Denials per procedure code in $month.
-- Grain: one row per procedure code with denied lines, the $limit with the most denied charges.
SELECT
    procedure_code                                   AS procedure_code,
    count(*)                                         AS denied_lines,
    count(DISTINCT payer_id)                         AS payers,
    coalesce(sum(billed), 0)::DECIMAL(38,2)          AS denied_billed
FROM variances
WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer) AND category = 'denied'
GROUP BY procedure_code
ORDER BY denied_billed DESC, procedure_code
LIMIT $limit
