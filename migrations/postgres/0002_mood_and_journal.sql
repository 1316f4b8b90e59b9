-- MindFlow schema, part 2: mood logs, mood factors, journal entries (seed-plan.md §2).

-- Mood logs with rich metadata
CREATE TABLE mood_logs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mood_score SMALLINT NOT NULL CHECK (mood_score BETWEEN 1 AND 10),
    energy_level SMALLINT CHECK (energy_level BETWEEN 1 AND 10),
    anxiety_level SMALLINT CHECK (anxiety_level BETWEEN 1 AND 10),
    note TEXT,
    note_sentiment FLOAT,
    logged_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    time_of_day VARCHAR(20),
    day_of_week SMALLINT,
    location_type VARCHAR(30),
    processed_for_insights BOOLEAN DEFAULT FALSE,
    crisis_flag_triggered BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Mood contributing factors
CREATE TABLE mood_factors (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    mood_log_id UUID NOT NULL REFERENCES mood_logs(id) ON DELETE CASCADE,
    factor_type VARCHAR(30) NOT NULL,
    factor_value VARCHAR(50),
    impact_score SMALLINT CHECK (impact_score BETWEEN -5 AND 5)
);

-- Encrypted journal entries
CREATE TABLE journal_entries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_encrypted BYTEA NOT NULL,
    content_iv BYTEA NOT NULL,
    content_hash VARCHAR(64),
    word_count INTEGER,
    entry_type VARCHAR(20) DEFAULT 'freeform',
    prompt_id UUID,
    sentiment_score FLOAT,
    primary_emotion VARCHAR(30),
    topics JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_mood_logs_user_time ON mood_logs(user_id, logged_at DESC);
CREATE INDEX idx_mood_factors_mood_log ON mood_factors(mood_log_id);
CREATE INDEX idx_journal_user_time ON journal_entries(user_id, created_at DESC);
