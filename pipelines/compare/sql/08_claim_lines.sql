-- Step 08, cmp_claim_lines: the lines Medicare's claim-level rules price, as the input rows of fee_schedules.claims.price_claims.
-- Grain: one row per service line whose contract has modifier_adjustments `medicare` and whose
-- term is percent_of_medicare (not carved out, amounts believed, not a CLP02=22 reversal) and
-- that has a Medicare locality (cmp_line_keys): claim_level true; and one per other line of those
-- claims (a fixed rate, a carve-out, ...): claim_level false. Medicare ranks every procedure of a
-- claim together, so those lines take their place in the claim's ranking, bundling and anesthesia
-- case; only the claim_level lines' prices are used (10_claim_prices.sql).
-- Inputs: cmp_lines (02), cmp_match (03), cmp_terms (04), cmp_line_keys (05), ct_contracts,
-- claims, payments, cmp_roster (contracts.providers.load_roster of the contracts folder: npi,
-- provider_type; registered from Python).
-- One claim for the pricer = one claim (CLP) of one rendering provider: claim_key is the claim id
-- and the rendering NPI (NM1*82, else the payee NPI); the pricer adds the date of service. Every
-- such line of the claim is sent, whatever the payer did with it (Medicare ranks denied lines too).
-- units: SVC05 (NULL = 1). Anesthesia codes (00100-01999) carry their time in SVC05: minutes
-- when the contract's anesthesia_time is `minutes`, 15-minute units when `units` (minutes =
-- units x 15); their units are then 1. charge: the billed charge (SVC02) when not negative:
-- Medicare's lesser of charge is part of Medicare's allowed. provider_type: the roster's type
-- of the rendering NPI, NULL (a physician) when it is not listed.
WITH claim_level_lines AS ( -- lines of medicare-rule contracts priced at a percent of Medicare
    SELECT l.line_id, l.claim_id, l.payment_id, l.line_number, l.procedure_code, l.modifiers, l.units,
           l.billed, l.facility, c.anesthesia_time
    FROM cmp_lines l
    JOIN cmp_match m ON m.line_id = l.line_id
    JOIN ct_contracts c ON c.contract_idx = m.contract_idx
    JOIN cmp_terms t
      ON t.contract_idx = m.contract_idx AND t.procedure_code = l.procedure_code
     AND t.modifiers_key = l.modifiers_key AND t.facility = l.facility
    WHERE c.modifier_mode = 'medicare' AND t.method = 'percent_of_medicare' AND NOT coalesce(t.excluded, false)
      AND l.implausible_amount IS NULL AND coalesce(l.claim_status, '') <> '22'
),
claim_lines AS (            -- the claim-level lines and every other line of their claims
    SELECT line_id, claim_id, payment_id, line_number, procedure_code, modifiers, units, billed, facility,
           anesthesia_time, true AS claim_level
    FROM claim_level_lines
    UNION ALL
    SELECT l.line_id, l.claim_id, l.payment_id, l.line_number, l.procedure_code, l.modifiers, l.units,
           l.billed, l.facility, c.anesthesia_time, false AS claim_level
    FROM cmp_lines l
    JOIN cmp_match m ON m.line_id = l.line_id
    JOIN ct_contracts c ON c.contract_idx = m.contract_idx
    WHERE l.claim_id IN (SELECT claim_id FROM claim_level_lines)
      AND l.line_id NOT IN (SELECT line_id FROM claim_level_lines)
      AND l.implausible_amount IS NULL AND coalesce(l.claim_status, '') <> '22'
),
rendering_providers AS (    -- per claim: the rendering NPI (NM1*82), else the payee NPI
    SELECT c.claim_id, coalesce(nullif(trim(c.rendering_provider_id), ''), nullif(trim(p.payee_npi), '')) AS npi
    FROM claims c JOIN payments p ON p.payment_id = c.payment_id
    WHERE c.claim_id IN (SELECT claim_id FROM claim_level_lines)
),
anesthesia_time AS (        -- per line: whether SVC05 is anesthesia time, and the minutes it says
    SELECT line_id,
           regexp_matches(procedure_code, '^0[01][0-9]{3}$') AND procedure_code >= '00100' AS anesthesia,
           CASE WHEN anesthesia_time = 'units' THEN units * 15 ELSE units END AS minutes
    FROM claim_lines
)
SELECT
    CAST(cl.line_id AS BIGINT)                 AS row_id,
    CAST(cl.claim_id || ':' || coalesce(rp.npi, '') AS VARCHAR) AS claim_key,
    CAST(cl.line_number AS BIGINT)             AS line,
    CAST(cl.procedure_code AS VARCHAR)         AS procedure_code,
    CAST(cl.modifiers AS VARCHAR[])            AS modifiers,
    CAST(CASE WHEN an.anesthesia THEN NULL ELSE cl.units END AS DECIMAL(14,3)) AS units,
    CAST(CASE WHEN an.anesthesia THEN an.minutes END AS DECIMAL(14,3)) AS minutes,
    CAST(CASE WHEN cl.billed >= 0 THEN cl.billed END AS DECIMAL(14,2)) AS charge,
    CAST(nullif(lk.k_zip, '') AS VARCHAR)      AS zip,
    CAST(nullif(lk.k_locality, '') AS VARCHAR) AS locality,
    CAST(cl.facility AS BOOLEAN)               AS facility,
    CAST(ro.provider_type AS VARCHAR)          AS provider_type,
    CAST(nullif(lk.k_year, 0) AS INTEGER)      AS year,
    CAST(lk.service_date AS DATE)              AS service_date,
    CAST(lk.qp AS BOOLEAN)                     AS qp,
    CAST(cl.claim_level AS BOOLEAN)            AS claim_level
FROM claim_lines cl
JOIN cmp_line_keys lk ON lk.line_id = cl.line_id
JOIN anesthesia_time an ON an.line_id = cl.line_id
LEFT JOIN rendering_providers rp ON rp.claim_id = cl.claim_id
LEFT JOIN cmp_roster ro ON ro.npi = rp.npi
