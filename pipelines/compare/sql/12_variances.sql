-- Step 12, variances: category and explanation for each line, from its money steps.
-- Grain: one row per line of cmp_lines; columns = the variances table (pipelines/core/ddl/variances.sql,
-- inserted BY NAME after the lines' old rows are deleted).
-- Inputs: cmp_lines (02), cmp_steps (11), ct_contracts.
-- Parameters: $computed_at, $amount_ceiling (pipelines.core.money.LINE_AMOUNT_CEILING).
-- Amounts arrive as DECIMAL(14,2) (steps 02 and 11 computed them with headroom and stored them
-- through cmp_in_money); a difference of two is stored through it too. `implausible` says which
-- line amount is at or above $amount_ceiling, or that the expected amount is
-- (cmp_steps.expected_implausible: absurd units), or that a claim that is no reversal has a negative charge:
-- rule 0 of `categorized` leaves such a line not priced, a data-quality problem.
-- Three separate steps: `categorized` decides the category by an ordered rule list (the first
-- rule that holds wins; see README.md; rule 0, data quality first, makes a line with an
-- implausible amount not priced whatever the other rules would say), `derivation` writes how the
-- expected amount was reached, and `explained` words the explanation from the decided category
-- and the derivation columns.
WITH line_steps AS (        -- the line (cmp_lines), its derivation (cmp_steps) and its contract
    SELECT l.line_id, l.claim_id, l.payment_id, l.file_id, l.payer_id, l.payer_name,
           l.patient_control_number, l.payer_claim_number, l.line_control_number, l.claim_status,
           l.place_of_service, l.facility, l.service_date, l.payment_date, l.payment_month,
           l.procedure_code, l.modifiers, l.units, l.billed, l.paid, l.allowed_b6, l.actual_allowed,
           l.patient_responsibility, l.carc_codes, l.rarc_codes, l.pending, l.recoded,
           l.original_procedure_code, l.reversal_role, l.reversal_other_claim_id, l.segment_number,
           coalesce(l.implausible_amount, s.expected_implausible,   -- worded by steps 02 and 11
                    CASE WHEN l.billed < 0 AND l.reversal_role IS NULL AND l.claim_status <> '22'
                         THEN 'negative charge (SVC02) ' || cmp_money(l.billed) || ' on a claim that is not a reversal (CLP02 '
                              || coalesce(l.claim_status, '?') || ')' END) AS implausible,
           s.contract_idx, s.payer_has_contract, s.method, s.excluded, s.term_idx, s.term_line, s.term_label,
           s.term_text, s.rate_modifier, s.rate_row, s.tolerance_amount, s.tolerance_percent,
           s.price_status, s.price_reason, s.medicare_unit_amount, s.opps_capped, s.mpfs_year, s.mpfs_release,
           s.locality_code, s.setting, s.work_rvu, s.pe_rvu, s.mp_rvu, s.work_gpci, s.pe_gpci, s.mp_gpci,
           s.conversion_factor, s.medicare_text, s.medicare_allowed, s.not_priced_reason,
           s.step_base, s.contract_percent, s.step_percent, s.reduction_percent, s.reduction_reason,
           s.mppr_rank, s.step_modifier, s.step_units, s.lesser_applied, s.step_lesser_of, s.claim_level,
           s.medicare_schedule, s.line_priced,
           c.contract_name, c.contract_file, c.effective AS contract_effective, c.rates_file
    FROM cmp_lines l
    JOIN cmp_steps s ON s.line_id = l.line_id
    LEFT JOIN ct_contracts c ON c.contract_idx = s.contract_idx
),
categorized AS (            -- the category: rules in precedence order, the first that holds wins
    SELECT *,
           CASE
               -- 0 data quality first: a line whose amounts are not believed is not priced,
               --   whatever the rules below decide (it counts in no total; README "Data quality")
               WHEN implausible IS NOT NULL THEN 'not_priced'
               -- 1 reversed: a CLP02=22 reversal, or the original claim one cancels
               WHEN reversal_role IS NOT NULL OR claim_status = '22' THEN 'reversed'
               -- 2 secondary: processed as secondary / tertiary (CLP02 2, 3, 20, 21)
               WHEN claim_status IN ('2', '3', '20', '21') THEN 'secondary'
               -- 3 pending: CARC 133 on the line or the claim
               WHEN pending THEN 'pending'
               -- 4 denied: claim denied (CLP02=4) or nothing allowed
               WHEN claim_status = '4' OR actual_allowed <= 0 THEN 'denied'
               -- 5 no_contract: no version in force, no term covers the line, or carved out
               WHEN contract_idx IS NULL OR method IS NULL OR excluded THEN 'no_contract'
               -- 6 not_priced: no expected amount (e.g. no Medicare amount for a percent_of_medicare term)
               WHEN step_lesser_of IS NULL THEN 'not_priced'
               -- 7 underpaid / overpaid: |variance| above BOTH the tolerance amount and percent
               WHEN abs(step_lesser_of - actual_allowed) > tolerance_amount
                AND abs(step_lesser_of - actual_allowed) > cmp_pct_of(step_lesser_of, tolerance_percent)
                   THEN CASE WHEN step_lesser_of > actual_allowed THEN 'underpaid' ELSE 'overpaid' END
               -- 8 correct: within tolerance
               ELSE 'correct'
           END AS category
    FROM line_steps
),
derivation AS (             -- how the expected amount was reached, in words (NULL when there is none)
    SELECT *,
           CASE WHEN method IN ('percent_of_medicare', 'percent_of_asp', 'percent_of_clfs', 'percent_of_dmepos',
                                'percent_of_opps', 'percent_of_asc') THEN
                   -- a line another schedule priced whole (line_priced) shows its units here, before the percent
                   cmp_num(contract_percent) || '% of ' || medicare_text
                   || CASE WHEN line_priced THEN ' x ' || cmp_num(units) || CASE WHEN units = 1 THEN ' unit' ELSE ' units' END
                                                  || ' = ' || cmp_money(step_base) ELSE '' END
                   || ' = ' || cmp_money(step_percent)
               WHEN method = 'rate' THEN 'contract rate ' || cmp_money(step_base) || ' for ' || procedure_code
               WHEN method = 'rates_csv' THEN 'rate sheet ' || rates_file || ' row ' || rate_row || ' ' || procedure_code
                   || CASE WHEN rate_modifier <> '' THEN '-' || rate_modifier ELSE '' END || ' ' || cmp_money(step_base)
               WHEN method = 'percent_of_charges' THEN
                   cmp_num(contract_percent) || '% of billed ' || cmp_money(billed) || ' = ' || cmp_money(step_percent)
           END
           || CASE WHEN reduction_percent <> 100 THEN ' x ' || cmp_num(reduction_percent) || '% ('
                   || reduction_reason || ') = ' || cmp_money(step_modifier) ELSE '' END
           || CASE WHEN method <> 'percent_of_charges' AND NOT claim_level AND NOT coalesce(line_priced, false) AND units <> 1
                   THEN ' x ' || cmp_num(units) || ' units = ' || cmp_money(step_units) ELSE '' END
           || CASE WHEN lesser_applied THEN '; lesser of billed charge ' || cmp_money(billed) ELSE '' END
           AS derivation_text
    FROM categorized
),
explained AS (              -- the explanation: wording per decided category
    SELECT *,
           coalesce(
           CASE category
               WHEN 'reversed' THEN
                   CASE WHEN claim_status = '22'
                        THEN 'reversal (CLP02=22) of payer claim ' || coalesce(payer_claim_number, '?')
                             || ': netted with the line it cancels, not compared'
                             || CASE WHEN reversal_other_claim_id IS NULL THEN ' (original not loaded)' ELSE '' END
                        ELSE 'reversed by a later CLP02=22 remittance: netted with the reversal, not compared; '
                             || 'the corrected claim is compared on its own' END
               WHEN 'secondary' THEN 'processed as ' || CASE WHEN claim_status IN ('3', '21') THEN 'tertiary' ELSE 'secondary' END
                   || ' (CLP02=' || claim_status || '): not compared against the primary contract'
               WHEN 'pending' THEN 'pending payer review (CARC 133): not final, compared when the payer finalizes it'
                   || CASE WHEN derivation_text IS NOT NULL THEN '; contract would allow ' || derivation_text ELSE '' END
               WHEN 'denied' THEN 'denied: nothing allowed'
                   || CASE WHEN array_length(carc_codes) + array_length(rarc_codes) > 0
                           THEN ' (' || array_to_string(list_concat(carc_codes, rarc_codes), ', ') || ')' ELSE '' END
                   || CASE WHEN derivation_text IS NOT NULL THEN '; contract expected ' || derivation_text ELSE '' END
               WHEN 'no_contract' THEN
                   CASE WHEN contract_idx IS NULL AND payer_has_contract
                            THEN 'no contract version for payer ' || coalesce(payer_id, '?') || ' in force on '
                                 || coalesce(CAST(service_date AS VARCHAR), '(no service date)')
                        WHEN contract_idx IS NULL
                            THEN 'no contract for payer ' || coalesce(payer_id, '?') || ' (' || coalesce(payer_name, '?') || ')'
                        WHEN excluded
                            THEN procedure_code || ' is carved out of ' || contract_name || ' (' || term_label || ')'
                        ELSE 'no term of ' || contract_name || ' covers ' || coalesce(procedure_code, '(no code)')
                             || CASE WHEN array_length(modifiers) > 0 THEN '-' || array_to_string(modifiers, '-') ELSE '' END
                   END
               WHEN 'not_priced' THEN 'not priced: ' || CASE WHEN implausible IS NOT NULL
                   THEN 'data quality: implausible amount: ' || implausible || '; check the 835 line'
                        || coalesce(' (SVC at segment ' || segment_number || ')', '')
                        || ' and ask the payer for a corrected remittance'
                   ELSE coalesce(not_priced_reason, 'no amount') END
                   || coalesce(' (' || term_label || ')', '')
               ELSE derivation_text || '; actual allowed ' || cmp_money(actual_allowed)      -- underpaid, overpaid, correct
                   || CASE WHEN allowed_b6 IS NULL THEN ' (billed less CO/OA/PI adjustments)' ELSE '' END
                   || CASE category
                          WHEN 'underpaid' THEN '; underpaid ' || cmp_money(step_lesser_of - actual_allowed)
                          WHEN 'overpaid' THEN '; overpaid ' || cmp_money(actual_allowed - step_lesser_of)
                          ELSE '; correct: variance ' || cmp_money(step_lesser_of - actual_allowed)
                               || ' is within tolerance (' || cmp_money(tolerance_amount) || ' or '
                               || cmp_num(tolerance_percent) || '%)' END
           END
           || CASE WHEN recoded THEN '; recoded by the payer from ' || coalesce(original_procedure_code, '?') ELSE '' END,
           category || ': see the step_* columns for the derivation') AS explanation
    FROM derivation
)
SELECT
    CAST(line_id AS BIGINT)                    AS line_id,
    CAST(claim_id AS BIGINT)                   AS claim_id,
    CAST(payment_id AS BIGINT)                 AS payment_id,
    CAST(file_id AS BIGINT)                    AS file_id,
    CAST(payer_id AS VARCHAR)                  AS payer_id,
    CAST(payer_name AS VARCHAR)                AS payer_name,
    CAST(contract_name AS VARCHAR)             AS contract,
    CAST(contract_file AS VARCHAR)             AS contract_file,
    CAST(contract_effective AS DATE)           AS contract_effective,
    CAST(term_text AS VARCHAR)                 AS term,
    CAST(method AS VARCHAR)                    AS method,
    CAST(patient_control_number AS VARCHAR)    AS patient_control_number,
    CAST(payer_claim_number AS VARCHAR)        AS payer_claim_number,
    CAST(line_control_number AS VARCHAR)       AS line_control_number,
    CAST(claim_status AS VARCHAR)              AS claim_status,
    CAST(place_of_service AS VARCHAR)          AS place_of_service,
    CAST(facility AS BOOLEAN)                  AS facility,
    CAST(service_date AS DATE)                 AS service_date,
    CAST(payment_date AS DATE)                 AS payment_date,
    CAST(payment_month AS DATE)                AS payment_month,
    CAST(procedure_code AS VARCHAR)            AS procedure_code,
    CAST(modifiers AS VARCHAR[])               AS modifiers,
    CAST(units AS DECIMAL(12,3))               AS units,
    CAST(billed AS DECIMAL(14,2))              AS billed,
    CAST(cmp_in_money(CASE WHEN category NOT IN ('reversed', 'secondary') AND implausible IS NULL
                           THEN step_lesser_of END) AS DECIMAL(14,2)) AS expected_allowed,
    CAST(actual_allowed AS DECIMAL(14,2))      AS actual_allowed,
    CAST(paid AS DECIMAL(14,2))                AS paid,
    CAST(patient_responsibility AS DECIMAL(14,2)) AS patient_responsibility,
    CAST(cmp_in_money(CASE WHEN category IN ('underpaid', 'overpaid', 'correct', 'denied')
                           THEN step_lesser_of - actual_allowed END) AS DECIMAL(14,2)) AS variance,
    CAST(medicare_allowed AS DECIMAL(14,2)) AS medicare_allowed,
    CAST(CASE WHEN implausible IS NULL THEN cmp_ratio_pct(actual_allowed, medicare_allowed) END
         AS DECIMAL(18,2))                     AS percent_of_medicare,
    CAST(category AS VARCHAR)                  AS category,
    CAST(explanation AS VARCHAR)               AS explanation,
    CAST(medicare_unit_amount AS DECIMAL(14,2)) AS medicare_unit_amount,
    CAST(mpfs_year AS INTEGER)                 AS medicare_year,
    CAST(locality_code AS VARCHAR)             AS medicare_locality,
    CAST(work_rvu AS DECIMAL(9,2))             AS work_rvu,
    CAST(pe_rvu AS DECIMAL(9,2))               AS pe_rvu,
    CAST(mp_rvu AS DECIMAL(9,2))               AS mp_rvu,
    CAST(work_gpci AS DECIMAL(9,3))            AS work_gpci,
    CAST(pe_gpci AS DECIMAL(9,3))              AS pe_gpci,
    CAST(mp_gpci AS DECIMAL(9,3))              AS mp_gpci,
    CAST(conversion_factor AS DECIMAL(9,4))    AS conversion_factor,
    CAST(contract_percent AS DECIMAL(9,3))     AS contract_percent,
    CAST(step_base AS DECIMAL(14,2))       AS step_base,
    CAST(step_percent AS DECIMAL(14,2))    AS step_percent,
    CAST(step_modifier AS DECIMAL(14,2))   AS step_modifier,
    CAST(step_units AS DECIMAL(14,2))      AS step_units,
    CAST(step_lesser_of AS DECIMAL(14,2))  AS step_lesser_of,
    CAST(reduction_percent AS DECIMAL(9,3))    AS reduction_percent,
    CAST(reduction_reason AS VARCHAR)          AS reduction_reason,
    CAST(mppr_rank AS INTEGER)                 AS mppr_rank,
    CAST(CASE WHEN category = 'not_priced' AND implausible IS NOT NULL
              THEN 'data quality: implausible amount (' || cmp_money(CAST($amount_ceiling AS DECIMAL(14,2)))
                   || ' or more on one service line, or a negative charge); check the 835 line'
              WHEN category = 'not_priced' THEN not_priced_reason
              WHEN price_status = 'not_priced' THEN price_reason END AS VARCHAR) AS not_priced_reason,
    CAST(carc_codes AS VARCHAR[])              AS carc_codes,
    CAST(rarc_codes AS VARCHAR[])              AS rarc_codes,
    CAST(recoded AS BOOLEAN)                   AS recoded,
    CAST(pending AS BOOLEAN)                   AS pending,
    CAST($computed_at AS TIMESTAMP)            AS computed_at,
    CAST(mpfs_release AS VARCHAR)              AS medicare_release,
    CAST(setting AS VARCHAR)                   AS medicare_setting,
    CAST(opps_capped AS BOOLEAN)               AS opps_capped,
    CAST(term_idx AS INTEGER)                  AS term_index,
    CAST(term_line AS INTEGER)                 AS term_line,
    CAST(rate_row AS INTEGER)                  AS rate_row,
    CAST(tolerance_amount AS DECIMAL(14,2))    AS tolerance_amount,
    CAST(tolerance_percent AS DECIMAL(9,3))    AS tolerance_percent,
    CAST(reversal_other_claim_id AS BIGINT)    AS reversal_pair_claim_id,
    CAST(CASE WHEN price_status IS NOT NULL THEN medicare_schedule END AS VARCHAR) AS medicare_schedule
FROM explained
