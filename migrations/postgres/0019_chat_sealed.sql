-- Chat text sealed at rest (issue: chat). A chat message's text and a session's running
-- summary are stored only sealed under the user's data key (purposes `chat/message` and
-- `chat/summary`, owned by the `chat` component), like journal text: `content` becomes
-- `content_encrypted` + `content_iv`, and `context_summary` becomes
-- `context_summary_encrypted` + `context_summary_iv`.
--
-- No version before this one wrote chat messages (there was no chat component). Should a
-- database hold messages anyway, the migration fails rather than drop their text.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM chat_messages) THEN
        RAISE EXCEPTION 'chat_messages holds plaintext messages: seal or remove them before this migration';
    END IF;
END $$;

ALTER TABLE chat_messages DROP COLUMN content;
ALTER TABLE chat_messages ADD COLUMN content_encrypted BYTEA NOT NULL;
ALTER TABLE chat_messages ADD COLUMN content_iv BYTEA NOT NULL;

ALTER TABLE chat_sessions DROP COLUMN context_summary;
ALTER TABLE chat_sessions ADD COLUMN context_summary_encrypted BYTEA;
ALTER TABLE chat_sessions ADD COLUMN context_summary_iv BYTEA;
