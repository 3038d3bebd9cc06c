-- Step 06: an event for each line whose payment status or recovered amount the remittances changed.
-- Grain: one row per changed line. Inputs: worklist_lines (before the update), wl_line_status (05), wl_family_lines.
-- Parameters: $now.
SELECT CAST((SELECT coalesce(max(event_id), 0) FROM worklist_events)
            + row_number() OVER (ORDER BY l.case_id, l.line_key) AS BIGINT)   AS event_id,
       l.case_id, l.line_key, CAST($now AS TIMESTAMP) AS event_at, 'system' AS actor,
       CASE WHEN s.payment_status IS DISTINCT FROM l.payment_status THEN 'payment_status' ELSE 'recovered_amount' END AS kind,
       CASE WHEN s.payment_status IS DISTINCT FROM l.payment_status THEN l.payment_status
            ELSE CAST(l.recovered_amount AS VARCHAR) END                       AS old_value,
       CASE WHEN s.payment_status IS DISTINCT FROM l.payment_status THEN s.payment_status
            ELSE CAST(s.recovered_amount AS VARCHAR) END                       AS new_value,
       'recovered ' || CAST(s.recovered_amount AS VARCHAR) || ' (paid now ' || coalesce(CAST(s.current_paid AS VARCHAR), '?')
         || ', allowed now ' || coalesce(CAST(s.current_allowed AS VARCHAR), '?') || '); remittance of '
         || coalesce(strftime(f.payment_date, '%Y-%m-%d'), '?') || ', payer claim ' || coalesce(f.payer_claim_number, '?')
         || CASE WHEN f.status_code = '22' THEN ' (reversal)' ELSE '' END       AS detail
FROM worklist_lines l
JOIN wl_line_status s USING (case_id, line_key)
LEFT JOIN wl_family_lines f ON f.line_id = s.last_line_id
WHERE s.payment_status IS DISTINCT FROM l.payment_status OR s.recovered_amount IS DISTINCT FROM l.recovered_amount
