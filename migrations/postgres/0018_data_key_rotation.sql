-- Rotating a user's data key with re-encryption (issue: hardening, finding 8). A rotation
-- makes a new data key (`key_version` + 1) and keeps the one it replaces as `retired_key`
-- until every value sealed under it is sealed again under the new one; then the retired key
-- is erased. Keyed hashes (search terms, emotion tags, crisis-event hashes) are derived from
-- `hash_key`, which a rotation leaves as it was: the data key at the first rotation (until
-- then the data key itself). Every wrapped key in a row is wrapped by the row's master key.
ALTER TABLE user_data_keys ADD COLUMN key_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE user_data_keys ADD COLUMN hash_key BYTEA;
ALTER TABLE user_data_keys ADD COLUMN hash_nonce BYTEA;
ALTER TABLE user_data_keys ADD COLUMN retired_key BYTEA;
ALTER TABLE user_data_keys ADD COLUMN retired_nonce BYTEA;
ALTER TABLE user_data_keys ADD COLUMN retired_at TIMESTAMPTZ;
CREATE INDEX idx_user_data_keys_retired ON user_data_keys(retired_at) WHERE retired_at IS NOT NULL;
