-- Purpose: the Medicare PFS allowed amount of each input line, with its derivation (notes §5, RVU25A.pdf).
-- Grain: one row per input line (_price_lines_input, registered by fee_schedules.pricing.price_lines).
-- Parameters: $national (all GPCIs 1.000), $qp (qualifying-APM CF), $apply_policy (50/62/80/81/82/AS/66,
-- NPP 85%, MPPR indicator 2). Formula: round_half_up(((work x wGPCI) + (PE x peGPCI) + (MP x mpGPCI)) x CF, 2),
-- no intermediate rounding; OPPS cap = the lower of that and the same formula with the OPPS PE/MP RVUs.
WITH l AS (   -- _price_lines_input is already normalized by pricing._normalize (codes, ZIPs, modifier flags)
    SELECT * FROM _price_lines_input
),
ref_keys AS (SELECT DISTINCT eff_year, ref_date FROM l),
rel AS (   -- the release in force on ref_date; with no date, the year's latest
    SELECT k.eff_year, k.ref_date,
           coalesce(max(r.release) FILTER (WHERE r.effective_from <= k.ref_date),
                    CASE WHEN k.ref_date IS NULL THEN max(r.release) END,
                    min(r.release))                                       AS release,
           k.ref_date IS NOT NULL AND count(r.release) > 0
             AND count(r.release) FILTER (WHERE r.effective_from <= k.ref_date) = 0 AS before_first,
           min(r.effective_from)                                          AS first_from
    FROM ref_keys k LEFT JOIN mpfs_releases r ON r.year = k.eff_year
    GROUP BY k.eff_year, k.ref_date
),
files AS (
    SELECT year, release,
           bool_or(kind = 'gpci') AS has_gpci,
           bool_or(kind = 'zip5') AS has_zip5,
           bool_or(kind = 'zip9') AS has_zip9
    FROM mpfs_release_files GROUP BY year, release
),
x AS (
    SELECT l.*,
           rel.release, rel.before_first, rel.first_from,
           coalesce(f.has_gpci, false) AS has_gpci,
           coalesce(f.has_zip5, false) AS has_zip5,
           coalesce(f.has_zip9, false) AS has_zip9,
           l.rvu_mod AS rvu_modifier
    FROM l
    LEFT JOIN rel ON rel.eff_year = l.eff_year AND rel.ref_date IS NOT DISTINCT FROM l.ref_date
    LEFT JOIN files f ON f.year = l.eff_year AND f.release = rel.release
),
located AS (
    SELECT x.*,
           z5.carrier AS z5_carrier, z5.locality AS z5_locality, coalesce(z5.plus_four_flag, false) AS plus_four,
           z9.carrier AS z9_carrier, z9.locality AS z9_locality,
           CASE WHEN $national THEN NULL
                WHEN x.loc_given IS NOT NULL THEN left(x.loc_given, 5)
                ELSE coalesce(z9.carrier, z5.carrier) END                 AS carrier,
           CASE WHEN $national THEN NULL
                WHEN x.loc_given IS NOT NULL THEN substr(x.loc_given, 6)
                ELSE coalesce(z9.locality, z5.locality) END               AS locality2
    FROM x
    LEFT JOIN mpfs_zip5 z5
           ON NOT $national AND x.loc_given IS NULL
          AND z5.year = x.eff_year AND z5.release = x.release AND z5.zip5 = x.zip5
    LEFT JOIN mpfs_zip9 z9
           ON z5.plus_four_flag AND x.plus4 IS NOT NULL
          AND z9.year = x.eff_year AND z9.release = x.release AND z9.zip5 = x.zip5 AND z9.plus4 = x.plus4
),
joined AS (
    SELECT o.*,
           r.hcpcs IS NOT NULL AS has_rvu,
           r.rowid AS rvu_rowid,
           r.status_code, r.mult_proc, r.bilat_surg, r.asst_surg, r.co_surg,
           r.work_rvu,
           CASE WHEN o.is_facility THEN r.f_pe_rvu ELSE r.nf_pe_rvu END              AS pe_rvu,
           r.mp_rvu,
           CASE WHEN o.is_facility THEN r.opps_f_pe_rvu ELSE r.opps_nf_pe_rvu END    AS opps_pe_rvu,
           r.opps_mp_rvu,
           CASE WHEN $national THEN 1.000::DECIMAL(9,3) ELSE g.work_gpci END          AS work_gpci,
           CASE WHEN $national THEN 1.000::DECIMAL(9,3) ELSE g.pe_gpci END            AS pe_gpci,
           CASE WHEN $national THEN 1.000::DECIMAL(9,3) ELSE g.mp_gpci END            AS mp_gpci,
           g.rowid AS gpci_rowid,
           g.carrier IS NOT NULL                                                      AS has_locality,
           cf.conversion_factor,
           cf.rowid AS cf_rowid,
           codes.code_rows
    FROM located o
    LEFT JOIN mpfs_rvu r
           ON r.year = o.eff_year AND r.release = o.release AND r.hcpcs = o.code AND r.modifier = o.rvu_modifier
    LEFT JOIN mpfs_gpci g
           ON g.year = o.eff_year AND g.release = o.release AND g.carrier = o.carrier AND g.locality = o.locality2
    LEFT JOIN mpfs_conversion_factors cf
           ON cf.year = o.eff_year AND cf.release = o.release AND cf.qp = $qp
    LEFT JOIN (SELECT year, release, hcpcs, string_agg(modifier, '/') AS code_rows
               FROM mpfs_rvu GROUP BY year, release, hcpcs) codes
           ON r.hcpcs IS NULL AND codes.year = o.eff_year AND codes.release = o.release AND codes.hcpcs = o.code
),
judged AS (   -- why a line cannot be priced (NULL = it can); missing_ref marks missing reference files
    SELECT j.*,
           CASE
             WHEN j.eff_year IS NULL THEN NULL
             WHEN j.release IS NULL
               THEN 'no MPFS ' || j.eff_year || ' release imported (PPRRVU' || j.eff_year || '_<Mon>.csv, GPCI'
                    || j.eff_year || '.csv): run `underpay fee-schedule download --year ' || j.eff_year
                    || '` or `underpay fee-schedule import PATH --year ' || j.eff_year || '`'
             WHEN NOT $national AND NOT j.has_gpci
               THEN 'no ' || j.eff_year || ' GPCI file imported (GPCI' || j.eff_year || '.csv) for MPFS '
                    || j.eff_year || ' release ' || j.release || ': run `underpay fee-schedule download --year '
                    || j.eff_year || '` or `underpay fee-schedule import PATH --year ' || j.eff_year
                    || '`; or price with --national (all GPCIs 1.000)'
             WHEN NOT $national AND j.loc_given IS NULL AND j.zip_digits IS NOT NULL AND NOT j.has_zip5
               THEN 'no ' || j.eff_year || ' ZIP code file imported (ZIP5_<MON>' || j.eff_year || '.txt) for MPFS '
                    || j.eff_year || ' release ' || j.release || ': run `underpay fee-schedule download --year '
                    || j.eff_year || '` or import it, or give the carrier+locality (e.g. 1320201)'
           END AS missing_ref
    FROM joined j
),
reasoned AS (
    SELECT j.*,
           coalesce(j.missing_ref, CASE
             WHEN j.eff_year IS NULL THEN 'no service_date or year given'
             WHEN j.rvu_modifier = '26+TC' THEN 'modifiers 26 and TC on one line'
             WHEN NOT j.has_rvu AND j.code_rows IS NULL
               THEN 'no RVU row for ' || j.code || ' in MPFS ' || j.eff_year || ' release ' || j.release
             WHEN NOT j.has_rvu AND j.rvu_modifier = '53'
               THEN 'modifier 53 on ' || j.code || ': no 53 row, priced by the MAC by individual consideration'
             WHEN NOT j.has_rvu
               THEN 'no RVU row for ' || j.code || '-' || j.rvu_modifier
                    || ': modifiers 26/TC apply only to codes with PC/TC indicator 1'
             WHEN j.status_code NOT IN ('A', 'R', 'T') THEN 'status ' || j.status_code || ': ' ||
               CASE j.status_code
                 WHEN 'B' THEN 'bundled, never paid separately'
                 WHEN 'C' THEN 'carrier (MAC) priced'
                 WHEN 'E' THEN 'excluded from the fee schedule by regulation'
                 WHEN 'I' THEN 'not valid for Medicare (another code is used)'
                 WHEN 'J' THEN 'anesthesia: (base + time units) x anesthesia CF, no RVUs'
                 WHEN 'M' THEN 'measurement code, not paid'
                 WHEN 'N' THEN 'non-covered service'
                 WHEN 'P' THEN 'bundled or excluded supply'
                 WHEN 'X' THEN 'statutory exclusion from the fee schedule'
                 ELSE 'deleted or invalid code' END
             WHEN j.work_rvu + j.pe_rvu + j.mp_rvu = 0
               THEN 'no RVUs for ' || j.code || CASE WHEN j.rvu_modifier <> '' THEN '-' || j.rvu_modifier ELSE '' END
                    || ' in the ' || CASE WHEN j.is_facility THEN 'facility' ELSE 'non-facility' END
                    || ' setting (status ' || j.status_code || '): not priced by the fee schedule'
             WHEN NOT $national AND j.loc_given IS NULL AND j.zip_digits IS NULL
               THEN 'no ZIP code or locality given (or price with --national)'
             WHEN NOT $national AND j.loc_given IS NOT NULL AND length(j.loc_given) <> 7
               THEN 'locality ' || j.loc_given || ' is not 7 digits (5-digit carrier + 2-digit locality)'
             WHEN NOT $national AND j.carrier IS NULL
               THEN 'ZIP ' || j.zip5 || ' not in the ' || j.eff_year || ' ZIP code file'
             WHEN NOT $national AND NOT j.has_locality
               THEN 'locality ' || j.carrier || '-' || j.locality2 || ' not in GPCI' || j.eff_year
             WHEN j.conversion_factor IS NULL THEN 'no conversion factor for ' || j.eff_year
             WHEN $apply_policy AND j.m66
               THEN 'team surgery (66): priced by the MAC by report'
             WHEN $apply_policy AND (j.m_asst OR j.m_as) AND j.asst_surg = '1'
               THEN 'assistant at surgery: indicator 1, statutory payment restriction'
             WHEN $apply_policy AND (j.m_asst OR j.m_as) AND j.asst_surg = '9'
               THEN 'assistant at surgery: concept does not apply (indicator 9)'
             WHEN $apply_policy AND j.m62 AND j.co_surg NOT IN ('1', '2')
               THEN 'co-surgeons (62) not permitted for this code (indicator ' || j.co_surg || ')'
           END) AS not_priced_reason
    FROM judged j
),
priced AS (
    SELECT p.*,
           CASE WHEN p.not_priced_reason IS NULL THEN
             round((p.work_rvu * p.work_gpci + p.pe_rvu * p.pe_gpci + p.mp_rvu * p.mp_gpci)
                   * p.conversion_factor, 2)::DECIMAL(14,2) END                         AS fee_schedule_amount,
           CASE WHEN p.not_priced_reason IS NULL AND (p.opps_pe_rvu > 0 OR p.opps_mp_rvu > 0) THEN
             round((p.work_rvu * p.work_gpci + p.opps_pe_rvu * p.pe_gpci + p.opps_mp_rvu * p.mp_gpci)
                   * p.conversion_factor, 2)::DECIMAL(14,2) END                         AS opps_amount
    FROM reasoned p
),
capped AS (
    SELECT c.*,
           CASE WHEN c.opps_amount IS NOT NULL AND c.opps_amount < c.fee_schedule_amount
                THEN c.opps_amount ELSE c.fee_schedule_amount END                        AS capped_amount
    FROM priced c
),
final AS (SELECT * FROM capped)
-- The RVU, GPCI and CF rows' own columns (RVUs, GPCIs, indicators, locality name, CF) are gathered by
-- rowid in fee_schedules.pricing (cheaper than carrying them through this query for every line); the
-- policy percentages, the MPPR ranking, the final amount = round_half_up(capped_amount x
-- policy_percent, 2) and the formula text are finished there, set-based (polars).
SELECT _pos,
       not_priced_reason,
       missing_ref IS NOT NULL                                                          AS _missing_ref,
       fee_schedule_amount,
       opps_amount,
       capped_amount,
       eff_year::INTEGER                                                                AS mpfs_year,
       release                                                                          AS mpfs_release,
       rvu_rowid,
       gpci_rowid,
       CASE WHEN gpci_rowid IS NULL THEN carrier END                                    AS carrier_raw,
       CASE WHEN gpci_rowid IS NULL THEN locality2 END                                  AS locality_raw,
       CASE WHEN $national THEN 1 WHEN loc_given IS NOT NULL THEN 2
            WHEN z9_carrier IS NOT NULL THEN 3 WHEN z5_carrier IS NOT NULL THEN 4 END::TINYINT AS loc_src,
       CASE WHEN NOT $national AND loc_given IS NULL AND plus_four AND z9_carrier IS NULL
            THEN 'ZIP ' || zip5 || ' spans several localities (plus-four flag): '
                 || CASE WHEN plus4 IS NULL THEN 'no 9-digit ZIP given'
                         WHEN NOT has_zip9 THEN 'no ZIP9 file imported'
                         ELSE 'ZIP+4 ' || zip5 || '-' || plus4 || ' not in the ZIP9 file' END
                 || '; used the ZIP5 default locality' END                               AS locality_note,
       CASE WHEN before_first THEN 'no release in force on ' || ref_date || ' is imported; used release '
                 || release || ' (effective ' || first_from || ')' END                   AS release_note,
       cf_rowid
FROM final
