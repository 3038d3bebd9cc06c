-- Purpose: the Medicare allowed amount of lines priced by the schedules other than the physician fee
-- schedule: clinical lab (CLFS), Part B drugs (ASP payment limits), DMEPOS and PEN, and, when asked,
-- OPPS Addendum B and the ASC addenda (national unadjusted, for reference). The rules and choices are in
-- docs/fee-schedules.md ("The other Medicare schedules").
-- Grain: one row per input line (_sched_input, registered by fee_schedules.schedule_pricing).
-- Parameters: $noc_codes (the HCPCS codes of drugs not otherwise classified: priced from the ASP NOC file
--   by the drug's name, when the line gives it).
-- Inputs: _sched_input (row_id, code, mods: upper-case modifier list, units, ref_date, eff_year, zip5, loc, drug,
--   wanted: the schedule kinds to try in order, e.g. ['asp','clfs','dmepos','dmepos_pen']).
-- Output: the first kind of `wanted` that lists the code in any imported release: its release in force on
--   the date, the rate per unit, the amount for the line's units (rounded half-up to the cent once) or the
--   reason it is not priced, and the derivation. schedule NULL: no schedule of `wanted` lists the code.
-- Money: exact DECIMAL; ASP limits keep their 3 places until the line's amount is rounded.
WITH lines AS (
    SELECT * FROM _sched_input
),
listed AS (            -- every code each schedule kind lists in any imported release
    SELECT DISTINCT 'clfs' AS kind, hcpcs FROM clfs_rates
    UNION ALL SELECT DISTINCT 'asp', hcpcs FROM asp_limits
    UNION ALL SELECT DISTINCT schedule, hcpcs FROM dmepos_fees
    UNION ALL SELECT DISTINCT 'opps', hcpcs FROM opps_rates
    UNION ALL SELECT DISTINCT schedule, hcpcs FROM asc_rates
),
codes AS (             -- per distinct (code, kinds asked in order): the first kind that lists the code
    SELECT c.code, c.wanted, arg_min(k.kind, k.pos) AS kind
    FROM (SELECT DISTINCT code, wanted FROM lines) c,
         unnest(c.wanted) WITH ORDINALITY AS k(kind, pos)
    SEMI JOIN listed s ON s.kind = k.kind AND s.hcpcs = c.code
    GROUP BY c.code, c.wanted
),
imported AS (          -- per kind: what is imported, for the reason of a date no release covers
    SELECT schedule AS kind,
           count(*) || ' release(s) from ' || strftime(min(effective_from), '%Y-%m-%d') || ' to '
             || strftime(max(effective_through), '%Y-%m-%d') AS imported_periods
    FROM schedule_releases GROUP BY schedule
),
line_kinds AS (        -- each line's kind; a NOC drug code (J3490 ...) with the drug's name: the ASP NOC file
    SELECT l.*,
           CASE WHEN l.drug IS NOT NULL AND list_contains(l.wanted, 'asp') AND list_contains($noc_codes, l.code)
                THEN 'asp_noc' ELSE c.kind END AS kind
    FROM lines l LEFT JOIN codes c ON c.code = l.code AND c.wanted = l.wanted
),
dates AS (             -- per distinct (kind, date or year): the release in force (no date: the year's latest)
    SELECT k.kind, k.ref_date, k.eff_year,
           arg_max(r.effective_from, r.effective_from) AS release_from,
           arg_max(r.file_name, r.effective_from) AS release_file
    FROM (SELECT DISTINCT kind, ref_date, eff_year FROM line_kinds WHERE kind IS NOT NULL) k
    LEFT JOIN schedule_releases r
      ON r.schedule = k.kind
     AND CASE WHEN k.ref_date IS NOT NULL THEN k.ref_date BETWEEN r.effective_from AND r.effective_through
              ELSE year(r.effective_from) = k.eff_year END
    GROUP BY k.kind, k.ref_date, k.eff_year
),
dated AS (             -- each line with its kind and the release in force
    SELECT l.*, d.release_from, d.release_file, i.imported_periods
    FROM line_kinds l
    LEFT JOIN dates d ON d.kind = l.kind AND d.ref_date IS NOT DISTINCT FROM l.ref_date AND d.eff_year IS NOT DISTINCT FROM l.eff_year
    LEFT JOIN imported i ON i.kind = l.kind
),
clfs AS (              -- CLFS: the row of a modifier the line carries (QW ...), else the code's own row
    SELECT d.row_id, arg_max(c.rate, (c.modifier <> '')::INTEGER) AS rate,
           arg_max(c.modifier, (c.modifier <> '')::INTEGER) AS rate_modifier,
           arg_max(c.indicator, (c.modifier <> '')::INTEGER) AS indicator
    FROM dated d JOIN clfs_rates c
      ON d.kind = 'clfs' AND c.effective_from = d.release_from AND c.hcpcs = d.code
     AND (c.modifier = '' OR list_contains(d.mods, c.modifier))
    GROUP BY d.row_id
),
noc AS (               -- ASP NOC: the drug whose name starts with the name given (one drug, else ambiguous)
    SELECT d.row_id, count(*) AS matches, any_value(n.payment_limit) AS payment_limit,
           any_value(n.drug_name) AS drug_name, any_value(n.dosage) AS dosage
    FROM dated d JOIN asp_noc_limits n
      ON d.kind = 'asp_noc' AND n.effective_from = d.release_from
     AND starts_with(lower(n.drug_name), lower(trim(d.drug)))
    GROUP BY d.row_id
),
asp AS (
    SELECT d.row_id, a.payment_limit, a.dosage, a.dosage_amount, a.dosage_unit
    FROM dated d JOIN asp_limits a ON d.kind = 'asp' AND a.effective_from = d.release_from AND a.hcpcs = d.code
),
dme_lines AS (         -- the DMEPOS/PEN lines: where the beneficiary is
    SELECT row_id, zip5, loc, ref_date, eff_year FROM dated WHERE kind IN ('dmepos', 'dmepos_pen')
),
zip_states AS (        -- a ZIP's state (the physician schedule's ZIP5 file, latest release)
    SELECT z.zip5, arg_max(z.state, z.year * 10 + ascii(z.release)) AS state
    FROM mpfs_zip5 z SEMI JOIN dme_lines d ON d.zip5 = z.zip5
    GROUP BY z.zip5
),
loc_states AS (        -- a locality's state (GPCI file, latest release)
    SELECT g.carrier || g.locality AS loc, arg_max(g.state, g.year * 10 + ascii(g.release)) AS state
    FROM mpfs_gpci g SEMI JOIN dme_lines d ON d.loc = g.carrier || g.locality
    GROUP BY 1
),
rural_releases AS (    -- per date: the rural ZIP file in force (the latest one on or before it)
    SELECT k.ref_date, k.eff_year, max(r.effective_from) AS rural_from
    FROM (SELECT DISTINCT ref_date, eff_year FROM dme_lines) k
    JOIN schedule_releases r
      ON r.schedule = 'dmepos_rural' AND r.effective_from <= coalesce(k.ref_date, make_date(k.eff_year, 12, 31))
    GROUP BY k.ref_date, k.eff_year
),
dme_rural AS (         -- DMEPOS: the beneficiary's state (the ZIP's, else the locality's) and whether the ZIP is rural
    SELECT d.row_id, coalesce(zs.state, ls.state) AS state, rr.rural_from, z.zip5 IS NOT NULL AS rural
    FROM dme_lines d
    LEFT JOIN zip_states zs ON zs.zip5 = d.zip5
    LEFT JOIN loc_states ls ON ls.loc = d.loc
    LEFT JOIN rural_releases rr ON rr.ref_date IS NOT DISTINCT FROM d.ref_date AND rr.eff_year IS NOT DISTINCT FROM d.eff_year
    LEFT JOIN dmepos_rural_zips z ON z.effective_from = rr.rural_from AND z.zip5 = d.zip5
),
dme AS (               -- the fee row whose modifiers the line carries, the most specific first
    SELECT d.row_id,
           arg_max(f.fee_nonrural, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS fee_nonrural,
           arg_max(f.fee_rural, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS fee_rural,
           arg_max(f.modifier, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS fee_modifier,
           arg_max(f.modifier2, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS fee_modifier2,
           arg_max(f.category, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS category,
           arg_max(f.ceiling, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS ceiling,
           arg_max(f.floor, (f.modifier <> '')::INTEGER * 2 + (f.modifier2 <> '')::INTEGER) AS floor
    FROM dated d
    JOIN dme_rural p USING (row_id)
    JOIN dmepos_fees f
      ON f.schedule = d.kind AND f.effective_from = d.release_from AND f.hcpcs = d.code AND f.state = p.state
     AND (f.modifier = '' OR list_contains(d.mods, f.modifier))
     AND (f.modifier2 = '' OR list_contains(d.mods, f.modifier2))
    GROUP BY d.row_id
),
opps AS (
    SELECT d.row_id, o.status_indicator, o.apc, o.relative_weight, o.payment_rate
    FROM dated d JOIN opps_rates o ON d.kind = 'opps' AND o.effective_from = d.release_from AND o.hcpcs = d.code
),
asc_ AS (
    SELECT d.row_id, s.payment_indicator, s.payment_weight, s.payment_rate
    FROM dated d JOIN asc_rates s
      ON d.kind IN ('asc_aa', 'asc_bb') AND s.schedule = d.kind AND s.effective_from = d.release_from AND s.hcpcs = d.code
),
rated AS (             -- per line: the rate per unit, the percent of it that applies, and why not when not
    SELECT d.row_id, d.kind, d.code, d.units, d.release_from, d.release_file,
           CASE d.kind
             WHEN 'clfs' THEN c.rate
             WHEN 'asp' THEN a.payment_limit
             WHEN 'asp_noc' THEN n.payment_limit
             WHEN 'opps' THEN o.payment_rate
             WHEN 'asc_aa' THEN s.payment_rate
             WHEN 'asc_bb' THEN s.payment_rate
             ELSE CASE WHEN p.rural AND m.fee_rural IS NOT NULL AND m.fee_rural <> 0 THEN m.fee_rural ELSE m.fee_nonrural END
           END::DECIMAL(18, 3) AS unit_rate,
           CASE WHEN d.kind IN ('dmepos', 'dmepos_pen') AND m.fee_modifier = 'RR' AND list_contains(d.mods, 'KJ')
                     AND m.category = 'CR'
                THEN 0.75 ELSE 1 END::DECIMAL(5, 2) AS pct,
           CASE
             WHEN d.kind IS NULL THEN NULL
             WHEN d.release_from IS NULL
               THEN upper(d.kind) || ': no release in force on ' || coalesce(strftime(d.ref_date, '%Y-%m-%d'), 'CY ' || d.eff_year)
                    || ' (imported: ' || coalesce(d.imported_periods, 'none') || '); import the file for that period'
             WHEN d.units IS NULL OR d.units <= 0
               THEN 'units ' || coalesce(rtrim(rtrim(d.units::VARCHAR, '0'), '.'), 'missing') || ': a positive number of units was expected'
             WHEN d.kind = 'asp' AND d.units <> trunc(d.units)
               THEN 'data quality: units_mismatch: ' || rtrim(rtrim(d.units::VARCHAR, '0'), '.') || ' units do not fit the HCPCS dosage ' || a.dosage
                    || ' (units are whole multiples of the dosage; the line may be billed in NDC units): check the line'
             WHEN d.kind = 'asp' AND a.payment_limit IS NULL THEN 'ASP: no payment limit for ' || d.code || ' in ' || d.release_file
             WHEN d.kind = 'asp_noc' AND n.row_id IS NULL
               THEN 'ASP NOC: no drug named ' || trim(d.drug) || '... in ' || d.release_file
             WHEN d.kind = 'asp_noc' AND n.matches > 1
               THEN 'ASP NOC: ' || n.matches || ' drugs of ' || d.release_file || ' are named ' || trim(d.drug)
                    || '...: give more of the name, as the file writes it'
             WHEN d.kind = 'clfs' AND c.rate IS NULL THEN 'CLFS: no rate for ' || d.code || ' in ' || d.release_file
             WHEN d.kind = 'clfs' AND c.indicator = 'L'
               THEN 'CLFS: ' || d.code || ' is priced locally by the MAC (indicator L): no national limitation amount'
             WHEN d.kind IN ('dmepos', 'dmepos_pen') AND d.zip5 IS NULL AND d.loc IS NULL
               THEN 'DMEPOS fees are by the beneficiary''s state: give the ZIP code'
             WHEN d.kind IN ('dmepos', 'dmepos_pen') AND p.state IS NULL
               THEN 'DMEPOS: the state of ' || coalesce('ZIP ' || d.zip5, 'locality ' || d.loc)
                    || ' is unknown (no physician fee schedule ZIP5/GPCI file has it)'
             WHEN d.kind IN ('dmepos', 'dmepos_pen') AND m.row_id IS NULL
               THEN 'DMEPOS: no fee for ' || d.code || coalesce(' ' || nullif(array_to_string(d.mods, ' '), ''), '')
                    || ' in ' || p.state || ' (' || d.release_file || '): the modifiers (NU, RR, UE ...) select the fee row'
             WHEN d.kind = 'opps' AND o.row_id IS NULL THEN 'OPPS: no row for ' || d.code || ' in ' || d.release_file
             WHEN d.kind IN ('asc_aa', 'asc_bb') AND s.row_id IS NULL
               THEN 'ASC: no row for ' || d.code || ' in ' || d.release_file
             WHEN d.kind = 'opps' AND o.payment_rate IS NULL
               THEN 'OPPS: status indicator ' || o.status_indicator || ' (' || d.code || '): no separate payment rate'
             WHEN d.kind IN ('asc_aa', 'asc_bb') AND s.payment_rate IS NULL
               THEN 'ASC: payment indicator ' || s.payment_indicator || ' (' || d.code || '): no separate payment rate'
           END AS reason,
           CASE d.kind
             WHEN 'clfs' THEN 'CLFS national limitation amount' || coalesce(' (' || nullif(c.rate_modifier, '') || ' row)', '')
             WHEN 'asp' THEN 'ASP payment limit per ' || a.dosage
             WHEN 'asp_noc' THEN 'ASP NOC payment limit for ' || n.drug_name || ' per ' || n.dosage
             WHEN 'opps' THEN 'OPPS national unadjusted rate (SI ' || o.status_indicator || ', APC ' || o.apc || ', no wage index)'
             WHEN 'asc_aa' THEN 'ASC national unadjusted rate (PI ' || s.payment_indicator || ', no wage index)'
             WHEN 'asc_bb' THEN 'ASC national unadjusted rate (PI ' || s.payment_indicator || ', no wage index)'
             ELSE CASE WHEN d.kind = 'dmepos_pen' THEN 'PEN' ELSE 'DMEPOS' END || ' fee ' || coalesce(p.state, '')
                  || CASE WHEN p.rural AND m.fee_rural IS NOT NULL AND m.fee_rural <> 0 THEN ' rural' ELSE ' non-rural' END
                  || coalesce(' ' || nullif(trim(m.fee_modifier || ' ' || m.fee_modifier2), ''), '')
                  || coalesce(' (ceiling $' || m.ceiling || ', floor $' || m.floor || ')', '')
           END AS rate_text
    FROM dated d
    LEFT JOIN clfs c USING (row_id)
    LEFT JOIN asp a USING (row_id)
    LEFT JOIN noc n USING (row_id)
    LEFT JOIN dme_rural p USING (row_id)
    LEFT JOIN dme m USING (row_id)
    LEFT JOIN opps o USING (row_id)
    LEFT JOIN asc_ s USING (row_id)
),
labelled AS (
    SELECT *,
           rate_text || ' $' || CASE WHEN kind NOT IN ('asp', 'asp_noc') AND unit_rate = round(unit_rate, 2) THEN unit_rate::DECIMAL(18, 2)::VARCHAR
                                     ELSE unit_rate::VARCHAR END
           || CASE WHEN pct <> 1 THEN ' x 75% (capped rental month 4 and later, KJ)' ELSE '' END AS rate_label,
           ' [' || upper(replace(kind, '_', ' ')) || ' ' || strftime(release_from, '%Y-%m-%d') || ', ' || release_file || ']'
             AS source_label
    FROM rated
)
SELECT row_id,
       kind AS schedule,
       release_from,
       release_file,
       CASE WHEN reason IS NULL THEN (unit_rate * pct)::DECIMAL(18, 5) END                 AS unit_rate,   -- the rate that applies
       CASE WHEN reason IS NULL THEN round(unit_rate * pct * units, 2)::DECIMAL(14, 2) END AS amount,
       coalesce(reason, CASE WHEN kind IS NOT NULL AND unit_rate IS NULL
                             THEN upper(replace(kind, '_', ' ')) || ': no rate for ' || code || ' in ' || release_file END)
                                                                                           AS reason,
       CASE WHEN kind IS NOT NULL AND reason IS NULL THEN rate_label || source_label END   AS rate_label,
       CASE WHEN kind IS NOT NULL AND reason IS NULL
            THEN rate_label
                 || ' x ' || CASE WHEN units = trunc(units) THEN units::BIGINT::VARCHAR ELSE rtrim(units::VARCHAR, '0') END
                 || CASE WHEN units = 1 THEN ' unit' ELSE ' units' END
                 || ' = $' || round(unit_rate * pct * units, 2)::DECIMAL(14, 2) || source_label
       END AS derivation
FROM labelled
