//! Per-user data keys, stored only wrapped by a master key (`user_data_keys`).
//!
//! This module stores and reads opaque wrapped bytes; wrapping and unwrapping belong to
//! the host's `crypto` module. No plaintext key ever reaches the database.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, Param};

/// One wrapped key: the encrypted key (with its tag) and the nonce of that encryption.
#[derive(Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The key, encrypted under the row's master key.
    pub key: Vec<u8>,
    /// The nonce of that encryption.
    pub nonce: Vec<u8>,
}

/// A user's keys as stored, every one wrapped by the master key named by `master_key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The keys' owner.
    pub user_id: Uuid,
    /// The data key, encrypted (with its tag) under the master key.
    pub wrapped_key: Vec<u8>,
    /// The nonce of that encryption.
    pub wrap_nonce: Vec<u8>,
    /// Which master key wrapped them.
    pub master_key_id: String,
    /// The data key's version: 1, plus one per rotation.
    pub key_version: i64,
    /// The key keyed hashes derive from, once a rotation has set it apart (`None`: the data
    /// key).
    pub hash_key: Option<Wrapped>,
    /// The data key a rotation replaced, while values sealed under it are sealed again.
    pub retired_key: Option<Wrapped>,
    /// When that rotation happened.
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Wrapped bytes are not secret, but they are noise in logs.
        f.debug_struct("WrappedKey")
            .field("user_id", &self.user_id)
            .field("master_key_id", &self.master_key_id)
            .field("key_version", &self.key_version)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

const KEY_COLUMNS: &str = "user_id, wrapped_key, wrap_nonce, master_key_id, key_version, \
     hash_key, hash_nonce, retired_key, retired_nonce, retired_at";

fn wrapped(row: &super::DbRow) -> Result<WrappedKey, DbError> {
    let pair = |key: &str, nonce: &str| -> Result<Option<Wrapped>, DbError> {
        Ok(row
            .opt_bytes(key)?
            .zip(row.opt_bytes(nonce)?)
            .map(|(key, nonce)| Wrapped { key, nonce }))
    };
    Ok(WrappedKey {
        user_id: row.uuid("user_id")?,
        wrapped_key: row.bytes("wrapped_key")?,
        wrap_nonce: row.bytes("wrap_nonce")?,
        master_key_id: row.text("master_key_id")?,
        key_version: row.int("key_version")?,
        hash_key: pair("hash_key", "hash_nonce")?,
        retired_key: pair("retired_key", "retired_nonce")?,
        retired_at: row.opt_time("retired_at")?,
    })
}

/// The optional key columns of a row, as parameters.
fn optional_params(key: &WrappedKey) -> [Param; 5] {
    let bytes = |w: &Option<Wrapped>, nonce: bool| {
        Param::OptBytes(w.as_ref().map(|w| {
            if nonce {
                w.nonce.clone()
            } else {
                w.key.clone()
            }
        }))
    };
    [
        bytes(&key.hash_key, false),
        bytes(&key.hash_key, true),
        bytes(&key.retired_key, false),
        bytes(&key.retired_key, true),
        Param::OptTime(key.retired_at),
    ]
}

