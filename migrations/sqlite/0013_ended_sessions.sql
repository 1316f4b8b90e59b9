-- Sessions ended one at a time (issue: hardening, revocation gaps). A logout, or a refresh
-- token presented twice (reuse), revokes one refresh-token family; its access tokens, which
-- carry the family as `sid`, must stop working at once rather than when they expire. The
-- caller lookup reads the user's sessions ended within an access token's lifetime with the
-- account, in the same statement, and refuses a token of one of them. Rows older than an
-- access token's lifetime serve no purpose and are pruned.
CREATE TABLE ended_sessions (
    family_id TEXT NOT NULL PRIMARY KEY
        CHECK (length(family_id) = 36 AND family_id GLOB '????????-????-????-????-????????????' AND family_id NOT GLOB '*[^0-9a-f-]*'),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
        CHECK (length(user_id) = 36 AND user_id GLOB '????????-????-????-????-????????????' AND user_id NOT GLOB '*[^0-9a-f-]*'),
    ended_at TEXT NOT NULL
        CHECK (ended_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_ended_sessions_user_time ON ended_sessions(user_id, ended_at);
CREATE INDEX idx_ended_sessions_time ON ended_sessions(ended_at);
