-- The recovery funnel as of the end of $month: cases detected -> submitted (by people) -> recovered (by the
-- remittances), counts and dollars; recovery rate and days to recover; denial overturns.
-- Grain: one row. Cases detected in or before $month (first_detected_month <= $month) of $payer (or all).
-- Dollars: detected = what the flagged lines were owed when detected (expected - original allowed, allowed
-- terms); recovered = the change in SVC03 the remittances brought (worklist_lines.recovered_amount > 0).
WITH cases AS (
    SELECT * FROM worklist_claims
    WHERE first_detected_month <= $month AND ($payer IS NULL OR payer_id = $payer)
),
lines AS (
    SELECT l.*, c.detected_on FROM worklist_lines l JOIN cases c USING (case_id)
),
ever_submitted AS (    -- a case a person marked submitted at some time (or closed after submitting)
    SELECT DISTINCT case_id FROM worklist_events
    WHERE kind = 'workflow_status' AND new_value = 'submitted'
)
SELECT
    (SELECT count(*) FROM cases)                                                              AS detected_cases,
    (SELECT coalesce(sum(greatest(coalesce(expected_allowed, 0) - coalesce(original_allowed, 0), 0)), 0)
     FROM lines)::DECIMAL(38,2)                                                               AS detected_dollars,
    (SELECT count(*) FROM cases c WHERE c.workflow_status = 'submitted' OR c.case_id IN (SELECT case_id FROM ever_submitted))
                                                                                              AS submitted_cases,
    (SELECT coalesce(sum(c.amount_at_stake + greatest(c.recovered_amount, 0)), 0) FROM cases c
     WHERE c.workflow_status = 'submitted' OR c.case_id IN (SELECT case_id FROM ever_submitted))::DECIMAL(38,2)
                                                                                              AS submitted_dollars,
    (SELECT count(DISTINCT case_id) FROM lines WHERE payment_status IN ('recovered', 'partially_recovered'))
                                                                                              AS recovered_cases,
    (SELECT coalesce(sum(recovered_amount), 0) FROM lines
     WHERE payment_status IN ('recovered', 'partially_recovered'))::DECIMAL(38,2)            AS recovered_dollars,
    (SELECT round(avg(date_diff('day', detected_on, recovered_on)), 1) FROM lines
     WHERE payment_status IN ('recovered', 'partially_recovered') AND recovered_on IS NOT NULL) AS days_to_recover,
    (SELECT count(*) FROM lines WHERE category = 'denied')                                    AS denied_lines,
    (SELECT count(*) FROM lines WHERE category = 'denied' AND payment_status IN ('recovered', 'partially_recovered'))
                                                                                              AS overturned_lines,
    (SELECT coalesce(sum(amount_at_stake), 0) FROM cases WHERE open_lines > 0 AND workflow_status <> 'closed')::DECIMAL(38,2)
                                                                                              AS open_dollars,
    (SELECT count(*) FROM cases WHERE open_lines > 0 AND workflow_status <> 'closed')         AS open_cases
