"""SQL of pipelines.market: the staging tables of one import, and the query that fills market_rates from them."""
