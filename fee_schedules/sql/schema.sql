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
