-- Purpose: record each reversal pair on both claims (reverses_claim_id on the CLP02 = 22 claim,
-- reversed_by_claim_id on the original), so net amounts can be computed by SQL users.
-- Grain: one claims row updated per side of each pair in reversal_pairs.
UPDATE claims
SET reverses_claim_id = CASE WHEN claims.claim_id = rp.reversal_id THEN rp.original_id ELSE claims.reverses_claim_id END,
    reversed_by_claim_id = CASE WHEN claims.claim_id = rp.original_id THEN rp.reversal_id ELSE claims.reversed_by_claim_id END
FROM (SELECT reversal_id, original_id, reversal_id AS k FROM reversal_pairs
      UNION ALL
      SELECT reversal_id, original_id, original_id AS k FROM reversal_pairs) AS rp
WHERE claims.claim_id = rp.k
