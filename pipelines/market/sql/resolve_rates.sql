-- market_rates rows of one in-network file: each negotiated price kept x the TIN of the provider groups it
-- applies to (inline, or through provider_references resolved here, after the whole file was read).
-- Grain: one row per (price kept, TIN). Groups of one price with the same TIN collapse into one row whose
-- npi_count counts their NPIs once each (0, the TIN-only marker, is not an NPI). A price whose providers the
-- file does not give (a provider-reference file not given, an id provider_references does not define, no
-- provider at all) has one row with tin NULL and npi_count 0, unless NPIs/TINs were asked for ($by_provider).
-- Inputs: the staging tables of stage.sql. Parameters: $sha256, $reporting_entity, $plan_name, $plan_id,
-- $last_updated_on (the file's root values), $by_provider.
WITH links AS (          -- each kept rate -> the provider groups it applies to
    SELECT rate_id, group_id FROM market_stage_rate_groups
    UNION ALL
    SELECT rr.rate_id, rg.group_id
    FROM market_stage_rate_refs rr
    JOIN market_stage_ref_groups rg ON rg.ref_id = rr.ref_id
),
by_tin AS (              -- one row per rate and TIN, the NPIs of its groups with that TIN counted once
    SELECT l.rate_id, g.tin,
           CAST(len(list_filter(list_distinct(flatten(list(g.npis))), lambda n: n <> 0)) AS INTEGER) AS npi_count
    FROM links l
    JOIN market_stage_groups g ON g.group_id = l.group_id
    GROUP BY l.rate_id, g.tin
),
unknown AS (             -- rates with providers the file does not give
    SELECT rate_id FROM market_stage_rates WHERE NOT has_providers
    UNION
    SELECT rr.rate_id
    FROM market_stage_rate_refs rr
    WHERE NOT EXISTS (SELECT 1 FROM market_stage_refs_read r WHERE r.ref_id = rr.ref_id)
),
providers AS (
    SELECT rate_id, tin, npi_count FROM by_tin
    UNION ALL
    SELECT rate_id, CAST(NULL AS VARCHAR) AS tin, CAST(0 AS INTEGER) AS npi_count FROM unknown WHERE NOT $by_provider
)
SELECT CAST($sha256 AS VARCHAR)           AS source_sha256,
       CAST($reporting_entity AS VARCHAR) AS reporting_entity,
       CAST($plan_name AS VARCHAR)        AS plan_name,
       CAST($plan_id AS VARCHAR)          AS plan_id,
       CAST($last_updated_on AS DATE)     AS last_updated_on,
       p.billing_code_type,               -- VARCHAR
       p.billing_code,                    -- VARCHAR
       p.modifier,                        -- VARCHAR: '' or the modifiers joined with '-'
       p.negotiated_type,                 -- VARCHAR: as the file says
       p.negotiated_rate,                 -- DECIMAL(18,4): dollars, or the percentage
       p.rate_in_dollars,                 -- DECIMAL(18,2)
       p.dollars_basis,                   -- VARCHAR
       p.billing_class,                   -- VARCHAR
       p.setting,                         -- VARCHAR
       p.service_codes,                   -- VARCHAR[]
       p.expiration_date,                 -- DATE
       pr.npi_count,                      -- INTEGER
       pr.tin                             -- VARCHAR
FROM market_stage_prices p
JOIN providers pr ON pr.rate_id = p.rate_id
ORDER BY p.price_no, pr.tin NULLS LAST
