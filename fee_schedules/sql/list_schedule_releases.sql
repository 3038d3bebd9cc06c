-- Purpose: what is imported of the other Medicare schedules (CLFS, ASP, DMEPOS, OPPS, ASC), for
-- `underpay fee-schedule list`.
-- Grain: one row per release (schedule kind, effective_from).
SELECT schedule,
       effective_from,
       effective_through,
       file_name,
       row_count,
       left(sha256, 12)                        AS sha256_prefix,
       coalesce('replaced ' || replaced, '')   AS note
FROM schedule_releases
ORDER BY schedule, effective_from;
