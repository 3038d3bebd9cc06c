-- Purpose: everything the claim rules read from the fee schedule, once per step-1 key
-- (fee_schedules.claims.price_claims), so that the per-line statement (price_claims.sql) reads no
-- reference table and carries only narrow rows.
-- Grain: one row per key (_pc_keys.key_id: code, RVU row, place, release in force).
-- Output: the columns of each line's key that price_claims.sql reads (the key's other step-1 columns
--   come straight from _pc_keys).
-- Inputs: _pc_keys (price_lines per key, with the key ids of its TC and 26 rows and of its endoscopy
--   base), _pc_base_help (how to get the base-unit file, per year), mpfs_rvu (ENDO BASE, pre/intra/
--   post-op shares, the code's own status), mpfs_release_files, mpfs_anesthesia_base_units,
--   mpfs_anesthesia_cf, mpfs_conversion_factors (national anesthesia CF).
-- Parameters: $national, $qp, $addons (anesthesia add-on codes), $no_time (base units only).
-- Money: exact DECIMAL; the therapy amount with 50% of the PE is rounded half-up to the cent per unit.
WITH rows AS (         -- step 1 per key, with the row's ENDO BASE and global shares and the code's own status
    SELECT k.key_id, k.code, k.not_priced_reason, k.amount, k.status_code, k.pctc, k.global_days, k.mult_proc,
           k.bilat_surg, k.asst_surg, k.co_surg, k.rvu_modifier, k.work_rvu, k.pe_rvu, k.mp_rvu, k.work_gpci,
           k.pe_gpci, k.mp_gpci, k.conversion_factor, k.mpfs_year, k.mpfs_release, k.carrier, k.locality_code,
           k.k_tc_id, k.k_pc_id, k.k_base_id,
           r.endo_base, r.pre_op, r.intra_op, r.post_op, r0.status_code AS code_status
    FROM _pc_keys k
    LEFT JOIN mpfs_rvu r
           ON r.year = k.mpfs_year AND r.release = k.mpfs_release AND r.hcpcs = k.code
          AND r.modifier = coalesce(k.rvu_modifier, '')
    LEFT JOIN mpfs_rvu r0
           ON r0.year = k.mpfs_year AND r0.release = k.mpfs_release AND r0.hcpcs = k.code AND r0.modifier = ''
),
anes AS (              -- anesthesia keys (status J): base units and the locality's (or national) anesthesia CF
    SELECT p.key_id,
           bu.base_units,
           CAST(CASE WHEN $national THEN ncf.anesthesia_cf ELSE acf.anesthesia_cf END AS DECIMAL(9, 4)) AS anes_cf,
           CASE
             WHEN bu.base_units IS NULL AND NOT EXISTS (
                    SELECT 1 FROM mpfs_release_files f
                    WHERE f.year = p.mpfs_year AND f.release = p.mpfs_release AND f.kind = 'anes_base')
               THEN (SELECT h.help FROM _pc_base_help h WHERE h.year = p.mpfs_year)
             WHEN bu.base_units IS NULL
               THEN 'anesthesia base units unknown for ' || p.code || ' (not in the CMS base-unit file imported for '
                    || p.mpfs_year || '): priced by the MAC'
             WHEN CASE WHEN $national THEN ncf.anesthesia_cf ELSE acf.anesthesia_cf END IS NULL
                  AND NOT $national AND p.locality_code IS NULL
               THEN 'no locality for the line: give a ZIP code in the ' || p.mpfs_year
                    || ' ZIP file or a 7-digit carrier+locality (or price with --national)'
             WHEN CASE WHEN $national THEN ncf.anesthesia_cf ELSE acf.anesthesia_cf END IS NULL
               THEN 'no anesthesia conversion factor for '
                    || CASE WHEN $national THEN 'the nation' ELSE 'locality ' || p.locality_code END
                    || ' in ' || p.mpfs_year || ' release ' || p.mpfs_release || ' (ANES file): import it'
           END AS anes_key_reason
    FROM rows p
    LEFT JOIN mpfs_anesthesia_base_units bu
           ON bu.year = p.mpfs_year AND bu.release = p.mpfs_release AND bu.hcpcs = p.code
    LEFT JOIN mpfs_anesthesia_cf acf
           ON acf.year = p.mpfs_year AND acf.release = p.mpfs_release AND acf.carrier = p.carrier
          AND acf.locality = substr(p.locality_code, 6)
    LEFT JOIN mpfs_conversion_factors ncf
           ON ncf.year = p.mpfs_year AND ncf.release = p.mpfs_release AND ncf.qp = $qp
    WHERE p.code_status = 'J'
)
SELECT k.key_id,
       coalesce(k.code_status = 'J', false)               AS anesthesia,
       k.not_priced_reason                                AS key_reason,
       k.amount                                           AS fee,
       k.status_code, k.pctc, k.global_days, k.mult_proc, k.bilat_surg, k.asst_surg, k.co_surg,
       coalesce(k.rvu_modifier, '')                       AS rvu_row,
       coalesce(k.endo_base, '')                          AS endo_base,
       coalesce(k.pre_op, 0)                              AS pre_op,
       coalesce(k.intra_op, 0)                            AS intra_op,
       coalesce(k.post_op, 0)                             AS post_op,
       k.pe_rvu,
       CASE WHEN k.mult_proc = '5'    -- family 5: one unit with 50% of its PE
            THEN CAST(round((k.work_rvu * k.work_gpci + 0.5 * k.pe_rvu * k.pe_gpci + k.mp_rvu * k.mp_gpci)
                            * k.conversion_factor, 2) AS DECIMAL(18, 2)) END AS reduced,
       tc.amount                                          AS tc_fee,
       pc.amount                                          AS pc_fee,
       coalesce(b.amount, 0)                              AS base_fee,
       a.base_units, a.anes_cf, a.anes_key_reason,
       list_contains($addons, k.code)                     AS addon,
       list_contains($no_time, k.code)                    AS no_time
FROM rows k
LEFT JOIN (SELECT key_id, amount FROM _pc_keys) tc ON tc.key_id = k.k_tc_id
LEFT JOIN (SELECT key_id, amount FROM _pc_keys) pc ON pc.key_id = k.k_pc_id
LEFT JOIN (SELECT key_id, amount FROM _pc_keys) b ON b.key_id = k.k_base_id
LEFT JOIN anes a ON a.key_id = k.key_id
