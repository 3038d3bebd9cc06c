-- The billing codes the practice bills: every procedure code of its loaded 835 service lines, as compared
-- with a TiC file's billing_code (trimmed, upper case). Grain: one row per code. Input: service_lines.
SELECT DISTINCT CAST(upper(trim(procedure_code)) AS VARCHAR) AS billing_code
FROM service_lines
WHERE procedure_code IS NOT NULL AND trim(procedure_code) <> ''
ORDER BY billing_code
