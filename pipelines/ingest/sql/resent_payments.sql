-- Purpose: find payments of the file being loaded that were already loaded from ANOTHER file
-- (same TRN02 trace number, same payer and same BPR02 amount): they are flagged, not doubled.
-- Grain: one row per new payment (new_payments.payment_id) that matches; resent_of = the first load.
SELECT n.payment_id, min(p.payment_id) AS resent_of
FROM new_payments AS n
JOIN payments AS p
  ON p.trace_number = n.trace_number
 AND p.payer_id IS NOT DISTINCT FROM n.payer_id
 AND p.total_paid = n.total_paid
WHERE p.resent_of_payment_id IS NULL
  AND p.file_id <> $file_id
GROUP BY n.payment_id
