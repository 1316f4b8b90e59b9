-- MindFlow schema, part 3: chat, insights, content library, recommendations (seed-plan.md §2).
--
-- chat_messages.embedding is NOT created here: the host adds
-- `embedding vector(N)` and its HNSW index at start-up, because N (the embedding
-- dimension) is configurable. The plan's ivfflat index is replaced by that HNSW index.

-- Chat sessions
CREATE TABLE chat_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title VARCHAR(100),
    session_type VARCHAR(30) DEFAULT 'general',
    context_summary TEXT,
    mood_context JSONB,
    is_active BOOLEAN DEFAULT TRUE,
    message_count INTEGER DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_message_at TIMESTAMPTZ
);

-- Chat messages
CREATE TABLE chat_messages (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id UUID NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    role VARCHAR(10) NOT NULL,
    content TEXT NOT NULL,
    model_used VARCHAR(50),
    tokens_used INTEGER,
    response_time_ms INTEGER,
    crisis_detected BOOLEAN DEFAULT FALSE,
    content_filtered BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_chat_sessions_user_time ON chat_sessions(user_id, created_at DESC);
CREATE INDEX idx_chat_messages_session_time ON chat_messages(session_id, created_at);

-- AI-generated insights
CREATE TABLE user_insights (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    insight_type VARCHAR(30) NOT NULL,
    title VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    data_points JSONB,
    confidence_score FLOAT,
    shown_at TIMESTAMPTZ,
    dismissed_at TIMESTAMPTZ,
    helpful_rating SMALLINT,
    valid_from TIMESTAMPTZ DEFAULT NOW(),
    valid_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_user_insights_user_time ON user_insights(user_id, created_at DESC);

-- Content library
CREATE TABLE content_library (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    content_type VARCHAR(30) NOT NULL,
    title VARCHAR(200) NOT NULL,
    description TEXT,
    content_body TEXT,
    duration_minutes SMALLINT,
    difficulty VARCHAR(20),
    target_moods JSONB,
    target_factors JSONB,
    audio_url VARCHAR(500),
    image_url VARCHAR(500),
    is_premium BOOLEAN DEFAULT FALSE,
    is_active BOOLEAN DEFAULT TRUE,
    view_count INTEGER DEFAULT 0,
    avg_rating FLOAT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_content_library_type ON content_library(content_type);

-- Personalized recommendations
CREATE TABLE recommendations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    insight_id UUID REFERENCES user_insights(id),
    content_id UUID REFERENCES content_library(id),
    reason TEXT,
    priority SMALLINT DEFAULT 5,
    shown_at TIMESTAMPTZ,
    clicked_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    feedback VARCHAR(20),
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_recommendations_user_time ON recommendations(user_id, created_at DESC);
CREATE INDEX idx_recommendations_insight ON recommendations(insight_id);
CREATE INDEX idx_recommendations_content ON recommendations(content_id);
