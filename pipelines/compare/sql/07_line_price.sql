-- Step 07, cmp_line_price: which pricing key each line uses, as a narrow (line_id, price_row) pair.
-- Grain: one row per line of cmp_line_keys.
-- Inputs: cmp_line_keys (05), cmp_price_rows (06). Step 08 still reads cmp_line_keys (then it is
-- dropped); before step 09 Python prices the cmp_price_rows keys (fee_schedules.schedule_pricing.price_medicare
-- -> cmp_prices_raw) and the cmp_claim_lines rows (fee_schedules.claims.price_claims -> cmp_claim_prices_raw).
SELECT
    CAST(lk.line_id AS BIGINT)                 AS line_id,
    CAST(pr.price_row AS BIGINT)               AS price_row
FROM cmp_line_keys lk
JOIN cmp_price_rows pr
  ON pr.procedure_code = lk.procedure_code AND pr.price_modifier = lk.price_modifier
 AND pr.service_date = lk.service_date AND pr.k_year = lk.k_year AND pr.k_zip = lk.k_zip
 AND pr.k_locality = lk.k_locality AND pr.facility = lk.facility AND pr.qp = lk.qp
 AND pr.k_mods = lk.k_mods AND pr.k_schedule = lk.k_schedule
