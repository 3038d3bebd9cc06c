"""Report queries, one per .sql file."""
