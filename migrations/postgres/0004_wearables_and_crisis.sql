-- MindFlow schema, part 4: wearables and crisis (seed-plan.md §2).

-- Wearable connections
CREATE TABLE wearable_connections (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider VARCHAR(30) NOT NULL,
    provider_user_id VARCHAR(255),
    access_token_encrypted BYTEA,
    refresh_token_encrypted BYTEA,
    token_expires_at TIMESTAMPTZ,
    scopes JSONB,
    last_sync_at TIMESTAMPTZ,
    sync_status VARCHAR(20) DEFAULT 'active',
    sync_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_wearable_connections_user ON wearable_connections(user_id);

-- Wearable metrics
CREATE TABLE wearable_metrics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id UUID REFERENCES wearable_connections(id),
    metric_date DATE NOT NULL,
    sleep_duration_minutes INTEGER,
    sleep_quality_score SMALLINT,
    deep_sleep_minutes INTEGER,
    rem_sleep_minutes INTEGER,
    steps INTEGER,
    active_minutes INTEGER,
    calories_burned INTEGER,
    avg_heart_rate INTEGER,
    hrv_avg FLOAT,
    stress_score SMALLINT,
    readiness_score SMALLINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE(user_id, metric_date, connection_id)
);
-- user + date lookups are served by the UNIQUE(user_id, metric_date, connection_id) index.

CREATE INDEX idx_wearable_metrics_connection ON wearable_metrics(connection_id);

-- Crisis events
CREATE TABLE crisis_events (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    trigger_source VARCHAR(30) NOT NULL,
    trigger_content_hash VARCHAR(64),
    severity VARCHAR(20) NOT NULL,
    detection_confidence FLOAT,
    resources_shown JSONB,
    resource_clicked VARCHAR(50),
    hotline_called BOOLEAN DEFAULT FALSE,
    resolved_at TIMESTAMPTZ,
    resolution_type VARCHAR(30),
    follow_up_scheduled BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_crisis_events_user_time ON crisis_events(user_id, created_at DESC);

-- Crisis resources
CREATE TABLE crisis_resources (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(200) NOT NULL,
    description TEXT,
    resource_type VARCHAR(30) NOT NULL,
    phone_number VARCHAR(20),
    sms_number VARCHAR(20),
    website_url VARCHAR(500),
    available_24_7 BOOLEAN DEFAULT FALSE,
    available_hours JSONB,
    countries JSONB,
    languages JSONB,
    specializations JSONB,
    is_active BOOLEAN DEFAULT TRUE,
    priority SMALLINT DEFAULT 5,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_crisis_resources_active_priority ON crisis_resources(is_active, priority);
