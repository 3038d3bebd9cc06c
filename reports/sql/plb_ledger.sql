-- Provider-level adjustments (PLB: recoupments, interest, forward balances) paid in $month.
-- Grain: one row per PLB adjustment pair; positive amounts reduce the payment.
SELECT
    p.payer_id, p.payer_name, p.payment_date, p.trace_number,
    pa.provider_id, pa.fiscal_period_date, pa.reason_code, pa.reference_id,
    pa.amount::DECIMAL(14,2) AS amount
FROM provider_adjustments pa
JOIN payments p ON p.payment_id = pa.payment_id
WHERE date_trunc('month', p.payment_date) = $month
  AND ($payer IS NULL OR p.payer_id = $payer)
ORDER BY p.payment_date, p.payer_id, pa.file_id, pa.segment_number, pa.pair_index
