-- MindFlow schema, part 3 (SQLite variant): chat, insights, content library, recommendations.
-- Mirrors migrations/postgres/0003_chat_insights_content.sql (same tables, columns, constraints,
-- defaults and indexes). Type translations: see the header of 0001_users_and_identity.sql.
--
-- As in the PostgreSQL file, chat_messages.embedding is NOT created here. PostgreSQL gets
-- `embedding vector(N)` plus an HNSW index from the host at start-up; SQLite has no pgvector,
-- so its counterpart is a nullable BLOB of N little-endian f32s
-- (ALTER TABLE chat_messages ADD COLUMN embedding BLOB) with no index: the host does exact
-- nearest-neighbour search. The plan's ivfflat index therefore has no SQLite equivalent.

-- Chat sessions
CREATE TABLE chat_sessions (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    title TEXT CHECK (length(title) <= 100),
    session_type TEXT DEFAULT 'general' CHECK (length(session_type) <= 30),
    context_summary TEXT,
    mood_context TEXT CHECK (mood_context IS NULL OR json_valid(mood_context)),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    message_count INTEGER DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_message_at TEXT CHECK (last_message_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

-- Chat messages
CREATE TABLE chat_messages (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE
        CHECK (length(session_id) = 36 AND session_id GLOB '????????-????-????-????-????????????' AND session_id NOT GLOB '*[^0-9a-f-]*'),
    role TEXT NOT NULL CHECK (length(role) <= 10),
    content TEXT NOT NULL,
    model_used TEXT CHECK (length(model_used) <= 50),
    tokens_used INTEGER,
    response_time_ms INTEGER,
    crisis_detected INTEGER DEFAULT 0 CHECK (crisis_detected IN (0, 1)),
    content_filtered INTEGER DEFAULT 0 CHECK (content_filtered IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_chat_sessions_user_time ON chat_sessions(user_id, created_at DESC);
CREATE INDEX idx_chat_messages_session_time ON chat_messages(session_id, created_at);

-- AI-generated insights
CREATE TABLE user_insights (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    insight_type TEXT NOT NULL CHECK (length(insight_type) <= 30),
    title TEXT NOT NULL CHECK (length(title) <= 200),
    description TEXT NOT NULL,
    data_points TEXT CHECK (data_points IS NULL OR json_valid(data_points)),
    confidence_score REAL,
    shown_at TEXT CHECK (shown_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    dismissed_at TEXT CHECK (dismissed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    helpful_rating INTEGER,
    valid_from TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    valid_until TEXT CHECK (valid_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_user_insights_user_time ON user_insights(user_id, created_at DESC);

-- Content library
CREATE TABLE content_library (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    content_type TEXT NOT NULL CHECK (length(content_type) <= 30),
    title TEXT NOT NULL CHECK (length(title) <= 200),
    description TEXT,
    content_body TEXT,
    duration_minutes INTEGER,
    difficulty TEXT CHECK (length(difficulty) <= 20),
    target_moods TEXT CHECK (target_moods IS NULL OR json_valid(target_moods)),
    target_factors TEXT CHECK (target_factors IS NULL OR json_valid(target_factors)),
    audio_url TEXT CHECK (length(audio_url) <= 500),
    image_url TEXT CHECK (length(image_url) <= 500),
    is_premium INTEGER DEFAULT 0 CHECK (is_premium IN (0, 1)),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    view_count INTEGER DEFAULT 0,
    avg_rating REAL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_content_library_type ON content_library(content_type);

-- Personalized recommendations
CREATE TABLE recommendations (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    insight_id TEXT REFERENCES user_insights(id)
        CHECK (length(insight_id) = 36 AND insight_id GLOB '????????-????-????-????-????????????' AND insight_id NOT GLOB '*[^0-9a-f-]*'),
    content_id TEXT REFERENCES content_library(id)
        CHECK (length(content_id) = 36 AND content_id GLOB '????????-????-????-????-????????????' AND content_id NOT GLOB '*[^0-9a-f-]*'),
    reason TEXT,
    priority INTEGER DEFAULT 5,
    shown_at TEXT CHECK (shown_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    clicked_at TEXT CHECK (clicked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    completed_at TEXT CHECK (completed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    feedback TEXT CHECK (length(feedback) <= 20),
    expires_at TEXT CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_recommendations_user_time ON recommendations(user_id, created_at DESC);
CREATE INDEX idx_recommendations_insight ON recommendations(insight_id);
CREATE INDEX idx_recommendations_content ON recommendations(content_id);
