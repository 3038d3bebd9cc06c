-- Purpose: the other RVU rows the claim pricer needs beside a claim's own lines (fee_schedules.claims).
-- Grain: one row per (kind, code): kind 'tc_pc' = a global code (PCTC 1) of family 4/6/7, whose TC and
-- 26 rows are priced too (the family cuts apply to each component); kind 'endo' = an endoscopy family
-- member (MULT PROC 3) with its ENDO BASE code, priced too (the base is subtracted from later members).
-- Inputs: _pc_codes (the claim lines' codes), mpfs_rvu (every imported release: a superset is harmless).
WITH asked AS (SELECT DISTINCT code FROM _pc_codes),
split_codes AS (
    SELECT DISTINCT 'tc_pc' AS kind, r.hcpcs, NULL::VARCHAR AS base
    FROM mpfs_rvu r JOIN asked a ON a.code = r.hcpcs
    WHERE r.modifier = '' AND r.pctc = '1' AND r.mult_proc IN ('4', '6', '7')
),
endo_members AS (
    SELECT 'endo' AS kind, r.hcpcs, min(r.endo_base) AS base   -- one base per code
    FROM mpfs_rvu r JOIN asked a ON a.code = r.hcpcs
    WHERE r.mult_proc = '3' AND coalesce(r.endo_base, '') <> ''
    GROUP BY r.hcpcs
)
SELECT kind, hcpcs, base FROM split_codes
UNION ALL
SELECT kind, hcpcs, base FROM endo_members
