-- Step 09, cmp_prices: Medicare amounts per pricing key, with the readable derivation built once
-- per key rather than once per line.
-- Grain: one row per cmp_price_rows key (price_row).
-- Inputs: cmp_prices_raw (the fee_schedules.schedule_pricing.price_medicare output registered from
-- Python, compare._price: the physician schedule, or the schedule that prices a code it does not pay).
SELECT
    CAST(price_row AS BIGINT)                  AS price_row,
    CAST(status AS VARCHAR)                    AS status,
    CAST(not_priced_reason AS VARCHAR)         AS not_priced_reason,
    CAST(amount AS DECIMAL(14,2))              AS amount,
    CAST(opps_capped AS BOOLEAN)               AS opps_capped,
    CAST(mpfs_year AS INTEGER)                 AS mpfs_year,
    CAST(mpfs_release AS VARCHAR)              AS mpfs_release,
    CAST(locality_code AS VARCHAR)             AS locality_code,
    CAST(setting AS VARCHAR)                   AS setting,
    CAST(work_rvu AS DECIMAL(9,2))             AS work_rvu,
    CAST(pe_rvu AS DECIMAL(9,2))               AS pe_rvu,
    CAST(mp_rvu AS DECIMAL(9,2))               AS mp_rvu,
    CAST(work_gpci AS DECIMAL(9,3))            AS work_gpci,
    CAST(pe_gpci AS DECIMAL(9,3))              AS pe_gpci,
    CAST(mp_gpci AS DECIMAL(9,3))              AS mp_gpci,
    CAST(conversion_factor AS DECIMAL(9,4))    AS conversion_factor,
    CAST(mult_proc AS VARCHAR)                 AS mult_proc,
    CAST(bilat_surg AS VARCHAR)                AS bilat_surg,
    CAST(asst_surg AS VARCHAR)                 AS asst_surg,
    CAST(coalesce(schedule, 'mpfs') AS VARCHAR) AS schedule,           -- the Medicare schedule that priced the key
    CAST(unit_rate AS DECIMAL(18,5))           AS unit_rate,           -- its rate per unit (ASP limits: 3 places)
    CAST(CASE WHEN coalesce(schedule, 'mpfs') <> 'mpfs' THEN 'Medicare ' || rate_label
         ELSE 'Medicare ' || mpfs_year || ' locality ' || left(locality_code, 5) || '-' || right(locality_code, 2)
         || ' ' || setting || CASE WHEN coalesce(rvu_modifier, '') <> '' THEN ' ' || rvu_modifier ELSE '' END
         || ' ' || cmp_money(amount)
         || ' [(work ' || work_rvu || ' x ' || work_gpci || ' + PE ' || pe_rvu || ' x ' || pe_gpci
         || ' + MP ' || mp_rvu || ' x ' || mp_gpci || ') x CF ' || conversion_factor
         || CASE WHEN opps_capped THEN ' = ' || cmp_money(fee_schedule_amount) || ', capped at OPPS '
                                       || cmp_money(opps_amount) ELSE '' END
         || ']' END AS VARCHAR)                AS medicare_text
FROM cmp_prices_raw
