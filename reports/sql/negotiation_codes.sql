-- Negotiation pack: allowed amounts per payer and code over the window $first..$through.
-- Grain: one row per (payer, procedure code, pricing modifier) for every payer, restricted to the
-- codes billed to $payer in the window. Only lines the payer allowed count (actual_allowed > 0;
-- denied, reversed, secondary and pending lines excluded). pricing_modifier is '26' / 'TC' (the
-- component Medicare prices separately) or ''. volume = units.
WITH window_lines AS (
    SELECT *,
           CASE WHEN list_contains(modifiers, '26') THEN '26'
                WHEN list_contains(modifiers, 'TC') THEN 'TC' ELSE '' END AS pricing_modifier
    FROM variances
    WHERE payment_month BETWEEN $first AND $through
      AND category NOT IN ('denied', 'reversed', 'secondary', 'pending')
      AND actual_allowed > 0
), codes AS (
    SELECT DISTINCT procedure_code, pricing_modifier FROM window_lines WHERE payer_id = $payer
)
SELECT
    w.payer_id                                                             AS payer_id,
    max(w.payer_name)                                                      AS payer_name,
    w.procedure_code                                                       AS procedure_code,
    w.pricing_modifier                                                     AS modifier,
    count(*)                                                               AS lines,
    sum(w.units)::DECIMAL(18,3)                                            AS volume,
    sum(w.actual_allowed)::DECIMAL(38,2)                                   AS allowed,
    rpt_money_per(sum(w.actual_allowed), sum(w.units))::DECIMAL(38,2)       AS avg_allowed,
    rpt_money_per(sum(w.medicare_unit_amount), count(w.medicare_unit_amount))::DECIMAL(38,2)
                                                                           AS medicare_unit_amount_seen,
    avg(CASE WHEN w.facility THEN 1 ELSE 0 END) >= 0.5                     AS mostly_facility,
    max(w.service_date)                                                    AS last_service_date
FROM window_lines w JOIN codes c USING (procedure_code, pricing_modifier)
GROUP BY w.payer_id, w.procedure_code, w.pricing_modifier
ORDER BY w.procedure_code, w.pricing_modifier, w.payer_id
