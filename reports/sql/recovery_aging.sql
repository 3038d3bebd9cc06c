-- Open cases by age at the end of $month (days since the remittance they were detected on), and the money
-- whose appeal deadline falls within 30, 60 or 90 days of it (or has passed).
-- Grain: one row per bucket, in order (kind 'age' buckets, then kind 'deadline' windows).
-- Open = an open line (underpaid, denied, partially recovered, retracted) and workflow status not closed.
WITH open_cases AS (
    SELECT *, date_diff('day', detected_on, $month_end) AS age_days,
           date_diff('day', $month_end, appeal_deadline) AS days_left
    FROM worklist_claims
    WHERE open_lines > 0 AND workflow_status <> 'closed' AND first_detected_month <= $month
      AND ($payer IS NULL OR payer_id = $payer)
),
buckets(kind, pos, label, low, high) AS (
    VALUES ('age', 1, '0-30 days', 0, 30), ('age', 2, '31-60 days', 31, 60), ('age', 3, '61-90 days', 61, 90),
           ('age', 4, '91-120 days', 91, 120), ('age', 5, 'over 120 days', 121, 1000000),
           ('deadline', 6, 'deadline passed', -1000000, -1), ('deadline', 7, 'due within 30 days', 0, 30),
           ('deadline', 8, 'due in 31-60 days', 31, 60), ('deadline', 9, 'due in 61-90 days', 61, 90)
)
SELECT b.kind, b.label, count(o.case_id) AS cases, coalesce(sum(o.amount_at_stake), 0)::DECIMAL(38,2) AS dollars
FROM buckets b
LEFT JOIN open_cases o
  ON (b.kind = 'age' AND o.age_days BETWEEN b.low AND b.high)
  OR (b.kind = 'deadline' AND o.days_left BETWEEN b.low AND b.high)
GROUP BY b.kind, b.pos, b.label
ORDER BY b.pos
