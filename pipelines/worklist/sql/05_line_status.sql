-- Step 05, wl_line_status: what the remittances say of each case line now.
-- Grain: one row per worklist line (case, line key).
-- Inputs: worklist_lines, worklist_claims, wl_family_lines (01).
-- Rules (docs/worklist.md "Recovery"): from the remittance the line was detected on, each later line of the
-- family with the same key either replaces what came before (the detected line itself; a corrected claim:
-- another payer claim number CLP07, or a REF*F8 naming the original) or adds to it (a reversal CLP02=22, whose
-- amounts are negative; a supplemental payment on the same CLP07). Now = the sum from the last replacing line
-- on. recovered_amount = paid now - paid when detected (SVC03: not the patient's share, not interest).
WITH case_lines AS (
    SELECT l.case_id, l.line_key, l.category, l.payment_status, l.recovered_on, l.expected_allowed,
           l.original_allowed, l.original_paid, w.payer_id, w.family_key, d.payer_claim_number AS detected_icn,
           d.seq AS detected_seq
    FROM worklist_lines l
    JOIN worklist_claims w USING (case_id)
    JOIN wl_family_lines d ON d.line_id = l.first_line_id
),
events AS (            -- the family's lines with this key, from the detected one on
    SELECT c.case_id, c.line_key, f.seq, f.line_id, f.payment_date,
           coalesce(f.paid, 0) AS paid, coalesce(f.allowed, 0) AS allowed,
           f.seq = c.detected_seq
             OR (f.status_code IS DISTINCT FROM '22'
                 AND (f.payer_claim_number IS DISTINCT FROM c.detected_icn
                      OR nullif(trim(f.original_reference), '') IS NOT NULL)) AS replaces
    FROM case_lines c
    JOIN wl_family_lines f
      ON f.payer_id = c.payer_id AND f.family_key = c.family_key AND f.line_key = c.line_key
     AND f.seq >= c.detected_seq
),
base AS (
    SELECT case_id, line_key, max(seq) FILTER (WHERE replaces) AS base_seq FROM events GROUP BY case_id, line_key
),
net AS (
    SELECT e.case_id, e.line_key, sum(e.paid) AS current_paid, sum(e.allowed) AS current_allowed,
           max(e.payment_date) AS last_on, arg_max(e.line_id, e.seq) AS last_line_id
    FROM events e JOIN base b USING (case_id, line_key)
    WHERE e.seq >= b.base_seq
    GROUP BY e.case_id, e.line_key
),
judged AS (
    SELECT c.*, n.current_paid, n.current_allowed, n.last_on, n.last_line_id,
           n.current_paid - coalesce(c.original_paid, 0) AS recovered,
           CASE WHEN c.payment_status = 'written_off' THEN 'written_off'          -- a person's decision stays
                WHEN n.current_paid < coalesce(c.original_paid, 0) AND n.current_allowed <= 0 THEN 'retracted'
                WHEN n.current_allowed >= c.expected_allowed THEN 'recovered'
                WHEN n.current_allowed > coalesce(c.original_allowed, 0) OR n.current_paid > coalesce(c.original_paid, 0)
                  THEN 'partially_recovered'
                ELSE c.category END AS status
    FROM case_lines c JOIN net n USING (case_id, line_key)
)
SELECT case_id, line_key,
       CAST(current_allowed AS DECIMAL(14,2)) AS current_allowed,
       CAST(current_paid AS DECIMAL(14,2))    AS current_paid,
       CAST(recovered AS DECIMAL(14,2))       AS recovered_amount,
       status                                 AS payment_status,
       CASE WHEN status NOT IN ('recovered', 'partially_recovered') THEN NULL
            WHEN status = payment_status THEN coalesce(recovered_on, last_on)
            ELSE last_on END                  AS recovered_on,
       CAST(last_line_id AS BIGINT)           AS last_line_id
FROM judged
