-- Step 08, wl_case_totals: each case's money, dates and appeal deadline from its lines and its family.
-- Grain: one row per case. Inputs: worklist_claims, worklist_lines (after step 07), wl_family_lines (01),
-- provider_adjustments, payments, wl_rules (the appeal rules, pipelines.worklist.deadlines).
-- Interest: AMT*I of the family's claims after detection, and PLB L6 naming one of their payer claim numbers.
WITH lines AS (
    SELECT case_id,
           count(*) FILTER (WHERE payment_status IN ('underpaid', 'denied', 'partially_recovered', 'retracted')) AS open_lines,
           sum(CASE WHEN payment_status IN ('underpaid', 'denied', 'partially_recovered', 'retracted')
                    THEN greatest(coalesce(expected_allowed, 0) - coalesce(current_allowed, 0), 0) ELSE 0 END) AS at_stake,
           sum(recovered_amount) AS recovered
    FROM worklist_lines GROUP BY case_id
),
family AS (            -- the family's claims from the detection on
    SELECT w.case_id, f.claim_id, any_value(f.payment_id) AS payment_id, any_value(f.payment_date) AS payment_date,
           any_value(f.interest_amount) AS interest_amount, any_value(f.payer_claim_number) AS icn,
           bool_or(f.filing_indicator IN ('MA', 'MB')) AS medicare
    FROM worklist_claims w
    JOIN wl_family_lines f ON f.payer_id = w.payer_id AND f.family_key = w.family_key
    WHERE f.payment_date IS NULL OR w.detected_on IS NULL OR f.payment_date >= w.detected_on
    GROUP BY w.case_id, f.claim_id
),
family_totals AS (
    SELECT case_id, max(payment_date) AS last_on, sum(coalesce(interest_amount, 0)) AS claim_interest,
           bool_or(medicare) AS medicare, list(DISTINCT icn) AS icns, list(DISTINCT payment_id) AS payments
    FROM family GROUP BY case_id
),
plb_interest AS (
    SELECT t.case_id, sum(-pa.amount) AS plb   -- PLB amounts are positive when they reduce the payment
    FROM family_totals t
    JOIN provider_adjustments pa ON pa.reason_code = 'L6' AND list_contains(t.icns, pa.reference_id)
    GROUP BY t.case_id
),
ruled AS (             -- the payer's rule, else the Medicare default for Medicare claims (CLP06 MA/MB), else the default
    SELECT w.case_id,
           coalesce(rp.days, CASE WHEN t.medicare THEN rm.days END, rd.days) AS days,
           coalesce(rp.starts, CASE WHEN t.medicare THEN rm.starts END, rd.starts) AS starts,
           coalesce(rp.label, CASE WHEN t.medicare THEN rm.label END, rd.label) AS label
    FROM worklist_claims w
    LEFT JOIN family_totals t USING (case_id)
    LEFT JOIN wl_rules rp ON rp.payer_id = w.payer_id
    LEFT JOIN wl_rules rm ON rm.kind = 'medicare'
    LEFT JOIN wl_rules rd ON rd.kind = 'default'
)
SELECT w.case_id,
       CAST(coalesce(l.open_lines, 0) AS INTEGER)                  AS open_lines,
       CAST(coalesce(l.at_stake, 0) AS DECIMAL(14,2))              AS amount_at_stake,
       CAST(coalesce(l.recovered, 0) AS DECIMAL(14,2))             AS recovered_amount,
       coalesce(t.last_on, w.last_adjustment_on)                   AS last_adjustment_on,
       CAST(coalesce(t.claim_interest, 0) + coalesce(pi.plb, 0) AS DECIMAL(14,2)) AS interest_amount,
       CASE r.starts WHEN 'original_remittance' THEN w.detected_on
                     WHEN 'last_adjustment' THEN coalesce(t.last_on, w.last_adjustment_on)
                     WHEN 'denial' THEN coalesce(w.denied_on, w.detected_on) END
         + CAST(r.days AS INTEGER)                                 AS appeal_deadline,
       r.label                                                     AS deadline_rule
FROM worklist_claims w
LEFT JOIN lines l USING (case_id)
LEFT JOIN family_totals t USING (case_id)
LEFT JOIN plb_interest pi USING (case_id)
LEFT JOIN ruled r USING (case_id)
