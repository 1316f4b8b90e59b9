-- MindFlow schema, part 1: subscription tiers, users, consents, OAuth connections.
-- Source of truth: seed-plan.md §2 ("Core User Tables"). The SQLite variant of this
-- file (migrations/sqlite/) must keep the same tables, columns, constraints and indexes.
--
-- Additions to the plan, applied across all files: ownership foreign keys
-- (user_id, mood_log_id, session_id) and created_at are NOT NULL, and user-owned
-- tables are indexed by user_id (and by user + time where they are listed by time).

CREATE EXTENSION IF NOT EXISTS vector;

-- Named in the plan's ER diagram (users }o--|| subscription_tiers) but not defined there.
CREATE TABLE subscription_tiers (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT,
    features JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

INSERT INTO subscription_tiers (name, display_name, description, features) VALUES
    ('free', 'Free', 'Mood logging, encrypted journal, AI chat, crisis support and basic insights.',
     '{"mood_logging": true, "journal": true, "chat": true, "crisis_support": true, "basic_insights": true, "factor_correlations": false, "premium_content": false, "wearables": false}'::jsonb),
    ('premium', 'Premium', 'Everything in Free, plus factor correlations, premium content and wearable integrations.',
     '{"mood_logging": true, "journal": true, "chat": true, "crisis_support": true, "basic_insights": true, "factor_correlations": true, "premium_content": true, "wearables": true}'::jsonb);

-- Users table with privacy-first design
CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    email_verified BOOLEAN DEFAULT FALSE,
    password_hash VARCHAR(255),  -- NULL if OAuth-only
    display_name VARCHAR(100),
    avatar_url VARCHAR(500),
    timezone VARCHAR(50) DEFAULT 'UTC',
    locale VARCHAR(10) DEFAULT 'en-US',

    -- Subscription
    subscription_tier VARCHAR(20) DEFAULT 'free' REFERENCES subscription_tiers(name),
    subscription_expires_at TIMESTAMPTZ,

    -- Privacy settings
    anonymous_id VARCHAR(64) UNIQUE NOT NULL,
    data_retention_days INTEGER DEFAULT 365,

    -- Metadata
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    last_active_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ
);

CREATE INDEX idx_users_subscription_tier ON users(subscription_tier);

-- Granular user consents
CREATE TABLE user_consents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    consent_type VARCHAR(50) NOT NULL,
    granted BOOLEAN DEFAULT FALSE,
    granted_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    ip_address INET,
    user_agent TEXT,
    UNIQUE(user_id, consent_type)
);
-- user_id lookups are served by the UNIQUE(user_id, consent_type) index.

-- OAuth connections
CREATE TABLE oauth_connections (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider VARCHAR(20) NOT NULL,
    provider_user_id VARCHAR(255) NOT NULL,
    access_token_encrypted BYTEA,
    refresh_token_encrypted BYTEA,
    token_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE(provider, provider_user_id)
);

CREATE INDEX idx_oauth_connections_user ON oauth_connections(user_id);
