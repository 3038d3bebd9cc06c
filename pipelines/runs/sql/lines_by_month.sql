-- Service lines per payment month (YYYY-MM of BPR16), to choose how to recompute touched months.
-- Grain: one row per payment month that has lines.
SELECT strftime(p.payment_date, '%Y-%m') AS month, count(*) AS lines
FROM service_lines AS sl
JOIN payments AS p ON p.payment_id = sl.payment_id
WHERE p.payment_date IS NOT NULL
GROUP BY ALL
ORDER BY month;
