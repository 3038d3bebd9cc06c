-- What Medicare pricing each line needs: code, component modifier, date, year, locality, setting.
-- Grain: one row per line of cmp_lines that can be priced (has a code, a date and a locality).
-- The locality is the contract's medicare zip/locality, else the practice's ($practice_zip /
-- $practice_locality from underpay.toml). Key columns are never NULL ('' / 0 stand for "none")
-- so the distinct keys join back by plain equality.
SELECT l.line_id,
       l.procedure_code,
       l.price_modifier,
       l.service_date,
       coalesce(c.medicare_year, 0)                        AS k_year,
       CASE WHEN c.medicare_zip IS NOT NULL OR c.medicare_locality IS NOT NULL
            THEN coalesce(c.medicare_zip, '') ELSE coalesce(CAST($practice_zip AS VARCHAR), '') END         AS k_zip,
       CASE WHEN c.medicare_zip IS NOT NULL OR c.medicare_locality IS NOT NULL
            THEN coalesce(c.medicare_locality, '') ELSE coalesce(CAST($practice_locality AS VARCHAR), '') END AS k_locality,
       l.facility,
       coalesce(c.medicare_qp, false)                      AS qp
FROM cmp_lines l
JOIN cmp_match m ON m.line_id = l.line_id
LEFT JOIN ct_contracts c ON c.contract_idx = m.contract_idx
WHERE l.procedure_code IS NOT NULL AND l.service_date IS NOT NULL
  AND (c.medicare_zip IS NOT NULL OR c.medicare_locality IS NOT NULL
       OR CAST($practice_zip AS VARCHAR) IS NOT NULL OR CAST($practice_locality AS VARCHAR) IS NOT NULL)
