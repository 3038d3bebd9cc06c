-- Negotiation pack: denied lines per code for $payer over $first..$through (context for volume).
-- Grain: one row per (procedure code, pricing modifier) with denied lines.
SELECT procedure_code,
       CASE WHEN list_contains(modifiers, '26') THEN '26'
            WHEN list_contains(modifiers, 'TC') THEN 'TC' ELSE '' END AS modifier,
       count(*) AS denied_lines
FROM variances
WHERE payment_month BETWEEN $first AND $through AND payer_id = $payer AND category = 'denied'
GROUP BY ALL
