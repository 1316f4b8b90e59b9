-- Nightly per-user jobs (issue 16): a component may ask the host to call one of its routes
-- for every user once a night in the user's own time zone (`nightly` in its manifest grants;
-- the insights component recomputes a person's patterns this way). A row is a claim: the
-- replica that inserts it runs the job, every other replica sees the key taken and skips it,
-- so a job runs once per user and local day however many replicas there are. A claim never
-- finished (its replica died) may be taken over after a while (`claimed_at`). Rows older than
-- a few days are removed by the scheduler. Removed with the user.
CREATE TABLE nightly_runs (
    component VARCHAR(100) NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The user's local calendar day the run is for.
    local_date DATE NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    -- NULL while running; then 'ok' or 'failed' (the status class, never a body).
    outcome VARCHAR(16) CHECK (outcome IN ('ok', 'failed')),
    PRIMARY KEY (component, user_id, local_date)
);

-- No index on (component, local_date): with one, PostgreSQL chose it for a run's
-- `finish` (a primary-key lookup), scanning every claim of the day for each run.
CREATE INDEX idx_nightly_runs_user ON nightly_runs(user_id);
