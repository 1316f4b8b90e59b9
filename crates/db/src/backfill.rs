//! What versions before sealing stored in plaintext, for the host to seal or clear: mood
//! notes (`mood_logs.note`, sealed into `note_encrypted` / `note_iv` since migration
//! 0012/0013), journal topics (`journal_entries.topics`, what the text is about, now
//! worked out from the opened text when an entry is shown) and journal emotions
//! (`journal_entries.primary_emotion`, now a keyed tag: `mindflow_contract::emotion_tag`).
//! Each is found through a partial index on what is left to do, so a start with nothing
//! left reads no table.
//!
//! This module reads and writes bytes; sealing belongs to the host's `crypto` module.

use uuid::Uuid;

use super::{Database, DbError, Param};

/// A mood note still stored in plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaintextNote {
    /// The log's id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The plaintext.
    pub note: String,
    /// Whether the log already holds a sealed note (written by a newer version after an
    /// edit): the plaintext is then only cleared.
    pub sealed: bool,
}

impl std::fmt::Debug for PlaintextNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The note is what a person wrote on a bad day: never in a log.
        f.debug_struct("PlaintextNote")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("sealed", &self.sealed)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Up to `limit` journal entries whose primary emotion is still a label (not a tag):
    /// `(id, user id, label)`, found through the partial index on labels.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn journal_emotion_labels(
        &self,
        limit: i64,
    ) -> Result<Vec<(Uuid, Uuid, String)>, DbError> {
        self.fetch_all(
            "SELECT id, user_id, primary_emotion FROM journal_entries \
             WHERE length(primary_emotion) < 30 LIMIT $1",
            &[Param::Int(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.uuid("id")?,
                row.uuid("user_id")?,
                row.text("primary_emotion")?,
            ))
        })
        .collect()
    }

    /// Replaces an entry's emotion label by its tag, unless the label is no longer what was
    /// read. Returns whether the row changed.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn tag_journal_emotion(
        &self,
        id: Uuid,
        label: &str,
        tag: &str,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE journal_entries SET primary_emotion = $3 WHERE id = $1 AND primary_emotion = $2",
                &[
                    Param::Uuid(id),
                    Param::Text(label.into()),
                    Param::Text(tag.into()),
                ],
            )
            .await?
            > 0)
    }

    /// Clears the journal topics versions before stored beside the sealed text. Returns how
    /// many entries changed.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn clear_stored_journal_topics(&self) -> Result<u64, DbError> {
        self.execute(
            "UPDATE journal_entries SET topics = NULL WHERE topics IS NOT NULL",
            &[],
        )
        .await
    }

    /// Up to `limit` mood logs that still hold a plaintext note (found through the partial
    /// index on `note IS NOT NULL`).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn plaintext_mood_notes(&self, limit: i64) -> Result<Vec<PlaintextNote>, DbError> {
        self.fetch_all(
            "SELECT id, user_id, note, note_encrypted IS NOT NULL AS sealed FROM mood_logs \
             WHERE note IS NOT NULL LIMIT $1",
            &[Param::Int(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(PlaintextNote {
                id: row.uuid("id")?,
                user_id: row.uuid("user_id")?,
                note: row.text("note")?,
                sealed: row.bool("sealed")?,
            })
        })
        .collect()
    }

    /// Replaces `note`'s plaintext with its sealed form (`ciphertext`, `nonce`), or, when
    /// the log already holds a sealed note, only clears the plaintext. Nothing changes if
    /// the plaintext is no longer what was read. Returns whether the row changed.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn seal_plaintext_mood_note(
        &self,
        note: &PlaintextNote,
        ciphertext: &[u8],
        nonce: &[u8],
    ) -> Result<bool, DbError> {
        let changed = if note.sealed {
            self.execute(
                "UPDATE mood_logs SET note = NULL WHERE id = $1 AND note = $2",
                &[Param::Uuid(note.id), Param::Text(note.note.clone())],
            )
            .await?
        } else {
            self.execute(
                "UPDATE mood_logs SET note_encrypted = $3, note_iv = $4, note = NULL \
                 WHERE id = $1 AND note = $2 AND note_encrypted IS NULL",
                &[
                    Param::Uuid(note.id),
                    Param::Text(note.note.clone()),
                    Param::Bytes(ciphertext.to_vec()),
                    Param::Bytes(nonce.to_vec()),
                ],
            )
            .await?
        };
        Ok(changed > 0)
    }
}
