-- The latest payment month in the warehouse (for one payer when $payer is given).
-- Grain: one row.
SELECT max(payment_month) AS month FROM variances WHERE ($payer IS NULL OR payer_id = $payer)
