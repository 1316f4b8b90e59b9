-- Language-model usage (issue 14): one row per call the `llm` capability made for a user,
-- successful or not, so per-tier daily limits can be checked before a call and usage can be
-- accounted. Never the prompt or the answer: counts, the provider and model, how long it
-- took and how it ended. Removed with the user.
CREATE TABLE llm_usage (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at TEXT NOT NULL
        CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    -- 'local', 'openai' or 'anthropic'.
    provider TEXT NOT NULL CHECK (length(provider) <= 32),
    model TEXT NOT NULL CHECK (length(model) <= 200),
    prompt_tokens INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    response_time_ms INTEGER NOT NULL CHECK (response_time_ms >= 0),
    -- 'ok', 'filtered' (answered, then replaced by the guardrails) or 'error'.
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'filtered', 'error'))
) STRICT;

CREATE INDEX idx_llm_usage_user_at ON llm_usage(user_id, at);
