-- runs: one row per ingest / nightly / monthly / demo run, for audit and for the scheduler.
-- Grain: one row per run. A row left at status 'running' by a killed process is marked
-- 'interrupted' by the next nightly run (which holds the lock, so the old one is gone).
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id          BIGINT PRIMARY KEY,
    kind            VARCHAR NOT NULL,       -- ingest | nightly | monthly | demo
    started_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    status          VARCHAR NOT NULL,       -- running | ok | quarantined | failed | interrupted
    files_seen      INTEGER,
    files_loaded    INTEGER,
    files_duplicate INTEGER,
    files_rejected  INTEGER,
    months_touched  VARCHAR[],              -- 'YYYY-MM' payment months recomputed
    message         VARCHAR,
    host            VARCHAR,
    pid             INTEGER
);
-- redone_by: for an interrupted or failed run, the later run that recomputed its months and
-- refreshed their reports (NULL while that work is still owed).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS redone_by BIGINT;
