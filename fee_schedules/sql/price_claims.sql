-- Purpose: Medicare allowed amounts claim by claim (fee_schedules.claims.price_claims): steps 2-7 of the
-- MAC's claim-level policy over lines already priced one by one (step 1, price_lines, per key).
-- Grain: one row per input line (_pc_lines); a claim group is `grp` (claim_key | date or year).
-- Inputs: _pc_lines (fee_schedules.claims._flags: code, RVU row, modifier flags, units, minutes, charge,
--   provider flags; with the columns of its key from sql/claim_keys.sql: the step-1 amount, indicators,
--   shares, the TC/26/base amounts, anesthesia base units and CF).
-- Output: per line its reason or amounts and the texts of steps 2-7 (`steps_text`, ending in ' = $' and the
--   amount); fee_schedules.claims puts the step-1 formula in front (the derivation).
-- Parameters: $max_units (more units on a line are not believed).
-- Money: exact DECIMAL; instance values keep every digit (DECIMAL(38,15)); an amount is rounded half-up
-- to the cent where the rules say (per instance, per cut, the therapy 50%-PE amount, the anesthesia total).
-- Shape: each line goes down one branch (not priced at step 2, fee-schedule steps 3-6, anesthesia step 7)
-- that ends in its output row; the branches meet once at the end.
-- The rules and every choice are in docs/fee-schedules.md ("Pricing whole claims").
WITH judged AS (            -- step 2: by report and the line percentages' conditions (fee-schedule lines)
    SELECT *,
           CASE
             WHEN anesthesia THEN NULL
             WHEN key_reason IS NOT NULL THEN key_reason
             WHEN by_report IS NOT NULL
               THEN 'by report: modifier ' || by_report || CASE by_report
                      WHEN '52' THEN ' (reduced service)' WHEN '66' THEN ' (team surgery)'
                      WHEN '73' THEN ' (discontinued before anesthesia)'
                      ELSE ' (discontinued after anesthesia)' END
                    || ' is priced by the MAC by individual consideration'
             WHEN (m54 OR m55 OR m56) AND (global_days NOT IN ('010', '090') OR pre_op + intra_op + post_op = 0)
               THEN 'split care 54/55/56 applies only to 010/090-day codes with pre/intra/post-op shares ('
                    || code || ': GLOB DAYS ' || global_days || ')'
             WHEN m62 AND co_surg = '0' THEN 'co-surgery (62) not permitted for ' || code || ' (CO-SURG 0)'
             WHEN m62 AND co_surg NOT IN ('1', '2')
               THEN 'co-surgery (62): the concept does not apply to ' || code || ' (CO-SURG ' || co_surg || ')'
             WHEN (m_asst OR m_as) AND asst_surg = '1'
               THEN 'assistant at surgery not payable for ' || code || ' (ASST SURG 1, statutory restriction)'
             WHEN (m_asst OR m_as) AND asst_surg NOT IN ('0', '2')
               THEN 'assistant at surgery: the concept does not apply to ' || code || ' (ASST SURG ' || asst_surg || ')'
             WHEN m50 AND bilat_surg = '9'
               THEN 'bilateral (50): the concept does not apply to ' || code || ' (BILAT SURG 9)'
             WHEN units_n < 1 OR units_n <> trunc(units_n)
               THEN 'units ' || units_n || ': a whole number of 1 or more was expected'
             WHEN units_n > $max_units
               THEN 'units ' || units_n || ' above ' || $max_units || ': not believed, check the line'
           END AS line_reason,
           CAST(CASE
             WHEN m54 OR m55 OR m56
               THEN CASE WHEN m54 THEN pre_op + intra_op ELSE 0 END + CASE WHEN m55 THEN post_op ELSE 0 END
                    + CASE WHEN m56 THEN pre_op ELSE 0 END
             WHEN m78 AND global_days IN ('010', '090') AND intra_op > 0 THEN intra_op
             ELSE 1 END AS DECIMAL(20, 12)) AS split_share
    FROM _pc_lines
),
percent AS (           -- step 2: the line percentage, exact (products of 2-3 decimal factors), and its text
    SELECT *,
           CASE WHEN NOT (m54 OR m55 OR m56 OR m78 OR m62 OR m_as OR m_asst OR npp OR m_cq OR assistant)
                THEN CAST(1 AS DECIMAL(20, 12))   -- most lines: no percentage (skips the products below)
                ELSE CAST(CAST(CAST(CAST(split_share * CASE WHEN m62 THEN 0.625 ELSE 1 END AS DECIMAL(20, 12))
                     * CASE WHEN m_as THEN 0.136 WHEN m_asst THEN 0.16 ELSE 1 END AS DECIMAL(20, 12))
                     * CASE WHEN npp AND NOT m_as THEN 0.85 ELSE 1 END AS DECIMAL(20, 12))
                     * CASE WHEN m_cq OR assistant THEN 0.85 ELSE 1 END AS DECIMAL(20, 12)) END AS pct,
           CASE WHEN m54 OR m55 OR m56 OR m78 OR m62 OR m_as OR m_asst OR npp OR m_cq OR assistant
                THEN nullif(concat_ws('; ',
                  CASE WHEN m54 OR m55 OR m56
                       THEN 'split care ' || concat_ws('/', CASE WHEN m54 THEN '54' END, CASE WHEN m55 THEN '55' END,
                                                       CASE WHEN m56 THEN '56' END) || ' x ' || CAST(split_share AS DECIMAL(5, 2))
                       WHEN m78 AND split_share <> 1 THEN '78 intra-op share x ' || CAST(split_share AS DECIMAL(5, 2)) END,
                  CASE WHEN m62 THEN 'co-surgeon 62 x 62.5%' END,
                  CASE WHEN m_as THEN 'assistant AS x 13.6%' WHEN m_asst THEN 'assistant 80/81/82 x 16%' END,
                  CASE WHEN npp AND NOT m_as AND NOT anesthesia THEN 'NPP ' || ptype || ' x 85%' END,
                  CASE WHEN (m_cq OR assistant) AND NOT anesthesia
                       THEN 'therapy assistant ' || CASE WHEN m_cq THEN 'CQ/CO' ELSE ptype END || ' x 85%' END), '')
           END AS pct_text
    FROM judged
),
reasoned_out AS (      -- fee-schedule lines not priced at steps 1-2: their reason
    SELECT _pos, line_reason AS reason, NULL::DECIMAL(18, 2) AS allowed1, NULL::DECIMAL(18, 2) AS full_amount,
           false AS anesthesia, NULL::VARCHAR AS anes_text, units_n <> 1 AS per_unit, NULL::VARCHAR AS line_text,
           NULL::VARCHAR AS case_text, NULL::VARCHAR AS charge_text, false AS t_bundled
    FROM percent WHERE NOT anesthesia AND line_reason IS NOT NULL
),
pfs AS (               -- fee-schedule lines still priced after step 2 (narrow: what steps 3-6 read)
    SELECT _pos, row_id, grp, line_no, code, rvu_row, status_code, pctc, mult_proc, bilat_surg, endo_base,
           m_rt, m_lt, m_side, m50, m59, units_n, charge, fee, pct, pct_text, tc_fee, pc_fee, base_fee, pe_rvu, reduced
    FROM percent WHERE NOT anesthesia AND line_reason IS NULL
),
pair_sides AS (        -- step 3: RT and LT lines that can pair (units 1, no 50, BILAT 0/1/2, no family cut)
    SELECT row_id, grp, code, rvu_row, line_no, m_rt,
           row_number() OVER (PARTITION BY grp, code, rvu_row, m_rt ORDER BY line_no, row_id) AS side_rank
    FROM pfs
    WHERE (m_rt OR m_lt) AND NOT m50 AND units_n = 1 AND bilat_surg IN ('0', '1', '2')
      AND mult_proc IN ('0', '1', '2', '9', '')
),
pairs AS (             -- the lowest RT with the lowest LT, and so on; the lower line is the first side:
    SELECT CASE WHEN r.line_no < l.line_no THEN r.row_id ELSE l.row_id END AS first_id,   -- one row per pair
           CASE WHEN r.line_no < l.line_no THEN l.row_id ELSE r.row_id END AS second_id
    FROM pair_sides r
    JOIN pair_sides l
      ON l.grp = r.grp AND l.code = r.code AND l.rvu_row = r.rvu_row AND l.side_rank = r.side_rank AND NOT l.m_rt
    WHERE r.m_rt
),
pair_members AS (      -- one row per paired line: its partner and whether it is the first side
    SELECT first_id AS row_id, second_id AS partner_id, true AS first_side FROM pairs
    UNION ALL
    SELECT second_id, first_id, false FROM pairs
),
endo_bases AS (        -- step 4, family 3: the base codes of the endoscopy families billed on each claim
    SELECT DISTINCT grp, endo_base FROM pfs WHERE mult_proc = '3'
),
flagged AS (           -- step 3: how many ranked instances a line makes, each one's bilateral share and
    SELECT *,           -- amount; step 4, family 3: a base code billed with its family's members is bundled
           CAST(CASE WHEN pct = 1 AND share = 1 THEN fee ELSE round(fee * pct * share, 2) END
                AS DECIMAL(18, 2)) AS inst_full
    FROM (SELECT p.*,
                 coalesce(m.first_side, false)                 AS pair_first,
                 coalesce(NOT m.first_side, false)             AS pair_second,
                 m.partner_id,
                 CASE WHEN m.row_id IS NOT NULL THEN 1
                      WHEN m50 AND mult_proc = '4' THEN 2
                      WHEN m50 THEN 1
                      WHEN units_n = 2 AND bilat_surg IN ('1', '2') AND NOT m_side THEN 1
                      ELSE CAST(units_n AS BIGINT) END         AS n_inst,
                 CAST(CASE WHEN m.first_side THEN 1
                           WHEN NOT m.first_side
                             THEN CASE bilat_surg WHEN '1' THEN 0.5 WHEN '3' THEN 1 ELSE 0 END
                           WHEN m50 AND mult_proc = '4' THEN 1
                           WHEN m50 THEN CASE bilat_surg WHEN '1' THEN 1.5 WHEN '3' THEN 2 ELSE 1 END
                           WHEN units_n = 2 AND bilat_surg IN ('1', '2') AND NOT m_side
                             THEN CASE bilat_surg WHEN '1' THEN 1.5 ELSE 1 END
                           ELSE 1 END AS DECIMAL(3, 1))        AS share,
                 CASE WHEN mult_proc IN ('1', '2', '3') THEN 'S' WHEN mult_proc = '4' THEN 'I'
                      WHEN mult_proc = '5' THEN 'T' WHEN mult_proc = '6' THEN 'C' WHEN mult_proc = '7' THEN 'O'
                      ELSE 'N' END                             AS fam,
                 mult_proc IN ('1', '2') AND e.endo_base IS NOT NULL AS bundled
          FROM pfs p
          LEFT JOIN pair_members m ON m.row_id = p.row_id
          LEFT JOIN endo_bases e ON e.grp = p.grp AND e.endo_base = p.code)
),
inst AS (              -- families 2/3 rank instances: one row per (line, instance)
    SELECT row_id, grp, line_no, mult_proc, endo_base, pair_first, partner_id, fee, pct, share, base_fee,
           n_inst > 1 AS multi, unnest(range(n_inst)) AS u
    FROM flagged
    WHERE fam = 'S' AND NOT bundled
),
surg AS (              -- families 2/3: each line instance, RT/LT pair or endoscopy family is one procedure
    SELECT *,
           CASE WHEN mult_proc = '3' THEN 2 WHEN partner_id IS NOT NULL THEN 1 ELSE 0 END AS proc_kind,
           CASE WHEN mult_proc = '3' THEN 0
                WHEN partner_id IS NOT NULL THEN CASE WHEN pair_first THEN row_id ELSE partner_id END
                ELSE row_id END AS proc_id,
           CASE WHEN mult_proc = '3' OR partner_id IS NOT NULL THEN 0 ELSE u END AS proc_unit,
           CASE WHEN mult_proc = '3' THEN endo_base ELSE '' END AS proc_base,
           CAST(fee * pct * share AS DECIMAL(38, 15)) AS v
    FROM inst
),
endo_parts AS (        -- within an endoscopy family the highest member is whole, the others less the base
    SELECT row_id, u,
           CAST(CASE WHEN row_number() OVER (PARTITION BY grp, proc_base ORDER BY v DESC, line_no, u) > 1
                     THEN greatest(CAST(0 AS DECIMAL(38, 15)), (fee - base_fee) * pct * share)
                     ELSE v END AS DECIMAL(38, 15)) AS part_value
    FROM surg WHERE proc_kind = 2
),
surg_parts AS (
    SELECT s.*, coalesce(e.part_value, s.v) AS part_value
    FROM surg s LEFT JOIN endo_parts e ON e.row_id = s.row_id AND e.u = s.u
),
surg_procs AS (       -- one row per procedure: a line instance alone (with its own columns), or a pair / an
    SELECT grp, proc_kind, proc_id, proc_unit, proc_base,          -- endoscopy family summed over its parts
           part_value AS proc_value, line_no AS first_line, u AS first_u,
           row_id, u, multi, mult_proc, endo_base, base_fee, part_value, v
    FROM surg_parts WHERE proc_kind = 0
    UNION ALL
    SELECT grp, proc_kind, proc_id, proc_unit, proc_base, sum(part_value), min(line_no), min(u),
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM surg_parts WHERE proc_kind <> 0
    GROUP BY grp, proc_kind, proc_id, proc_unit, proc_base
),
surg_ranked AS (       -- ranked by the exact amount; ties: the lower line
    SELECT *, row_number() OVER (PARTITION BY grp ORDER BY proc_value DESC, first_line, first_u) AS proc_rank,
           count(*) OVER (PARTITION BY grp) AS procs
    FROM surg_procs
),
surg_insts AS (        -- each instance with its procedure's rank (a lone instance is its own procedure)
    SELECT row_id, u, multi, mult_proc, endo_base, base_fee, part_value, v, proc_rank, procs
    FROM surg_ranked WHERE proc_kind = 0
    UNION ALL
    SELECT p.row_id, p.u, p.multi, p.mult_proc, p.endo_base, p.base_fee, p.part_value, p.v, r.proc_rank, r.procs
    FROM surg_parts p
    JOIN surg_ranked r
      ON r.grp = p.grp AND r.proc_kind = p.proc_kind AND r.proc_id = p.proc_id AND r.proc_unit = p.proc_unit
     AND r.proc_base = p.proc_base
    WHERE p.proc_kind <> 0 AND r.proc_kind <> 0
),
surg_amounts AS (
    SELECT row_id, u, multi, proc_rank AS mp_rank, false AS pctc_denied,
           CAST(round(part_value * CASE WHEN proc_rank = 1 THEN 1 ELSE 0.5 END, 2) AS DECIMAL(18, 2)) AS amount,
           nullif(concat_ws(': ',
             CASE WHEN mult_proc = '3'
                  THEN 'endoscopy family ' || endo_base || ' '
                       || CASE WHEN part_value <> v THEN '(fee - base $' || base_fee || ')' ELSE '(highest member, whole)' END END,
             CASE WHEN procs > 1  -- one procedure: nothing to rank
                  THEN 'multiple procedure rank ' || proc_rank || ' of ' || procs || ': '
                       || CASE WHEN proc_rank = 1 THEN '100%' ELSE '50%' END END)
             || CASE WHEN multi  -- a line of several instances shows each one's amount
                     THEN ' = $' || CAST(round(part_value * CASE WHEN proc_rank = 1 THEN 1 ELSE 0.5 END, 2) AS DECIMAL(18, 2))
                     ELSE '' END, '') AS note
    FROM surg_insts
),
tcpc AS (              -- families 4 (imaging, by session), 6 and 7 (by day): each line's TC and PC per instance
    SELECT row_id, grp, fam, line_no, n_inst AS n, fee, pct, share,
           CASE WHEN fam = 'I' AND m59 THEN row_id END AS own_session,  -- 59/XE: a session of its own (NULL: the claim's)
           CASE WHEN rvu_row = 'TC' OR pctc = '3' THEN fee WHEN rvu_row = '26' OR pctc = '2' THEN 0
                WHEN pctc = '1' THEN tc_fee END AS tc,
           CASE WHEN rvu_row = 'TC' OR pctc = '3' THEN 0 WHEN rvu_row = '26' OR pctc = '2' THEN fee
                WHEN pctc = '1' THEN pc_fee END AS pc,
           CASE fam WHEN 'I' THEN 0.50 WHEN 'C' THEN 0.25 ELSE 0.20 END AS tc_rate
    FROM flagged WHERE fam IN ('I', 'C', 'O')
),
tcpc_ranked AS (       -- the highest TC (PC) instance of a session is whole (unit 1 of the first line in
    SELECT *,           -- the order); every other instance is cut, the other units of that line too
           tc IS NULL AND sum(n) FILTER (WHERE tc IS NULL OR tc > 0) OVER (PARTITION BY grp, fam, own_session) > 1
             AS pctc_denied,
           CASE WHEN tc > 0
                THEN n - CASE WHEN row_number() OVER (PARTITION BY grp, fam, own_session, tc > 0
                                                       ORDER BY tc * pct DESC, line_no, row_id) = 1 THEN 1 ELSE 0 END
                ELSE 0 END AS tc_cuts,
           CASE WHEN fam = 'I' AND pc > 0
                THEN n - CASE WHEN row_number() OVER (PARTITION BY grp, fam, own_session, pc > 0
                                                       ORDER BY pc * pct DESC, line_no, row_id) = 1 THEN 1 ELSE 0 END
                ELSE 0 END AS pc_cuts
    FROM tcpc
),
tcpc_amounts AS (
    SELECT row_id, 0 AS u, false AS multi, NULL::BIGINT AS mp_rank, pctc_denied,
           CAST(n * inst_amount - tc_cuts * tc_cut - pc_cuts * pc_cut AS DECIMAL(18, 2)) AS amount,
           nullif(concat_ws('; ',
             CASE WHEN tc_cuts > 0 THEN 'TC $' || tc || ' not the highest of the ' || CASE fam WHEN 'I' THEN 'session' ELSE 'day' END
                  || ': -' || CAST(tc_rate * 100 AS INTEGER) || '% = -$' || tc_cut
                  || CASE WHEN tc_cuts > 1 THEN ' (x ' || tc_cuts || ')' ELSE '' END END,
             CASE WHEN pc_cuts > 0 THEN 'PC $' || pc || ' not the highest of the session: -5% = -$' || pc_cut
                  || CASE WHEN pc_cuts > 1 THEN ' (x ' || pc_cuts || ')' ELSE '' END END), '') AS note
    FROM (SELECT *,
                 CAST(round(fee * pct * share, 2) AS DECIMAL(18, 2)) AS inst_amount,
                 CAST(CASE WHEN tc_cuts > 0 THEN round(tc * pct * tc_rate, 2) ELSE 0 END AS DECIMAL(18, 2)) AS tc_cut,
                 CAST(CASE WHEN pc_cuts > 0 THEN round(pc * pct * 0.05, 2) ELSE 0 END AS DECIMAL(18, 2)) AS pc_cut
          FROM tcpc_ranked)
),
therapy AS (           -- family 5: the unit with the highest PE RVU whole (the first line in the order),
    SELECT row_id, CAST(units_n AS BIGINT) AS n, fee, pct, reduced,   -- every other unit 50% of its PE
           CASE WHEN row_number() OVER (PARTITION BY grp ORDER BY pe_rvu DESC, fee * pct DESC, line_no, row_id) = 1
                THEN 1 ELSE 0 END AS whole
    FROM flagged WHERE fam = 'T'
),
therapy_amounts AS (
    SELECT row_id, 0 AS u, false AS multi, NULL::BIGINT AS mp_rank, false AS pctc_denied,
           CAST(whole * round(fee * pct, 2) + (n - whole) * round(reduced * pct, 2) AS DECIMAL(18, 2)) AS amount,
           concat_ws('; ',
             CASE WHEN whole = 1 THEN 'therapy: 1 unit whole (highest PE)' END,
             CASE WHEN n > whole
                  THEN 'therapy: ' || (n - whole) || ' unit(s) at 50% of PE $' || reduced
                       || CASE WHEN pct = 1 THEN ''
                               WHEN n = 1 THEN ' x line %'   -- the line's amount: the derivation ends in it
                               ELSE ' x line % = $' || CAST(round(reduced * pct, 2) AS DECIMAL(18, 2))
                                    || CASE WHEN n - whole > 1 THEN ' each' ELSE '' END END
             END) AS note
    FROM therapy
),
instance_amounts AS (
    SELECT * FROM surg_amounts UNION ALL SELECT * FROM tcpc_amounts UNION ALL SELECT * FROM therapy_amounts
),
family_lines AS (      -- step 4 per line: the sum of its instances (a line of one instance is that instance)
    SELECT row_id, amount AS family_amount, coalesce(mp_rank, 0) >= 6 AS rank6, pctc_denied,
           note AS family_text
    FROM instance_amounts WHERE NOT multi
    UNION ALL
    SELECT row_id, sum(amount), coalesce(max(mp_rank), 0) >= 6, bool_or(pctc_denied), string_agg(note, '; ' ORDER BY u)
    FROM instance_amounts WHERE multi
    GROUP BY row_id
),
pfs_amounts AS (
    SELECT f._pos, f.row_id, f.grp, f.status_code, f.charge, f.partner_id, f.pair_first, f.pair_second,
           f.share, f.n_inst, f.fam, f.inst_full, f.units_n,
           CASE WHEN f.bundled THEN CAST(0 AS DECIMAL(18, 2))
                WHEN f.fam = 'N' THEN f.n_inst * f.inst_full ELSE fl.family_amount END AS amount0,
           CASE WHEN f.bundled THEN CAST(0 AS DECIMAL(18, 2)) ELSE f.n_inst * f.inst_full END AS full_amount,
           CASE WHEN fl.rank6 THEN 'by report: multiple procedure rank 6 or later is priced by the MAC by individual consideration'
                WHEN fl.pctc_denied
                  THEN 'global-only code (PCTC ' || f.pctc || ') billed with other family ' || f.mult_proc
                       || ' services: its technical component is unknown, so the family cut cannot be applied'
           END AS family_reason,
           CASE WHEN f.bundled THEN 'endoscopy base ' || f.code || ' bundled with its family member(s): $0'
                WHEN f.fam <> 'N' THEN fl.family_text END AS family_text,
           nullif(concat_ws('; ', f.pct_text,
             CASE WHEN f.pair_first OR f.pair_second THEN NULL
                  WHEN f.m50 AND f.mult_proc = '4' THEN 'bilateral 50 on imaging: two studies'
                  WHEN f.m50 THEN 'bilateral 50 (BILAT SURG ' || f.bilat_surg || ') x ' || CAST(f.share * 100 AS INTEGER) || '%'
                  WHEN f.units_n = 2 AND f.bilat_surg IN ('1', '2') AND NOT f.m_side AND f.n_inst = 1
                    THEN '2 units = one bilateral procedure (BILAT SURG ' || f.bilat_surg || ') x '
                         || CAST(f.share * 100 AS INTEGER) || '%' END,
             CASE WHEN f.fam = 'N' AND f.n_inst > 1 THEN f.n_inst || ' x $' || f.inst_full END), '') AS line_text
    FROM flagged f LEFT JOIN family_lines fl ON fl.row_id = f.row_id
),
pair_rows AS (         -- step 5: the RT/LT pairs' lines with their amounts after step 4
    SELECT f.row_id, f.partner_id, f.pair_first, f.charge, fl.family_amount AS amount0
    FROM flagged f JOIN family_lines fl ON fl.row_id = f.row_id
    WHERE f.partner_id IS NOT NULL AND NOT fl.rank6 AND NOT fl.pctc_denied
),
pair_alloc AS (        -- a pair's charges together cap its amounts together, allocated to the first side first
    SELECT row_id, charges AS pair_charges,
           coalesce(CASE WHEN pair_first THEN least(amount0, total) ELSE total - least(other_amount, total) END, amount0)
             AS pair_amount
    FROM (SELECT a.row_id, a.pair_first, a.amount0, b.amount0 AS other_amount, a.charge + b.charge AS charges,
                 least(a.amount0 + b.amount0, a.charge + b.charge) AS total
          FROM pair_rows a JOIN pair_rows b ON b.row_id = a.partner_id)
),
pfs_capped AS (        -- step 5: lesser of the actual charge
    SELECT p.*,
           CAST(CASE WHEN pa.row_id IS NOT NULL THEN pa.pair_amount
                     WHEN p.charge IS NOT NULL THEN least(p.amount0, p.charge)
                     ELSE p.amount0 END AS DECIMAL(18, 2)) AS amount1,
           pa.pair_charges
    FROM pfs_amounts p
    LEFT JOIN pair_alloc pa ON pa.row_id = p.row_id
),
anes AS (              -- step 7: anesthesia lines (base units and CF come with the key)
    SELECT _pos, row_id, grp, line_no, status_code, pct_text, m_ad, m23, m_md, minutes, charge,
           base_units, anes_cf, addon, no_time,
           CAST(CAST(minutes * 1000 AS DECIMAL(18, 0)) AS BIGINT) AS minutes_1000,
           coalesce(anes_key_reason,
                    CASE WHEN NOT m_ad AND NOT no_time AND minutes IS NULL
                         THEN 'anesthesia minutes missing: time units cannot be counted (units are not minutes)' END)
             AS anes_reason
    FROM percent WHERE anesthesia
),
anes_judged AS (
    SELECT *,
           CASE WHEN m_ad THEN 3 ELSE base_units END AS base_n,
           CASE WHEN m_ad THEN CASE WHEN m23 THEN 10 ELSE 0 END WHEN no_time THEN 0
                ELSE (minutes_1000 + 750) // 1500 END AS time_tenths,
           CASE WHEN m_md THEN 0.5 ELSE 1 END AS md_pct
    FROM anes
),
anes_alone AS (        -- each anesthesia line alone: (base + time units) x CF x medical direction %
    SELECT *,
           CAST(round(CAST(base_n * 10 + time_tenths AS DECIMAL(18, 0)) * 0.1 * anes_cf * md_pct, 2) AS DECIMAL(18, 2)) AS alone
    FROM anes_judged WHERE anes_reason IS NULL
),
anes_case AS (         -- several anesthesia codes on one case: the highest base units takes the total time
    SELECT *,
           row_number() OVER (PARTITION BY grp, addon ORDER BY base_units DESC, line_no, row_id) AS case_rank,
           sum(CASE WHEN NOT m_ad AND NOT no_time THEN minutes_1000 ELSE 0 END) OVER (PARTITION BY grp, addon) AS case_minutes_1000,
           count(*) OVER (PARTITION BY grp, addon) AS case_codes,
           CASE WHEN count(*) FILTER (WHERE charge IS NULL) OVER (PARTITION BY grp, addon) = 0
                THEN sum(charge) OVER (PARTITION BY grp, addon) END AS case_charges
    FROM anes_alone
),
anes_priced AS (
    SELECT *,
           CAST(CASE WHEN addon THEN least(alone, coalesce(charge, alone))
                     WHEN case_rank > 1 THEN 0
                     ELSE least(case_amount, coalesce(case_charges, case_amount)) END AS DECIMAL(18, 2)) AS anes_allowed
    FROM (SELECT *,
                 CAST(round(CAST(base_n * 10 + CASE WHEN m_ad OR no_time THEN time_tenths
                                                    ELSE (case_minutes_1000 + 750) // 1500 END AS DECIMAL(18, 0))
                            * 0.1 * anes_cf * md_pct, 2) AS DECIMAL(18, 2)) AS case_amount
          FROM anes_case)
),
anes_out AS (
    SELECT a._pos, a.row_id, a.grp, a.status_code, true AS anesthesia,
           a.anes_reason AS reason,
           p.anes_allowed AS allowed0,
           p.alone AS full_amount,
           'anesthesia (' || a.base_n || ' base' || CASE WHEN a.m_ad THEN ' (AD)' ELSE '' END || ' + '
             || CAST(CAST(a.time_tenths AS DECIMAL(18, 0)) * 0.1 AS DECIMAL(18, 1)) || ' time units'
             || CASE WHEN a.minutes IS NOT NULL AND NOT a.m_ad AND NOT a.no_time
                     THEN ' from ' || CASE WHEN a.minutes = trunc(a.minutes) THEN CAST(CAST(a.minutes AS BIGINT) AS VARCHAR)
                                           ELSE rtrim(CAST(a.minutes AS VARCHAR), '0') END || ' min / 15' ELSE '' END
             || ') x CF $' || a.anes_cf || CASE WHEN a.m_md THEN ' x 50% (medical direction)' ELSE '' END
             || ' = $' || p.alone AS anes_text,
           false AS per_unit,
           a.pct_text AS line_text,
           CASE WHEN p.addon THEN NULL
                WHEN p.case_rank > 1
                  THEN 'anesthesia case: base and time paid on the code with the highest base units: $0'
                WHEN p.case_codes > 1
                  THEN 'anesthesia case of ' || p.case_codes || ' codes: this code (highest base units) with the total time '
                       || CAST(CAST((p.case_minutes_1000 + 750) // 1500 AS DECIMAL(18, 0)) * 0.1 AS DECIMAL(18, 1))
                       || ' units'   -- its amount is the derivation's last, unless the case's charges cut it
                       || CASE WHEN p.case_charges < p.case_amount THEN ' = $' || p.case_amount ELSE '' END END AS case_text,
           CASE WHEN p.addon AND p.charge < p.alone THEN 'lesser of charge $' || p.charge
                WHEN NOT p.addon AND p.case_rank = 1 AND p.case_charges < p.case_amount
                  THEN 'lesser of the case''s charges $' || p.case_charges END AS charge_text
    FROM anes_judged a LEFT JOIN anes_priced p ON p.row_id = a.row_id
),
pfs_out AS (
    SELECT _pos, row_id, grp, status_code, false AS anesthesia,
           family_reason AS reason,
           CASE WHEN family_reason IS NULL THEN amount1 END AS allowed0,
           full_amount,
           NULL::VARCHAR AS anes_text,
           n_inst <> 1 OR units_n <> 1 AS per_unit,
           line_text,
           nullif(concat_ws('; ',
             CASE WHEN pair_first OR pair_second
                  THEN 'bilateral RT/LT pair: ' || CASE WHEN pair_first THEN 'first side 100%'
                                                        ELSE 'second side ' || CAST(share * 100 AS INTEGER) || '%' END END,
             family_text), '') AS case_text,
           CASE WHEN pair_charges IS NOT NULL AND amount1 <> amount0
                  THEN 'lesser of the pair''s charges $' || pair_charges || ', first side first'
                WHEN pair_charges IS NULL AND charge IS NOT NULL AND amount1 < amount0
                  THEN 'lesser of charge $' || charge END AS charge_text
    FROM pfs_capped
),
judged_lines AS (      -- every line that reached steps 3-7, with its amount before status T
    SELECT * FROM pfs_out UNION ALL BY NAME SELECT * FROM anes_out
),
t_lines AS (           -- step 6: status T lines still priced
    SELECT row_id, grp FROM judged_lines WHERE NOT anesthesia AND status_code = 'T' AND reason IS NULL
),
t_paid AS (            -- claims with a T line where another (non-T) service is paid: the T lines are $0
    SELECT DISTINCT p.grp
    FROM judged_lines p SEMI JOIN t_lines t ON t.grp = p.grp
    WHERE p.reason IS NULL AND p.allowed0 > 0 AND (p.anesthesia OR p.status_code <> 'T')
),
t_bundled AS (
    SELECT t.row_id FROM t_lines t SEMI JOIN t_paid USING (grp)
),
finished AS (          -- every input line: its reason or amount, and the texts of its steps
    SELECT j._pos, j.reason, j.anesthesia, j.anes_text, j.per_unit, j.line_text, j.case_text, j.charge_text,
           j.full_amount, b.row_id IS NOT NULL AS t_bundled,
           CASE WHEN b.row_id IS NOT NULL THEN CAST(0 AS DECIMAL(18, 2)) ELSE j.allowed0 END AS allowed1
    FROM judged_lines j
    LEFT JOIN t_bundled b ON b.row_id = j.row_id
    UNION ALL BY NAME
    SELECT * FROM reasoned_out
),
texts AS (
    SELECT *, CASE WHEN t_bundled THEN 'status T: another service on the claim is paid, $0' END AS t_text
    FROM finished
)
SELECT _pos,
       CASE WHEN reason IS NULL THEN allowed1 END AS allowed,
       reason,
       CASE WHEN reason IS NULL THEN full_amount END AS full_amount,
       CASE WHEN reason IS NULL THEN nullif(concat_ws('; ', case_text, charge_text, t_text), '') END AS claim_step,
       anesthesia,
       anes_text,
       per_unit,
       CASE WHEN reason IS NULL AND coalesce(line_text, case_text, charge_text, t_text) IS NOT NULL
            THEN concat_ws('; ', line_text, case_text, charge_text, t_text) || ' = $' || allowed1 END AS steps_text
FROM texts
