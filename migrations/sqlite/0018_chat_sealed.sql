-- Chat text sealed at rest (issue: chat). A chat message's text and a session's running
-- summary are stored only sealed under the user's data key (purposes `chat/message` and
-- `chat/summary`, owned by the `chat` component), like journal text: `content` becomes
-- `content_encrypted` + `content_iv`, and `context_summary` becomes
-- `context_summary_encrypted` + `context_summary_iv`.
--
-- No version before this one wrote chat messages (there was no chat component), so the table
-- is rebuilt without its plaintext column. Should a database hold messages anyway, the guard
-- below fails the migration rather than drop them.
CREATE TEMP TABLE chat_plaintext_guard (messages INTEGER CHECK (messages = 0));
INSERT INTO chat_plaintext_guard SELECT count(*) FROM chat_messages;
DROP TABLE chat_plaintext_guard;

DROP TABLE chat_messages;
CREATE TABLE chat_messages (
    id TEXT NOT NULL PRIMARY KEY
        DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE
        CHECK (length(session_id) = 36 AND session_id GLOB '????????-????-????-????-????????????' AND session_id NOT GLOB '*[^0-9a-f-]*'),
    role TEXT NOT NULL CHECK (length(role) <= 10),
    content_encrypted BLOB NOT NULL,
    content_iv BLOB NOT NULL,
    model_used TEXT CHECK (length(model_used) <= 50),
    tokens_used INTEGER,
    response_time_ms INTEGER,
    crisis_detected INTEGER DEFAULT 0 CHECK (crisis_detected IN (0, 1)),
    content_filtered INTEGER DEFAULT 0 CHECK (content_filtered IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;
CREATE INDEX idx_chat_messages_session_time ON chat_messages(session_id, created_at);
-- The host adds `embedding` again at start-up (`Database::prepare_embedding_column`).

ALTER TABLE chat_sessions DROP COLUMN context_summary;
ALTER TABLE chat_sessions ADD COLUMN context_summary_encrypted BLOB;
ALTER TABLE chat_sessions ADD COLUMN context_summary_iv BLOB;
