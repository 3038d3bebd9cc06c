-- Step 07: the lines take what the remittances say now (wl_line_status, step 05).
UPDATE worklist_lines AS l
SET current_allowed = s.current_allowed,
    current_paid = s.current_paid,
    recovered_amount = s.recovered_amount,
    payment_status = s.payment_status,
    recovered_on = s.recovered_on,
    last_line_id = s.last_line_id
FROM wl_line_status s
WHERE s.case_id = l.case_id AND s.line_key = l.line_key
  AND (s.payment_status IS DISTINCT FROM l.payment_status OR s.recovered_amount IS DISTINCT FROM l.recovered_amount
       OR s.current_allowed IS DISTINCT FROM l.current_allowed OR s.current_paid IS DISTINCT FROM l.current_paid
       OR s.recovered_on IS DISTINCT FROM l.recovered_on OR s.last_line_id IS DISTINCT FROM l.last_line_id)
