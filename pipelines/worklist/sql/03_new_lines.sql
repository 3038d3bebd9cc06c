-- Step 03: the flagged lines of each case that the worklist does not hold yet (new cases, and lines flagged
-- later on an existing case), with what was allowed and paid when they were detected.
-- Grain: one row per new (case, line key). Inputs: variances, wl_family_lines (01), worklist_claims, worklist_lines.
WITH flagged AS (
    SELECT w.case_id, f.line_key, f.line_control_number, f.procedure_code, f.modifiers, f.service_date,
           v.category, v.expected_allowed, v.actual_allowed, v.paid, f.line_id, f.seq
    FROM variances v
    JOIN wl_family_lines f ON f.line_id = v.line_id
    JOIN worklist_claims w ON w.payer_id = f.payer_id AND w.family_key = f.family_key
    WHERE v.category IN ('underpaid', 'denied')
),
first_flag AS (        -- a line flagged on several remittances: the first time counts
    SELECT * FROM flagged QUALIFY row_number() OVER (PARTITION BY case_id, line_key ORDER BY seq) = 1
)
SELECT f.case_id, f.line_key, f.line_control_number, f.procedure_code, f.modifiers, f.service_date, f.category,
       f.expected_allowed, f.actual_allowed AS original_allowed, f.paid AS original_paid,
       f.actual_allowed AS current_allowed, f.paid AS current_paid, 0::DECIMAL(14,2) AS recovered_amount,
       f.category AS payment_status, NULL::DATE AS recovered_on, f.line_id AS first_line_id, f.line_id AS last_line_id
FROM first_flag f
ANTI JOIN worklist_lines l ON l.case_id = f.case_id AND l.line_key = f.line_key
