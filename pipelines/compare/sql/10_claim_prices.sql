-- Step 10, cmp_claim_prices: the claim-level Medicare allowed of each line of cmp_claim_lines, with the claim step that reduced it and its derivation text.
-- Grain: one row per claim_level line of cmp_claim_lines (line_id = the pricer's row_id); the claims'
-- other lines were priced only to rank them with these.
-- Inputs: cmp_claim_prices_raw (the fee_schedules.claims.price_claims output registered from
-- Python, compare._price).
-- allowed is the line's whole Medicare allowed after every claim-level rule (all units: multiple
-- procedure rank, endoscopy family, imaging/therapy/cardiology reductions, bilateral pair,
-- anesthesia group, lesser of charge, status T); claim_step names the rule(s) that reduced it
-- (NULL when none) and derivation every step with its amounts, as the pricer wrote them (the
-- claim step among them); medicare_text is the derivation as the explanation quotes it.
SELECT
    CAST(row_id AS BIGINT)                     AS line_id,
    CAST(status AS VARCHAR)                    AS status,
    CAST(reason AS VARCHAR)                    AS not_priced_reason,
    CAST(allowed AS DECIMAL(14,2))             AS allowed,
    CAST(full_amount AS DECIMAL(14,2))         AS full_amount,
    CAST(fee AS DECIMAL(14,2))                 AS fee,
    CAST(claim_step AS VARCHAR)                AS claim_step,
    CAST(derivation AS VARCHAR)                AS derivation,
    CAST(mpfs_year AS INTEGER)                 AS mpfs_year,
    CAST(mpfs_release AS VARCHAR)              AS mpfs_release,
    CAST(locality_code AS VARCHAR)             AS locality_code,
    CAST(CASE WHEN facility THEN 'facility' ELSE 'non-facility' END AS VARCHAR) AS setting,
    CAST(mult_proc AS VARCHAR)                 AS mult_proc,
    CAST(CASE WHEN status = 'priced' THEN
              'Medicare ' || coalesce(CAST(mpfs_year AS VARCHAR), '?') || ' locality '
              || coalesce(left(locality_code, 5) || '-' || right(locality_code, 2), '?')
              || CASE WHEN facility THEN ' facility' ELSE ' non-facility' END
              || ' claim-level allowed ' || cmp_money(allowed)
              || coalesce(' [' || derivation || ']', '')   -- the derivation includes the claim step
         END AS VARCHAR)                       AS medicare_text
FROM cmp_claim_prices_raw
WHERE claim_level
