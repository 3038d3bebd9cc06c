-- Step 05, cmp_line_keys: what Medicare pricing each line needs: code, component modifier, date,
-- year, locality, setting; the modifiers the other schedules read (DMEPOS NU/RR/UE and rental months,
-- CLFS QW) and the schedule a percent_of_opps / percent_of_asc term asks for.
-- Grain: one row per line of cmp_lines that can be priced (has a code, a date and a locality).
-- Inputs: cmp_lines (02), cmp_match (03), cmp_terms (04), ct_contracts.
-- Parameters: $practice_zip, $practice_locality (underpay.toml [practice], VARCHAR or NULL).
-- The locality is the contract's medicare zip/locality, else the practice's. Key columns are never
-- NULL ('' / 0 stand for "none") so the distinct keys join back by plain equality.
WITH line_contract AS (     -- each line with the Medicare settings of its contract (if any)
    SELECT l.line_id, l.procedure_code, l.price_modifier, l.service_date, l.facility,
           c.medicare_year, c.medicare_zip, c.medicare_locality, c.medicare_qp,
           c.medicare_zip IS NOT NULL OR c.medicare_locality IS NOT NULL AS contract_names_locality,
           array_to_string(list_sort(list_distinct(list_filter(
               list_transform(coalesce(l.modifiers, []), lambda x: upper(x)),
               lambda x: x IN ('NU', 'RR', 'UE', 'KH', 'KI', 'KJ', 'QW')))), ' ') AS schedule_mods,
           CASE t.method WHEN 'percent_of_opps' THEN 'opps' WHEN 'percent_of_asc' THEN 'asc' ELSE '' END AS k_schedule
    FROM cmp_lines l
    JOIN cmp_match m ON m.line_id = l.line_id
    LEFT JOIN ct_contracts c ON c.contract_idx = m.contract_idx
    LEFT JOIN cmp_terms t
           ON t.contract_idx = m.contract_idx AND t.procedure_code = l.procedure_code
          AND t.modifiers_key = l.modifiers_key AND t.facility = l.facility
    WHERE l.procedure_code IS NOT NULL AND l.service_date IS NOT NULL
)
SELECT
    CAST(line_id AS BIGINT)                    AS line_id,
    CAST(procedure_code AS VARCHAR)            AS procedure_code,
    CAST(price_modifier AS VARCHAR)            AS price_modifier,
    CAST(service_date AS DATE)                 AS service_date,
    CAST(coalesce(medicare_year, 0) AS INTEGER) AS k_year,
    CAST(CASE WHEN contract_names_locality THEN coalesce(medicare_zip, '')
              ELSE coalesce(CAST($practice_zip AS VARCHAR), '') END AS VARCHAR)       AS k_zip,
    CAST(CASE WHEN contract_names_locality THEN coalesce(medicare_locality, '')
              ELSE coalesce(CAST($practice_locality AS VARCHAR), '') END AS VARCHAR)  AS k_locality,
    CAST(facility AS BOOLEAN)                  AS facility,
    CAST(coalesce(medicare_qp, false) AS BOOLEAN) AS qp,
    CAST(schedule_mods AS VARCHAR)             AS k_mods,
    CAST(k_schedule AS VARCHAR)                AS k_schedule
FROM line_contract
WHERE contract_names_locality
   OR CAST($practice_zip AS VARCHAR) IS NOT NULL OR CAST($practice_locality AS VARCHAR) IS NOT NULL
