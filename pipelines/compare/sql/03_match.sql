-- Step 03, cmp_match: the contract version that applies to each line: payer id (else payer name),
-- payee TIN, date of service.
-- Grain: one row per line of cmp_lines; contract_idx NULL when none applies.
-- Inputs: cmp_lines (02), payments, ct_payer_keys, ct_tins, ct_contracts (contracts.terms frames).
-- Payer ids are tried against every id the 835 carries (payer_id, N1*PR04, REF*2U, TRN03); names
-- are a fallback only for payments no contract claims by id. Among versions in force on the date of
-- service the latest `effective` wins (the checker flags overlaps).
WITH payment_keys AS (      -- matching is per payment (a few thousand), not per line
    SELECT payment_id,
           upper(payer_id) AS key_payer_id, upper(payer_n1_id) AS key_n1_id, upper(payer_ref_2u) AS key_ref_2u,
           upper(originating_company_id) AS key_trn03,
           regexp_replace(upper(trim(payer_name)), '\s+', ' ', 'g') AS key_name,
           payee_tin
    FROM payments
    WHERE payment_id IN (SELECT DISTINCT payment_id FROM cmp_lines)
),
payer_id_hits AS (          -- contracts naming one of the payment's payer ids
    SELECT DISTINCT p.payment_id, k.contract_idx
    FROM payment_keys p JOIN ct_payer_keys k
      ON k.kind = 'id' AND k.key IN (p.key_payer_id, p.key_n1_id, p.key_ref_2u, p.key_trn03)
),
payer_name_hits AS (        -- contracts naming the payer, for payments no contract claims by id
    SELECT DISTINCT p.payment_id, k.contract_idx
    FROM payment_keys p JOIN ct_payer_keys k ON k.kind = 'name' AND k.key = p.key_name
    WHERE p.payment_id NOT IN (SELECT payment_id FROM payer_id_hits)
),
payment_contracts AS (      -- the payer hits whose payee TINs (if any) include the payment's payee
    SELECT h.payment_id, h.contract_idx
    FROM (SELECT payment_id, contract_idx FROM payer_id_hits
          UNION ALL
          SELECT payment_id, contract_idx FROM payer_name_hits) h
    JOIN payment_keys p ON p.payment_id = h.payment_id
    WHERE p.payee_tin IS NULL
       OR NOT EXISTS (SELECT 1 FROM ct_tins t WHERE t.contract_idx = h.contract_idx)
       OR EXISTS (SELECT 1 FROM ct_tins t WHERE t.contract_idx = h.contract_idx AND t.tin = p.payee_tin)
),
version_in_force AS (       -- per line: the latest-effective version in force on the date of service
    SELECT l.line_id, h.contract_idx
    FROM cmp_lines l
    JOIN payment_contracts h ON h.payment_id = l.payment_id
    JOIN ct_contracts c ON c.contract_idx = h.contract_idx
    WHERE l.service_date >= c.effective AND (c.expires IS NULL OR l.service_date <= c.expires)
    QUALIFY row_number() OVER (PARTITION BY l.line_id ORDER BY c.effective DESC, c.contract_idx) = 1
)
SELECT
    CAST(l.line_id AS BIGINT)                                                          AS line_id,
    CAST(f.contract_idx AS INTEGER)                                                    AS contract_idx,
    CAST(l.payment_id IN (SELECT payment_id FROM payment_contracts) AS BOOLEAN)         AS payer_has_contract
FROM cmp_lines l
LEFT JOIN version_in_force f ON f.line_id = l.line_id
