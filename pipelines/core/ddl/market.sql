-- Payers' Transparency in Coverage in-network rates (owner: pipelines.market). One import of one file is one
-- transaction; a file already imported (same sha256) adds nothing. docs/market.md.

-- Manifest: one row per imported in-network file.
CREATE TABLE IF NOT EXISTS market_files (
    source_sha256     VARCHAR PRIMARY KEY,
    file_name         VARCHAR NOT NULL,
    bytes             BIGINT NOT NULL,          -- as read (compressed size for .json.gz)
    schema_version    VARCHAR,                  -- the file's "version" (1.x or 2.0)
    reporting_entity  VARCHAR,
    last_updated_on   DATE,
    rates             BIGINT NOT NULL,          -- market_rates rows kept from it
    items_read        BIGINT NOT NULL,          -- in_network items read (kept or not)
    missing_references VARCHAR[],               -- provider reference files it names that were not given
    imported_at       TIMESTAMP NOT NULL,
    seconds           DOUBLE NOT NULL
);

-- One row per negotiated price kept (one price x the provider group it applies to, collapsed by TIN).
CREATE TABLE IF NOT EXISTS market_rates (
    source_sha256     VARCHAR NOT NULL,
    reporting_entity  VARCHAR,
    plan_name         VARCHAR,
    plan_id           VARCHAR,
    last_updated_on   DATE,
    billing_code_type VARCHAR NOT NULL,         -- CPT, HCPCS, ...
    billing_code      VARCHAR NOT NULL,
    modifier          VARCHAR NOT NULL,         -- '' or the billing_code_modifier(s) joined with '-'
    negotiated_type   VARCHAR NOT NULL,         -- negotiated | fee schedule | percentage | per diem | derived
    negotiated_rate   DECIMAL(18,4) NOT NULL,   -- dollars, or the percentage for negotiated_type percentage
    rate_in_dollars   DECIMAL(18,2),            -- dollars; for a percentage only where the basis is stated
    dollars_basis     VARCHAR,                  -- how a percentage became dollars (or why it did not)
    billing_class     VARCHAR NOT NULL,         -- professional | institutional
    setting           VARCHAR,                  -- the service code set / setting the file gives
    service_codes     VARCHAR[],                -- places of service
    expiration_date   DATE,
    npi_count         INTEGER NOT NULL,         -- NPIs of the provider group the price applies to
    tin               VARCHAR                   -- the group's TIN (EIN/NPI value)
);
