-- Step 01, wl_family_lines: every service line of every loaded claim, with the claim family and the line key
-- by which a later remittance finds a flagged line, and the order remittances arrived in.
-- Grain: one row per service line (service_lines).
-- Inputs: service_lines, claims, payments, variances (the allowed the comparison computed: AMT*B6, else billed
-- less CO/OA/PI adjustments).
-- Keys: family = same payer and patient control number (CLP01), else the payer claim number (CLP07);
-- line = the line control number (REF*6R), else code, modifiers, date of service and its occurrence on the claim.
WITH lines AS (
    SELECT sl.line_id, sl.claim_id, sl.line_number, sl.procedure_code, sl.modifiers, sl.service_date,
           sl.line_control_number, sl.paid, coalesce(v.actual_allowed, sl.allowed) AS allowed,
           c.status_code, c.patient_control_number, c.payer_claim_number, c.original_reference,
           c.interest_amount, c.filing_indicator, p.payer_id, p.payer_name, p.payment_date, p.payment_id
    FROM service_lines sl
    JOIN claims c ON c.claim_id = sl.claim_id
    JOIN payments p ON p.payment_id = sl.payment_id
    LEFT JOIN variances v ON v.line_id = sl.line_id
    WHERE p.payer_id IS NOT NULL
),
keyed AS (             -- the line key: REF*6R, else code|modifiers|date|occurrence (a window only where needed)
    SELECT *, trim(line_control_number) AS line_key FROM lines WHERE nullif(trim(line_control_number), '') IS NOT NULL
    UNION ALL BY NAME
    SELECT *, 'K:' || coalesce(procedure_code, '') || '|' || array_to_string(coalesce(modifiers, []), '-') || '|'
              || coalesce(strftime(service_date, '%Y-%m-%d'), '') || '|'
              || row_number() OVER (PARTITION BY claim_id, procedure_code, modifiers, service_date ORDER BY line_number)
              AS line_key
    FROM lines WHERE nullif(trim(line_control_number), '') IS NULL
)
SELECT line_id, claim_id, payer_id, payer_name, payment_id, payment_date, status_code,
       patient_control_number, payer_claim_number, original_reference, interest_amount, filing_indicator,
       procedure_code, modifiers, service_date, line_control_number, paid, allowed,
       CASE WHEN nullif(trim(patient_control_number), '') IS NOT NULL THEN 'PCN:' || trim(patient_control_number)
            ELSE 'ICN:' || coalesce(trim(payer_claim_number), '') END                        AS family_key,
       line_key,
       -- the order the remittances came in (payment date, then load order), compared as a list
       [coalesce(date_diff('day', DATE '1970-01-01', payment_date), -1000000), payment_id, claim_id, line_id] AS seq
FROM keyed
