-- Medicare Physician Fee Schedule tables (owner: fee_schedules). Applied by pipelines.core.warehouse.connect.
-- Every table is keyed by (year, release): release is the CMS quarterly letter, A Jan, B Apr, C Jul, D Oct.
-- A release that did not ship a file inherits that file's rows from the latest earlier release of the
-- same year (mpfs_release_files.inherited_from says so). CPT descriptors (AMA copyright) are never stored.

-- Manifest: one row per imported release.
CREATE TABLE IF NOT EXISTS mpfs_releases (
    year              INTEGER NOT NULL,
    release           VARCHAR NOT NULL,          -- 'A' | 'B' | 'C' | 'D'
    effective_from    DATE NOT NULL,             -- 1 Jan / 1 Apr / 1 Jul / 1 Oct of year
    effective_through DATE NOT NULL,             -- day before the next imported release of the year, else 31 Dec
    source            VARCHAR NOT NULL,          -- folder or zip imported
    imported_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (year, release)
);

-- Manifest: one row per (release, file kind): shipped by the release or inherited from an earlier one.
CREATE TABLE IF NOT EXISTS mpfs_release_files (
    year            INTEGER NOT NULL,
    release         VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,            -- rvu | gpci | locco | anes | oppscap | zip5 | zip9 | anes_base
    file_name       VARCHAR NOT NULL,            -- e.g. GPCI2025.csv
    sha256          VARCHAR NOT NULL,
    bytes           BIGINT NOT NULL,
    row_count       BIGINT NOT NULL,
    inherited_from  VARCHAR,                     -- NULL when shipped; else the release letter it came from
    PRIMARY KEY (year, release, kind)
);

-- PPRRVU: one row per (year, release, hcpcs, modifier).
CREATE TABLE IF NOT EXISTS mpfs_rvu (
    year              INTEGER NOT NULL,
    release           VARCHAR NOT NULL,
    hcpcs             VARCHAR NOT NULL,
    modifier          VARCHAR NOT NULL,          -- '' | '26' | 'TC' | '53'
    status_code       VARCHAR NOT NULL,
    work_rvu          DECIMAL(9,2) NOT NULL,
    nf_pe_rvu         DECIMAL(9,2) NOT NULL,
    nf_na             BOOLEAN NOT NULL,
    f_pe_rvu          DECIMAL(9,2) NOT NULL,
    f_na              BOOLEAN NOT NULL,
    mp_rvu            DECIMAL(9,2) NOT NULL,
    pctc              VARCHAR NOT NULL,
    global_days       VARCHAR NOT NULL,
    pre_op            DECIMAL(5,2),              -- share of the global package: PRE OP (27447: 0.10)
    intra_op          DECIMAL(5,2),              -- INTRA OP (27447: 0.69); NULL only in rows imported before these columns
    post_op           DECIMAL(5,2),              -- POST OP (27447: 0.21)
    mult_proc         VARCHAR NOT NULL,
    bilat_surg        VARCHAR NOT NULL,
    asst_surg         VARCHAR NOT NULL,
    co_surg           VARCHAR NOT NULL,
    team_surg         VARCHAR NOT NULL,
    pric_ind          VARCHAR,                   -- 2026+ only, undocumented
    endo_base         VARCHAR,
    conversion_factor DECIMAL(9,4) NOT NULL,
    supervision       VARCHAR,
    calc_flag         VARCHAR,
    imaging_family    VARCHAR,
    opps_nf_pe_rvu    DECIMAL(9,2) NOT NULL,
    opps_f_pe_rvu     DECIMAL(9,2) NOT NULL,
    opps_mp_rvu       DECIMAL(9,2) NOT NULL,
    PRIMARY KEY (year, release, hcpcs, modifier)
);

-- GPCI (Addendum E): one row per (year, release, carrier, locality).
CREATE TABLE IF NOT EXISTS mpfs_gpci (
    year          INTEGER NOT NULL,
    release       VARCHAR NOT NULL,
    carrier       VARCHAR NOT NULL,              -- 5 digits, e.g. '02102'
    locality      VARCHAR NOT NULL,              -- 2 digits
    state         VARCHAR NOT NULL,
    locality_name VARCHAR NOT NULL,
    work_gpci     DECIMAL(9,3) NOT NULL,         -- the "with 1.0 Floor" column
    pe_gpci       DECIMAL(9,3) NOT NULL,
    mp_gpci       DECIMAL(9,3) NOT NULL,
    PRIMARY KEY (year, release, carrier, locality)
);

-- Locality-to-county crosswalk (LOCCO): one row per (year, release, carrier, locality, fee schedule area).
CREATE TABLE IF NOT EXISTS mpfs_locality_counties (
    year              INTEGER NOT NULL,
    release           VARCHAR NOT NULL,
    carrier           VARCHAR NOT NULL,
    locality          VARCHAR NOT NULL,
    state             VARCHAR NOT NULL,
    fee_schedule_area VARCHAR NOT NULL,
    counties          VARCHAR NOT NULL
);

