-- Step 02: cases for claim families that have a flagged line (underpaid, denied) and no case yet.
-- Grain: one row per new case. Inputs: variances, wl_family_lines (01), worklist_claims.
-- Parameters: $now (TIMESTAMP). case_id continues from the highest one in the warehouse.
WITH flagged AS (
    SELECT f.payer_id, f.family_key, f.payer_name, f.payer_claim_number, f.patient_control_number,
           v.payment_month, f.payment_date, f.seq, v.category
    FROM variances v JOIN wl_family_lines f ON f.line_id = v.line_id
    WHERE v.category IN ('underpaid', 'denied')
),
first_seen AS (
    SELECT payer_id, family_key,
           arg_min(payer_name, seq) AS payer_name, arg_min(payer_claim_number, seq) AS payer_claim_number,
           arg_min(patient_control_number, seq) AS patient_control_number,
           min(payment_month) AS first_detected_month, arg_min(payment_date, seq) AS detected_on,
           min(payment_date) FILTER (WHERE category = 'denied') AS denied_on
    FROM flagged
    GROUP BY payer_id, family_key
)
SELECT CAST((SELECT coalesce(max(case_id), 0) FROM worklist_claims)
            + row_number() OVER (ORDER BY s.first_detected_month, s.payer_id, s.family_key) AS BIGINT) AS case_id,
       s.payer_id, s.payer_claim_number, s.patient_control_number, s.first_detected_month,
       'detected' AS workflow_status, NULL AS assignee, NULL::DATE AS due_date, NULL::DATE AS appeal_deadline,
       0::DECIMAL(14,2) AS amount_at_stake, 0::DECIMAL(14,2) AS recovered_amount, NULL AS note,
       s.family_key, s.payer_name, s.detected_on, s.denied_on, s.detected_on AS last_adjustment_on,
       NULL AS deadline_rule, 0::DECIMAL(14,2) AS interest_amount, 0 AS open_lines, 0 AS version,
       CAST($now AS TIMESTAMP) AS updated_at
FROM first_seen s
ANTI JOIN worklist_claims w ON w.payer_id = s.payer_id AND w.family_key = s.family_key
