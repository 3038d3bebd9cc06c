-- Medicare amounts per pricing key (from fee_schedules.pricing.price_lines), with the readable
-- derivation built once per key rather than once per line.
-- Grain: one row per cmp_price_rows key (price_row).
-- Needs: cmp_prices_raw (the price_lines output registered from Python).
SELECT *,
       'Medicare ' || mpfs_year || ' locality ' || left(locality_code, 5) || '-' || right(locality_code, 2)
       || ' ' || setting || CASE WHEN coalesce(rvu_modifier, '') <> '' THEN ' ' || rvu_modifier ELSE '' END
       || ' ' || cmp_money(amount)
       || ' [(work ' || work_rvu || ' x ' || work_gpci || ' + PE ' || pe_rvu || ' x ' || pe_gpci
       || ' + MP ' || mp_rvu || ' x ' || mp_gpci || ') x CF ' || conversion_factor
       || CASE WHEN opps_capped THEN ' = ' || cmp_money(fee_schedule_amount) || ', capped at OPPS '
                                     || cmp_money(opps_amount) ELSE '' END
       || ']' AS medicare_text
FROM cmp_prices_raw
