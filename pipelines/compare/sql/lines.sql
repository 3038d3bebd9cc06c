-- The service lines to compare, with what the 835 says was allowed, adjusted and paid.
-- Grain: one row per service line in scope: lines of remittances paid in the month (BPR16) and
-- for the payer asked for (all when not given), plus the original lines that an in-scope
-- reversal cancels (so both sides of a reversal are recomputed together).
-- Parameters: $month_start, $month_end (DATE or NULL), $payer (VARCHAR or NULL),
--             $facility_pos (VARCHAR[]: places of service priced with facility PE RVUs).
-- Needs: cmp_reversal_pairs (compare_reversals.sql).
WITH scope_payments AS (
    SELECT payment_id
    FROM payments p
    WHERE (CAST($month_start AS DATE) IS NULL
           OR (p.payment_date >= CAST($month_start AS DATE) AND p.payment_date < CAST($month_end AS DATE)))
      AND (CAST($payer AS VARCHAR) IS NULL OR upper(CAST($payer AS VARCHAR)) IN (upper(p.payer_id), upper(p.payer_n1_id), upper(p.payer_ref_2u),
                                                upper(p.originating_company_id), upper(p.payer_name)))
),
scope_claims AS (
    SELECT claim_id FROM claims WHERE payment_id IN (SELECT payment_id FROM scope_payments)
    UNION
    SELECT rp.original_claim_id
    FROM cmp_reversal_pairs rp JOIN claims c ON c.claim_id = rp.reversal_claim_id
    WHERE rp.original_claim_id IS NOT NULL AND c.payment_id IN (SELECT payment_id FROM scope_payments)
),
line_adj AS (
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
claim_adj AS (
    SELECT a.claim_id,
           list_sort(list_distinct(list(a.group_code || '-' || a.reason_code))) AS carcs,
           bool_or(a.reason_code = '133') AS pending
    FROM adjustments a
    WHERE a.line_id IS NULL AND a.claim_id IN (SELECT claim_id FROM scope_claims)
    GROUP BY a.claim_id
),
rev AS (
    SELECT reversal_claim_id AS claim_id, original_claim_id AS other_claim_id, 'reversal' AS reversal_role
    FROM cmp_reversal_pairs
    UNION ALL
    SELECT original_claim_id, reversal_claim_id, 'original'
    FROM cmp_reversal_pairs WHERE original_claim_id IS NOT NULL
)
SELECT
    sl.line_id,
    sl.claim_id,
    sl.payment_id,
    sl.file_id,
    sl.line_number,
    p.payer_id,
    p.payer_name,
    c.patient_control_number,
    c.payer_claim_number,
    sl.line_control_number,
    c.status_code                                      AS claim_status,
    c.place_of_service,
    coalesce(list_contains(CAST($facility_pos AS VARCHAR[]), lpad(trim(c.place_of_service), 2, '0')), false) AS facility,
    sl.service_date,
    p.payment_date,
    CAST(date_trunc('month', p.payment_date) AS DATE)  AS payment_month,
    upper(sl.procedure_code)                           AS procedure_code,
    coalesce(list_transform(sl.modifiers, lambda m: upper(m)), [])      AS modifiers,
    array_to_string(coalesce(list_transform(sl.modifiers, lambda m: upper(m)), []), '-') AS modifiers_key,
    CASE WHEN list_contains(sl.modifiers, '26') THEN '26' WHEN list_contains(sl.modifiers, 'TC') THEN 'TC'
         WHEN list_contains(sl.modifiers, '53') THEN '53' ELSE '' END AS price_modifier,
    CAST(coalesce(sl.units, 1) AS DECIMAL(12,3))       AS units,
    CAST(sl.charge AS DECIMAL(14,2))                   AS billed,
    CAST(sl.paid AS DECIMAL(14,2))                     AS paid,
    sl.allowed                                         AS allowed_b6,
    CAST(coalesce(sl.allowed, sl.charge - coalesce(la.contractual, 0)) AS DECIMAL(14,2)) AS actual_allowed,
    CAST(coalesce(la.patient_share, 0) AS DECIMAL(14,2)) AS patient_responsibility,
    list_sort(list_distinct(list_concat(coalesce(la.carcs, []), coalesce(ca.carcs, [])))) AS carc_codes,
    coalesce(sl.remark_codes, [])                      AS rarc_codes,
    coalesce(la.pending, false) OR coalesce(ca.pending, false) AS pending,
    (sl.original_procedure_code IS NOT NULL
        AND (upper(sl.original_procedure_code) <> upper(sl.procedure_code)
             OR coalesce(sl.original_modifiers, []) <> coalesce(sl.modifiers, []))) AS recoded,
    sl.original_procedure_code,
    rev.reversal_role,
    rev.other_claim_id                                 AS reversal_other_claim_id
FROM service_lines sl
JOIN claims c   ON c.claim_id = sl.claim_id
JOIN payments p ON p.payment_id = sl.payment_id
LEFT JOIN line_adj la  ON la.line_id = sl.line_id
LEFT JOIN claim_adj ca ON ca.claim_id = sl.claim_id
LEFT JOIN rev          ON rev.claim_id = sl.claim_id
WHERE sl.claim_id IN (SELECT claim_id FROM scope_claims)
