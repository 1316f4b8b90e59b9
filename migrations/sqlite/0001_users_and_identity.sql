-- MindFlow schema, part 1 (SQLite variant): subscription tiers, users, consents, OAuth connections.
-- Mirrors migrations/postgres/0001_users_and_identity.sql: same tables, columns, constraints,
-- defaults, indexes and seed rows. Change both files together.
--
-- Translation conventions, used by every file in migrations/sqlite/:
--   * Tables are STRICT, so a value of the wrong type is refused as PostgreSQL would refuse it
--     (SQLite otherwise stores anything anywhere). Only INTEGER, REAL, TEXT and BLOB are used.
--   * UUID        -> TEXT, canonical lowercase hyphenated form (what Uuid::to_string() writes),
--                    checked on every UUID column (foreign keys too, so the shape holds even
--                    with foreign_keys off): length 36, 8-4-4-4-12 shape, only [0-9a-f-]. Text
--                    comparison is exact, so lowercase is what keeps ids comparable. The host always
--                    supplies ids; the DEFAULT (a random version-4 UUID built from
--                    randomblob(), like PostgreSQL's default) only serves hand-written inserts.
--   * TIMESTAMPTZ -> TEXT, RFC 3339 UTC with exactly 6 fractional digits
--                    ('2026-11-25T14:03:07.123456Z', 27 characters). The CHECK pins that fixed
--                    width, which is what makes text order equal time order. The "default now"
--                    becomes strftime(... 'now') || '000Z' (strftime's %f has milliseconds only).
--   * DATE        -> TEXT 'YYYY-MM-DD'.
--   * JSONB       -> TEXT checked with json_valid(); JSON literal defaults lose the cast ('{}').
--   * BOOLEAN     -> INTEGER 0/1 (what sqlx binds for bool), checked IN (0, 1).
--   * VARCHAR(n)  -> TEXT with CHECK (length(col) <= n) (length() counts characters, as in
--                    PostgreSQL); CHAR(64) hex digests -> TEXT with an exact-shape check.
--   * SMALLINT, INTEGER, BIGINT -> INTEGER (64-bit; the BETWEEN checks are kept).
--   * FLOAT -> REAL (8-byte double, like double precision). BYTEA -> BLOB.
--   * INET        -> TEXT, checked loosely (at most 49 characters of [0-9A-Fa-f:./]); SQLite
--                    cannot parse addresses, so the host must write valid ones.
--   * Foreign keys are only enforced with PRAGMA foreign_keys = ON (the host sets it on every
--     connection: SqliteConnectOptions::foreign_keys(true)).
--
-- CREATE EXTENSION vector is dropped: SQLite has no pgvector. Embeddings are stored as BLOBs of
-- little-endian f32s and the host searches them exactly (no ivfflat/HNSW index exists here).

-- Named in the plan's ER diagram (users }o--|| subscription_tiers) but not defined there.
CREATE TABLE subscription_tiers (
    name TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT,
    features TEXT NOT NULL DEFAULT '{}' CHECK (features IS NULL OR json_valid(features)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

INSERT INTO subscription_tiers (name, display_name, description, features) VALUES
    ('free', 'Free', 'Mood logging, encrypted journal, AI chat, crisis support and basic insights.',
     '{"mood_logging": true, "journal": true, "chat": true, "crisis_support": true, "basic_insights": true, "factor_correlations": false, "premium_content": false, "wearables": false}'),
    ('premium', 'Premium', 'Everything in Free, plus factor correlations, premium content and wearable integrations.',
     '{"mood_logging": true, "journal": true, "chat": true, "crisis_support": true, "basic_insights": true, "factor_correlations": true, "premium_content": true, "wearables": true}');

-- Users table with privacy-first design
CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    email TEXT NOT NULL UNIQUE CHECK (length(email) <= 255),
    email_verified INTEGER DEFAULT 0 CHECK (email_verified IN (0, 1)),
    password_hash TEXT CHECK (length(password_hash) <= 255),  -- NULL if OAuth-only
    display_name TEXT CHECK (length(display_name) <= 100),
    avatar_url TEXT CHECK (length(avatar_url) <= 500),
    timezone TEXT DEFAULT 'UTC' CHECK (length(timezone) <= 50),
    locale TEXT DEFAULT 'en-US' CHECK (length(locale) <= 10),

    -- Subscription
    subscription_tier TEXT DEFAULT 'free' CHECK (length(subscription_tier) <= 20) REFERENCES subscription_tiers(name),
    subscription_expires_at TEXT CHECK (subscription_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),

    -- Privacy settings
    anonymous_id TEXT NOT NULL UNIQUE CHECK (length(anonymous_id) <= 64),
    data_retention_days INTEGER DEFAULT 365,

    -- Metadata
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_active_at TEXT CHECK (last_active_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    deleted_at TEXT CHECK (deleted_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_users_subscription_tier ON users(subscription_tier);

-- Granular user consents
CREATE TABLE user_consents (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    consent_type TEXT NOT NULL CHECK (length(consent_type) <= 50),
    granted INTEGER DEFAULT 0 CHECK (granted IN (0, 1)),
    granted_at TEXT CHECK (granted_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    revoked_at TEXT CHECK (revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    ip_address TEXT CHECK (length(ip_address) <= 49 AND ip_address NOT GLOB '*[^0-9A-Fa-f:./]*'),
    user_agent TEXT,
    UNIQUE (user_id, consent_type)
) STRICT;
-- user_id lookups are served by the UNIQUE(user_id, consent_type) index.

-- OAuth connections
CREATE TABLE oauth_connections (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    provider TEXT NOT NULL CHECK (length(provider) <= 20),
    provider_user_id TEXT NOT NULL CHECK (length(provider_user_id) <= 255),
    access_token_encrypted BLOB,
    refresh_token_encrypted BLOB,
    token_expires_at TEXT CHECK (token_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    UNIQUE (provider, provider_user_id)
) STRICT;

CREATE INDEX idx_oauth_connections_user ON oauth_connections(user_id);
