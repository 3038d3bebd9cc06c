"""Synthetic remittances for tests, the demo and benchmarks: a seeded practice written as real 835s."""
