-- Registration by mail (issue: hardening, finding 9). `POST /auth/register` answers the same
-- whether or not the address has an account, so it no longer tells anyone who uses a
-- mental-health service. For a free address it stores a pending registration (the password
-- already hashed) and mails a single-use code; `POST /auth/verify-email` with the code
-- creates the account, its address proven. For a taken address it mails the owner instead.
-- A pending registration lives 24 hours and is pruned when it expires.
CREATE TABLE pending_registrations (
    id TEXT NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    email TEXT NOT NULL CHECK (length(email) <= 255),
    password_hash TEXT NOT NULL,
    display_name TEXT CHECK (length(display_name) <= 400),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
    created_at TEXT NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    expires_at TEXT NOT NULL
        CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    used_at TEXT
        CHECK (used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX idx_pending_registrations_email ON pending_registrations(email, created_at);
CREATE INDEX idx_pending_registrations_expiry ON pending_registrations(expires_at);
-- Mails to one address of one kind are counted to cap how many anyone can trigger.
CREATE INDEX idx_outbox_recipient_kind ON outbox(recipient, kind, created_at);
