-- Months whose reports the given runs changed: the payment months (YYYY-MM of BPR16) of the
-- payments they loaded, and, for a payment with no valid BPR16 date (it belongs to no payment
-- month), the months whose review lists its file in the data-quality section: the month the file
-- arrived and the one before (reports/sql/undated_payments.sql), when that month has payments.
-- Grain: one row per month. Used by the nightly run to know which months to recompute,
-- including the months of an earlier run that was killed before it finished.
-- $run_ids: BIGINT[] of runs.run_id
WITH loaded AS (            -- payments of the runs' loaded files
    SELECT p.payment_date, f.loaded_at
    FROM payments AS p
    JOIN era_files AS f ON f.file_id = p.file_id
    WHERE f.status = 'loaded'
      AND list_contains($run_ids, f.run_id)
),
undated_windows AS (        -- the reviews listing a file with undated payments
    SELECT DISTINCT unnest([date_trunc('month', loaded_at), date_trunc('month', loaded_at) - INTERVAL 1 MONTH])::DATE
        AS month_start
    FROM loaded
    WHERE payment_date IS NULL
)
SELECT DISTINCT strftime(payment_date, '%Y-%m') AS month
FROM loaded
WHERE payment_date IS NOT NULL
UNION
SELECT strftime(w.month_start, '%Y-%m') AS month
FROM undated_windows AS w
WHERE EXISTS (
    SELECT 1 FROM payments AS q
    WHERE q.payment_date >= w.month_start AND q.payment_date < w.month_start + INTERVAL 1 MONTH
)
ORDER BY month;
