-- Step 04, cmp_terms: the contract term (or rate-sheet row) that prices each distinct
-- (contract, code, modifiers, setting) of the matched lines.
-- Grain: one row per distinct key of the matched lines (a few thousand, not one per line).
-- Inputs: cmp_lines (02), cmp_match (03), ct_contracts, ct_terms, ct_rates, ct_modpct.
-- Rules: a rates_csv row beats the terms; its lookup falls back from exact code+modifier to the
-- code's own row (the modifier percent then applies). Terms match top to bottom, first wins; a
-- term listing modifiers matches a line carrying any of them; price-neutral modifiers (25, 59, LT..)
-- never stop a match because nothing else looks at them. Also the modifier -> percent table factor
-- (contracts whose modifier_adjustments is a table), skipping the modifier the term or row already
-- prices, and 26/TC for Medicare- and charge-based methods (their base is already the component).
WITH price_keys AS (        -- the distinct keys a term is looked up for
    SELECT m.contract_idx, l.procedure_code, l.modifiers_key, l.facility, any_value(l.modifiers) AS modifiers
    FROM cmp_lines l JOIN cmp_match m ON m.line_id = l.line_id
    WHERE m.contract_idx IS NOT NULL
    GROUP BY ALL
),
first_matching_term AS (    -- per key: the first term (top to bottom) whose codes, modifiers and setting match
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility,
           t.term_idx, t.term_line, t.term_label, t.method, t.term_value, t.exclude, t.term_modifiers
    FROM price_keys k
    JOIN ct_terms t
      ON t.contract_idx = k.contract_idx
     AND (t.any_code OR (length(k.procedure_code) = t.code_len
                         AND k.procedure_code BETWEEN t.code_low AND t.code_high))
     AND (t.term_modifiers IS NULL OR list_has_any(k.modifiers, t.term_modifiers))
     AND (t.term_setting IS NULL OR t.term_setting = CASE WHEN k.facility THEN 'facility' ELSE 'non-facility' END)
    QUALIFY row_number() OVER (PARTITION BY k.contract_idx, k.procedure_code, k.modifiers_key, k.facility
                               ORDER BY t.term_idx) = 1
),
best_rate_row AS (          -- per key: the rate-sheet row, code+modifier before the code's own row
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility, r.rate, r.rate_modifier, r.rate_row
    FROM price_keys k
    JOIN ct_rates r
      ON r.contract_idx = k.contract_idx AND r.rate_code = k.procedure_code
     AND (r.rate_modifier = '' OR list_contains(k.modifiers, r.rate_modifier))
     AND (r.rate_setting IS NULL OR r.rate_setting = CASE WHEN k.facility THEN 'facility' ELSE 'non-facility' END)
    QUALIFY row_number() OVER (PARTITION BY k.contract_idx, k.procedure_code, k.modifiers_key, k.facility
                               ORDER BY (r.rate_modifier <> '') DESC,
                                        coalesce(array_position(k.modifiers, r.rate_modifier), 0),
                                        (r.rate_setting IS NOT NULL) DESC) = 1
),
price_source AS (           -- per key: the rate row if any, else the term; what it prices already
    SELECT k.contract_idx, k.procedure_code, k.modifiers_key, k.modifiers, k.facility,
           CASE WHEN rh.rate IS NOT NULL THEN 'rates_csv' ELSE th.method END AS method,
           rh.rate IS NULL AND coalesce(th.exclude, false)                    AS excluded,
           th.term_idx, th.term_line, th.term_label, th.term_value,
           rh.rate, rh.rate_modifier, rh.rate_row,
           -- the modifiers this key's own term/row already prices
           CASE WHEN rh.rate IS NOT NULL
                THEN CASE WHEN rh.rate_modifier = '' THEN [] ELSE [rh.rate_modifier] END
                ELSE coalesce(th.term_modifiers, []) END                      AS priced_modifiers
    FROM price_keys k
    LEFT JOIN first_matching_term th USING (contract_idx, procedure_code, modifiers_key, facility)
    LEFT JOIN best_rate_row rh USING (contract_idx, procedure_code, modifiers_key, facility)
),
table_modifiers AS (       -- per key of a 'table' contract: each modifier at its position (an SVC01 carries at
                            -- most four, C003-03..06) that the table prices, with its percent, in words too
    SELECT u.contract_idx, u.procedure_code, u.modifiers_key, u.facility, u.pos, mp.percent,
           'modifier ' || mp.modifier || ' ' || cmp_num(mp.percent) || '%' AS percent_text
    FROM (SELECT ps.contract_idx, ps.procedure_code, ps.modifiers_key, ps.facility, ps.method, ps.priced_modifiers,
                 ps.modifiers[p.pos] AS modifier, p.pos
          FROM price_source ps
          JOIN ct_contracts c ON c.contract_idx = ps.contract_idx AND c.modifier_mode = 'table'
          CROSS JOIN (VALUES (1), (2), (3), (4)) AS p(pos)
          WHERE p.pos <= array_length(ps.modifiers)) u
    JOIN ct_modpct mp ON mp.contract_idx = u.contract_idx AND mp.modifier = u.modifier
    WHERE NOT list_contains(u.priced_modifiers, u.modifier)
      AND NOT (u.modifier IN ('26', 'TC') AND u.method NOT IN ('rate', 'rates_csv'))
),
modifier_table_percents AS (   -- per key: its table modifiers' percents by position (NULL: none there), in order
    SELECT contract_idx, procedure_code, modifiers_key, facility,
           max(CASE WHEN pos = 1 THEN percent END) AS pct1, max(CASE WHEN pos = 2 THEN percent END) AS pct2,
           max(CASE WHEN pos = 3 THEN percent END) AS pct3, max(CASE WHEN pos = 4 THEN percent END) AS pct4,
           concat_ws(', ', max(CASE WHEN pos = 1 THEN percent_text END), max(CASE WHEN pos = 2 THEN percent_text END),
                     max(CASE WHEN pos = 3 THEN percent_text END), max(CASE WHEN pos = 4 THEN percent_text END)) AS what
    FROM table_modifiers
    GROUP BY contract_idx, procedure_code, modifiers_key, facility
)
SELECT
    CAST(ps.contract_idx AS INTEGER)           AS contract_idx,
    CAST(ps.procedure_code AS VARCHAR)         AS procedure_code,
    CAST(ps.modifiers_key AS VARCHAR)          AS modifiers_key,
    CAST(ps.modifiers AS VARCHAR[])            AS modifiers,
    CAST(ps.facility AS BOOLEAN)               AS facility,
    CAST(ps.method AS VARCHAR)                 AS method,
    CAST(ps.excluded AS BOOLEAN)               AS excluded,
    CAST(ps.term_idx AS INTEGER)               AS term_idx,
    CAST(ps.term_line AS INTEGER)              AS term_line,
    CAST(ps.term_label AS VARCHAR)             AS term_label,
    CAST(ps.term_value AS DECIMAL(14,3))       AS term_value,
    CAST(ps.rate AS DECIMAL(14,2))             AS rate,
    CAST(ps.rate_modifier AS VARCHAR)          AS rate_modifier,
    CAST(ps.rate_row AS INTEGER)               AS rate_row,
    CAST(ps.priced_modifiers AS VARCHAR[])     AS priced_modifiers,
    CAST(CASE WHEN ps.method = 'rates_csv' THEN 'rate sheet ' || c.rates_file || ' row ' || ps.rate_row
              ELSE ps.term_label || ' (line ' || ps.term_line || ')' END AS VARCHAR) AS term_text,
    CAST(CASE WHEN tm.contract_idx IS NULL THEN CAST(100 AS DECIMAL(9,3))
              ELSE cmp_pct_mul(cmp_pct_mul(cmp_pct_mul(coalesce(tm.pct1, 100), coalesce(tm.pct2, 100)),
                                           coalesce(tm.pct3, 100)), coalesce(tm.pct4, 100)) END
         AS DECIMAL(9,3))                      AS table_percent,
    CAST(tm.what AS VARCHAR)                   AS table_reason
FROM price_source ps
JOIN ct_contracts c ON c.contract_idx = ps.contract_idx
LEFT JOIN modifier_table_percents tm
       ON tm.contract_idx = ps.contract_idx AND tm.procedure_code = ps.procedure_code
      AND tm.modifiers_key = ps.modifiers_key AND tm.facility = ps.facility
