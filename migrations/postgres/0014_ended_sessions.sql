-- Sessions ended one at a time (issue: hardening, revocation gaps). A logout, or a refresh
-- token presented twice (reuse), revokes one refresh-token family; its access tokens, which
-- carry the family as `sid`, must stop working at once rather than when they expire. The
-- caller lookup reads the user's sessions ended within an access token's lifetime with the
-- account, in the same statement, and refuses a token of one of them. Replicas that remember
-- callers hear of an ended session through the callers' channel (0008), so they forget the
-- caller at commit. Rows older than an access token's lifetime serve no purpose and are
-- pruned.
CREATE TABLE ended_sessions (
    family_id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ended_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX idx_ended_sessions_user_time ON ended_sessions(user_id, ended_at);
CREATE INDEX idx_ended_sessions_time ON ended_sessions(ended_at);

CREATE TRIGGER ended_sessions_notify_callers
    AFTER INSERT OR UPDATE OR DELETE ON ended_sessions
    FOR EACH ROW EXECUTE FUNCTION mindflow_notify_caller_changed('user_id');
