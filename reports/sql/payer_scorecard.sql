-- Payer scorecard of the monthly review.
-- Grain: one row per payer (payer_id) paid in $month; $payer NULL = every payer.
-- underpayment_rate = underpaid lines / compared lines (underpaid + overpaid + correct), in %;
-- denial_rate = denied lines / lines (reversed excluded), in %; pct_of_medicare = allowed /
-- Medicare allowed x 100 over the allowed lines (actual_allowed > 0) that have a Medicare amount.
SELECT
    payer_id                                                                 AS payer_id,
    max(payer_name)                                                          AS payer_name,
    count(*) FILTER (WHERE category <> 'reversed')                           AS lines,
    coalesce(sum(actual_allowed), 0)::DECIMAL(38,2)                          AS allowed,
    coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)::DECIMAL(38,2) AS underpaid,
    round(100.0 * count(*) FILTER (WHERE category = 'underpaid')
          / nullif(count(*) FILTER (WHERE category IN ('underpaid', 'overpaid', 'correct')), 0), 1)
                                                                             AS underpayment_rate,
    round(100.0 * count(*) FILTER (WHERE category = 'denied')
          / nullif(count(*) FILTER (WHERE category <> 'reversed'), 0), 1)    AS denial_rate,
    round(avg(date_diff('day', service_date, payment_date)), 1)              AS avg_days_to_pay,
    round(100 * sum(actual_allowed) FILTER (WHERE actual_allowed > 0 AND medicare_allowed > 0)
          / nullif(sum(medicare_allowed) FILTER (WHERE actual_allowed > 0 AND medicare_allowed > 0), 0), 1)
                                                                             AS pct_of_medicare
FROM variances
WHERE payment_month = $month
  AND ($payer IS NULL OR payer_id = $payer)
GROUP BY payer_id
ORDER BY underpaid DESC, allowed DESC, payer_id
