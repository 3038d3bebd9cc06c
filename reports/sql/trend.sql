-- Twelve-month trend: underpaid dollars and denial rate per payer and payment month.
-- Grain: one row per (payer, payment month) from $first to $month inclusive.
SELECT
    payer_id                                                                 AS payer_id,
    max(payer_name)                                                          AS payer_name,
    payment_month                                                            AS month,
    count(*) FILTER (WHERE category <> 'reversed')                           AS lines,
    coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)::DECIMAL(38,2) AS underpaid,
    count(*) FILTER (WHERE category = 'denied')                              AS denied_lines,
    round(100.0 * count(*) FILTER (WHERE category = 'denied')
          / nullif(count(*) FILTER (WHERE category <> 'reversed'), 0), 1)    AS denial_rate
FROM variances
WHERE payment_month BETWEEN $first AND $month AND ($payer IS NULL OR payer_id = $payer)
GROUP BY payer_id, payment_month
ORDER BY payer_id, payment_month
