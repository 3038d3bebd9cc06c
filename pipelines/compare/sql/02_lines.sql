-- Step 02, cmp_lines: the service lines to compare, with what the 835 says was allowed, adjusted and paid.
-- Grain: one row per service line in scope: lines of remittances paid in the month (BPR16) and
-- for the payer asked for (all when not given), plus the original lines that an in-scope
-- reversal cancels (so both sides of a reversal are recomputed together).
-- Inputs: payments, claims, service_lines, adjustments, cmp_reversal_pairs (01).
-- Parameters: $month_start, $month_end (DATE or NULL), $payer (VARCHAR or NULL), $undated (BOOLEAN:
--             true: only payments without a BPR16 date, the last chunk of a comparison in chunks),
--             $facility_pos (VARCHAR[]: places of service priced with facility PE RVUs,
--             pipelines.core.places), $amount_ceiling (pipelines.core.money.LINE_AMOUNT_CEILING).
-- Actual allowed = AMT*B6, else billed - CO/OA/PI adjustments other than CO-253 (sequestration);
-- it and the patient share are summed in DECIMAL(38,2) and kept as DECIMAL(14,2) (cmp_in_money:
-- NULL when a sum does not fit, and then the line is implausible, below).
-- implausible_amount says which of the line's amounts (charge, paid, allowed, allowed computed,
-- patient share) is first at or above $amount_ceiling in absolute value, and how much, in words:
-- such a line is not priced (step 11) but kept as a data-quality problem (step 12).
WITH scope_payments AS (    -- payments of the month / payer asked for
    SELECT payment_id
    FROM payments p
    WHERE CASE WHEN coalesce(CAST($undated AS BOOLEAN), false) THEN p.payment_date IS NULL
               ELSE CAST($month_start AS DATE) IS NULL
                    OR (p.payment_date >= CAST($month_start AS DATE) AND p.payment_date < CAST($month_end AS DATE)) END
      AND (CAST($payer AS VARCHAR) IS NULL OR upper(CAST($payer AS VARCHAR)) IN (upper(p.payer_id), upper(p.payer_n1_id), upper(p.payer_ref_2u),
                                                upper(p.originating_company_id), upper(p.payer_name)))
),
scope_claims AS (           -- their claims, and the originals their reversals cancel
    SELECT claim_id FROM claims WHERE payment_id IN (SELECT payment_id FROM scope_payments)
    UNION
    SELECT rp.original_claim_id
    FROM cmp_reversal_pairs rp JOIN claims c ON c.claim_id = rp.reversal_claim_id
    WHERE rp.original_claim_id IS NOT NULL AND c.payment_id IN (SELECT payment_id FROM scope_payments)
),
line_adjustments AS (       -- per line: contractual and patient amounts, CARCs, pending (CARC 133)
    SELECT a.line_id,
           sum(a.amount) FILTER (WHERE a.group_code IN ('CO', 'OA', 'PI')
                                   AND NOT (a.group_code = 'CO' AND a.reason_code = '253')) AS contractual,
           sum(a.amount) FILTER (WHERE a.group_code = 'PR') AS patient_share,
           list_sort(list_distinct(list(a.group_code || '-' || a.reason_code))) AS carcs,
           bool_or(a.reason_code = '133') AS pending
    FROM adjustments a
    WHERE a.line_id IS NOT NULL AND a.claim_id IN (SELECT claim_id FROM scope_claims)
    GROUP BY a.line_id
),
claim_adjustments AS (      -- per claim: claim-level CARCs and pending
    SELECT a.claim_id,
           list_sort(list_distinct(list(a.group_code || '-' || a.reason_code))) AS carcs,
           bool_or(a.reason_code = '133') AS pending
    FROM adjustments a
    WHERE a.line_id IS NULL AND a.claim_id IN (SELECT claim_id FROM scope_claims)
    GROUP BY a.claim_id
),
reversal_roles AS (         -- each claim of a reversal pair, its role and the other claim
    SELECT reversal_claim_id AS claim_id, original_claim_id AS other_claim_id, 'reversal' AS reversal_role
    FROM cmp_reversal_pairs
    UNION ALL
    SELECT original_claim_id, reversal_claim_id, 'original'
    FROM cmp_reversal_pairs WHERE original_claim_id IS NOT NULL
)
SELECT
    CAST(sl.line_id AS BIGINT)                                          AS line_id,
    CAST(sl.claim_id AS BIGINT)                                         AS claim_id,
    CAST(sl.payment_id AS BIGINT)                                       AS payment_id,
    CAST(sl.file_id AS BIGINT)                                          AS file_id,
    CAST(sl.line_number AS INTEGER)                                     AS line_number,
    CAST(p.payer_id AS VARCHAR)                                         AS payer_id,
    CAST(p.payer_name AS VARCHAR)                                       AS payer_name,
    CAST(c.patient_control_number AS VARCHAR)                           AS patient_control_number,
    CAST(c.payer_claim_number AS VARCHAR)                               AS payer_claim_number,
    CAST(sl.line_control_number AS VARCHAR)                             AS line_control_number,
    CAST(c.status_code AS VARCHAR)                                      AS claim_status,
    CAST(c.place_of_service AS VARCHAR)                                 AS place_of_service,
    CAST(coalesce(list_contains(CAST($facility_pos AS VARCHAR[]), lpad(trim(c.place_of_service), 2, '0')), false)
         AS BOOLEAN)                                                    AS facility,
    CAST(sl.service_date AS DATE)                                       AS service_date,
    CAST(p.payment_date AS DATE)                                        AS payment_date,
    CAST(date_trunc('month', p.payment_date) AS DATE)                   AS payment_month,
    CAST(upper(sl.procedure_code) AS VARCHAR)                           AS procedure_code,
    CAST(coalesce(list_transform(sl.modifiers, lambda m: upper(m)), []) AS VARCHAR[]) AS modifiers,
    CAST(array_to_string(coalesce(list_transform(sl.modifiers, lambda m: upper(m)), []), '-') AS VARCHAR) AS modifiers_key,
    CAST(CASE WHEN list_contains(sl.modifiers, '26') THEN '26' WHEN list_contains(sl.modifiers, 'TC') THEN 'TC'
              WHEN list_contains(sl.modifiers, '53') THEN '53' ELSE '' END AS VARCHAR) AS price_modifier,
    CAST(coalesce(sl.units, 1) AS DECIMAL(12,3))                        AS units,
    CAST(sl.charge AS DECIMAL(14,2))                                    AS billed,
    CAST(sl.paid AS DECIMAL(14,2))                                      AS paid,
    CAST(sl.allowed AS DECIMAL(14,2))                                   AS allowed_b6,
    CAST(cmp_in_money(coalesce(sl.allowed, sl.charge - coalesce(la.contractual, 0))) AS DECIMAL(14,2)) AS actual_allowed,
    CAST(cmp_in_money(coalesce(la.patient_share, 0)) AS DECIMAL(14,2)) AS patient_responsibility,
    CAST(CASE WHEN abs(sl.charge) >= CAST($amount_ceiling AS DECIMAL(14,2))
                  THEN 'charge (SVC02) ' || cmp_money(sl.charge)
              WHEN abs(sl.paid) >= CAST($amount_ceiling AS DECIMAL(14,2))
                  THEN 'paid (SVC03) ' || cmp_money(sl.paid)
              WHEN abs(sl.allowed) >= CAST($amount_ceiling AS DECIMAL(14,2))
                  THEN 'allowed (' || cmp_seg('AMT', 'B6') || ') ' || cmp_money(sl.allowed)
              WHEN abs(sl.charge - coalesce(la.contractual, 0)) >= CAST($amount_ceiling AS DECIMAL(14,2))
                  THEN 'allowed (charge less CO/OA/PI adjustments) '
                       || cmp_money(CAST(sl.charge - coalesce(la.contractual, 0) AS DECIMAL(38,2)))
              WHEN abs(coalesce(la.patient_share, 0)) >= CAST($amount_ceiling AS DECIMAL(14,2))
                  THEN 'patient responsibility (' || cmp_seg('CAS', 'PR') || ') ' || cmp_money(CAST(la.patient_share AS DECIMAL(38,2)))
         END || ' is at or above ' || cmp_money(CAST($amount_ceiling AS DECIMAL(14,2)))
         || ', beyond what one service line plausibly carries' AS VARCHAR) AS implausible_amount,
    CAST(sl.segment_number AS BIGINT)                                   AS segment_number,
    CAST(list_sort(list_distinct(list_concat(coalesce(la.carcs, []), coalesce(ca.carcs, [])))) AS VARCHAR[]) AS carc_codes,
    CAST(coalesce(sl.remark_codes, []) AS VARCHAR[])                    AS rarc_codes,
    CAST(coalesce(la.pending, false) OR coalesce(ca.pending, false) AS BOOLEAN) AS pending,
    CAST(sl.original_procedure_code IS NOT NULL
         AND (upper(sl.original_procedure_code) <> upper(sl.procedure_code)
              OR coalesce(sl.original_modifiers, []) <> coalesce(sl.modifiers, [])) AS BOOLEAN) AS recoded,
    CAST(sl.original_procedure_code AS VARCHAR)                         AS original_procedure_code,
    CAST(rev.reversal_role AS VARCHAR)                                  AS reversal_role,
    CAST(rev.other_claim_id AS BIGINT)                                  AS reversal_other_claim_id
FROM service_lines sl
JOIN claims c   ON c.claim_id = sl.claim_id
JOIN payments p ON p.payment_id = sl.payment_id
LEFT JOIN line_adjustments la  ON la.line_id = sl.line_id
LEFT JOIN claim_adjustments ca ON ca.claim_id = sl.claim_id
LEFT JOIN reversal_roles rev   ON rev.claim_id = sl.claim_id
WHERE sl.claim_id IN (SELECT claim_id FROM scope_claims)
