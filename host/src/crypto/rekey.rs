//! Rotating a user's data key, with re-encryption.
//!
//! Re-wrapping data keys under a new master key ([`KeyService::rotate`]) leaves the data keys
//! as they were: whoever unwrapped one with an old master key and a backup can open that
//! user's values in every later backup too. A data-key rotation replaces the key itself:
//!
//! 1. [`KeyService::rotate_data_key`] makes a new data key (version + 1) and keeps the one it
//!    replaces as the *retired* key, in one conditional update of the user's key row. From
//!    then on new values are sealed under the new key; values sealed under either key open.
//! 2. [`KeyService::finish_rotation`] seals every value still under the retired key again
//!    under the new one (every collection the catalog says seals, and the wearable
//!    connections' tokens, which live outside the catalog; each value replaced only if
//!    unchanged since it was read), then erases the retired key. It does nothing until the
//!    key cache's lifetime (plus [`CLOCK_MARGIN`]) has passed since the rotation: until then
//!    another process may still hold the retired key in its cache and seal with it.
//!    [`spawn`] finishes due rotations in the background, so an interrupted command is
//!    finished by the servers.
//!
//! Keyed hashes (journal search terms, emotion tags, crisis-event hashes) derive from the
//! user's *hash key*, which a rotation keeps: it is the data key as it was at the first
//! rotation. Recomputing them would need each component's own derivation (the journal's
//! search terms, say) and, for crisis events, text that is never stored. So after a rotation
//! an old data key no longer opens anything sealed, but it still lets its holder test
//! guesses against the keyed hashes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CryptoError, KEY_LEN, KeyService, Sealed, UserKeys, random_bytes};
use crate::db::sealed_values::{SealedValue, sealed_collections};

/// Added to the key cache's lifetime before a retired key may be erased: clocks of the
/// processes sharing the database may disagree this much.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// Sealed values read per database round trip while sealing again.
const BATCH: i64 = 200;

/// How often the servers look for rotations to finish.
pub const FINISH_INTERVAL: Duration = Duration::from_secs(300);

/// What [`KeyService::rotate_data_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeyRotation {
    /// The user's data key is now at this version; the previous one is retired.
    Rotated {
        /// The new key's version.
        version: i64,
    },
    /// A previous rotation is not finished yet (its retired key is still kept): finish it
    /// first.
    InProgress,
    /// The user has no data key (nothing sealed yet, or the account is gone).
    NoKey,
}

/// What [`KeyService::finish_rotation`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Finish {
    /// Values sealed again under the current key.
    pub resealed: u64,
    /// Values already under the current key.
    pub current: u64,
    /// Values that open under no key of the user (corrupt): left as they are.
    pub unreadable: u64,
    /// Values that changed while being sealed again (sealed anew meanwhile): read again
    /// on the next pass.
    pub raced: u64,
    /// Whether the retired key is erased (the rotation is complete).
    pub erased: bool,
    /// Whether it was too early (the key cache's lifetime has not passed since the
    /// rotation): nothing was done.
    pub too_early: bool,
}

