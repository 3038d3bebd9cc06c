-- The contract version that applies to each line: payer id (else payer name), payee TIN, date of service.
-- Grain: one row per line of cmp_lines; contract_idx NULL when none applies.
-- Payer ids are tried against every id the 835 carries (payer_id, N1*PR04, REF*2U, TRN03); names
-- are a fallback only for payments no contract claims by id. Among versions in force on the date of
-- service the latest `effective` wins (the checker flags overlaps).
WITH pay AS (   -- matching is per payment (a few thousand), not per line
    SELECT payment_id,
           upper(payer_id) AS key_payer_id, upper(payer_n1_id) AS key_n1_id, upper(payer_ref_2u) AS key_ref_2u,
           upper(originating_company_id) AS key_trn03,
           regexp_replace(upper(trim(payer_name)), '\s+', ' ', 'g') AS key_name,
           payee_tin
    FROM payments
    WHERE payment_id IN (SELECT DISTINCT payment_id FROM cmp_lines)
),
id_hits AS (
    SELECT DISTINCT p.payment_id, k.contract_idx
    FROM pay p JOIN ct_payer_keys k
      ON k.kind = 'id' AND k.key IN (p.key_payer_id, p.key_n1_id, p.key_ref_2u, p.key_trn03)
),
name_hits AS (
    SELECT DISTINCT p.payment_id, k.contract_idx
    FROM pay p JOIN ct_payer_keys k ON k.kind = 'name' AND k.key = p.key_name
    WHERE p.payment_id NOT IN (SELECT payment_id FROM id_hits)
),
hits AS (
    SELECT h.payment_id, h.contract_idx
    FROM (SELECT * FROM id_hits UNION ALL SELECT * FROM name_hits) h
    JOIN pay p ON p.payment_id = h.payment_id
    WHERE p.payee_tin IS NULL
       OR NOT EXISTS (SELECT 1 FROM ct_tins t WHERE t.contract_idx = h.contract_idx)
       OR EXISTS (SELECT 1 FROM ct_tins t WHERE t.contract_idx = h.contract_idx AND t.tin = p.payee_tin)
),
in_force AS (
    SELECT l.line_id, h.contract_idx
    FROM cmp_lines l
    JOIN hits h ON h.payment_id = l.payment_id
    JOIN ct_contracts c ON c.contract_idx = h.contract_idx
    WHERE l.service_date >= c.effective AND (c.expires IS NULL OR l.service_date <= c.expires)
    QUALIFY row_number() OVER (PARTITION BY l.line_id ORDER BY c.effective DESC, c.contract_idx) = 1
)
SELECT l.line_id,
       f.contract_idx,
       l.payment_id IN (SELECT payment_id FROM hits) AS payer_has_contract
FROM cmp_lines l
LEFT JOIN in_force f ON f.line_id = l.line_id
