-- MindFlow schema, part 2 (SQLite variant): mood logs, mood factors, journal entries.
-- Mirrors migrations/postgres/0002_mood_and_journal.sql (same tables, columns, constraints,
-- defaults and indexes). Type translations: see the header of 0001_users_and_identity.sql.

-- Mood logs with rich metadata
CREATE TABLE mood_logs (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    mood_score INTEGER NOT NULL CHECK (mood_score BETWEEN 1 AND 10),
    energy_level INTEGER CHECK (energy_level BETWEEN 1 AND 10),
    anxiety_level INTEGER CHECK (anxiety_level BETWEEN 1 AND 10),
    note TEXT,
    note_sentiment REAL,
    logged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (logged_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    time_of_day TEXT CHECK (length(time_of_day) <= 20),
    day_of_week INTEGER,
    location_type TEXT CHECK (length(location_type) <= 30),
    processed_for_insights INTEGER DEFAULT 0 CHECK (processed_for_insights IN (0, 1)),
    crisis_flag_triggered INTEGER DEFAULT 0 CHECK (crisis_flag_triggered IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

-- Mood contributing factors
CREATE TABLE mood_factors (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    mood_log_id TEXT NOT NULL REFERENCES mood_logs(id) ON DELETE CASCADE
        CHECK (length(mood_log_id) = 36 AND mood_log_id GLOB '????????-????-????-????-????????????' AND mood_log_id NOT GLOB '*[^0-9a-f-]*'),
    factor_type TEXT NOT NULL CHECK (length(factor_type) <= 30),
    factor_value TEXT CHECK (length(factor_value) <= 50),
    impact_score INTEGER CHECK (impact_score BETWEEN -5 AND 5)
) STRICT;

-- Encrypted journal entries
CREATE TABLE journal_entries (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    content_encrypted BLOB NOT NULL,
    content_iv BLOB NOT NULL,
    content_hash TEXT CHECK (length(content_hash) <= 64),
    word_count INTEGER,
    entry_type TEXT DEFAULT 'freeform' CHECK (length(entry_type) <= 20),
    prompt_id TEXT CHECK (length(prompt_id) = 36 AND prompt_id GLOB '????????-????-????-????-????????????' AND prompt_id NOT GLOB '*[^0-9a-f-]*'),
    sentiment_score REAL,
    primary_emotion TEXT CHECK (length(primary_emotion) <= 30),
    topics TEXT CHECK (topics IS NULL OR json_valid(topics)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_mood_logs_user_time ON mood_logs(user_id, logged_at DESC);
CREATE INDEX idx_mood_factors_mood_log ON mood_factors(mood_log_id);
CREATE INDEX idx_journal_user_time ON journal_entries(user_id, created_at DESC);
