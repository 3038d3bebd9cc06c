-- Step 10: each case takes its totals, dates and deadline (wl_case_totals, step 08). People's columns
-- (workflow_status, assignee, due_date, note, version) are never touched here.
UPDATE worklist_claims AS w
SET open_lines = t.open_lines,
    amount_at_stake = t.amount_at_stake,
    recovered_amount = t.recovered_amount,
    last_adjustment_on = t.last_adjustment_on,
    interest_amount = t.interest_amount,
    appeal_deadline = t.appeal_deadline,
    deadline_rule = t.deadline_rule,
    updated_at = CAST($now AS TIMESTAMP)
FROM wl_case_totals t
WHERE t.case_id = w.case_id
  AND (t.open_lines IS DISTINCT FROM w.open_lines OR t.amount_at_stake IS DISTINCT FROM w.amount_at_stake
       OR t.recovered_amount IS DISTINCT FROM w.recovered_amount OR t.last_adjustment_on IS DISTINCT FROM w.last_adjustment_on
       OR t.interest_amount IS DISTINCT FROM w.interest_amount OR t.appeal_deadline IS DISTINCT FROM w.appeal_deadline
       OR t.deadline_rule IS DISTINCT FROM w.deadline_rule)
