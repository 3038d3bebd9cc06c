-- Denied lines by adjustment group and reason (CARC) in $month.
-- Grain: one row per 'GROUP-REASON' code found on denied lines (a line with two codes counts
-- under both). Codes are stored as e.g. 'CO-97' in variances.carc_codes.
WITH codes AS (
    SELECT unnest(coalesce(carc_codes, ['(none)'])) AS code, billed, expected_allowed
    FROM variances
    WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer) AND category = 'denied'
)
SELECT
    CASE WHEN position('-' IN code) > 0 THEN split_part(code, '-', 1) ELSE '' END   AS group_code,
    CASE WHEN position('-' IN code) > 0 THEN substr(code, position('-' IN code) + 1) ELSE code END AS reason_code,
    count(*)                                                    AS lines,
    coalesce(sum(billed), 0)::DECIMAL(38,2)                     AS billed,
    coalesce(sum(expected_allowed), 0)::DECIMAL(38,2)           AS expected_allowed
FROM codes
GROUP BY ALL
ORDER BY lines DESC, billed DESC, group_code, reason_code
