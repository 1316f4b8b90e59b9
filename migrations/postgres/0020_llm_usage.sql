-- Language-model usage (issue 14): one row per call the `llm` capability made for a user,
-- successful or not, so per-tier daily limits can be checked before a call and usage can be
-- accounted. Never the prompt or the answer: counts, the provider and model, how long it
-- took and how it ended. Removed with the user.
CREATE TABLE llm_usage (
    id BIGSERIAL PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at TIMESTAMPTZ NOT NULL,
    -- 'local', 'openai' or 'anthropic'.
    provider VARCHAR(32) NOT NULL,
    model VARCHAR(200) NOT NULL,
    prompt_tokens BIGINT NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT NOT NULL CHECK (completion_tokens >= 0),
    response_time_ms BIGINT NOT NULL CHECK (response_time_ms >= 0),
    -- 'ok', 'filtered' (answered, then replaced by the guardrails) or 'error'.
    outcome VARCHAR(16) NOT NULL CHECK (outcome IN ('ok', 'filtered', 'error'))
);

CREATE INDEX idx_llm_usage_user_at ON llm_usage(user_id, at);
