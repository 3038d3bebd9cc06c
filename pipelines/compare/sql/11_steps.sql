-- Step 11, cmp_steps: the money of the comparison: expected allowed per line, each step rounded
-- half-up to the cent and kept.
-- Grain: one row per line of cmp_lines. Narrow on purpose: the line's own columns stay in
-- cmp_lines; this table holds the contract, the Medicare price and the derivation.
-- Inputs: cmp_lines (02), cmp_match (03), cmp_terms (04), cmp_line_price (07), cmp_prices (09),
-- cmp_claim_prices (10), ct_contracts.
-- Parameters: $tolerance_amount, $tolerance_percent (defaults when a contract states none),
--             $pricing_note (why nothing could be priced, or NULL), $amount_ceiling
--             (pipelines.core.money.LINE_AMOUNT_CEILING: an expected amount at or above it is not believed).
-- Order of the money steps, each rounded half-up to the cent and kept:
--   step_base      rate | Medicare unit amount (price_lines) | billed charge
--                  | claim-level Medicare allowed of the line (claim_level, below: all units)
--   step_percent   x contract percent (percent_of_medicare / percent_of_charges)
--   step_modifier  x modifier / MPPR reduction_percent (bilateral, assistant, co-surgeon, rank)
--   step_units     x units (not for percent_of_charges: the charge already covers every unit)
--   step_lesser_of min(billed, step_units) when the contract says lesser_of_charges
-- claim_level: a percent_of_medicare line of a contract whose modifier_adjustments is `medicare`
-- is priced by Medicare's claim-level rules (fee_schedules.claims.price_claims, step 10): its base
-- is the line's whole Medicare allowed after every claim-level rule, so no modifier, MPPR or units
-- step follows (reduction_percent 100, units 1 in the arithmetic); reduction_reason names the
-- claim step (claim_step) that reduced it.
-- Every amount is computed in DECIMAL(38,2) (headroom: any stored amount x any percent x any
-- units computes) and leaves this step through cmp_in_money as DECIMAL(14,2), so the steps after
-- it work on 64-bit decimals; expected_implausible says when an amount was too big to believe.
-- A line with an implausible amount (cmp_lines.implausible_amount) gets no step at all.
-- MPPR: lines of one claim on one date whose RVU MULT PROC indicator is 2/3 (1/2/3 with a custom
-- `mppr` list) are ranked by their full expected amount (after bilateral/assistant/table percents;
-- a claim_level line by its pricer full_amount x contract percent), whatever the payer did with
-- them; rank 1 keeps 100%, the others 50% (or the contract's list). The rank reduces only the
-- lines that are not claim_level (the claim pricer already ranked those among themselves).
WITH line_medicare_price AS (   -- each priced line with its key's Medicare amount, or its claim-level one (cmp_claim_prices)
    SELECT lp.line_id,
           CASE WHEN cp.line_id IS NULL THEN pr.status ELSE cp.status END AS status,
           CASE WHEN cp.line_id IS NULL THEN pr.not_priced_reason ELSE cp.not_priced_reason END AS not_priced_reason,
           CASE WHEN cp.line_id IS NULL THEN pr.amount ELSE cp.fee END AS amount,
           pr.opps_capped,
           CASE WHEN cp.line_id IS NULL THEN pr.mpfs_year ELSE cp.mpfs_year END AS mpfs_year,
           CASE WHEN cp.line_id IS NULL THEN pr.mpfs_release ELSE cp.mpfs_release END AS mpfs_release,
           CASE WHEN cp.line_id IS NULL THEN pr.locality_code ELSE cp.locality_code END AS locality_code,
           CASE WHEN cp.line_id IS NULL THEN pr.setting ELSE cp.setting END AS setting,
           pr.work_rvu, pr.pe_rvu, pr.mp_rvu, pr.work_gpci, pr.pe_gpci, pr.mp_gpci, pr.conversion_factor,
           CASE WHEN cp.line_id IS NULL THEN pr.mult_proc ELSE coalesce(cp.mult_proc, pr.mult_proc) END AS mult_proc,
           pr.bilat_surg, pr.asst_surg,
           CASE WHEN cp.line_id IS NULL THEN pr.medicare_text ELSE cp.medicare_text END AS medicare_text,
           cp.allowed AS claim_allowed, cp.full_amount AS claim_full_amount, cp.claim_step,
           pr.schedule, pr.unit_rate
    FROM cmp_line_price lp
    JOIN cmp_prices pr ON pr.price_row = lp.price_row
    LEFT JOIN cmp_claim_prices cp   -- a code another schedule prices (a drug, a lab test) is not the claim pricer's
           ON cp.line_id = lp.line_id AND pr.schedule = 'mpfs'
),
line_inputs AS (            -- per line: what the arithmetic needs from the line, contract, term and price
    SELECT l.line_id, l.claim_id, l.line_number, l.claim_status, l.service_date, l.procedure_code,
           l.modifiers, l.units, l.billed, l.implausible_amount,
           m.contract_idx, m.payer_has_contract,
           c.lesser_of_charges, c.modifier_mode, c.mppr,
           CAST(coalesce(c.tolerance_amount, $tolerance_amount) AS DECIMAL(14,2)) AS tolerance_amount,
           CAST(coalesce(c.tolerance_percent, $tolerance_percent) AS DECIMAL(9,3)) AS tolerance_percent,
           t.method, coalesce(t.excluded, false) AS excluded, t.term_idx, t.term_line, t.term_label, t.term_text,
           t.term_value, t.rate, t.rate_modifier, t.rate_row, coalesce(t.priced_modifiers, []) AS priced_modifiers,
           coalesce(t.table_percent, CAST(100 AS DECIMAL(9,3))) AS table_percent, t.table_reason,
           p.status AS price_status, p.not_priced_reason AS price_reason,
           CAST(p.amount AS DECIMAL(14,2)) AS medicare_unit_amount,
           coalesce(p.opps_capped, false) AS opps_capped,
           p.mpfs_year, p.mpfs_release, p.locality_code, p.setting,
           p.work_rvu, p.pe_rvu, p.mp_rvu, p.work_gpci, p.pe_gpci, p.mp_gpci, p.conversion_factor,
           p.mult_proc, p.bilat_surg, p.asst_surg, p.medicare_text,
           coalesce(c.modifier_mode = 'medicare' AND t.method = 'percent_of_medicare'
                    AND coalesce(p.schedule, 'mpfs') = 'mpfs', false) AS claim_level,
           coalesce(p.schedule, 'mpfs') AS medicare_schedule,
           CAST(p.unit_rate AS DECIMAL(18,5)) AS medicare_unit_rate,
           -- a percent term whose Medicare amount is another schedule's: the line is priced whole (rate x units)
           coalesce(p.schedule, 'mpfs') <> 'mpfs' AND t.method IN ('percent_of_medicare', 'percent_of_asp', 'percent_of_clfs',
               'percent_of_dmepos', 'percent_of_opps', 'percent_of_asc') AS line_priced,
           -- a percent_of_<schedule> term: the schedule it names (NULL: percent_of_medicare, any schedule)
           CASE t.method WHEN 'percent_of_asp' THEN 'asp' WHEN 'percent_of_clfs' THEN 'clfs'
                         WHEN 'percent_of_dmepos' THEN 'dmepos' WHEN 'percent_of_opps' THEN 'opps'
                         WHEN 'percent_of_asc' THEN 'asc' END AS term_schedule,
           CASE WHEN p.schedule IN ('dmepos', 'dmepos_pen') THEN 'dmepos' WHEN p.schedule IN ('asc_aa', 'asc_bb') THEN 'asc'
                ELSE coalesce(p.schedule, 'mpfs') END AS schedule_group,
           CAST(p.claim_allowed AS DECIMAL(14,2)) AS claim_allowed,
           CAST(p.claim_full_amount AS DECIMAL(14,2)) AS claim_full_amount, p.claim_step
    FROM cmp_lines l
    JOIN cmp_match m ON m.line_id = l.line_id
    LEFT JOIN ct_contracts c ON c.contract_idx = m.contract_idx
    LEFT JOIN cmp_terms t
           ON t.contract_idx = m.contract_idx AND t.procedure_code = l.procedure_code
          AND t.modifiers_key = l.modifiers_key AND t.facility = l.facility
    LEFT JOIN line_medicare_price p ON p.line_id = l.line_id
),
base_amount AS (            -- step_base and the contract percent; which Medicare modifier rules apply
    SELECT *,
           CAST(CASE WHEN implausible_amount IS NOT NULL THEN NULL   -- data quality: not priced
                     WHEN method = 'rate' THEN CAST(term_value AS DECIMAL(14,2))
                     WHEN method = 'rates_csv' THEN rate
                     WHEN method = 'percent_of_medicare' AND claim_level THEN claim_allowed
                     WHEN term_schedule IS NOT NULL AND term_schedule <> schedule_group THEN NULL
                     WHEN line_priced AND medicare_schedule = 'asp' AND NOT cmp_is_whole(units) THEN NULL  -- units_mismatch
                     WHEN line_priced THEN cmp_cents(medicare_unit_rate * units)
                     WHEN method = 'percent_of_medicare' THEN medicare_unit_amount
                     WHEN method = 'percent_of_charges' THEN billed
                END AS DECIMAL(38,2)) AS step_base,
           CASE WHEN method IN ('percent_of_medicare', 'percent_of_asp', 'percent_of_clfs', 'percent_of_dmepos',
                                'percent_of_opps', 'percent_of_asc', 'percent_of_charges')
                THEN CAST(term_value AS DECIMAL(9,3)) END AS contract_percent,
           modifier_mode = 'medicare' AND NOT claim_level AND NOT line_priced AND list_contains(modifiers, '50')
               AND NOT list_contains(priced_modifiers, '50') AS has_bilateral,
           modifier_mode = 'medicare' AND NOT claim_level AND NOT line_priced AND list_has_any(modifiers, ['80', '81', '82', 'AS'])
               AND NOT list_has_any(priced_modifiers, ['80', '81', '82', 'AS']) AS has_assistant,
           modifier_mode = 'medicare' AND NOT claim_level AND NOT line_priced AND list_contains(modifiers, '62')
               AND NOT list_contains(priced_modifiers, '62') AS has_cosurgeon
    FROM line_inputs
),
contract_percent_applied AS (   -- step_percent; the Medicare modifier percents (bilateral, assistant, co-surgeon)
    SELECT *,
           CASE WHEN contract_percent IS NULL THEN step_base ELSE cmp_pct_of(step_base, contract_percent) END AS step_percent,
           CASE WHEN has_bilateral THEN CASE bilat_surg WHEN '1' THEN 150 WHEN '3' THEN 200 ELSE 100 END END AS bilateral_percent,
           CASE WHEN has_assistant THEN CASE WHEN asst_surg = '1' THEN 0
                                             WHEN list_contains(modifiers, 'AS') THEN 13.6 ELSE 16 END END AS assistant_percent,
           CASE WHEN has_cosurgeon THEN 62.5 END AS cosurgeon_percent
    FROM base_amount
),
pre_rank_reduction AS (     -- the modifier percents combined; whether the line takes part in MPPR
    SELECT *,
           cmp_pct_mul(cmp_pct_mul(cmp_pct_mul(table_percent, coalesce(bilateral_percent, 100)),
                                   coalesce(assistant_percent, 100)), coalesce(cosurgeon_percent, 100)) AS pre_rank_percent,
           coalesce(method IS NOT NULL AND NOT excluded AND step_base IS NOT NULL
                    AND claim_status <> '22'
                    AND ((mppr IS NOT NULL AND mult_proc IN ('1', '2', '3'))
                         OR (mppr IS NULL AND modifier_mode = 'medicare' AND mult_proc IN ('2', '3'))), false) AS mppr_eligible
    FROM contract_percent_applied
),
mppr_ranks AS (             -- narrow on purpose: a window over every column of every line is the slow way
    SELECT line_id,
           row_number() OVER (PARTITION BY claim_id, service_date
                              ORDER BY CASE WHEN claim_level THEN cmp_pct_of(claim_full_amount, contract_percent)
                                            ELSE cmp_pct_of(step_percent, pre_rank_percent) END DESC,
                                       line_number, line_id) AS mppr_rank
    FROM pre_rank_reduction
    WHERE mppr_eligible
),
mppr_percents AS (          -- the rank's percent: 100 / 50, or the contract's mppr list
    SELECT s.*, CASE WHEN NOT s.claim_level THEN r.mppr_rank END AS mppr_rank,
           CASE WHEN r.mppr_rank IS NULL OR s.claim_level THEN NULL
                WHEN s.mppr IS NOT NULL THEN s.mppr[least(r.mppr_rank, array_length(s.mppr))]
                WHEN r.mppr_rank = 1 THEN 100 ELSE 50 END AS mppr_percent
    FROM pre_rank_reduction s LEFT JOIN mppr_ranks r ON r.line_id = s.line_id
),
reductions AS (             -- reduction_percent and the reasons for it, in words
    SELECT *,
           cmp_pct_mul(pre_rank_percent, coalesce(mppr_percent, 100)) AS reduction_percent,
           nullif(concat_ws('; ',
               table_reason,
               CASE WHEN has_bilateral THEN 'bilateral 50 ' || bilateral_percent || '% (indicator ' || coalesce(bilat_surg, '?') || ')' END,
               CASE WHEN has_assistant THEN 'assistant at surgery ' || cmp_num(assistant_percent) || '%'
                                            || CASE WHEN asst_surg = '1' THEN ' (indicator 1: not payable)' ELSE '' END END,
               CASE WHEN has_cosurgeon THEN 'co-surgeon 62 62.5%' END,
               CASE WHEN mppr_rank IS NOT NULL THEN 'multiple procedure rank ' || mppr_rank || ' ' || cmp_num(mppr_percent) || '%' END,
               CASE WHEN claim_level THEN claim_step END
           ), '') AS reduction_reason
    FROM mppr_percents
),
reduction_applied AS (      -- step_modifier
    SELECT *, cmp_pct_of(step_percent, reduction_percent) AS step_modifier
    FROM reductions
),
units_applied AS (          -- step_units
    SELECT *,
           CASE WHEN method = 'percent_of_charges' OR claim_level OR line_priced THEN step_modifier
                ELSE cmp_cents(step_modifier * units) END AS step_units
    FROM reduction_applied
),
lesser_of_applied AS (      -- step_lesser_of; the line's Medicare amount; why it was not priced
    SELECT *,
           coalesce(lesser_of_charges AND billed IS NOT NULL AND billed < step_units, false) AS lesser_applied,
           CASE WHEN coalesce(lesser_of_charges AND billed IS NOT NULL AND billed < step_units, false)
                THEN billed ELSE step_units END AS step_lesser_of,
           CASE WHEN claim_level THEN CAST(claim_allowed AS DECIMAL(38,2))
                WHEN medicare_schedule <> 'mpfs' THEN cmp_cents(medicare_unit_rate * units)
                ELSE cmp_cents(medicare_unit_amount * units) END AS medicare_allowed,
           CASE WHEN method IN ('percent_of_medicare', 'percent_of_asp', 'percent_of_clfs', 'percent_of_dmepos',
                                'percent_of_opps', 'percent_of_asc')
                     AND step_base IS NULL AND implausible_amount IS NULL THEN
                CASE WHEN term_schedule IS NOT NULL AND price_status = 'priced' AND term_schedule <> schedule_group
                       THEN method || ' term: ' || procedure_code || ' is priced by Medicare''s '
                            || upper(replace(medicare_schedule, '_', ' ')) || ' schedule, not ' || upper(term_schedule)
                            || ': give the code a term of its own'
                     WHEN line_priced AND medicare_schedule = 'asp' AND NOT cmp_is_whole(units)
                       THEN 'data quality: units_mismatch: ' || cmp_num(units) || ' units of ' || procedure_code
                            || ' do not fit its HCPCS dosage (units are whole multiples of it; the line may be billed in '
                            || 'NDC units): check the line'
                     ELSE coalesce(price_reason, $pricing_note,
                         'no Medicare locality: set medicare.zip or medicare.locality in the contract, or [practice] zip in underpay.toml')
                END
           END AS not_priced_reason
    FROM units_applied
)
SELECT
    CAST(line_id AS BIGINT)                    AS line_id,
    -- the contract and the term or rate row that priced the line
    CAST(contract_idx AS INTEGER)              AS contract_idx,
    CAST(payer_has_contract AS BOOLEAN)        AS payer_has_contract,
    CAST(method AS VARCHAR)                    AS method,
    CAST(excluded AS BOOLEAN)                  AS excluded,
    CAST(term_idx AS INTEGER)                  AS term_idx,
    CAST(term_line AS INTEGER)                 AS term_line,
    CAST(term_label AS VARCHAR)                AS term_label,
    CAST(term_text AS VARCHAR)                 AS term_text,
    CAST(rate_modifier AS VARCHAR)             AS rate_modifier,
    CAST(rate_row AS INTEGER)                  AS rate_row,
    CAST(claim_level AS BOOLEAN)               AS claim_level,
    CAST(claim_step AS VARCHAR)                AS claim_step,
    CAST(medicare_schedule AS VARCHAR)         AS medicare_schedule,
    CAST(line_priced AS BOOLEAN)               AS line_priced,
    CAST(tolerance_amount AS DECIMAL(14,2))    AS tolerance_amount,
    CAST(tolerance_percent AS DECIMAL(9,3))    AS tolerance_percent,
    -- the Medicare price (cmp_prices)
    CAST(price_status AS VARCHAR)              AS price_status,
    CAST(price_reason AS VARCHAR)              AS price_reason,
    CAST(medicare_unit_amount AS DECIMAL(14,2)) AS medicare_unit_amount,
    CAST(opps_capped AS BOOLEAN)               AS opps_capped,
    CAST(mpfs_year AS INTEGER)                 AS mpfs_year,
    CAST(mpfs_release AS VARCHAR)              AS mpfs_release,
    CAST(locality_code AS VARCHAR)             AS locality_code,
    CAST(setting AS VARCHAR)                   AS setting,
    CAST(work_rvu AS DECIMAL(9,2))             AS work_rvu,
    CAST(pe_rvu AS DECIMAL(9,2))               AS pe_rvu,
    CAST(mp_rvu AS DECIMAL(9,2))               AS mp_rvu,
    CAST(work_gpci AS DECIMAL(9,3))            AS work_gpci,
    CAST(pe_gpci AS DECIMAL(9,3))              AS pe_gpci,
    CAST(mp_gpci AS DECIMAL(9,3))              AS mp_gpci,
    CAST(conversion_factor AS DECIMAL(9,4))    AS conversion_factor,
    CAST(medicare_text AS VARCHAR)             AS medicare_text,
    CAST(cmp_in_money(medicare_allowed) AS DECIMAL(14,2)) AS medicare_allowed,
    CAST(not_priced_reason AS VARCHAR)         AS not_priced_reason,
    -- the money steps
    CAST(cmp_in_money(step_base) AS DECIMAL(14,2)) AS step_base,
    CAST(contract_percent AS DECIMAL(9,3))     AS contract_percent,
    CAST(cmp_in_money(step_percent) AS DECIMAL(14,2)) AS step_percent,
    CAST(reduction_percent AS DECIMAL(9,3))    AS reduction_percent,
    CAST(reduction_reason AS VARCHAR)          AS reduction_reason,
    CAST(mppr_rank AS INTEGER)                 AS mppr_rank,
    CAST(cmp_in_money(step_modifier) AS DECIMAL(14,2)) AS step_modifier,
    CAST(cmp_in_money(step_units) AS DECIMAL(14,2)) AS step_units,
    CAST(lesser_applied AS BOOLEAN)            AS lesser_applied,
    CAST(cmp_in_money(step_lesser_of) AS DECIMAL(14,2)) AS step_lesser_of,
    -- an expected amount nobody would believe (absurd units or rates), or a step that does not fit
    -- DECIMAL(14,2): worded here, where the exact DECIMAL(38,2) figures still are (step 12 screens it)
    CAST(CASE WHEN abs(step_lesser_of) >= CAST($amount_ceiling AS DECIMAL(14,2))
              THEN 'expected allowed ' || cmp_money(step_lesser_of) || ' (' || cmp_num(units) || ' units) is at or above '
                   || cmp_money(CAST($amount_ceiling AS DECIMAL(14,2))) || ', beyond what one service line plausibly carries'
              WHEN greatest(abs(step_base), abs(step_percent), abs(step_modifier), abs(step_units)) > 999999999999.99
              THEN 'a step of the expected allowed ('
                   || cmp_money(greatest(abs(step_base), abs(step_percent), abs(step_modifier), abs(step_units)))
                   || ') is beyond what one amount can hold ($999999999999.99)'
         END AS VARCHAR)                        AS expected_implausible
FROM lesser_of_applied
