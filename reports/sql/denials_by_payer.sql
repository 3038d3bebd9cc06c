-- Denials per payer in $month.
-- Grain: one row per payer with at least one line; denial_rate = denied / lines (reversed excluded), %.
SELECT
    payer_id                                                        AS payer_id,
    max(payer_name)                                                 AS payer_name,
    count(*) FILTER (WHERE category = 'denied')                     AS denied_lines,
    count(*) FILTER (WHERE category <> 'reversed')                  AS lines,
    coalesce(sum(billed) FILTER (WHERE category = 'denied'), 0)::DECIMAL(38,2) AS denied_billed,
    round(100.0 * count(*) FILTER (WHERE category = 'denied')
          / nullif(count(*) FILTER (WHERE category <> 'reversed'), 0), 1) AS denial_rate
FROM variances
WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer)
GROUP BY payer_id
HAVING count(*) FILTER (WHERE category = 'denied') > 0
ORDER BY denied_billed DESC, payer_id
