-- Purpose: payments that repeat an earlier payment of the SAME file (same TRN02, payer and BPR02):
-- both stay loaded (the file is the payer's own statement); each repeat becomes a warning issue.
-- Grain: one validation_issues row per repeating payment of file $file_id.
SELECT p.file_id, p.payment_id, NULL::BIGINT AS claim_id, NULL::BIGINT AS line_id, p.segment_number,
       'repeated_payment' AS rule, 'warning' AS severity, NULL AS expected,
       CAST(f.first_id AS VARCHAR) AS actual,
       'same TRN02 trace number, payer and amount as payment_id ' || CAST(f.first_id AS VARCHAR)
           || ' earlier in this file; both loaded' AS message  -- no file value quoted (see errors.shown)
FROM payments AS p
JOIN (SELECT trace_number, payer_id, total_paid, min(payment_id) AS first_id
      FROM payments WHERE file_id = $file_id AND trace_number IS NOT NULL
      GROUP BY ALL) AS f
  ON f.trace_number = p.trace_number AND f.payer_id IS NOT DISTINCT FROM p.payer_id
 AND f.total_paid = p.total_paid
WHERE p.file_id = $file_id AND p.payment_id <> f.first_id
