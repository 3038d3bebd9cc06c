-- Data quality: 835 files rejected whole, received during $month or the month after it
-- (when that month's remittances arrive and the review is done; $until = first day two months on).
-- Grain: one row per rejected file attempt (era_files.status = 'rejected').
SELECT file_id, coalesce(file_name, path) AS file_name, loaded_at, error_segment, reason
FROM era_files
WHERE status = 'rejected' AND loaded_at >= $month::TIMESTAMP AND loaded_at < $until::TIMESTAMP
ORDER BY loaded_at, file_id
