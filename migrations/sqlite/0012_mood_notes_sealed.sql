-- Mood notes are sealed under the user's data key (crypto purpose `mood/note`), like journal
-- text (issue: hardening, finding 8): ciphertext with its tag, and the nonce. `note` keeps
-- only what earlier versions stored in plaintext, until start-up seals it and clears it;
-- the partial index finds those rows without reading the table.
ALTER TABLE mood_logs ADD COLUMN note_encrypted BLOB;
ALTER TABLE mood_logs ADD COLUMN note_iv BLOB;
CREATE INDEX idx_mood_logs_plaintext_note ON mood_logs(id) WHERE note IS NOT NULL;
