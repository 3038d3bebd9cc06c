-- Payment months that hold service lines with no row in variances yet (loaded, never compared:
-- e.g. a run killed between a file's load and the comparison).
-- Grain: one row per month.
SELECT DISTINCT strftime(p.payment_date, '%Y-%m') AS month
FROM service_lines AS sl
JOIN payments AS p ON p.payment_id = sl.payment_id
LEFT JOIN variances AS v ON v.line_id = sl.line_id
WHERE v.line_id IS NULL
  AND p.payment_date IS NOT NULL
ORDER BY month;
