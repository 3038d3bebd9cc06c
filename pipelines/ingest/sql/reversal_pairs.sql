-- Purpose: pair each unlinked reversal claim (CLP02 = 22) with the claim it reverses: same payer
-- and payer claim control number (CLP07), not itself a reversal, not already reversed. Preference:
-- the amount mirrors the reversal (paid = -paid), then claims loaded before the reversal, then the
-- most recent. Only claim numbers of the file just loaded ($file_id) that have an unlinked reversal
-- (in this file or an earlier one) are considered.
-- Grain: one row per reversal claim (reversal_id) with one original (original_id), each used once.
WITH open_reversals AS (
    SELECT claim_id, payer_claim_number FROM claims
    WHERE status_code = '22' AND reverses_claim_id IS NULL AND payer_claim_number IS NOT NULL
),
touched AS (
    SELECT DISTINCT c.payer_claim_number
    FROM claims AS c JOIN open_reversals AS r USING (payer_claim_number)
    WHERE c.file_id = $file_id
),
c AS (
    SELECT cl.claim_id, cl.status_code, cl.paid, cl.payer_claim_number, cl.reverses_claim_id,
           cl.reversed_by_claim_id, p.payer_id
    FROM claims AS cl
    JOIN payments AS p USING (payment_id)
    WHERE cl.payer_claim_number IN (SELECT payer_claim_number FROM touched)
),
ranked AS (
    SELECT r.claim_id AS reversal_id, o.claim_id AS original_id,
           row_number() OVER (
               PARTITION BY r.claim_id
               ORDER BY (o.paid = -r.paid) DESC, (o.claim_id < r.claim_id) DESC, o.claim_id DESC
           ) AS pick
    FROM c AS r
    JOIN c AS o
      ON o.payer_claim_number = r.payer_claim_number
     AND o.payer_id IS NOT DISTINCT FROM r.payer_id
     AND o.claim_id <> r.claim_id
    WHERE r.status_code = '22' AND r.reverses_claim_id IS NULL
      AND o.status_code <> '22' AND o.reversed_by_claim_id IS NULL
      AND (o.claim_id < r.claim_id OR o.paid = -r.paid)
),
first_pick AS (
    SELECT reversal_id, original_id,
           row_number() OVER (PARTITION BY original_id ORDER BY reversal_id) AS once
    FROM ranked WHERE pick = 1
)
SELECT reversal_id, original_id FROM first_pick WHERE once = 1
