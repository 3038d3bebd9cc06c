-- Lines of the worklist's claims: the underpaid and denied lines paid in $month of the claims in
-- $claim_ids (the claims the HTML shows), for the expandable lines under each worklist claim.
-- Grain: one row per service line (line_id); per claim, largest at stake first (the order
-- worklist.sql lists the explanations in). Same filter and at_stake as worklist.sql.
SELECT
    claim_id::BIGINT                                                          AS claim_id,
    line_id::BIGINT                                                           AS line_id,
    procedure_code::VARCHAR                                                   AS procedure_code,
    nullif(array_to_string(coalesce(modifiers, []), ' '), '')                 AS modifiers,       -- e.g. "25 59"
    units::DECIMAL(12,3)                                                      AS units,
    service_date::DATE                                                        AS service_date,
    category::VARCHAR                                                         AS category,        -- underpaid | denied
    nullif(array_to_string(list_concat(coalesce(carc_codes, []), coalesce(rarc_codes, [])), ' '), '')
                                                                              AS adjustment_codes, -- CARCs then RARCs
    expected_allowed::DECIMAL(14,2)                                           AS expected_allowed,
    actual_allowed::DECIMAL(14,2)                                             AS actual_allowed,
    variance::DECIMAL(14,2)                                                   AS variance,
    rpt_at_stake(category, variance, billed)::DECIMAL(14,2)                   AS at_stake,
    explanation::VARCHAR                                                      AS explanation
FROM variances
WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer)
  AND category IN ('underpaid', 'denied')
  AND list_contains($claim_ids, claim_id)
ORDER BY claim_id, at_stake DESC NULLS LAST, line_id
