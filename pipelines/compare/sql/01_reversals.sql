-- Step 01, cmp_reversal_pairs: which original claim each CLP02=22 reversal cancels, over the whole warehouse.
-- Grain: one row per reversal claim; original_claim_id NULL when its original is not loaded.
-- Inputs: claims, payments.
-- The ingest link (claims.reverses_claim_id) wins; otherwise the k-th reversal of a
-- (payer, CLP01, CLP07, |charge|) group cancels the k-th earlier original of that group, so a
-- correction sent under the same CLP07 is never mistaken for the original.
WITH claim_payer AS (       -- every claim with the payer key its group is matched on
    SELECT c.claim_id, c.status_code, c.patient_control_number, c.payer_claim_number,
           abs(c.charge) AS abs_charge, c.reverses_claim_id,
           coalesce(p.payer_id, p.payer_n1_id, p.originating_company_id, upper(p.payer_name)) AS payer_key
    FROM claims c JOIN payments p ON p.payment_id = c.payment_id
),
linked_pairs AS (           -- reversals the ingest already linked to their original
    SELECT claim_id AS reversal_claim_id, reverses_claim_id AS original_claim_id
    FROM claim_payer WHERE status_code = '22' AND reverses_claim_id IS NOT NULL
),
unlinked_reversals AS (     -- the other reversals, numbered k within their group
    SELECT claim_id, payer_key, patient_control_number, payer_claim_number, abs_charge,
           row_number() OVER (PARTITION BY payer_key, patient_control_number, payer_claim_number, abs_charge
                              ORDER BY claim_id) AS k
    FROM claim_payer
    WHERE status_code = '22' AND reverses_claim_id IS NULL
),
candidate_originals AS (    -- unlinked non-reversal claims of a group that has a reversal, numbered k
    SELECT claim_id, payer_key, patient_control_number, payer_claim_number, abs_charge,
           row_number() OVER (PARTITION BY payer_key, patient_control_number, payer_claim_number, abs_charge
                              ORDER BY claim_id) AS k
    FROM claim_payer
    WHERE status_code <> '22'
      AND claim_id NOT IN (SELECT original_claim_id FROM linked_pairs WHERE original_claim_id IS NOT NULL)
      AND EXISTS (SELECT 1 FROM unlinked_reversals r
                  WHERE r.payer_key IS NOT DISTINCT FROM claim_payer.payer_key
                    AND r.patient_control_number IS NOT DISTINCT FROM claim_payer.patient_control_number
                    AND r.payer_claim_number IS NOT DISTINCT FROM claim_payer.payer_claim_number
                    AND r.abs_charge = claim_payer.abs_charge)
),
pairs_by_order AS (         -- k-th reversal <- k-th earlier original of the same group
    SELECT r.claim_id AS reversal_claim_id, o.claim_id AS original_claim_id
    FROM unlinked_reversals r
    LEFT JOIN candidate_originals o
           ON o.payer_key IS NOT DISTINCT FROM r.payer_key
          AND o.patient_control_number IS NOT DISTINCT FROM r.patient_control_number
          AND o.payer_claim_number IS NOT DISTINCT FROM r.payer_claim_number
          AND o.abs_charge = r.abs_charge
          AND o.k = r.k
          AND o.claim_id < r.claim_id
),
reversal_pairs AS (
    SELECT reversal_claim_id, original_claim_id FROM linked_pairs
    UNION ALL
    SELECT reversal_claim_id, original_claim_id FROM pairs_by_order
)
SELECT
    CAST(reversal_claim_id AS BIGINT) AS reversal_claim_id,
    CAST(original_claim_id AS BIGINT) AS original_claim_id
FROM reversal_pairs
