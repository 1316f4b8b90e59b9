-- Nonces the server issues for provider sign-in: single use, short-lived, stored as the
-- SHA-256 of the nonce (the nonce itself is never stored).
CREATE TABLE oauth_nonces (
    nonce_hash VARCHAR(64) NOT NULL PRIMARY KEY CHECK (length(nonce_hash) = 64),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

CREATE INDEX idx_oauth_nonces_expires ON oauth_nonces(expires_at);
