-- The recovery worklist (owner: pipelines.worklist). Kept across runs: a nightly recompare updates what
-- the remittances say (payment_status, recovered amounts, deadlines) and never a person's edits
-- (workflow_status, assignee, due_date, note). Rules: docs/worklist.md.

-- One row per claim with money at stake (a case): a payer's claim family (same payer, same patient control
-- number CLP01; with none, the payer claim number CLP07) with an underpaid or denied line.
CREATE TABLE IF NOT EXISTS worklist_claims (
    case_id                BIGINT PRIMARY KEY,
    payer_id               VARCHAR NOT NULL,
    payer_claim_number     VARCHAR,               -- CLP07 of the claim the case was detected on
    patient_control_number VARCHAR,               -- CLP01 (the practice's claim number)
    first_detected_month   DATE NOT NULL,         -- payment month of the first flagged line
    workflow_status        VARCHAR NOT NULL,      -- detected, in_review, submitted, closed, or user-defined (people)
    assignee               VARCHAR,               -- people
    due_date               DATE,                  -- people
    appeal_deadline        DATE,                  -- from the payer's appeal rule (appeal_rules.yaml)
    amount_at_stake        DECIMAL(14,2) NOT NULL, -- what the open lines are still owed (allowed terms)
    recovered_amount       DECIMAL(14,2) NOT NULL, -- sum of the lines' recovered_amount (change in SVC03)
    note                   VARCHAR,               -- people
    family_key             VARCHAR NOT NULL,      -- how later remittances find the case: 'PCN:<CLP01>' or 'ICN:<CLP07>'
    payer_name             VARCHAR,
    detected_on            DATE,                  -- payment date (BPR16) of the remittance the case was detected on
    denied_on              DATE,                  -- payment date of the first remittance that denied a line of it
    last_adjustment_on     DATE,                  -- payment date of the latest remittance of the claim family
    deadline_rule          VARCHAR,               -- the appeal rule applied, with its source
    interest_amount        DECIMAL(14,2) NOT NULL, -- interest paid on the family (AMT*I, PLB L6): recorded, not recovery
    open_lines             INTEGER NOT NULL,      -- lines still underpaid, denied, partially recovered or retracted
    version                INTEGER NOT NULL,      -- +1 on every people's edit (export/import conflict check)
    updated_at             TIMESTAMP NOT NULL
);

-- One row per flagged line of a case.
CREATE TABLE IF NOT EXISTS worklist_lines (
    case_id              BIGINT NOT NULL,
    line_key             VARCHAR NOT NULL,        -- REF*6R line control number, else 'K:<code>|<mods>|<date>|<n>'
    line_control_number  VARCHAR,                 -- REF*6R as sent
    procedure_code       VARCHAR,
    modifiers            VARCHAR[],
    service_date         DATE,
    category             VARCHAR NOT NULL,        -- underpaid | denied: what it was when detected
    expected_allowed     DECIMAL(14,2),           -- the contract's allowed when detected
    original_allowed     DECIMAL(14,2),           -- the payer's allowed when detected
    original_paid        DECIMAL(14,2),           -- SVC03 when detected
    current_allowed      DECIMAL(14,2),           -- the allowed the remittances come to now (net of reversals)
    current_paid         DECIMAL(14,2),           -- SVC03 they come to now (net of reversals)
    recovered_amount     DECIMAL(14,2) NOT NULL,  -- current_paid - original_paid (negative: taken back)
    payment_status       VARCHAR NOT NULL,        -- underpaid, denied, recovered, partially_recovered, retracted, written_off
    recovered_on         DATE,                    -- payment date of the remittance that recovered it (fully or partly)
    first_line_id        BIGINT NOT NULL,         -- service_lines.line_id it was detected on
    last_line_id         BIGINT NOT NULL,         -- the latest service line of the family for this line key
    PRIMARY KEY (case_id, line_key)
);

-- Every change to a case or a line, automatic (actor 'system') or a person's (their name).
CREATE TABLE IF NOT EXISTS worklist_events (
    event_id   BIGINT PRIMARY KEY,
    case_id    BIGINT NOT NULL,
    line_key   VARCHAR,                           -- NULL: the case itself
    event_at   TIMESTAMP NOT NULL,
    actor      VARCHAR NOT NULL,                  -- 'system' or who made the edit
    kind       VARCHAR NOT NULL,                  -- detected, payment_status, recovered_amount, workflow_status, assignee, due_date, note, appeal_deadline, reopened
    old_value  VARCHAR,
    new_value  VARCHAR,
    detail     VARCHAR                            -- e.g. the remittance (payment date, trace) that changed it
);
