-- Appeal packets (reports.appeal): the open lines of the cases, each with what was billed, allowed and paid
-- (when detected and now), what the contract allows, the amount owed, the contract term that applies and how
-- the expected amount was derived (with the Medicare fee schedule amount when the term is a percent of it).
-- Grain: one row per open worklist line (case_id, line_key) of the cases in $case_ids; by case, date of service.
-- open line: payment_status underpaid, denied, partially_recovered or retracted (as worklist step 05).
-- The contract, term and derivation are those of the line the case was detected on (variances of first_line_id);
-- the adjustment codes are that line's and the latest remittance's for it (last_line_id), distinct, sorted.
SELECT
    CAST(l.case_id AS BIGINT)                                                       AS case_id,
    CAST(l.line_key AS VARCHAR)                                                     AS line_key,
    CAST(l.line_control_number AS VARCHAR)                                          AS line_control_number,
    CAST(l.procedure_code AS VARCHAR)                                               AS procedure_code,
    CAST(coalesce(l.modifiers, []) AS VARCHAR[])                                    AS modifiers,
    CAST(v.units AS DECIMAL(12,3))                                                  AS units,
    CAST(l.service_date AS DATE)                                                    AS service_date,
    CAST(l.category AS VARCHAR)                                                     AS category,         -- underpaid | denied, when detected
    CAST(l.payment_status AS VARCHAR)                                               AS payment_status,
    CAST(v.billed AS DECIMAL(14,2))                                                 AS billed,
    CAST(l.original_allowed AS DECIMAL(14,2))                                       AS original_allowed,
    CAST(l.original_paid AS DECIMAL(14,2))                                          AS original_paid,
    CAST(l.current_allowed AS DECIMAL(14,2))                                        AS current_allowed,
    CAST(l.current_paid AS DECIMAL(14,2))                                           AS current_paid,
    CAST(l.expected_allowed AS DECIMAL(14,2))                                       AS expected_allowed,
    CAST(greatest(coalesce(l.expected_allowed, 0) - coalesce(l.current_allowed, 0), 0) AS DECIMAL(14,2)) AS owed,
    CAST(v.contract AS VARCHAR)                                                     AS contract,
    CAST(parse_filename(v.contract_file) AS VARCHAR)                                AS contract_file,    -- file name only
    CAST(v.contract_effective AS DATE)                                              AS contract_effective,
    CAST(v.term_line AS INTEGER)                                                    AS term_line,
    CAST(v.term AS VARCHAR)                                                         AS term,
    CAST(v.method AS VARCHAR)                                                       AS method,
    CAST(v.explanation AS VARCHAR)                                                  AS derivation,
    CAST(v.medicare_unit_amount AS DECIMAL(14,2))                                   AS medicare_unit_amount,
    CAST(v.medicare_allowed AS DECIMAL(14,2))                                       AS medicare_allowed,
    CAST(v.medicare_year AS INTEGER)                                                AS medicare_year,
    CAST(v.medicare_schedule AS VARCHAR)                                            AS medicare_schedule,
    CAST(v.medicare_locality AS VARCHAR)                                            AS medicare_locality,
    CAST(v.medicare_setting AS VARCHAR)                                             AS medicare_setting,
    CAST(v.contract_percent AS DECIMAL(9,3))                                        AS contract_percent,
    CAST(list_sort(list_distinct(list_concat(coalesce(v.carc_codes, []), coalesce(vl.carc_codes, []))))
         AS VARCHAR[])                                                              AS carc_codes,       -- group-reason, e.g. CO-45
    CAST(list_sort(list_distinct(list_concat(coalesce(v.rarc_codes, []), coalesce(vl.rarc_codes, []))))
         AS VARCHAR[])                                                              AS rarc_codes
FROM worklist_lines l
LEFT JOIN variances v ON v.line_id = l.first_line_id
LEFT JOIN variances vl ON vl.line_id = l.last_line_id
WHERE list_contains(CAST($case_ids AS BIGINT[]), l.case_id)
  AND l.payment_status IN ('underpaid', 'denied', 'partially_recovered', 'retracted')
ORDER BY l.case_id, l.service_date NULLS LAST, l.line_key
