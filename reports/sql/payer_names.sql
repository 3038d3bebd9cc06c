-- Payer names, for titles. Grain: one row per payer_id seen in variances.
SELECT payer_id, max(payer_name) AS payer_name, count(*) AS lines FROM variances GROUP BY payer_id ORDER BY payer_id