-- Anesthesia conversion factor by locality: one row per (year, release, carrier, locality).
CREATE TABLE IF NOT EXISTS mpfs_anesthesia_cf (
    year          INTEGER NOT NULL,
    release       VARCHAR NOT NULL,
    carrier       VARCHAR NOT NULL,
    locality      VARCHAR NOT NULL,
    locality_name VARCHAR NOT NULL,
    anesthesia_cf DECIMAL(9,2) NOT NULL,
    PRIMARY KEY (year, release, carrier, locality)
);

-- Anesthesia base units (CMS "Anesthesia Base Units by CPT Code"): one row per (year, release, hcpcs).
-- Not shipped with the RVU release: found beside it (extra/anesthesia/<year>/, else the latest earlier
-- year there). source_year is the CY of the CMS file the rows came from (2022 for the only one we have);
-- a code absent here has unknown base units (never zero).
CREATE TABLE IF NOT EXISTS mpfs_anesthesia_base_units (
    year          INTEGER NOT NULL,
    release       VARCHAR NOT NULL,
    hcpcs         VARCHAR NOT NULL,              -- 5 characters, leading zeros kept: '00790'
    base_units    INTEGER NOT NULL,
    source_year   INTEGER NOT NULL,
    PRIMARY KEY (year, release, hcpcs)
);

-- OPPSCAP: CMS's own capped amounts, one row per (year, release, hcpcs, modifier, file carrier, locality).
-- gpci_carrier is the carrier under which GPCI lists the locality (01112 -> 01182 for CA 17/18/71-74).
CREATE TABLE IF NOT EXISTS mpfs_opps_cap (
    year              INTEGER NOT NULL,
    release           VARCHAR NOT NULL,
    hcpcs             VARCHAR NOT NULL,
    modifier          VARCHAR NOT NULL,
    proc_status       VARCHAR NOT NULL,
    carrier           VARCHAR NOT NULL,
    locality          VARCHAR NOT NULL,
    gpci_carrier      VARCHAR,
    facility_price    DECIMAL(14,2) NOT NULL,
    nonfacility_price DECIMAL(14,2) NOT NULL
);

-- ZIP5 to carrier locality: one row per (year, release, zip5).
CREATE TABLE IF NOT EXISTS mpfs_zip5 (
    year           INTEGER NOT NULL,
    release        VARCHAR NOT NULL,
    state          VARCHAR NOT NULL,
    zip5           VARCHAR NOT NULL,
    carrier        VARCHAR NOT NULL,
    locality       VARCHAR NOT NULL,
    rural          VARCHAR NOT NULL,             -- '' urban, 'R' rural, 'B' super rural
    plus_four_flag BOOLEAN NOT NULL,             -- true: the ZIP spans localities, look in mpfs_zip9
    year_quarter   VARCHAR NOT NULL,             -- YYYYQ
    PRIMARY KEY (year, release, zip5)
);

-- ZIP9 exceptions: one row per (year, release, zip5, plus4).
CREATE TABLE IF NOT EXISTS mpfs_zip9 (
    year         INTEGER NOT NULL,
    release      VARCHAR NOT NULL,
    state        VARCHAR NOT NULL,
    zip5         VARCHAR NOT NULL,
    plus4        VARCHAR NOT NULL,
    carrier      VARCHAR NOT NULL,
    locality     VARCHAR NOT NULL,
    rural        VARCHAR NOT NULL,
    year_quarter VARCHAR NOT NULL,
    PRIMARY KEY (year, release, zip5, plus4)
);

-- Conversion factors: one row per (year, release, qp). qp = qualifying APM participant.
CREATE TABLE IF NOT EXISTS mpfs_conversion_factors (
    year              INTEGER NOT NULL,
    release           VARCHAR NOT NULL,
    qp                BOOLEAN NOT NULL,
    conversion_factor DECIMAL(9,4) NOT NULL,
    anesthesia_cf     DECIMAL(9,4),              -- national anesthesia CF where known
    source            VARCHAR NOT NULL,          -- where the factor comes from
    PRIMARY KEY (year, release, qp)
);

-- ---------------------------------------------------------------------------------------------------
-- The other Medicare fee schedules (fee_schedules.schedules): clinical lab (CLFS), Part B drugs (ASP
-- payment limits and the NOC file), DMEPOS with PEN and the rural ZIP file, OPPS Addendum B and the
-- ASC addenda AA/BB. Each imported file is one release of one schedule, keyed by (schedule,
-- effective_from); a later release of the same period (a re-release) replaces the earlier one.

