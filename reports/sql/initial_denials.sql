-- The initial denial rate of $month: lines denied on their first adjudication / lines adjudicated for the
-- first time in the month (reversals, corrected claims that name their original with REF*F8, and later
-- claims of a claim family the worklist already holds are not first adjudications).
-- Grain: one row.
WITH firsts AS (
    SELECT v.category
    FROM variances v
    JOIN claims c ON c.claim_id = v.claim_id
    WHERE v.payment_month = $month AND ($payer IS NULL OR v.payer_id = $payer)
      AND coalesce(c.status_code, '') <> '22'   -- an original a later reversal cancelled still counts
      AND nullif(trim(c.original_reference), '') IS NULL
      AND NOT EXISTS (SELECT 1 FROM worklist_lines l WHERE l.last_line_id = v.line_id AND l.first_line_id <> v.line_id)
)
SELECT count(*) FILTER (WHERE category = 'denied') AS denied_lines, count(*) AS lines FROM firsts
