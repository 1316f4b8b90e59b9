-- Journal derived fields at rest (issue: hardening, finding 8). A journal entry's primary
-- emotion (how the person felt about what they wrote) is no longer stored as a label: the
-- journal component stores a keyed tag of it (`mindflow_contract::emotion_tag`, purpose
-- `journal/emotion`) to filter by, and shows the label worked out again from the opened text.
-- Labels earlier versions stored are replaced by their tags at start-up
-- (`host/src/crypto/backfill.rs`), found through this partial index; journal topics,
-- cleared the same way, get one too, so a start with nothing left to do reads no table.
CREATE INDEX idx_journal_entries_emotion_label ON journal_entries(id) WHERE length(primary_emotion) < 30;
CREATE INDEX idx_journal_entries_stored_topics ON journal_entries(id) WHERE topics IS NOT NULL;
