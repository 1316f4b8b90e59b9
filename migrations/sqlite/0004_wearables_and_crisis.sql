-- MindFlow schema, part 4 (SQLite variant): wearables and crisis.
-- Mirrors migrations/postgres/0004_wearables_and_crisis.sql (same tables, columns, constraints,
-- defaults and indexes). Type translations: see the header of 0001_users_and_identity.sql.

-- Wearable connections
CREATE TABLE wearable_connections (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    provider TEXT NOT NULL CHECK (length(provider) <= 30),
    provider_user_id TEXT CHECK (length(provider_user_id) <= 255),
    access_token_encrypted BLOB,
    refresh_token_encrypted BLOB,
    token_expires_at TEXT CHECK (token_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    scopes TEXT CHECK (scopes IS NULL OR json_valid(scopes)),
    last_sync_at TEXT CHECK (last_sync_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    sync_status TEXT DEFAULT 'active' CHECK (length(sync_status) <= 20),
    sync_error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_wearable_connections_user ON wearable_connections(user_id);

-- Wearable metrics
CREATE TABLE wearable_metrics (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    connection_id TEXT REFERENCES wearable_connections(id)
        CHECK (length(connection_id) = 36 AND connection_id GLOB '????????-????-????-????-????????????' AND connection_id NOT GLOB '*[^0-9a-f-]*'),
    metric_date TEXT NOT NULL CHECK (length(metric_date) = 10 AND metric_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date(metric_date) IS NOT NULL),
    sleep_duration_minutes INTEGER,
    sleep_quality_score INTEGER,
    deep_sleep_minutes INTEGER,
    rem_sleep_minutes INTEGER,
    steps INTEGER,
    active_minutes INTEGER,
    calories_burned INTEGER,
    avg_heart_rate INTEGER,
    hrv_avg REAL,
    stress_score INTEGER,
    readiness_score INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    UNIQUE (user_id, metric_date, connection_id)
) STRICT;
-- user + date lookups are served by the UNIQUE(user_id, metric_date, connection_id) index.
-- As in PostgreSQL, NULLs are distinct in that UNIQUE: rows with connection_id NULL never clash.

CREATE INDEX idx_wearable_metrics_connection ON wearable_metrics(connection_id);

-- Crisis events
CREATE TABLE crisis_events (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    trigger_source TEXT NOT NULL CHECK (length(trigger_source) <= 30),
    trigger_content_hash TEXT CHECK (length(trigger_content_hash) <= 64),
    severity TEXT NOT NULL CHECK (length(severity) <= 20),
    detection_confidence REAL,
    resources_shown TEXT CHECK (resources_shown IS NULL OR json_valid(resources_shown)),
    resource_clicked TEXT CHECK (length(resource_clicked) <= 50),
    hotline_called INTEGER DEFAULT 0 CHECK (hotline_called IN (0, 1)),
    resolved_at TEXT CHECK (resolved_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    resolution_type TEXT CHECK (length(resolution_type) <= 30),
    follow_up_scheduled INTEGER DEFAULT 0 CHECK (follow_up_scheduled IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_crisis_events_user_time ON crisis_events(user_id, created_at DESC);

-- Crisis resources
CREATE TABLE crisis_resources (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    name TEXT NOT NULL CHECK (length(name) <= 200),
    description TEXT,
    resource_type TEXT NOT NULL CHECK (length(resource_type) <= 30),
    phone_number TEXT CHECK (length(phone_number) <= 20),
    sms_number TEXT CHECK (length(sms_number) <= 20),
    website_url TEXT CHECK (length(website_url) <= 500),
    available_24_7 INTEGER DEFAULT 0 CHECK (available_24_7 IN (0, 1)),
    available_hours TEXT CHECK (available_hours IS NULL OR json_valid(available_hours)),
    countries TEXT CHECK (countries IS NULL OR json_valid(countries)),
    languages TEXT CHECK (languages IS NULL OR json_valid(languages)),
    specializations TEXT CHECK (specializations IS NULL OR json_valid(specializations)),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    priority INTEGER DEFAULT 5,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_crisis_resources_active_priority ON crisis_resources(is_active, priority);
