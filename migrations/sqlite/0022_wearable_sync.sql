-- Wearables (issue 15), SQLite variant of migrations/postgres/0023_wearable_sync.sql: the
-- sync scheduler's state on each connection, one connection per user and provider, OAuth
-- states in flight, sleep sessions, webhook receipts (replay protection) and each user's
-- primary source per metric.

ALTER TABLE wearable_connections ADD COLUMN next_sync_at TEXT CHECK (next_sync_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');
ALTER TABLE wearable_connections ADD COLUMN lease_until TEXT CHECK (lease_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');
ALTER TABLE wearable_connections ADD COLUMN synced_through TEXT CHECK (synced_through IS NULL OR (length(synced_through) = 10 AND synced_through GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date(synced_through) IS NOT NULL));
ALTER TABLE wearable_connections ADD COLUMN sync_attempts INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX idx_wearable_connections_user_provider ON wearable_connections(user_id, provider);
CREATE INDEX idx_wearable_connections_due ON wearable_connections(next_sync_at) WHERE next_sync_at IS NOT NULL;
CREATE INDEX idx_wearable_connections_provider_user ON wearable_connections(provider, provider_user_id);

-- (A disconnect that keeps the data sets `connection_id` to NULL in the same transaction.)
ALTER TABLE wearable_metrics ADD COLUMN provider TEXT CHECK (length(provider) <= 30);
UPDATE wearable_metrics SET provider = (SELECT c.provider FROM wearable_connections c WHERE c.id = wearable_metrics.connection_id);

CREATE TABLE wearable_oauth_states (
    state_hash TEXT NOT NULL PRIMARY KEY CHECK (length(state_hash) <= 64),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    provider TEXT NOT NULL CHECK (length(provider) <= 30),
    code_verifier TEXT CHECK (length(code_verifier) <= 128),
    redirect_uri TEXT NOT NULL,
    expires_at TEXT NOT NULL CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;
CREATE INDEX idx_wearable_oauth_states_user ON wearable_oauth_states(user_id);

CREATE TABLE wearable_sleep_sessions (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    connection_id TEXT REFERENCES wearable_connections(id)
        CHECK (length(connection_id) = 36 AND connection_id GLOB '????????-????-????-????-????????????' AND connection_id NOT GLOB '*[^0-9a-f-]*'),
    provider TEXT NOT NULL CHECK (length(provider) <= 30),
    external_id TEXT NOT NULL CHECK (length(external_id) <= 255),
    start_at TEXT NOT NULL CHECK (start_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    end_at TEXT NOT NULL CHECK (end_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    metric_date TEXT NOT NULL CHECK (length(metric_date) = 10 AND metric_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date(metric_date) IS NOT NULL),
    asleep_minutes INTEGER NOT NULL,
    deep_minutes INTEGER,
    rem_minutes INTEGER,
    awake_minutes INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    UNIQUE (user_id, provider, external_id)
) STRICT;
CREATE INDEX idx_wearable_sleep_sessions_user_date ON wearable_sleep_sessions(user_id, metric_date);

CREATE TABLE wearable_webhook_receipts (
    digest TEXT NOT NULL PRIMARY KEY CHECK (length(digest) <= 64),
    provider TEXT NOT NULL CHECK (length(provider) <= 30),
    received_at TEXT NOT NULL CHECK (received_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;
CREATE INDEX idx_wearable_webhook_receipts_received ON wearable_webhook_receipts(received_at);

CREATE TABLE wearable_preferences (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    metric TEXT NOT NULL CHECK (length(metric) <= 40),
    provider TEXT NOT NULL CHECK (length(provider) <= 30),
    PRIMARY KEY (user_id, metric)
) STRICT;
