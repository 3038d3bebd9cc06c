"""Compare: each paid service line against its contract and Medicare -> ``variances``."""