impl Database {
    /// The user's wrapped data key, if they have one.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wrapped_data_key(&self, user_id: Uuid) -> Result<Option<WrappedKey>, DbError> {
        self.fetch_optional(
            &format!("SELECT {KEY_COLUMNS} FROM user_data_keys WHERE user_id = $1"),
            &[Param::Uuid(user_id)],
        )
        .await?
        .as_ref()
        .map(wrapped)
        .transpose()
    }

    /// Stores `key` unless the user already has one, and only for a live (not deleted)
    /// account; returns whether it was stored. Race-safe: of two concurrent first writers one
    /// wins, and both then read the winner's key.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_data_key_if_absent(&self, key: &WrappedKey) -> Result<bool, DbError> {
        let inserted = self
            .execute(
                "INSERT INTO user_data_keys (user_id, wrapped_key, wrap_nonce, master_key_id, created_at) \
                 SELECT id, $2, $3, $4, $5 FROM users WHERE id = $1 AND deleted_at IS NULL \
                 ON CONFLICT (user_id) DO NOTHING",
                &[
                    Param::Uuid(key.user_id),
                    Param::Bytes(key.wrapped_key.clone()),
                    Param::Bytes(key.wrap_nonce.clone()),
                    Param::Text(key.master_key_id.clone()),
                    Param::Time(Utc::now()),
                ],
            )
            .await?;
        Ok(inserted > 0)
    }

    /// Deletes the user's wrapped data key; returns whether there was one.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn delete_data_key(&self, user_id: Uuid) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "DELETE FROM user_data_keys WHERE user_id = $1",
                &[Param::Uuid(user_id)],
            )
            .await?
            > 0)
    }

    /// Up to `limit` keys not wrapped by `master_key_id`, in user-id order after `after`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn data_keys_not_under(
        &self,
        master_key_id: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<WrappedKey>, DbError> {
        let rows = match after {
            None => {
                self.fetch_all(
                    &format!(
                        "SELECT {KEY_COLUMNS} FROM user_data_keys \
                         WHERE master_key_id <> $1 ORDER BY user_id LIMIT $2"
                    ),
                    &[Param::Text(master_key_id.into()), Param::Int(limit)],
                )
                .await?
            }
            Some(after) => {
                self.fetch_all(
                    &format!(
                        "SELECT {KEY_COLUMNS} FROM user_data_keys \
                         WHERE master_key_id <> $1 AND user_id > $2 ORDER BY user_id LIMIT $3"
                    ),
                    &[
                        Param::Text(master_key_id.into()),
                        Param::Uuid(after),
                        Param::Int(limit),
                    ],
                )
                .await?
            }
        };
        rows.iter().map(wrapped).collect()
    }

    /// Replaces a user's wrapped keys (re-wrapped under another master key, or rotated),
    /// provided the row is still wrapped by `expected_master_key_id` at `expected_version` (a
    /// concurrent rotation, re-wrap or shred wins); returns whether it was replaced.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn replace_data_key(
        &self,
        expected_master_key_id: &str,
        expected_version: i64,
        key: &WrappedKey,
    ) -> Result<bool, DbError> {
        let mut params = vec![
            Param::Bytes(key.wrapped_key.clone()),
            Param::Bytes(key.wrap_nonce.clone()),
            Param::Text(key.master_key_id.clone()),
            Param::Time(Utc::now()),
            Param::Int(key.key_version),
        ];
        params.extend(optional_params(key));
        params.extend([
            Param::Uuid(key.user_id),
            Param::Text(expected_master_key_id.into()),
            Param::Int(expected_version),
        ]);
        Ok(self
            .execute(
                "UPDATE user_data_keys SET wrapped_key = $1, wrap_nonce = $2, master_key_id = $3, \
                 rotated_at = $4, key_version = $5, hash_key = $6, hash_nonce = $7, \
                 retired_key = $8, retired_nonce = $9, retired_at = $10 \
                 WHERE user_id = $11 AND master_key_id = $12 AND key_version = $13",
                &params,
            )
            .await?
            > 0)
    }

    /// Erases a user's retired data key, provided the key is still at `expected_version`
    /// (a newer rotation keeps its own retired key); returns whether it was erased.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn erase_retired_data_key(
        &self,
        user_id: Uuid,
        expected_version: i64,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE user_data_keys SET retired_key = NULL, retired_nonce = NULL, retired_at = NULL \
                 WHERE user_id = $1 AND key_version = $2 AND retired_key IS NOT NULL",
                &[Param::Uuid(user_id), Param::Int(expected_version)],
            )
            .await?
            > 0)
    }

    /// Up to `limit` users whose data key was rotated before `before` and still keep the
    /// retired key (their values may still need sealing again).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn users_with_retired_keys(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Uuid>, DbError> {
        self.fetch_all(
            "SELECT user_id FROM user_data_keys WHERE retired_at IS NOT NULL AND retired_at < $1 \
             ORDER BY retired_at LIMIT $2",
            &[Param::Time(before), Param::Int(limit)],
        )
        .await?
        .iter()
        .map(|row| row.uuid("user_id"))
        .collect()
    }

    /// Every user who has a data key.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn users_with_data_keys(&self) -> Result<Vec<Uuid>, DbError> {
        self.fetch_all("SELECT user_id FROM user_data_keys ORDER BY user_id", &[])
            .await?
            .iter()
            .map(|row| row.uuid("user_id"))
            .collect()
    }

    /// How many data keys each master key wraps.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn data_key_counts(&self) -> Result<Vec<(String, i64)>, DbError> {
        self.fetch_all(
            "SELECT master_key_id, COUNT(*) AS n FROM user_data_keys GROUP BY master_key_id ORDER BY master_key_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| Ok((row.text("master_key_id")?, row.int("n")?)))
        .collect()
    }
}
