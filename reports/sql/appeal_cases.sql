-- Appeal packets (reports.appeal): the worklist cases a packet is asked for, each with the practice and the
-- payer as its latest remittance names them, the claim, what its open lines are still owed, and the deadline.
-- Grain: one row per case (worklist_claims.case_id) of $case_id, else of payer $payer; earliest deadline first.
-- Parameters: $case_id (NULL: every case of $payer), $payer (NULL: any payer), $status (NULL: any status but
-- closed), $show_phi, $today (the letter's date).
-- open line: payment_status underpaid, denied, partially_recovered or retracted (as worklist step 05).
-- owed: greatest(expected_allowed - current_allowed, 0) per open line (appeal_lines.sql); total_owed sums them now,
-- so a line written off since the last refresh is no longer claimed (worklist_claims.amount_at_stake is kept
-- beside it as the refresh left it).
-- selected: the case goes into the packet: it has an open line and, in a batch (no $case_id), its workflow
-- status is $status (NULL: anything but closed). batch_*: over the selected rows.
-- PHI: patient and member_id are masked (initials; last 4 of the member id) unless $show_phi, as in worklist.sql.
WITH case_lines AS (   -- the lines of the cases asked for, with whether each is still open
    SELECT l.case_id, l.service_date, l.first_line_id, l.last_line_id, l.expected_allowed, l.current_allowed,
           l.payment_status IN ('underpaid', 'denied', 'partially_recovered', 'retracted') AS is_open
    FROM worklist_lines l
    JOIN worklist_claims w USING (case_id)
    WHERE ($case_id IS NULL OR w.case_id = $case_id) AND ($payer IS NULL OR w.payer_id = $payer)
),
owed AS (              -- per case: open lines, what they are owed, their dates of service
    SELECT case_id,
           count(*) FILTER (WHERE is_open)                                              AS open_lines,
           sum(CASE WHEN is_open THEN greatest(coalesce(expected_allowed, 0) - coalesce(current_allowed, 0), 0)
                    ELSE 0 END)                                                         AS total_owed,
           min(service_date) FILTER (WHERE is_open)                                     AS service_from,
           max(service_date) FILTER (WHERE is_open)                                     AS service_to,
           min(first_line_id)                                                           AS detected_line_id
    FROM case_lines
    GROUP BY case_id
),
latest_payment AS (    -- per case: the latest remittance that carried one of its lines
    SELECT cl.case_id, p.*
    FROM case_lines cl
    JOIN service_lines s ON s.line_id = cl.last_line_id
    JOIN payments p ON p.payment_id = s.payment_id
    QUALIFY row_number() OVER (PARTITION BY cl.case_id ORDER BY p.payment_date DESC NULLS LAST, p.payment_id DESC) = 1
),
detected_claim AS (    -- per case: the claim (CLP) it was detected on, for the patient
    SELECT o.case_id, c.patient_first_name, c.patient_last_name, c.patient_member_id, c.insured_member_id
    FROM owed o
    JOIN service_lines s ON s.line_id = o.detected_line_id
    JOIN claims c ON c.claim_id = s.claim_id
),
cases AS (
    SELECT w.case_id, w.workflow_status, w.note, w.payer_id, w.payer_name, w.patient_control_number,
           w.payer_claim_number, w.detected_on, w.denied_on, w.last_adjustment_on, w.amount_at_stake,
           w.appeal_deadline, w.deadline_rule, o.open_lines, o.total_owed, o.service_from, o.service_to,
           o.open_lines > 0
           AND CASE WHEN $case_id IS NOT NULL THEN true
                    WHEN $status IS NULL THEN w.workflow_status <> 'closed'
                    ELSE w.workflow_status = $status END                               AS selected
    FROM worklist_claims w
    JOIN owed o USING (case_id)
)
SELECT
    CAST(w.case_id AS BIGINT)                                                           AS case_id,
    CAST(w.workflow_status AS VARCHAR)                                                  AS workflow_status,
    CAST(w.note AS VARCHAR)                                                             AS note,
    CAST(w.payer_id AS VARCHAR)                                                         AS payer_id,
    CAST(coalesce(w.payer_name, p.payer_name, p.payer_nm1_name) AS VARCHAR)             AS payer_name,
    CAST(p.payer_address AS VARCHAR)                                                    AS payer_address,
    CAST(p.payer_city AS VARCHAR)                                                       AS payer_city,
    CAST(p.payer_state AS VARCHAR)                                                      AS payer_state,
    CAST(p.payer_zip AS VARCHAR)                                                        AS payer_zip,
    CAST(coalesce(p.payee_name, p.payee_nm1_name) AS VARCHAR)                           AS practice_name,
    CAST(p.payee_npi AS VARCHAR)                                                        AS practice_npi,
    CAST(p.payee_tin AS VARCHAR)                                                        AS practice_tin,
    CAST(p.payee_address AS VARCHAR)                                                    AS practice_address,
    CAST(p.payee_city AS VARCHAR)                                                       AS practice_city,
    CAST(p.payee_state AS VARCHAR)                                                      AS practice_state,
    CAST(p.payee_zip AS VARCHAR)                                                        AS practice_zip,
    CAST(w.patient_control_number AS VARCHAR)                                           AS patient_control_number,
    CAST(w.payer_claim_number AS VARCHAR)                                               AS payer_claim_number,
    CAST(CASE WHEN $show_phi THEN nullif(trim(concat_ws(' ', d.patient_first_name, d.patient_last_name)), '')
              ELSE nullif(concat(CASE WHEN d.patient_first_name <> '' THEN upper(left(d.patient_first_name, 1)) || '.' END,
                                 CASE WHEN d.patient_last_name <> '' THEN upper(left(d.patient_last_name, 1)) || '.' END), '')
         END AS VARCHAR)                                                                AS patient,
    CAST(CASE WHEN $show_phi THEN coalesce(d.patient_member_id, d.insured_member_id)
              WHEN coalesce(d.patient_member_id, d.insured_member_id) IS NULL THEN NULL
              WHEN length(coalesce(d.patient_member_id, d.insured_member_id)) > 4
                   THEN '****' || right(coalesce(d.patient_member_id, d.insured_member_id), 4)
              ELSE '****' END AS VARCHAR)                                               AS member_id,
    CAST(w.service_from AS DATE)                                                        AS service_from,
    CAST(w.service_to AS DATE)                                                          AS service_to,
    CAST(w.detected_on AS DATE)                                                         AS detected_on,
    CAST(w.denied_on AS DATE)                                                           AS denied_on,
    CAST(w.last_adjustment_on AS DATE)                                                  AS last_adjustment_on,
    CAST(w.open_lines AS INTEGER)                                                       AS open_lines,
    CAST(w.total_owed AS DECIMAL(14,2))                                                 AS total_owed,
    CAST(w.amount_at_stake AS DECIMAL(14,2))                                            AS amount_at_stake,
    CAST(w.appeal_deadline AS DATE)                                                     AS appeal_deadline,
    CAST(w.deadline_rule AS VARCHAR)                                                    AS deadline_rule,
    CAST(w.appeal_deadline - CAST($today AS DATE) AS INTEGER)                           AS days_left,
    w.selected                                                                          AS selected,
    CAST(count(*) FILTER (WHERE w.selected) OVER () AS INTEGER)                         AS batch_cases,
    CAST(coalesce(sum(w.total_owed) FILTER (WHERE w.selected) OVER (), 0) AS DECIMAL(14,2)) AS batch_owed
FROM cases w
LEFT JOIN latest_payment p USING (case_id)
LEFT JOIN detected_claim d USING (case_id)
ORDER BY w.appeal_deadline NULLS LAST, w.case_id
