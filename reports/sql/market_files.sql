-- Negotiation pack, Market section: what market_rates holds at all, for the section's note when no rate counts.
-- Grain: one row (the whole table).
SELECT
    count(*)::BIGINT                          AS rates,   -- market_rates rows, every code and kind
    count(DISTINCT source_sha256)::BIGINT     AS files    -- imported in-network files they came from
FROM market_rates
