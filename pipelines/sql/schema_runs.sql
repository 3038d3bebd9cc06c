-- runs: one row per ingest / nightly / monthly run, for audit and for the scheduler.
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id          BIGINT PRIMARY KEY,
    kind            VARCHAR NOT NULL,       -- ingest | nightly | monthly | demo
    started_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    status          VARCHAR NOT NULL,       -- running | ok | quarantined | failed
    files_seen      INTEGER,
    files_loaded    INTEGER,
    files_duplicate INTEGER,
    files_rejected  INTEGER,
    months_touched  VARCHAR[],
    message         VARCHAR,
    host            VARCHAR,
    pid             INTEGER
);
