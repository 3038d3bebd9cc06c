-- Purpose: payments of the file being loaded that match one already loaded from ANOTHER file on
-- TRN02 trace number, payer and BPR02 amount (candidate re-sends: resent_claims.sql then lists the
-- earlier payments' claims, and load.flag_resent tells a re-send from a reused trace number).
-- Grain: one row per (new payment, earlier payment) pair.
SELECT n.payment_id, p.payment_id AS earlier
FROM new_payments AS n
JOIN payments AS p
  ON p.trace_number = n.trace_number
 AND p.payer_id IS NOT DISTINCT FROM n.payer_id
 AND p.total_paid = n.total_paid
WHERE p.resent_of_payment_id IS NULL
  AND p.file_id <> $file_id
