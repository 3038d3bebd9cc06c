-- Remark codes (RARC) seen on the lines paid in $month.
-- Grain: one row per remark code; lines counts every line carrying it, denied_lines the denied ones.
WITH codes AS (
    SELECT unnest(rarc_codes) AS code, category
    FROM variances
    WHERE payment_month = $month AND ($payer IS NULL OR payer_id = $payer) AND len(rarc_codes) > 0
)
SELECT code                                          AS remark_code,
       count(*)                                      AS lines,
       count(*) FILTER (WHERE category = 'denied')   AS denied_lines
FROM codes
GROUP BY code
ORDER BY lines DESC, code
