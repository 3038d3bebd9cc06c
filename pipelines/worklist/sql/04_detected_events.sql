-- Step 04: a 'detected' event for each line the worklist took in this run (wl_new_lines, step 03).
-- Parameters: $now.
INSERT INTO worklist_events
SELECT CAST((SELECT coalesce(max(event_id), 0) FROM worklist_events)
            + row_number() OVER (ORDER BY case_id, line_key) AS BIGINT),
       case_id, line_key, CAST($now AS TIMESTAMP), 'system', 'detected', NULL, category,
       'flagged ' || category || ': expected ' || coalesce(CAST(expected_allowed AS VARCHAR), '?')
         || ', allowed ' || coalesce(CAST(original_allowed AS VARCHAR), '?')
FROM wl_new_lines
