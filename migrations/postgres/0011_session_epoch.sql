-- A per-user session epoch (issue: hardening, revocation gaps). Ending every session of a user
-- (a password reset, a password cleared at verification) adds one to `users.session_epoch` in
-- the same transaction that revokes the refresh tokens. Access tokens and refresh tokens carry
-- the epoch they were issued under; one from an earlier epoch is refused, so a token minted by
-- a refresh that raced the revocation is refused too.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
