-- The distinct Medicare pricing keys of the lines in scope (what price_lines is asked to price).
-- Grain: one row per distinct (code, component modifier, date, year, zip, locality, setting, qp);
-- price_row numbers them. Tens of thousands of rows for a million lines.
-- Needs: cmp_line_keys (compare_price_keys.sql).
SELECT CAST(row_number() OVER () AS BIGINT) AS price_row, *
FROM (SELECT DISTINCT procedure_code, price_modifier, service_date, k_year, k_zip, k_locality, facility, qp
      FROM cmp_line_keys)
