-- Nonces the server issues for provider sign-in: single use, short-lived, stored as the
-- SHA-256 of the nonce (the nonce itself is never stored).
CREATE TABLE oauth_nonces (
    nonce_hash TEXT NOT NULL PRIMARY KEY CHECK (length(nonce_hash) = 64),
    expires_at TEXT NOT NULL
        CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    used_at TEXT
        CHECK (used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_oauth_nonces_expires ON oauth_nonces(expires_at);
