-- Wearables (issue 15): the sync scheduler's state on each connection, one connection per
-- user and provider, OAuth states in flight, sleep sessions, webhook receipts (replay
-- protection) and each user's primary source per metric.

-- The scheduler: a connection is due when `next_sync_at` has passed; a replica leases it
-- (`lease_until`) while it syncs, so one sync runs at a time across replicas and a lease
-- whose replica died expires. `synced_through` is the last day fully fetched; `sync_attempts`
-- counts failures since the last success (back-off).
ALTER TABLE wearable_connections ADD COLUMN next_sync_at TIMESTAMPTZ;
ALTER TABLE wearable_connections ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE wearable_connections ADD COLUMN synced_through DATE;
ALTER TABLE wearable_connections ADD COLUMN sync_attempts INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX idx_wearable_connections_user_provider ON wearable_connections(user_id, provider);
CREATE INDEX idx_wearable_connections_due ON wearable_connections(next_sync_at) WHERE next_sync_at IS NOT NULL;
-- Webhooks name the provider's user id, not ours.
CREATE INDEX idx_wearable_connections_provider_user ON wearable_connections(provider, provider_user_id);

-- The provider a day came from, kept when its connection is deleted with "keep my data".
ALTER TABLE wearable_metrics ADD COLUMN provider VARCHAR(30);
-- (A disconnect that keeps the data sets `connection_id` to NULL in the same transaction.)
UPDATE wearable_metrics m SET provider = c.provider FROM wearable_connections c WHERE c.id = m.connection_id;

-- An authorization in flight: the `state` sent to the provider (stored as its SHA-256, so a
-- database reader cannot complete someone's flow), bound to the user, single use, short-lived.
CREATE TABLE wearable_oauth_states (
    state_hash VARCHAR(64) PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider VARCHAR(30) NOT NULL,
    code_verifier VARCHAR(128),
    redirect_uri TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_wearable_oauth_states_user ON wearable_oauth_states(user_id);

-- Sleep sessions as the provider reports them (a night belongs to the day it ends).
CREATE TABLE wearable_sleep_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id UUID REFERENCES wearable_connections(id),
    provider VARCHAR(30) NOT NULL,
    external_id VARCHAR(255) NOT NULL,
    start_at TIMESTAMPTZ NOT NULL,
    end_at TIMESTAMPTZ NOT NULL,
    metric_date DATE NOT NULL,
    asleep_minutes INTEGER NOT NULL,
    deep_minutes INTEGER,
    rem_minutes INTEGER,
    awake_minutes INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (user_id, provider, external_id)
);
CREATE INDEX idx_wearable_sleep_sessions_user_date ON wearable_sleep_sessions(user_id, metric_date);

-- Webhook deliveries seen (the SHA-256 of provider, signature and body): a replay is
-- refused. Rows older than a day are removed by the scheduler.
CREATE TABLE wearable_webhook_receipts (
    digest VARCHAR(64) PRIMARY KEY,
    provider VARCHAR(30) NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_wearable_webhook_receipts_received ON wearable_webhook_receipts(received_at);

-- A user's primary source per metric (`steps`, `sleep`, `hrv`, …); otherwise the documented
-- priority decides.
CREATE TABLE wearable_preferences (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    metric VARCHAR(40) NOT NULL,
    provider VARCHAR(30) NOT NULL,
    PRIMARY KEY (user_id, metric)
);
