-- Data quality: payments whose BPR16 payment date is missing or not a date, so they belong to no
-- payment month and appear in no month's figures. Listed in the review of the month their file
-- arrived in and of the month before it (the window of rejected files: received during $month or
-- the next; $until = first day two months on), so they are never silently absent.
-- Grain: one row per file (era_files.file_id) holding such payments.
WITH undated AS (           -- one row per undated payment, with its service lines counted
    SELECT p.payment_id, p.file_id, p.payer_name, p.trace_number, p.total_paid,
           (SELECT count(*) FROM service_lines sl WHERE sl.payment_id = p.payment_id) AS lines
    FROM payments p
    WHERE p.payment_date IS NULL AND ($payer IS NULL OR p.payer_id = $payer)
)
SELECT
    coalesce(f.file_name, f.path)                                     AS file_name,
    f.loaded_at,
    count(*)                                                          AS payments,
    string_agg(DISTINCT u.payer_name, ', ' ORDER BY u.payer_name)     AS payer_name,
    string_agg(DISTINCT u.trace_number, ', ' ORDER BY u.trace_number) AS trace_numbers,
    sum(u.lines)                                                      AS lines,
    CAST(coalesce(sum(u.total_paid), 0) AS DECIMAL(38,2))             AS paid
FROM undated u
JOIN era_files f ON f.file_id = u.file_id
WHERE f.loaded_at >= $month::TIMESTAMP AND f.loaded_at < $until::TIMESTAMP
GROUP BY f.file_id, f.file_name, f.path, f.loaded_at
ORDER BY f.loaded_at, file_name
