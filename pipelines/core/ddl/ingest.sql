-- Warehouse tables filled by `underpay ingest` (one 835 file = one transaction).
-- Column names here are a public contract: users and other tools query them by name.
-- Money is DECIMAL(14,2); quantities DECIMAL(12,3). Every row keeps segment_number:
-- the 1-based position of its segment in the file (counting every segment, ISA = 1),
-- so any figure can be traced back to the bytes.
-- payment_id, claim_id and line_id are unique: the loader assigns them (the warehouse's max id
-- plus the row's ordinal in the file, one writer at a time) and pandera checks them. They are
-- not declared PRIMARY KEY: keeping that index up to date cost a third of the load time of a
-- million-line file, and nothing looks rows up one at a time.

CREATE SEQUENCE IF NOT EXISTS era_file_id_seq START 1;

-- One row per file seen (every attempt, so a re-sent file shows as 'duplicate').
CREATE TABLE IF NOT EXISTS era_files (
    file_id          BIGINT PRIMARY KEY,
    path             VARCHAR NOT NULL,      -- original path as given
    file_name        VARCHAR,
    sha256           VARCHAR NOT NULL,
    size_bytes       BIGINT,
    loaded_at        TIMESTAMP NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('loaded', 'duplicate', 'rejected')),
    reason           VARCHAR,               -- why rejected / what it duplicates
    error_segment    BIGINT,                -- segment number of the error when rejected
    duplicate_of     BIGINT,                -- file_id of the first load of the same bytes
    x12_version      VARCHAR,               -- 005010X221A1, 004010X091A1, ...
    interchanges     INTEGER,
    transactions     INTEGER,
    claims           INTEGER,
    service_lines    INTEGER,
    total_paid       DECIMAL(14,2),         -- sum of BPR02 (credit positive, debit negative)
    tolerated        VARCHAR[],             -- irregularities accepted while parsing
    run_id           BIGINT                 -- runs.run_id of the nightly/ingest run, when any
);

-- One row per ST/SE transaction (one payment / remittance advice).
CREATE TABLE IF NOT EXISTS payments (
    payment_id              BIGINT NOT NULL,
    file_id                 BIGINT NOT NULL,
    transaction_index       INTEGER NOT NULL, -- 1-based ST ordinal within the file
    segment_number          BIGINT NOT NULL,  -- ST segment
    interchange_control     VARCHAR,        -- ISA13
    group_control           VARCHAR,        -- GS06
    transaction_control     VARCHAR,        -- ST02
    x12_version             VARCHAR,        -- ST03 / GS08
    handling_code           VARCHAR,        -- BPR01
    total_paid              DECIMAL(14,2) NOT NULL, -- BPR02 (required: a BPR without it is rejected)
    credit_debit            VARCHAR,        -- BPR03 (C/D)
    payment_method          VARCHAR,        -- BPR04 (ACH, CHK, BOP, FWT, NON)
    payment_format          VARCHAR,        -- BPR05
    payment_date            DATE,           -- BPR16
    trace_type              VARCHAR,        -- TRN01
    trace_number            VARCHAR,        -- TRN02 (check / EFT trace)
    originating_company_id  VARCHAR,        -- TRN03
    originating_company_supplemental VARCHAR, -- TRN04
    production_date         DATE,           -- DTM*405
    receiver_id             VARCHAR,        -- REF*EV
    payer_id                VARCHAR,        -- REF*2U of N1*PR, else payer_n1_id, else TRN03
    payer_id_qualifier      VARCHAR,        -- N1*PR03, else NM1*PR08
    payer_n1_id             VARCHAR,        -- N1*PR04, else NM1*PR09
    payer_ref_2u            VARCHAR,        -- REF*2U in loop 1000A
    payer_name              VARCHAR,        -- N1*PR02, else NM1*PR03
    payer_address           VARCHAR,        -- N3
    payer_city              VARCHAR,        -- N4 01
    payer_state             VARCHAR,        -- N4 02
    payer_zip               VARCHAR,        -- N4 03
    payee_name              VARCHAR,        -- N1*PE02, else NM1*PE03
    payee_id_qualifier      VARCHAR,        -- N1*PE03 (XX NPI, FI TIN, ...), else NM1*PE08
    payee_id                VARCHAR,        -- N1*PE04, else NM1*PE09
    payee_npi               VARCHAR,        -- payee_id when XX
    payee_tin               VARCHAR,        -- payee_id when FI, else REF*TJ
    payee_address           VARCHAR,
    payee_city              VARCHAR,
    payee_state             VARCHAR,
    payee_zip               VARCHAR,        -- N4 03 of loop 1000B (5 or 9 digits)
    resent_of_payment_id    BIGINT,         -- same TRN02, payer, BPR02 and claims seen before: flagged, not doubled
    -- a header NM1*PR / NM1*PE (outside the 835 guide, sent by some payers instead of or beside N1)
    payer_nm1_name          VARCHAR,        -- NM1*PR03
    payer_nm1_id_qualifier  VARCHAR,        -- NM1*PR08
    payer_nm1_id            VARCHAR,        -- NM1*PR09
    payee_nm1_name          VARCHAR,        -- NM1*PE03
    payee_nm1_id_qualifier  VARCHAR,        -- NM1*PE08
    payee_nm1_id            VARCHAR         -- NM1*PE09
);