impl KeyService {
    /// Replaces the user's data key by a new one and retires the old (see the module docs).
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`] when the key store fails or the row's master key is not
    /// configured.
    pub async fn rotate_data_key(&self, user: Uuid) -> Result<DataKeyRotation, CryptoError> {
        let db = &self.inner.db;
        let row = db.wrapped_data_key(user).await.map_err(store_failed)?;
        let Some(row) = row else {
            return Ok(DataKeyRotation::NoKey);
        };
        if row.retired_key.is_some() {
            return Ok(DataKeyRotation::InProgress);
        }
        let old = self.unwrap_keys(&row)?;
        let fresh = std::sync::Arc::new(Zeroizing::new(random_bytes::<KEY_LEN>()));
        let keys = UserKeys {
            seal: fresh,
            // The hash key stays what it was: the old data key, until now not set apart.
            hash: old.hash.clone(),
            retired: Some(old.seal.clone()),
        };
        let version = row.key_version + 1;
        let rotated = self.wrap_keys(
            &self.inner.masters.current,
            user,
            &keys,
            version,
            Some(Utc::now()),
        )?;
        let replaced = db
            .replace_data_key(&row.master_key_id, row.key_version, &rotated)
            .await
            .map_err(store_failed)?;
        self.forget(user);
        if replaced {
            Ok(DataKeyRotation::Rotated { version })
        } else {
            // Rotated, re-wrapped or shredded meanwhile by another process.
            Ok(DataKeyRotation::InProgress)
        }
    }

    /// Seals again under the current key every value of the user still under the retired
    /// one, then erases the retired key — once the key cache's lifetime and
    /// [`CLOCK_MARGIN`] have passed since the rotation at `now` (otherwise
    /// [`Finish::too_early`]). Nothing to do when no rotation is under way.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`] when the database or the key store fails (what was
    /// sealed again stays so; the next pass goes on).
    pub async fn finish_rotation(
        &self,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Finish, CryptoError> {
        let db = &self.inner.db;
        let Some(row) = db.wrapped_data_key(user).await.map_err(store_failed)? else {
            return Ok(Finish::default());
        };
        let Some(retired_at) = row.retired_at else {
            return Ok(Finish::default());
        };
        if now < settled_after(retired_at, self.cache_ttl()) {
            return Ok(Finish {
                too_early: true,
                ..Finish::default()
            });
        }
        // Read from the store, not the cache: the keys as the rotation left them.
        let keys = self.stored_keys(user, false).await?;
        let mut finish = Finish::default();
        for collection in sealed_collections() {
            let purpose = collection.sealed.map(|s| s.purpose).unwrap_or_default();
            let mut after = None;
            loop {
                let values = db
                    .sealed_values(collection, user, after, BATCH)
                    .await
                    .map_err(store_failed)?;
                let Some(last) = values.last() else { break };
                after = Some(last.id);
                for value in &values {
                    self.reseal_one(user, purpose, &keys, collection, value, &mut finish)
                        .await?;
                }
            }
        }
        self.reseal_wearable_tokens(user, &keys, &mut finish)
            .await?;
        if finish.raced == 0 {
            finish.erased = db
                .erase_retired_data_key(user, row.key_version)
                .await
                .map_err(store_failed)?;
            self.forget(user);
        }
        Ok(finish)
    }

    /// Seals the user's wearable tokens again, like [`Self::reseal_one`] does a catalog
    /// value: they live outside the catalog (no component may name them) in one column each,
    /// nonce ‖ ciphertext. Without this, erasing the retired key would leave every connection
    /// unable to open its tokens, and the person would have to connect again.
    async fn reseal_wearable_tokens(
        &self,
        user: Uuid,
        keys: &UserKeys,
        finish: &mut Finish,
    ) -> Result<(), CryptoError> {
        use crate::db::wearables::TokenKind;
        let purpose = mindflow_contract::purpose::WEARABLE_TOKEN;
        let db = &self.inner.db;
        let connections = db.wearable_connections(user).await.map_err(store_failed)?;
        for connection in connections {
            let tokens = [
                (TokenKind::Access, connection.access_token),
                (TokenKind::Refresh, connection.refresh_token),
            ];
            for (which, stored) in tokens {
                let Some(stored) = stored else { continue };
                let Some(sealed) = Sealed::split(&stored) else {
                    finish.unreadable += 1;
                    continue;
                };
                if super::open_with(&keys.seal, user, purpose, &sealed).is_some() {
                    finish.current += 1;
                    continue;
                }
                let Some(plaintext) = keys
                    .retired
                    .as_ref()
                    .and_then(|retired| super::open_with(retired, user, purpose, &sealed))
                    .map(Zeroizing::new)
                else {
                    finish.unreadable += 1;
                    continue;
                };
                let again = super::seal_with(&keys.seal, user, purpose, &plaintext)?.joined();
                if db
                    .reseal_wearable_token(connection.id, which, &stored, &again)
                    .await
                    .map_err(store_failed)?
                {
                    finish.resealed += 1;
                } else {
                    finish.raced += 1;
                }
            }
        }
        Ok(())
    }

    async fn reseal_one(
        &self,
        user: Uuid,
        purpose: &str,
        keys: &UserKeys,
        collection: &'static crate::db::catalog::Collection,
        value: &SealedValue,
        finish: &mut Finish,
    ) -> Result<(), CryptoError> {
        let sealed = Sealed {
            ciphertext: value.ciphertext.clone(),
            nonce: value.nonce.clone(),
        };
        if super::open_with(&keys.seal, user, purpose, &sealed).is_some() {
            finish.current += 1;
            return Ok(());
        }
        let Some(plaintext) = keys
            .retired
            .as_ref()
            .and_then(|retired| super::open_with(retired, user, purpose, &sealed))
            .map(Zeroizing::new)
        else {
            finish.unreadable += 1;
            return Ok(());
        };
        let again = super::seal_with(&keys.seal, user, purpose, &plaintext)?;
        let replaced = self
            .inner
            .db
            .replace_sealed_value(collection, user, value, &again.ciphertext, &again.nonce)
            .await
            .map_err(store_failed)?;
        if replaced {
            finish.resealed += 1;
        } else {
            finish.raced += 1;
        }
        Ok(())
    }

    /// Finishes every rotation that is due (rotated more than the key cache's lifetime
    /// ago); returns how many were completed.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`] when the database or the key store fails.
    pub async fn finish_due_rotations(&self) -> Result<u64, CryptoError> {
        let now = Utc::now();
        let before = now
            - chrono::Duration::from_std(self.cache_ttl() + CLOCK_MARGIN)
                .unwrap_or(chrono::Duration::MAX);
        let mut completed = 0;
        loop {
            let users = self
                .inner
                .db
                .users_with_retired_keys(before, 100)
                .await
                .map_err(store_failed)?;
            if users.is_empty() {
                break;
            }
            let mut progressed = false;
            for user in users {
                if self.finish_rotation(user, now).await?.erased {
                    completed += 1;
                    progressed = true;
                }
            }
            if !progressed {
                // What is left raced with writes: the next run goes on.
                break;
            }
        }
        if completed > 0 {
            self.reclaim_after_rotations().await;
        }
        Ok(completed)
    }

    /// Lets the database reuse (SQLite: overwrite) the pages that held retired keys and the
    /// values sealed under them.
    pub async fn reclaim_after_rotations(&self) {
        let db = &self.inner.db;
        db.reclaim_deleted_pages("user_data_keys").await;
        for collection in sealed_collections() {
            db.reclaim_deleted_pages(collection.name).await;
        }
    }
}

/// When a rotation at `retired_at` has settled: no process can still hold the retired key
/// as its sealing key.
fn settled_after(retired_at: DateTime<Utc>, cache_ttl: Duration) -> DateTime<Utc> {
    retired_at
        + chrono::Duration::from_std(cache_ttl + CLOCK_MARGIN).unwrap_or(chrono::Duration::MAX)
}

fn store_failed(error: crate::db::DbError) -> CryptoError {
    tracing::error!(%error, "the key store failed");
    CryptoError::Unavailable
}

/// Finishes due rotations for the life of the process (first run at start-up).
pub fn spawn(keys: KeyService) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(FINISH_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match keys.finish_due_rotations().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "data-key rotations completed"),
                Err(error) => tracing::warn!(%error, "cannot finish data-key rotations yet"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{MasterKeys, open_with};
    use crate::db::{Database, Param};

    async fn a_user(db: &Database) -> Uuid {
        db.create_user(&format!("{}@example.com", Uuid::new_v4()), "hash", None)
            .await
            .expect("user")
            .id
    }

    /// A journal entry and a mood note sealed for `user`; their ids.
    async fn sealed_rows(db: &Database, keys: &KeyService, user: Uuid) -> [Uuid; 2] {
        let entry = keys
            .seal(user, mindflow_contract::purpose::JOURNAL, b"dear diary")
            .await
            .expect("seal");
        let note = keys
            .seal(user, mindflow_contract::purpose::MOOD_NOTE, b"a long week")
            .await
            .expect("seal");
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        db.execute(
            "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv) VALUES ($1, $2, $3, $4)",
            &[
                Param::Uuid(ids[0]),
                Param::Uuid(user),
                Param::Bytes(entry.ciphertext),
                Param::Bytes(entry.nonce),
            ],
        )
        .await
        .expect("entry");
        db.execute(
            "INSERT INTO mood_logs (id, user_id, mood_score, note_encrypted, note_iv) VALUES ($1, $2, 5, $3, $4)",
            &[
                Param::Uuid(ids[1]),
                Param::Uuid(user),
                Param::Bytes(note.ciphertext),
                Param::Bytes(note.nonce),
            ],
        )
        .await
        .expect("log");
        ids
    }

    async fn stored(db: &Database, table: &str, column: &str, id: Uuid) -> Sealed {
        let (ct, iv) = match column {
            "content" => ("content_encrypted", "content_iv"),
            _ => ("note_encrypted", "note_iv"),
        };
        let row = db
            .fetch_optional(
                &format!("SELECT {ct}, {iv} FROM {table} WHERE id = $1"),
                &[Param::Uuid(id)],
            )
            .await
            .expect("read")
            .expect("row");
        Sealed {
            ciphertext: row.bytes(ct).expect("ciphertext"),
            nonce: row.bytes(iv).expect("nonce"),
        }
    }

    /// A rotation seals every value again under a new key the old key does not open, keeps
    /// keyed hashes as they were, reads values under either key meanwhile, and erases the
    /// old key only once the key cache's lifetime has passed.
    #[tokio::test]
    async fn a_rotation_seals_everything_again_and_erases_the_old_key() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
            let user = a_user(&db).await;
            let other = a_user(&db).await;
            let [entry, log] = sealed_rows(&db, &keys, user).await;
            let [others_entry, _] = sealed_rows(&db, &keys, other).await;
            let hash_before = keys
                .keyed_hash(user, mindflow_contract::purpose::JOURNAL_TERMS, b"diary")
                .await
                .expect("hash");
            let row = db.wrapped_data_key(user).await.expect("read").expect("key");
            let old = keys.unwrap_keys(&row).expect("unwrap").seal;
            let before = stored(&db, "journal_entries", "content", entry).await;

            assert_eq!(
                keys.rotate_data_key(user).await.expect("rotate"),
                DataKeyRotation::Rotated { version: 2 }
            );
            assert_eq!(
                keys.rotate_data_key(user).await.expect("again"),
                DataKeyRotation::InProgress,
                "one rotation at a time"
            );
            // Meanwhile: old values open, new ones are sealed under the new key, hashes hold.
            let opened = keys
                .open(user, mindflow_contract::purpose::JOURNAL, &before)
                .await
                .expect("open under the retired key");
            assert_eq!(opened, b"dear diary");
            let fresh = keys
                .seal(user, mindflow_contract::purpose::JOURNAL, b"after")
                .await
                .expect("seal");
            assert!(open_with(&old, user, mindflow_contract::purpose::JOURNAL, &fresh).is_none());
            assert_eq!(
                keys.keyed_hash(user, mindflow_contract::purpose::JOURNAL_TERMS, b"diary")
                    .await
                    .expect("hash"),
                hash_before
            );

            let now = Utc::now();
            let early = keys.finish_rotation(user, now).await.expect("early");
            assert!(early.too_early && !early.erased, "{early:?}");
            let later = now + chrono::Duration::seconds(120);
            let finish = keys.finish_rotation(user, later).await.expect("finish");
            assert_eq!(
                (
                    finish.resealed,
                    finish.raced,
                    finish.unreadable,
                    finish.erased
                ),
                (2, 0, 0, true),
                "{finish:?}"
            );
            let row = db.wrapped_data_key(user).await.expect("read").expect("key");
            assert_eq!(row.key_version, 2);
            assert!(row.retired_key.is_none() && row.retired_at.is_none());
            assert!(row.hash_key.is_some(), "the hash key is set apart");
            for (table, column, id, plain) in [
                ("journal_entries", "content", entry, &b"dear diary"[..]),
                ("mood_logs", "note", log, &b"a long week"[..]),
            ] {
                let now_stored = stored(&db, table, column, id).await;
                let purpose = if column == "content" {
                    mindflow_contract::purpose::JOURNAL
                } else {
                    mindflow_contract::purpose::MOOD_NOTE
                };
                assert!(
                    open_with(&old, user, purpose, &now_stored).is_none(),
                    "{table}: the old key opens nothing stored"
                );
                let fresh_keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
                assert_eq!(
                    fresh_keys
                        .open(user, purpose, &now_stored)
                        .await
                        .expect("open"),
                    plain
                );
            }
            // Another user's values were not touched.
            let theirs = stored(&db, "journal_entries", "content", others_entry).await;
            assert_eq!(
                keys.open(other, mindflow_contract::purpose::JOURNAL, &theirs)
                    .await
                    .expect("open"),
                b"dear diary"
            );
            assert_eq!(
                db.wrapped_data_key(other)
                    .await
                    .expect("read")
                    .expect("key")
                    .key_version,
                1
            );
            // And a later master-key rotation carries the hash key along.
            let next = KeyService::new(db.clone(), MasterKeys::new(&[8; 32], &[[7; 32]]));
            assert!(next.rotate().await.expect("master rotation").rewrapped >= 2);
            assert_eq!(
                next.keyed_hash(user, mindflow_contract::purpose::JOURNAL_TERMS, b"diary")
                    .await
                    .expect("hash"),
                hash_before
            );
            let after_master = stored(&db, "journal_entries", "content", entry).await;
            assert_eq!(
                next.open(user, mindflow_contract::purpose::JOURNAL, &after_master)
                    .await
                    .expect("open"),
                b"dear diary"
            );
        }
    }

    /// A wearable connection's tokens (one column each, outside the catalog) are sealed
    /// again too, so the connection keeps working after the retired key is erased.
    #[tokio::test]
    async fn a_rotation_seals_wearable_tokens_again() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
            let user = a_user(&db).await;
            let secret = |s: &str| crate::secrets::Secret::new(s.to_owned());
            let tokens = crate::db::wearables::SealedTokens {
                access: crate::wearables::seal_token(&keys, user, &secret("access-1"))
                    .await
                    .expect("seal"),
                refresh: Some(
                    crate::wearables::seal_token(&keys, user, &secret("refresh-1"))
                        .await
                        .expect("seal"),
                ),
                expires_at: None,
                scopes: Vec::new(),
            };
            let row = db.wrapped_data_key(user).await.expect("read").expect("key");
            let old = keys.unwrap_keys(&row).expect("unwrap").seal;
            let connection = db
                .connect_wearable(user, "oura", Some("u1"), Some(&tokens), Utc::now())
                .await
                .expect("connect");
            keys.rotate_data_key(user).await.expect("rotate");
            let later = Utc::now() + chrono::Duration::seconds(120);
            let finish = keys.finish_rotation(user, later).await.expect("finish");
            assert_eq!(
                (
                    finish.resealed,
                    finish.raced,
                    finish.unreadable,
                    finish.erased
                ),
                (2, 0, 0, true),
                "{finish:?}"
            );
            let stored = db
                .wearable_connections(user)
                .await
                .expect("read")
                .into_iter()
                .find(|c| c.id == connection)
                .expect("connection");
            let purpose = mindflow_contract::purpose::WEARABLE_TOKEN;
            for (sealed, plain) in [
                (stored.access_token, "access-1"),
                (stored.refresh_token, "refresh-1"),
            ] {
                let sealed = sealed.expect("a token");
                let split = Sealed::split(&sealed).expect("joined");
                assert!(
                    open_with(&old, user, purpose, &split).is_none(),
                    "the old key opens no token"
                );
                let fresh = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
                let opened = crate::wearables::open_token(&fresh, user, &sealed)
                    .await
                    .expect("opens under the new key");
                assert_eq!(opened.expose(), plain);
            }
        }
    }

    /// A value sealed under the retired key after the re-seal read it (a process whose
    /// cache still held the old key) is never lost: it is a race, the old key stays, and
    /// the next pass seals it again.
    #[tokio::test]
    async fn a_value_changed_during_the_pass_keeps_the_retired_key() {
        let (db, _dir) = crate::db::testing::sqlite().await;
        let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
        let user = a_user(&db).await;
        let [entry, _] = sealed_rows(&db, &keys, user).await;
        keys.rotate_data_key(user).await.expect("rotate");
        let collection = crate::db::catalog::CATALOG
            .iter()
            .find(|c| c.name == "journal_entries")
            .expect("journal");
        let value = db
            .sealed_values(collection, user, None, 10)
            .await
            .expect("values")
            .into_iter()
            .find(|v| v.id == entry)
            .expect("entry");
        // The row changes between the read and the replacement.
        db.execute(
            "UPDATE journal_entries SET content_iv = content_iv, content_encrypted = $2 WHERE id = $1",
            &[Param::Uuid(entry), Param::Bytes(vec![9; 40])],
        )
        .await
        .expect("change");
        assert!(
            !db.replace_sealed_value(collection, user, &value, &[1, 2, 3], &[4, 5, 6])
                .await
                .expect("replace"),
            "a changed value is not overwritten"
        );
    }
}
