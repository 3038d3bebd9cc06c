"""Runs: the stages wired together (monthly review, nightly inbox, demo) and the ``runs`` table."""
