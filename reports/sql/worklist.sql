-- Appeal worklist: every claim with an underpaid or denied line paid in $month.
-- Grain: one row per claim (claim_id), largest dollars at stake first; $limit NULL = all rows.
-- at_stake = variance of underpaid lines + (expected - actual, else billed) of denied lines
-- (rpt_at_stake in macros.sql). The HTML lists each claim's lines from worklist_lines.sql.
-- PHI: patient and member_id are masked (initials; last 4 of the member id) unless $show_phi.
WITH flagged AS (
    SELECT v.*, rpt_at_stake(category, variance, billed) AS at_stake
    FROM variances v
    WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer)
      AND category IN ('underpaid', 'denied')
), per_claim AS (
    SELECT
        claim_id,
        any_value(patient_control_number)                                  AS patient_control_number,
        any_value(payer_claim_number)                                      AS payer_claim_number,
        any_value(payer_id)                                                AS payer_id,
        any_value(payer_name)                                              AS payer_name,
        min(service_date)                                                  AS service_from,
        max(service_date)                                                  AS service_to,
        max(payment_date)                                                  AS payment_date,
        string_agg(DISTINCT procedure_code, ' ' ORDER BY procedure_code)   AS codes,
        list_sort(list_distinct(flatten(list(coalesce(carc_codes, [])))))  AS carc_list,
        string_agg(DISTINCT category, '+' ORDER BY category DESC)          AS category,
        count(*)                                                           AS lines,
        sum(expected_allowed)::DECIMAL(38,2)                               AS expected_allowed,
        coalesce(sum(actual_allowed), 0)::DECIMAL(38,2)                    AS actual_allowed,
        sum(variance)::DECIMAL(38,2)                                       AS variance,
        sum(at_stake)::DECIMAL(38,2)                                       AS at_stake,
        string_agg(procedure_code || ': ' || explanation, ' | ' ORDER BY at_stake DESC, line_id) AS explanation
    FROM flagged
    GROUP BY claim_id
)
SELECT
    w.claim_id,
    w.patient_control_number,
    w.payer_claim_number,
    w.payer_id,
    w.payer_name,
    CASE WHEN $show_phi THEN nullif(trim(concat_ws(' ', c.patient_first_name, c.patient_last_name)), '')
         ELSE nullif(concat(CASE WHEN c.patient_first_name <> '' THEN upper(left(c.patient_first_name, 1)) || '.' END,
                            CASE WHEN c.patient_last_name <> '' THEN upper(left(c.patient_last_name, 1)) || '.' END), '')
    END                                                                    AS patient,
    CASE WHEN $show_phi THEN coalesce(c.patient_member_id, c.insured_member_id)
         WHEN coalesce(c.patient_member_id, c.insured_member_id) IS NULL THEN NULL
         WHEN length(coalesce(c.patient_member_id, c.insured_member_id)) > 4
              THEN '****' || right(coalesce(c.patient_member_id, c.insured_member_id), 4)
         ELSE '****'
    END                                                                    AS member_id,
    w.service_from,
    w.service_to,
    w.payment_date,
    w.codes,
    array_to_string(w.carc_list, ' ')                                      AS carc_codes,
    w.category,
    w.lines,
    w.expected_allowed,
    w.actual_allowed,
    w.variance,
    w.at_stake,
    w.explanation,
    count(*) OVER ()                                                       AS total_claims
FROM per_claim w
LEFT JOIN claims c ON c.claim_id = w.claim_id
ORDER BY w.at_stake DESC NULLS LAST, w.claim_id
LIMIT $limit
