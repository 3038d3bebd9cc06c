-- Purpose: the claims (CLP01, CLP07, CLP03, CLP04) of the earlier payments of candidate re-sends
-- (resent_candidates, from resent_payments.sql), so that load.flag_resent can compare them with
-- the new payment's claims: the same multiset is a re-send, another one a reused trace number
-- (e.g. zero-dollar notices).
-- Grain: one row per (new payment, earlier payment, earlier claim); claim_id is NULL when the earlier
-- payment has no claims.
SELECT r.payment_id, r.earlier, c.claim_id, c.patient_control_number, c.payer_claim_number, c.charge, c.paid
FROM resent_candidates AS r
LEFT JOIN claims AS c ON c.payment_id = r.earlier
