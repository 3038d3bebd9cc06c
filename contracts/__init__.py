"""Payer contracts: YAML files kept in git, and the expected-rate rules they state."""
