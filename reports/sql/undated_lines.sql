-- Data quality: service lines paid in $month whose service date (DTM*472 / 150, else the claim's
-- DTM*232) is missing or not a date: no contract version or fee schedule year can be chosen for
-- them, so they are shown here rather than only as "no contract" lines.
-- Grain: one row per (file, payer) with such lines.
SELECT
    coalesce(f.file_name, f.path)                        AS file_name,
    p.payer_id,
    max(p.payer_name)                                    AS payer_name,
    count(*)                                             AS lines,
    count(DISTINCT sl.claim_id)                          AS claims,
    CAST(coalesce(sum(sl.charge), 0) AS DECIMAL(38,2))   AS billed
FROM service_lines sl
JOIN payments p ON p.payment_id = sl.payment_id
LEFT JOIN era_files f ON f.file_id = sl.file_id
WHERE sl.service_date IS NULL
  AND p.payment_date >= $month AND p.payment_date < $month + INTERVAL 1 MONTH
  AND ($payer IS NULL OR p.payer_id = $payer)
GROUP BY ALL
ORDER BY lines DESC, file_name, p.payer_id
