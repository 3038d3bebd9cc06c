"""Benchmarks (`make bench`): speed targets are checked here, never by timed unit tests."""
