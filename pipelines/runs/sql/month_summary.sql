-- Summary of one payment month's comparison, for the run's printed result and log.
-- Grain: one row (the month). $month_start: DATE, first day of the payment month.
-- Sums are DECIMAL(38,2): one line may hold the largest amount the warehouse takes (issue 12).
SELECT
    count(*)                                                         AS lines,
    count(DISTINCT claim_id)                                         AS claims,
    coalesce(sum(billed), 0)::DECIMAL(38,2)                          AS billed,
    coalesce(sum(paid), 0)::DECIMAL(38,2)                            AS paid,
    count(*) FILTER (WHERE category = 'underpaid')                   AS underpaid_lines,
    coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)::DECIMAL(38,2) AS underpaid_dollars,
    count(*) FILTER (WHERE category = 'overpaid')                    AS overpaid_lines,
    count(*) FILTER (WHERE category = 'denied')                      AS denied_lines,
    coalesce(sum(billed) FILTER (WHERE category = 'denied'), 0)::DECIMAL(38,2) AS denied_billed,
    count(*) FILTER (WHERE category = 'no_contract')                 AS no_contract_lines,
    count(*) FILTER (WHERE category = 'not_priced')                  AS not_priced_lines
FROM variances
WHERE payment_date >= $month_start
  AND payment_date < $month_start + INTERVAL 1 MONTH;
