-- Which pricing key each line uses, as a narrow (line_id, price_row) pair.
-- Grain: one row per line of cmp_line_keys.
-- Needs: cmp_line_keys, cmp_price_rows.
SELECT lk.line_id, pr.price_row
FROM cmp_line_keys lk
JOIN cmp_price_rows pr
  ON pr.procedure_code = lk.procedure_code AND pr.price_modifier = lk.price_modifier
 AND pr.service_date = lk.service_date AND pr.k_year = lk.k_year AND pr.k_zip = lk.k_zip
 AND pr.k_locality = lk.k_locality AND pr.facility = lk.facility AND pr.qp = lk.qp
