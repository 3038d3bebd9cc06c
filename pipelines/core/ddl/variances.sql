-- variances: one row per service line, written by `underpay compare`.
-- Public contract: the columns below are read by reports, exports and users by name.
-- variance = expected_allowed - actual_allowed (positive = the payer allowed too little).
CREATE TABLE IF NOT EXISTS variances (
    line_id                 BIGINT PRIMARY KEY,
    claim_id                BIGINT NOT NULL,
    payment_id              BIGINT,
    file_id                 BIGINT,
    payer_id                VARCHAR,
    payer_name              VARCHAR,
    contract                VARCHAR,        -- contract name (NULL when no contract matched)
    contract_file           VARCHAR,
    contract_effective      DATE,
    term                    VARCHAR,        -- the matched term, human readable
    method                  VARCHAR,        -- rate | rates_csv | percent_of_medicare | percent_of_charges
    patient_control_number  VARCHAR,
    payer_claim_number      VARCHAR,
    line_control_number     VARCHAR,        -- REF*6R
    claim_status            VARCHAR,        -- CLP02
    place_of_service        VARCHAR,
    facility                BOOLEAN,
    service_date            DATE,
    payment_date            DATE,
    payment_month           DATE,           -- first day of the BPR16 month
    procedure_code          VARCHAR,
    modifiers               VARCHAR[],
    units                   DECIMAL(12,3),
    billed                  DECIMAL(14,2),
    expected_allowed        DECIMAL(14,2),
    actual_allowed          DECIMAL(14,2),
    paid                    DECIMAL(14,2),
    patient_responsibility  DECIMAL(14,2),
    variance                DECIMAL(14,2),
    medicare_allowed        DECIMAL(14,2),  -- Medicare amount for the line (unit amount x units)
    percent_of_medicare     DECIMAL(18,2),  -- actual_allowed / medicare_allowed x 100 (widened from (9,2): issue 12)
    category                VARCHAR NOT NULL, -- underpaid overpaid correct denied reversed secondary no_contract not_priced pending
    explanation             VARCHAR NOT NULL,
    -- derivation, kept with the row (each step rounded half-up to the cent)
    medicare_unit_amount    DECIMAL(14,2),
    medicare_year           INTEGER,
    medicare_locality       VARCHAR,        -- carrier + locality, e.g. 1320201
    work_rvu                DECIMAL(9,2),
    pe_rvu                  DECIMAL(9,2),
    mp_rvu                  DECIMAL(9,2),
    work_gpci               DECIMAL(9,3),
    pe_gpci                 DECIMAL(9,3),
    mp_gpci                 DECIMAL(9,3),
    conversion_factor       DECIMAL(9,4),
    contract_percent        DECIMAL(9,3),
    step_base               DECIMAL(14,2),  -- rate / Medicare amount / charge basis per unit
    step_percent            DECIMAL(14,2),  -- after the contract percent
    step_modifier           DECIMAL(14,2),  -- after modifier / MPPR reductions
    step_units              DECIMAL(14,2),  -- after units
    step_lesser_of          DECIMAL(14,2),  -- after lesser-of charges (= expected_allowed)
    reduction_percent       DECIMAL(9,3),
    reduction_reason        VARCHAR,
    mppr_rank               INTEGER,
    not_priced_reason       VARCHAR,
    carc_codes              VARCHAR[],      -- group-reason, e.g. CO-45
    rarc_codes              VARCHAR[],
    recoded                 BOOLEAN,        -- SVC06 differs from SVC01
    pending                 BOOLEAN,        -- CARC 133: not final
    computed_at             TIMESTAMP
);

-- Added by the comparison (issue 4): more of the derivation kept with each row.
ALTER TABLE variances ADD COLUMN IF NOT EXISTS medicare_release VARCHAR;        -- CMS quarterly release letter
ALTER TABLE variances ADD COLUMN IF NOT EXISTS medicare_setting VARCHAR;        -- facility | non-facility
ALTER TABLE variances ADD COLUMN IF NOT EXISTS opps_capped BOOLEAN;             -- Medicare amount capped at OPPS
ALTER TABLE variances ADD COLUMN IF NOT EXISTS term_index INTEGER;              -- 1-based term that matched
ALTER TABLE variances ADD COLUMN IF NOT EXISTS term_line INTEGER;               -- its line in the contract file
ALTER TABLE variances ADD COLUMN IF NOT EXISTS rate_row INTEGER;                -- rates_csv row that matched
ALTER TABLE variances ADD COLUMN IF NOT EXISTS tolerance_amount DECIMAL(14,2);  -- tolerance used
ALTER TABLE variances ADD COLUMN IF NOT EXISTS tolerance_percent DECIMAL(9,3);
ALTER TABLE variances ADD COLUMN IF NOT EXISTS reversal_pair_claim_id BIGINT;   -- the claim a reversal nets with
ALTER TABLE variances ADD COLUMN IF NOT EXISTS medicare_schedule VARCHAR;      -- the Medicare schedule of the amount: mpfs, clfs, asp, dmepos, dmepos_pen, opps, asc_aa, asc_bb
