-- Staging tables of one in-network file's import (temporary: this connection only, gone with its
-- transaction). pipelines.market.load fills them while the file is read, in batches; resolve_rates.sql
-- turns them into market_rates rows once the whole file has been read (provider references may come
-- after in_network).

-- One row per negotiated price kept (price_no: its order in the file).
CREATE OR REPLACE TEMP TABLE market_stage_prices (
    price_no          BIGINT NOT NULL,
    rate_id           BIGINT NOT NULL,          -- the negotiated_rates entry it belongs to
    billing_code_type VARCHAR NOT NULL,
    billing_code      VARCHAR NOT NULL,
    modifier          VARCHAR NOT NULL,
    negotiated_type   VARCHAR NOT NULL,
    negotiated_rate   DECIMAL(18,4) NOT NULL,
    rate_in_dollars   DECIMAL(18,2),
    dollars_basis     VARCHAR,
    billing_class     VARCHAR NOT NULL,
    setting           VARCHAR,
    service_codes     VARCHAR[],
    expiration_date   DATE
);

-- One row per negotiated_rates entry with a price kept: whether the file names any provider for it.
CREATE OR REPLACE TEMP TABLE market_stage_rates (rate_id BIGINT NOT NULL, has_providers BOOLEAN NOT NULL);

-- The provider groups a rate gives inline (1.x provider_groups).
CREATE OR REPLACE TEMP TABLE market_stage_rate_groups (rate_id BIGINT NOT NULL, group_id BIGINT NOT NULL);

-- The provider_group_ids a rate references (1.x and 2.0 provider_references).
CREATE OR REPLACE TEMP TABLE market_stage_rate_refs (rate_id BIGINT NOT NULL, ref_id BIGINT NOT NULL);

-- Every provider group kept (inline or referenced; with --npi/--tin only those that match).
CREATE OR REPLACE TEMP TABLE market_stage_groups (group_id BIGINT NOT NULL, tin VARCHAR, npis BIGINT[] NOT NULL);

-- The groups of each root provider_references entry.
CREATE OR REPLACE TEMP TABLE market_stage_ref_groups (ref_id BIGINT NOT NULL, group_id BIGINT NOT NULL);

-- The provider_references entries whose groups were read (inline, or from a provider-reference file given).
CREATE OR REPLACE TEMP TABLE market_stage_refs_read (ref_id BIGINT NOT NULL);
