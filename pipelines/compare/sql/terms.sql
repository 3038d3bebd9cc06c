-- The contract term (or rate-sheet row) that prices each distinct (contract, code, modifiers, setting).
-- Grain: one row per distinct key of the matched lines (a few thousand, not one per line).
-- Rules: a rates_csv row beats the terms; its lookup falls back from exact code+modifier to the
-- code's own row (the modifier percent then applies). Terms match top to bottom, first wins; a
-- term listing modifiers matches a line carrying any of them; price-neutral modifiers (25, 59, LT..)
-- never stop a match because nothing else looks at them. Also the modifier -> percent table factor
-- (contracts whose modifier_adjustments is a table), skipping the modifier the term or row already
-- prices, and 26/TC for Medicare- and charge-based methods (their base is already the component).
WITH keys AS (
    SELECT m.contract_idx, l.procedure_code, l.modifiers_key, l.facility, any_value(l.modifiers) AS modifiers
    FROM cmp_lines l JOIN cmp_match m ON m.line_id = l.line_id
    WHERE m.contract_idx IS NOT NULL
    GROUP BY ALL
),
term_hit AS (
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility,
           t.term_idx, t.term_line, t.term_label, t.method, t.term_value, t.exclude, t.term_modifiers
    FROM keys k
    JOIN ct_terms t
      ON t.contract_idx = k.contract_idx
     AND (t.any_code OR (length(k.procedure_code) = t.code_len
                         AND k.procedure_code BETWEEN t.code_low AND t.code_high))
     AND (t.term_modifiers IS NULL OR list_has_any(k.modifiers, t.term_modifiers))
     AND (t.term_setting IS NULL OR t.term_setting = CASE WHEN k.facility THEN 'facility' ELSE 'non-facility' END)
    QUALIFY row_number() OVER (PARTITION BY k.contract_idx, k.procedure_code, k.modifiers_key, k.facility
                               ORDER BY t.term_idx) = 1
),
rate_hit AS (
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility, r.rate, r.rate_modifier, r.rate_row
    FROM keys k
    JOIN ct_rates r
      ON r.contract_idx = k.contract_idx AND r.rate_code = k.procedure_code
     AND (r.rate_modifier = '' OR list_contains(k.modifiers, r.rate_modifier))
     AND (r.rate_setting IS NULL OR r.rate_setting = CASE WHEN k.facility THEN 'facility' ELSE 'non-facility' END)
    QUALIFY row_number() OVER (PARTITION BY k.contract_idx, k.procedure_code, k.modifiers_key, k.facility
                               ORDER BY (r.rate_modifier <> '') DESC,
                                        coalesce(list_position(k.modifiers, r.rate_modifier), 0),
                                        (r.rate_setting IS NOT NULL) DESC) = 1
),
chosen AS (
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility,
           CASE WHEN rh.rate IS NOT NULL THEN 'rates_csv' ELSE th.method END AS method,
           rh.rate IS NULL AND coalesce(th.exclude, false)                    AS excluded,
           th.term_idx, th.term_line, th.term_label, th.term_value,
           rh.rate, rh.rate_modifier, rh.rate_row,
           -- the modifiers this key's own term/row already prices
           CASE WHEN rh.rate IS NOT NULL
                THEN CASE WHEN rh.rate_modifier = '' THEN [] ELSE [rh.rate_modifier] END
                ELSE coalesce(th.term_modifiers, []) END                      AS priced_modifiers
    FROM keys k
    LEFT JOIN term_hit th USING (contract_idx, procedure_code, modifiers_key, facility)
    LEFT JOIN rate_hit rh USING (contract_idx, procedure_code, modifiers_key, facility)
),
table_mods AS (
    SELECT u.contract_idx, u.procedure_code, u.modifiers_key, u.facility,
           list(mp.percent ORDER BY u.pos)                                    AS pcts,
           string_agg('modifier ' || mp.modifier || ' ' || cmp_num(mp.percent) || '%', ', ' ORDER BY u.pos) AS what
    FROM (SELECT ch.contract_idx, ch.procedure_code, ch.modifiers_key, ch.facility, ch.method, ch.priced_modifiers,
                 unnest(ch.modifiers) AS modifier, generate_subscripts(ch.modifiers, 1) AS pos
          FROM chosen ch
          JOIN ct_contracts c ON c.contract_idx = ch.contract_idx AND c.modifier_mode = 'table') u
    JOIN ct_modpct mp ON mp.contract_idx = u.contract_idx AND mp.modifier = u.modifier
    WHERE NOT list_contains(u.priced_modifiers, u.modifier)
      AND NOT (u.modifier IN ('26', 'TC') AND u.method NOT IN ('rate', 'rates_csv'))
    GROUP BY u.contract_idx, u.procedure_code, u.modifiers_key, u.facility
)
SELECT ch.*,
       CASE WHEN ch.method = 'rates_csv' THEN 'rate sheet ' || c.rates_file || ' row ' || ch.rate_row
            ELSE ch.term_label || ' (line ' || ch.term_line || ')' END AS term_text,
       CASE WHEN tm.pcts IS NULL THEN CAST(100 AS DECIMAL(9,3))
            ELSE cmp_pct_mul(cmp_pct_mul(cmp_pct_mul(coalesce(tm.pcts[1], 100), coalesce(tm.pcts[2], 100)),
                                          coalesce(tm.pcts[3], 100)), coalesce(tm.pcts[4], 100)) END AS table_percent,
       tm.what AS table_reason
FROM chosen ch
JOIN ct_contracts c ON c.contract_idx = ch.contract_idx
LEFT JOIN table_mods tm
       ON tm.contract_idx = ch.contract_idx AND tm.procedure_code = ch.procedure_code
      AND tm.modifiers_key = ch.modifiers_key AND tm.facility = ch.facility
