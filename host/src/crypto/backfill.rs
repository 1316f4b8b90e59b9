//! Seals or clears what versions before sealing stored in plaintext: mood notes are sealed,
//! journal topics (what the sealed text is about) cleared, journal emotion labels replaced
//! by keyed tags. Runs once at start-up, in the
//! background, in batches; every replica may run it (each row changes only if its plaintext
//! is still the one read, so two replicas never seal a note twice). Only counts are logged,
//! never a note.

use thiserror::Error;

use super::{CryptoError, KeyService};
use crate::db::{Database, DbError};

/// Notes sealed per database round trip.
const BATCH: i64 = 200;

/// Why the backfill stopped.
#[derive(Debug, Error)]
pub enum BackfillError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// The key store failed.
    #[error("key store: {0}")]
    Crypto(#[from] CryptoError),
}

/// Seals every plaintext mood note; returns how many rows changed.
///
/// # Errors
/// [`BackfillError`] when the database or the key store fails (what was sealed stays
/// sealed; the next start goes on from there).
pub async fn seal_plaintext_mood_notes(
    db: &Database,
    keys: &KeyService,
) -> Result<u64, BackfillError> {
    let mut changed = 0;
    loop {
        let notes = db.plaintext_mood_notes(BATCH).await?;
        if notes.is_empty() {
            if changed > 0 {
                db.reclaim_deleted_pages("mood_logs").await;
            }
            return Ok(changed);
        }
        let mut progressed = false;
        for note in &notes {
            let sealed = if note.sealed {
                None
            } else {
                Some(
                    keys.seal(
                        note.user_id,
                        mindflow_contract::purpose::MOOD_NOTE,
                        note.note.as_bytes(),
                    )
                    .await?,
                )
            };
            let (ciphertext, nonce) = sealed
                .as_ref()
                .map_or((&[][..], &[][..]), |s| (&s.ciphertext[..], &s.nonce[..]));
            if db.seal_plaintext_mood_note(note, ciphertext, nonce).await? {
                changed += 1;
                progressed = true;
            }
        }
        if !progressed {
            // Every row of the batch changed under us (another replica): read again only if
            // that made progress somewhere; otherwise stop rather than spin.
            if db.plaintext_mood_notes(1).await?.is_empty() {
                return Ok(changed);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Clears the journal topics earlier versions stored; returns how many entries changed.
///
/// # Errors
/// [`BackfillError::Db`].
pub async fn clear_stored_journal_topics(db: &Database) -> Result<u64, BackfillError> {
    let changed = db.clear_stored_journal_topics().await?;
    if changed > 0 {
        db.reclaim_deleted_pages("journal_entries").await;
    }
    Ok(changed)
}

/// Replaces the journal emotion labels earlier versions stored by their keyed tags (what
/// the journal component stores now, to filter by); returns how many entries changed.
///
/// # Errors
/// [`BackfillError`] when the database or the key store fails (what was tagged stays
/// tagged; the next start goes on from there).
pub async fn tag_journal_emotions(db: &Database, keys: &KeyService) -> Result<u64, BackfillError> {
    let mut changed = 0;
    loop {
        let labels = db.journal_emotion_labels(BATCH).await?;
        if labels.is_empty() {
            if changed > 0 {
                db.reclaim_deleted_pages("journal_entries").await;
            }
            return Ok(changed);
        }
        let mut progressed = false;
        for (id, user, label) in &labels {
            let hash = keys
                .keyed_hash(
                    *user,
                    mindflow_contract::purpose::JOURNAL_EMOTION,
                    label.as_bytes(),
                )
                .await?;
            let tag = mindflow_contract::emotion_tag::of_hash(&hash);
            if db.tag_journal_emotion(*id, label, tag).await? {
                changed += 1;
                progressed = true;
            }
        }
        if !progressed {
            if db.journal_emotion_labels(1).await?.is_empty() {
                return Ok(changed);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Runs [`seal_plaintext_mood_notes`], [`clear_stored_journal_topics`] and
/// [`tag_journal_emotions`] once in the background; logs the counts or the failure.
pub fn spawn(db: Database, keys: KeyService) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match seal_plaintext_mood_notes(&db, &keys).await {
            Ok(0) => tracing::debug!("no plaintext mood notes left to seal"),
            Ok(count) => tracing::info!(count, "sealed plaintext mood notes of an earlier version"),
            Err(error) => {
                tracing::warn!(%error, "cannot seal plaintext mood notes yet; the next start tries again")
            }
        }
        match clear_stored_journal_topics(&db).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "cleared journal topics of an earlier version"),
            Err(error) => {
                tracing::warn!(%error, "cannot clear stored journal topics yet; the next start tries again")
            }
        }
        match tag_journal_emotions(&db, &keys).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "tagged journal emotions of an earlier version"),
            Err(error) => {
                tracing::warn!(%error, "cannot tag journal emotions yet; the next start tries again")
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKeys;
    use crate::db::Param;
    use crate::db::users::UserRecord;

    async fn a_user(db: &Database) -> UserRecord {
        db.create_user(
            &format!("{}@example.com", uuid::Uuid::new_v4()),
            "hash",
            None,
        )
        .await
        .expect("user")
    }

    /// Notes an earlier version stored in plaintext are sealed under the owner's key and
    /// the plaintext cleared; a log a newer version already sealed keeps its sealed note.
    #[tokio::test]
    async fn plaintext_notes_are_sealed_and_cleared() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
            let user = a_user(&db).await;
            let legacy = uuid::Uuid::new_v4();
            let edited = uuid::Uuid::new_v4();
            let newer = keys
                .seal(
                    user.id,
                    mindflow_contract::purpose::MOOD_NOTE,
                    b"edited later",
                )
                .await
                .expect("seal");
            db.execute(
                "INSERT INTO mood_logs (id, user_id, mood_score, note) VALUES ($1, $2, 3, $3)",
                &[
                    Param::Uuid(legacy),
                    Param::Uuid(user.id),
                    Param::Text("a very bad week".into()),
                ],
            )
            .await
            .expect("legacy log");
            db.execute(
                "INSERT INTO mood_logs (id, user_id, mood_score, note, note_encrypted, note_iv) \
                 VALUES ($1, $2, 4, $3, $4, $5)",
                &[
                    Param::Uuid(edited),
                    Param::Uuid(user.id),
                    Param::Text("stale plaintext".into()),
                    Param::Bytes(newer.ciphertext.clone()),
                    Param::Bytes(newer.nonce.clone()),
                ],
            )
            .await
            .expect("edited log");
            assert_eq!(
                seal_plaintext_mood_notes(&db, &keys)
                    .await
                    .expect("backfill"),
                2
            );
            assert!(db.plaintext_mood_notes(10).await.expect("left").is_empty());
            assert_eq!(
                seal_plaintext_mood_notes(&db, &keys).await.expect("again"),
                0
            );
            for (id, expected) in [(legacy, "a very bad week"), (edited, "edited later")] {
                let row = db
                    .fetch_optional(
                        "SELECT note, note_encrypted, note_iv FROM mood_logs WHERE id = $1",
                        &[Param::Uuid(id)],
                    )
                    .await
                    .expect("read")
                    .expect("row");
                assert_eq!(row.opt_text("note").expect("note"), None);
                let sealed = super::super::Sealed {
                    ciphertext: row.bytes("note_encrypted").expect("ciphertext"),
                    nonce: row.bytes("note_iv").expect("nonce"),
                };
                let opened = keys
                    .open(user.id, mindflow_contract::purpose::MOOD_NOTE, &sealed)
                    .await
                    .expect("open");
                assert_eq!(opened, expected.as_bytes());
            }
        }
    }

    /// Journal topics earlier versions stored beside the sealed text are cleared.
    #[tokio::test]
    async fn stored_journal_topics_are_cleared() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            let user = a_user(&db).await;
            db.execute(
                "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv, topics) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    Param::Uuid(uuid::Uuid::new_v4()),
                    Param::Uuid(user.id),
                    Param::Bytes(vec![1, 2, 3]),
                    Param::Bytes(vec![4, 5, 6]),
                    Param::Json(serde_json::json!(["grief"])),
                ],
            )
            .await
            .expect("legacy entry");
            assert_eq!(clear_stored_journal_topics(&db).await.expect("clear"), 1);
            assert_eq!(clear_stored_journal_topics(&db).await.expect("again"), 0);
        }
    }

    /// Emotion labels earlier versions stored are replaced by the tags the journal
    /// component stores now (the same keyed hash, so a filter finds old and new entries
    /// alike); an entry already tagged is left as it is.
    #[tokio::test]
    async fn journal_emotion_labels_become_tags() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
            let user = a_user(&db).await;
            let sadness = keys
                .keyed_hash(
                    user.id,
                    mindflow_contract::purpose::JOURNAL_EMOTION,
                    b"sadness",
                )
                .await
                .expect("hash");
            let tag = mindflow_contract::emotion_tag::of_hash(&sadness).to_owned();
            let (legacy, newer) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            for (id, stored) in [(legacy, "sadness"), (newer, tag.as_str())] {
                db.execute(
                    "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv, primary_emotion) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        Param::Uuid(id),
                        Param::Uuid(user.id),
                        Param::Bytes(vec![1, 2, 3]),
                        Param::Bytes(vec![4, 5, 6]),
                        Param::Text(stored.into()),
                    ],
                )
                .await
                .expect("entry");
            }
            assert_eq!(tag_journal_emotions(&db, &keys).await.expect("tag"), 1);
            assert_eq!(tag_journal_emotions(&db, &keys).await.expect("again"), 0);
            for id in [legacy, newer] {
                let row = db
                    .fetch_optional(
                        "SELECT primary_emotion FROM journal_entries WHERE id = $1",
                        &[Param::Uuid(id)],
                    )
                    .await
                    .expect("read")
                    .expect("row");
                let stored = row.text("primary_emotion").expect("emotion");
                assert_eq!(stored, tag);
                assert!(mindflow_contract::emotion_tag::is_tag(&stored));
            }
        }
    }
}
