-- When the session's owner last proved who they are (a password, a provider's ID token).
-- A refresh keeps it, so access tokens can say how long ago the person signed in and the
-- export and password-less account deletion can ask for a recent sign-in (issue: hardening).
-- NULL for sessions started before this column existed: they count as long ago.
ALTER TABLE refresh_tokens ADD COLUMN authenticated_at TEXT;
