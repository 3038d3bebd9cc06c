-- Payment months (YYYY-MM of BPR16) of the payments loaded by the given runs.
-- Grain: one row per month. Used by the nightly run to know which months to recompute,
-- including the months of an earlier run that was killed before it finished.
-- $run_ids: BIGINT[] of runs.run_id
SELECT DISTINCT strftime(p.payment_date, '%Y-%m') AS month
FROM payments AS p
JOIN era_files AS f ON f.file_id = p.file_id
WHERE f.status = 'loaded'
  AND list_contains($run_ids, f.run_id)
  AND p.payment_date IS NOT NULL
ORDER BY month;