-- One row per CLP (claim payment information).
CREATE TABLE IF NOT EXISTS claims (
    claim_id                BIGINT NOT NULL,
    payment_id              BIGINT NOT NULL,
    file_id                 BIGINT NOT NULL,
    segment_number          BIGINT NOT NULL,
    lx_number               VARCHAR,        -- LX01 of the enclosing header number loop
    patient_control_number  VARCHAR,        -- CLP01
    status_code             VARCHAR,        -- CLP02
    charge                  DECIMAL(14,2),  -- CLP03
    paid                    DECIMAL(14,2),  -- CLP04
    patient_responsibility  DECIMAL(14,2),  -- CLP05
    filing_indicator        VARCHAR,        -- CLP06
    payer_claim_number      VARCHAR,        -- CLP07
    place_of_service        VARCHAR,        -- CLP08 (facility code value / POS)
    frequency_code          VARCHAR,        -- CLP09
    patient_status          VARCHAR,        -- CLP10
    drg_code                VARCHAR,        -- CLP11
    drg_weight              DECIMAL(12,4),  -- CLP12
    discharge_fraction      DECIMAL(12,4),  -- CLP13
    yes_no_condition        VARCHAR,        -- CLP14
    patient_last_name       VARCHAR,        -- NM1*QC (PHI)
    patient_first_name      VARCHAR,
    patient_middle_name     VARCHAR,
    patient_id_qualifier    VARCHAR,
    patient_member_id       VARCHAR,        -- NM1*QC09 (PHI)
    insured_last_name       VARCHAR,        -- NM1*IL (PHI)
    insured_first_name      VARCHAR,
    insured_member_id       VARCHAR,        -- NM1*IL09 (PHI)
    corrected_last_name     VARCHAR,        -- NM1*74 (PHI)
    corrected_first_name    VARCHAR,
    corrected_member_id     VARCHAR,
    rendering_provider_name VARCHAR,        -- NM1*82
    rendering_provider_id   VARCHAR,        -- NM1*82 09 (NPI when qualifier XX)
    rendering_provider_qualifier VARCHAR,
    crossover_carrier_name  VARCHAR,        -- NM1*TT
    crossover_carrier_id    VARCHAR,
    mia_remarks             VARCHAR[],      -- MIA remark codes (MIA05, 20, 21, 22, 23)
    moa_remarks             VARCHAR[],      -- MOA03..MOA07
    moa_reimbursement_rate  DECIMAL(12,4),  -- MOA01
    moa_payable_amount      DECIMAL(14,2),  -- MOA02
    statement_from          DATE,           -- DTM*232
    statement_to            DATE,           -- DTM*233
    received_date           DATE,           -- DTM*050
    coverage_amount         DECIMAL(14,2),  -- AMT*AU
    interest_amount         DECIMAL(14,2),  -- AMT*I
    other_amounts           VARCHAR[],      -- other claim AMT as 'QUAL=amount'
    quantities              VARCHAR[],      -- claim QTY as 'QUAL=quantity'
    refs                    VARCHAR[],      -- claim REF as 'QUAL:value' (1L, EA, F8, G1, ...)
    original_reference      VARCHAR,        -- REF*F8 (payer's original claim number)
    reverses_claim_id       BIGINT,         -- on CLP02=22: the claim it reverses
    reversed_by_claim_id    BIGINT          -- on the original: the reversal that cancels it
);

-- One row per SVC (service payment information, loop 2110).
CREATE TABLE IF NOT EXISTS service_lines (
    line_id                 BIGINT NOT NULL,
    claim_id                BIGINT NOT NULL,
    payment_id              BIGINT NOT NULL,
    file_id                 BIGINT NOT NULL,
    segment_number          BIGINT NOT NULL,
    line_number             INTEGER NOT NULL, -- 1-based ordinal within the claim
    qualifier               VARCHAR,        -- SVC01-1 (HC, AD, ER, IV, N4, NU, HP, WK, ...)
    procedure_code          VARCHAR,        -- SVC01-2
    modifiers               VARCHAR[],      -- SVC01-3..6, in order, blanks dropped
    modifier_1              VARCHAR,
    modifier_2              VARCHAR,
    modifier_3              VARCHAR,
    modifier_4              VARCHAR,
    description             VARCHAR,        -- SVC01-7
    charge                  DECIMAL(14,2),  -- SVC02
    paid                    DECIMAL(14,2),  -- SVC03
    revenue_code            VARCHAR,        -- SVC04
    units                   DECIMAL(12,3) NOT NULL, -- SVC05, 1 when absent
    original_composite      VARCHAR,        -- SVC06 as sent (components joined with ':')
    original_qualifier      VARCHAR,
    original_procedure_code VARCHAR,
    original_modifiers      VARCHAR[],
    original_units          DECIMAL(12,3),  -- SVC07
    service_date            DATE,           -- DTM*472, else DTM*150, else claim statement_from
    service_date_end        DATE,           -- DTM*151, else service_date
    service_date_source     VARCHAR,        -- '472', '150', 'claim'
    allowed                 DECIMAL(14,2),  -- AMT*B6 (NULL when the payer did not send it)
    line_control_number     VARCHAR,        -- REF*6R
    refs                    VARCHAR[],      -- other line REF as 'QUAL:value'
    other_amounts           VARCHAR[],      -- other line AMT as 'QUAL=amount'
    remark_codes            VARCHAR[],      -- LQ*HE (RARC)
    ncpdp_reject_codes      VARCHAR[]       -- LQ*RX
);

-- One row per CAS triplet (up to 6 per segment), claim or line level.
CREATE TABLE IF NOT EXISTS adjustments (
    file_id          BIGINT NOT NULL,
    payment_id       BIGINT NOT NULL,
    claim_id         BIGINT NOT NULL,
    line_id          BIGINT,                -- NULL for claim-level adjustments
    segment_number   BIGINT NOT NULL,
    triplet_index    INTEGER NOT NULL,      -- 1..6 within the CAS segment
    group_code       VARCHAR NOT NULL,      -- CO, PR, OA, PI, CR
    reason_code      VARCHAR NOT NULL,      -- CARC
    amount           DECIMAL(14,2) NOT NULL,
    quantity         DECIMAL(12,3)
);

-- One row per PLB adjustment pair (up to 6 per segment).
CREATE TABLE IF NOT EXISTS provider_adjustments (
    file_id              BIGINT NOT NULL,
    payment_id           BIGINT NOT NULL,
    segment_number       BIGINT NOT NULL,
    pair_index           INTEGER NOT NULL,  -- 1..6 within the PLB segment
    provider_id          VARCHAR,           -- PLB01
    fiscal_period_date   DATE,              -- PLB02
    reason_code          VARCHAR NOT NULL,  -- PLB03-1 (WO, FB, L6, 72, ...)
    reference_id         VARCHAR,           -- PLB03-2
    amount               DECIMAL(14,2) NOT NULL -- positive reduces the payment
);

-- One row per failed check (balancing, code sets, tolerated irregularities).
CREATE TABLE IF NOT EXISTS validation_issues (
    file_id          BIGINT NOT NULL,
    payment_id       BIGINT,
    claim_id         BIGINT,
    line_id          BIGINT,
    segment_number   BIGINT,
    rule             VARCHAR NOT NULL,      -- e.g. balance_transaction, balance_claim, balance_line
    severity         VARCHAR NOT NULL,      -- 'error' or 'warning'
    expected         VARCHAR,
    actual           VARCHAR,
    message          VARCHAR
);
