-- Data quality: lines the comparison could not price, and why, in $month.
-- Grain: one row per (category, payer, reason) for categories not_priced and no_contract.
SELECT
    category,
    payer_id,
    max(payer_name)                                                          AS payer_name,
    coalesce(not_priced_reason,
             CASE WHEN category = 'no_contract' THEN 'no contract matches this payer and date of service' END,
             'not stated')                                                   AS reason,
    count(*)                                                                 AS lines,
    coalesce(sum(billed), 0)::DECIMAL(38,2)                                  AS billed,
    coalesce(sum(actual_allowed), 0)::DECIMAL(38,2)                          AS actual_allowed
FROM variances
WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer)
  AND category IN ('not_priced', 'no_contract')
GROUP BY ALL
ORDER BY lines DESC, category, payer_id, reason
