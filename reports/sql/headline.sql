-- Headline figures of the monthly review, for the report month and the month before it.
-- Grain: one row per payment month ($month and $prev); $payer NULL = every payer.
-- Definitions (docs/reports.md): lines excludes reversed lines; denial_rate = denied lines /
-- lines; recoverable = underpaid variance + expected allowed of denied lines.
SELECT
    payment_month                                                            AS month,       -- DATE
    count(*) FILTER (WHERE category <> 'reversed')                           AS lines,       -- BIGINT
    coalesce(sum(billed), 0)::DECIMAL(38,2)                                  AS billed,
    coalesce(sum(expected_allowed), 0)::DECIMAL(38,2)                        AS expected_allowed,
    coalesce(sum(actual_allowed), 0)::DECIMAL(38,2)                          AS actual_allowed,
    coalesce(sum(paid), 0)::DECIMAL(38,2)                                    AS paid,
    coalesce(sum(patient_responsibility), 0)::DECIMAL(38,2)                  AS patient_responsibility,
    coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)::DECIMAL(38,2) AS underpaid,
    count(*) FILTER (WHERE category = 'underpaid')                           AS underpaid_lines,
    coalesce(-sum(variance) FILTER (WHERE category = 'overpaid'), 0)::DECIMAL(38,2) AS overpaid,
    count(*) FILTER (WHERE category = 'overpaid')                            AS overpaid_lines,
    coalesce(sum(billed) FILTER (WHERE category = 'denied'), 0)::DECIMAL(38,2) AS denied,
    count(*) FILTER (WHERE category = 'denied')                              AS denied_lines,
    (coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)
     + coalesce(sum(expected_allowed) FILTER (WHERE category = 'denied'), 0))::DECIMAL(38,2) AS recoverable
FROM variances
WHERE payment_month IN ($month, $prev)
  AND ($payer IS NULL OR payer_id = $payer)
GROUP BY payment_month
ORDER BY payment_month
