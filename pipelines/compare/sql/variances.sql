-- The variances rows: category and explanation for each line, from its money steps (cmp_steps).
-- Grain: one row per line of cmp_lines; columns = the variances table (inserted BY NAME).
-- Actual allowed = AMT*B6, else billed - CO/OA/PI adjustments other than CO-253 (cmp_lines).
-- Category precedence: reversed, secondary, pending (CARC 133), denied (nothing allowed),
-- no_contract (no version in force / no term / carved out), not_priced, then underpaid or
-- overpaid when |variance| exceeds BOTH the tolerance amount and percent, else correct.
-- Parameters: $computed_at.
-- Needs: cmp_lines, cmp_steps, ct_contracts.
WITH joined AS (
    SELECT l.*,
           s.* EXCLUDE (line_id, claim_id, line_number, claim_status, service_date, procedure_code,
                        modifiers, units, billed, actual_allowed),
           c.contract_name, c.contract_file, c.effective AS contract_effective, c.rates_file
    FROM cmp_lines l
    JOIN cmp_steps s ON s.line_id = l.line_id
    LEFT JOIN ct_contracts c ON c.contract_idx = s.contract_idx
),
categorized AS (
    SELECT *,
           CASE
               WHEN reversal_role IS NOT NULL OR claim_status = '22' THEN 'reversed'
               WHEN claim_status IN ('2', '3', '20', '21') THEN 'secondary'
               WHEN pending THEN 'pending'
               WHEN claim_status = '4' OR actual_allowed <= 0 THEN 'denied'
               WHEN contract_idx IS NULL OR method IS NULL OR excluded THEN 'no_contract'
               WHEN step_lesser_of IS NULL THEN 'not_priced'
               WHEN abs(step_lesser_of - actual_allowed) > tolerance_amount
                AND abs(step_lesser_of - actual_allowed) > cmp_pct_of(step_lesser_of, tolerance_percent)
                   THEN CASE WHEN step_lesser_of > actual_allowed THEN 'underpaid' ELSE 'overpaid' END
               ELSE 'correct'
           END AS category,
           CASE method
               WHEN 'percent_of_medicare' THEN
                   cmp_num(contract_percent) || '% of ' || medicare_text || ' = ' || cmp_money(step_percent)
               WHEN 'rate' THEN 'contract rate ' || cmp_money(step_base) || ' for ' || procedure_code
               WHEN 'rates_csv' THEN 'rate sheet ' || rates_file || ' row ' || rate_row || ' ' || procedure_code
                   || CASE WHEN rate_modifier <> '' THEN '-' || rate_modifier ELSE '' END || ' ' || cmp_money(step_base)
               WHEN 'percent_of_charges' THEN
                   cmp_num(contract_percent) || '% of billed ' || cmp_money(billed) || ' = ' || cmp_money(step_percent)
           END
           || CASE WHEN reduction_percent <> 100 THEN ' x ' || cmp_num(reduction_percent) || '% ('
                   || reduction_reason || ') = ' || cmp_money(step_modifier) ELSE '' END
           || CASE WHEN method <> 'percent_of_charges' AND units <> 1
                   THEN ' x ' || cmp_num(units) || ' units = ' || cmp_money(step_units) ELSE '' END
           || CASE WHEN lesser_applied THEN '; lesser of billed charge ' || cmp_money(billed) ELSE '' END
           AS chain
    FROM joined
)
SELECT
    line_id, claim_id, payment_id, file_id, payer_id, payer_name,
    contract_name AS contract, contract_file, contract_effective,
    term_text AS term,
    method, patient_control_number, payer_claim_number, line_control_number, claim_status,
    place_of_service, facility, service_date, payment_date, payment_month, procedure_code, modifiers,
    units, billed,
    CASE WHEN category NOT IN ('reversed', 'secondary') THEN step_lesser_of END AS expected_allowed,
    actual_allowed, paid, patient_responsibility,
    CASE WHEN category IN ('underpaid', 'overpaid', 'correct', 'denied') THEN step_lesser_of - actual_allowed END AS variance,
    medicare_allowed,
    CAST(cmp_ratio_pct(actual_allowed, medicare_allowed) AS DECIMAL(9,2)) AS percent_of_medicare,
    category,
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
            || CASE WHEN chain IS NOT NULL THEN '; contract would allow ' || chain ELSE '' END
        WHEN 'denied' THEN 'denied: nothing allowed'
            || CASE WHEN len(carc_codes) + len(rarc_codes) > 0
                    THEN ' (' || array_to_string(list_concat(carc_codes, rarc_codes), ', ') || ')' ELSE '' END
            || CASE WHEN chain IS NOT NULL THEN '; contract expected ' || chain ELSE '' END
        WHEN 'no_contract' THEN
            CASE WHEN contract_idx IS NULL AND payer_has_contract
                     THEN 'no contract version for payer ' || coalesce(payer_id, '?') || ' in force on '
                          || coalesce(CAST(service_date AS VARCHAR), '(no service date)')
                 WHEN contract_idx IS NULL
                     THEN 'no contract for payer ' || coalesce(payer_id, '?') || ' (' || coalesce(payer_name, '?') || ')'
                 WHEN excluded
                     THEN procedure_code || ' is carved out of ' || contract_name || ' (' || term_label || ')'
                 ELSE 'no term of ' || contract_name || ' covers ' || coalesce(procedure_code, '(no code)')
                      || CASE WHEN len(modifiers) > 0 THEN '-' || array_to_string(modifiers, '-') ELSE '' END
            END
        WHEN 'not_priced' THEN 'not priced: ' || coalesce(not_priced_reason, 'no amount')
            || coalesce(' (' || term_label || ')', '')
        ELSE chain || '; actual allowed ' || cmp_money(actual_allowed)
            || CASE WHEN allowed_b6 IS NULL THEN ' (billed less CO/OA/PI adjustments)' ELSE '' END
            || CASE category
                   WHEN 'underpaid' THEN '; underpaid ' || cmp_money(step_lesser_of - actual_allowed)
                   WHEN 'overpaid' THEN '; overpaid ' || cmp_money(actual_allowed - step_lesser_of)
                   ELSE '; correct: variance ' || cmp_money(step_lesser_of - actual_allowed)
                        || ' is within tolerance (' || cmp_money(tolerance_amount) || ' or '
                        || cmp_num(tolerance_percent) || '%)' END
    END
    || CASE WHEN recoded THEN '; recoded by the payer from ' || coalesce(original_procedure_code, '?') ELSE '' END,
    category || ': see the step_* columns for the derivation') AS explanation,
    medicare_unit_amount,
    mpfs_year AS medicare_year,
    locality_code AS medicare_locality,
    work_rvu, pe_rvu, mp_rvu, work_gpci, pe_gpci, mp_gpci, conversion_factor,
    contract_percent,
    step_base, step_percent, step_modifier, step_units, step_lesser_of,
    reduction_percent, reduction_reason, mppr_rank,
    CASE WHEN category = 'not_priced' THEN not_priced_reason
         WHEN price_status = 'not_priced' THEN price_reason END AS not_priced_reason,
    carc_codes, rarc_codes, recoded, pending,
    CAST($computed_at AS TIMESTAMP) AS computed_at,
    mpfs_release AS medicare_release,
    setting AS medicare_setting,
    opps_capped,
    term_idx AS term_index,
    term_line,
    rate_row,
    tolerance_amount,
    tolerance_percent,
    reversal_other_claim_id AS reversal_pair_claim_id
FROM categorized
