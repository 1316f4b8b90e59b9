-- Registration by mail (issue: hardening, finding 9). `POST /auth/register` answers the same
-- whether or not the address has an account, so it no longer tells anyone who uses a
-- mental-health service. For a free address it stores a pending registration (the password
-- already hashed) and mails a single-use code; `POST /auth/verify-email` with the code
-- creates the account, its address proven. For a taken address it mails the owner instead.
-- A pending registration lives 24 hours and is pruned when it expires.
CREATE TABLE pending_registrations (
    id UUID PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    password_hash TEXT NOT NULL,
    display_name VARCHAR(100),
    token_hash CHAR(64) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

CREATE INDEX idx_pending_registrations_email ON pending_registrations(email, created_at);
CREATE INDEX idx_pending_registrations_expiry ON pending_registrations(expires_at);
-- Mails to one address of one kind are counted to cap how many anyone can trigger.
CREATE INDEX idx_outbox_recipient_kind ON outbox(recipient, kind, created_at);
