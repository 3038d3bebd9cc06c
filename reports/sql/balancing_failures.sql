-- Data quality: balancing failures on the remittances paid in $month.
-- Grain: one row per validation issue whose rule starts with 'balance' (payment, claim or line).
SELECT
    vi.rule, vi.severity, coalesce(f.file_name, f.path) AS file_name, vi.segment_number,
    p.payer_id, p.payer_name, vi.expected, vi.actual, vi.message
FROM validation_issues vi
JOIN payments p ON p.payment_id = vi.payment_id
LEFT JOIN era_files f ON f.file_id = vi.file_id
WHERE vi.rule LIKE 'balance%'
  AND date_trunc('month', p.payment_date) = $month
  AND ($payer IS NULL OR p.payer_id = $payer)
ORDER BY vi.file_id, vi.segment_number, vi.rule