-- Manifest: one row per release in the warehouse.
CREATE TABLE IF NOT EXISTS schedule_releases (
    schedule          VARCHAR NOT NULL,          -- clfs | asp | asp_noc | dmepos | dmepos_pen | dmepos_rural | opps | asc_aa | asc_bb
    effective_from    DATE NOT NULL,             -- first day in force (the quarter, or the file's own dates)
    effective_through DATE NOT NULL,             -- last day in force (see docs/fee-schedules.md: per schedule)
    issued            DATE,                      -- when CMS issued the file, where it says (orders re-releases)
    version           INTEGER,                   -- CLFS V1, V2 ... of one quarter
    file_name         VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,
    bytes             BIGINT NOT NULL,
    row_count         BIGINT NOT NULL,
    source            VARCHAR NOT NULL,          -- the path imported
    imported_at       TIMESTAMP NOT NULL,
    replaced          VARCHAR,                   -- 'file name (sha256 prefix)' of the release this one replaced
    PRIMARY KEY (schedule, effective_from)
);

-- CLFS: one row per (effective_from, hcpcs, modifier); rate = the national limitation amount.
CREATE TABLE IF NOT EXISTS clfs_rates (
    effective_from DATE NOT NULL,
    hcpcs          VARCHAR NOT NULL,
    modifier       VARCHAR NOT NULL,             -- '' | QW | ... as the file has rows
    eff_date       DATE NOT NULL,                -- EFF_DATE of the row
    indicator      VARCHAR NOT NULL,             -- INDICATOR as CMS writes it
    rate           DECIMAL(14,2) NOT NULL,
    year           INTEGER NOT NULL,
    PRIMARY KEY (effective_from, hcpcs, modifier)
);

-- ASP payment limits: one row per (effective_from, hcpcs); the limit is per HCPCS dosage unit.
CREATE TABLE IF NOT EXISTS asp_limits (
    effective_from  DATE NOT NULL,
    hcpcs           VARCHAR NOT NULL,
    dosage          VARCHAR NOT NULL,            -- HCPCS Code Dosage as CMS writes it, e.g. '1 MG'
    dosage_amount   DECIMAL(18,6),               -- 1 of '1 MG', 150 of '150 IU'; NULL when the text has no number
    dosage_unit     VARCHAR,                     -- MG, ML, IU, UNITS ...
    payment_limit   DECIMAL(14,3) NOT NULL,      -- dollars per dosage unit, as CMS gives it (3 places)
    coinsurance_pct DECIMAL(7,3),
    notes           VARCHAR NOT NULL,
    PRIMARY KEY (effective_from, hcpcs)
);

-- ASP NOC drugs: one row per (effective_from, drug_name).
CREATE TABLE IF NOT EXISTS asp_noc_limits (
    effective_from DATE NOT NULL,
    drug_name      VARCHAR NOT NULL,
    dosage         VARCHAR NOT NULL,
    dosage_amount  DECIMAL(18,6),
    dosage_unit    VARCHAR,
    payment_limit  DECIMAL(14,3) NOT NULL,
    notes          VARCHAR NOT NULL
);

-- DMEPOS and PEN fees: one row per (schedule, effective_from, hcpcs, modifier, modifier2, state).
CREATE TABLE IF NOT EXISTS dmepos_fees (
    schedule       VARCHAR NOT NULL,             -- dmepos | dmepos_pen
    effective_from DATE NOT NULL,
    hcpcs          VARCHAR NOT NULL,
    modifier       VARCHAR NOT NULL,             -- NU, RR, UE ... or ''
    modifier2      VARCHAR NOT NULL,
    juris          VARCHAR,
    category       VARCHAR,                      -- CATG (CR capped rental, IN inexpensive ...); NULL for PEN
    ceiling        DECIMAL(14,2),
    floor          DECIMAL(14,2),
    state          VARCHAR NOT NULL,
    fee_nonrural   DECIMAL(14,2) NOT NULL,
    fee_rural      DECIMAL(14,2),                -- NULL: the non-rural fee applies statewide
    PRIMARY KEY (schedule, effective_from, hcpcs, modifier, modifier2, state)
);

-- DMEPOS rural ZIP codes: one row per (effective_from, zip5).
CREATE TABLE IF NOT EXISTS dmepos_rural_zips (
    effective_from DATE NOT NULL,
    state          VARCHAR NOT NULL,
    zip5           VARCHAR NOT NULL,
    year_quarter   VARCHAR NOT NULL,
    PRIMARY KEY (effective_from, zip5)
);

-- OPPS Addendum B: one row per (effective_from, hcpcs); national unadjusted amounts (no wage index).
CREATE TABLE IF NOT EXISTS opps_rates (
    effective_from   DATE NOT NULL,
    hcpcs            VARCHAR NOT NULL,
    status_indicator VARCHAR NOT NULL,
    apc              VARCHAR NOT NULL,
    relative_weight  DECIMAL(12,4),
    payment_rate     DECIMAL(14,3),               -- drugs (SI K, G) are given to 3 places, like their ASP limits
    national_copay   DECIMAL(14,2),
    minimum_copay    DECIMAL(14,2),
    PRIMARY KEY (effective_from, hcpcs)
);

-- ASC addenda AA (surgical procedures) and BB (ancillary services): one row per (schedule, effective_from, hcpcs).
CREATE TABLE IF NOT EXISTS asc_rates (
    schedule                    VARCHAR NOT NULL,   -- asc_aa | asc_bb
    effective_from              DATE NOT NULL,
    hcpcs                       VARCHAR NOT NULL,
    payment_indicator           VARCHAR NOT NULL,
    multiple_procedure_discount BOOLEAN,
    payment_weight              DECIMAL(12,4),
    payment_rate                DECIMAL(14,2),
    PRIMARY KEY (schedule, effective_from, hcpcs)
);
