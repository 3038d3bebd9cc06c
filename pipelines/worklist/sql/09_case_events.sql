-- Step 09: an event for each case whose appeal deadline moved (a rule changed, a later adjustment).
-- Grain: one row per case whose deadline changed. Inputs: worklist_claims (before the update), wl_case_totals (08).
-- Parameters: $now.
SELECT CAST((SELECT coalesce(max(event_id), 0) FROM worklist_events)
            + row_number() OVER (ORDER BY w.case_id) AS BIGINT)               AS event_id,
       w.case_id, NULL AS line_key, CAST($now AS TIMESTAMP) AS event_at, 'system' AS actor, 'appeal_deadline' AS kind,
       CAST(w.appeal_deadline AS VARCHAR) AS old_value, CAST(t.appeal_deadline AS VARCHAR) AS new_value,
       t.deadline_rule AS detail
FROM worklist_claims w JOIN wl_case_totals t USING (case_id)
WHERE t.appeal_deadline IS DISTINCT FROM w.appeal_deadline
