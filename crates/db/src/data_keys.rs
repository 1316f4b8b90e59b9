//! Per-user data keys, stored only wrapped by a master key (`user_data_keys`).
//!
//! This module stores and reads opaque wrapped bytes; wrapping and unwrapping belong to
//! the host's `crypto` module. No plaintext key ever reaches the database.

use chrono::Utc;
use uuid::Uuid;

use super::{Database, DbError, Param};

/// A data key as stored: wrapped by the master key named by `master_key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The key's owner.
    pub user_id: Uuid,
    /// The data key, encrypted (with its tag) under the master key.
    pub wrapped_key: Vec<u8>,
    /// The nonce of that encryption.
    pub wrap_nonce: Vec<u8>,
    /// Which master key wrapped it.
    pub master_key_id: String,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Wrapped bytes are not secret, but they are noise in logs.
        f.debug_struct("WrappedKey")
            .field("user_id", &self.user_id)
            .field("master_key_id", &self.master_key_id)
            .finish_non_exhaustive()
    }
}

fn wrapped(row: &super::DbRow) -> Result<WrappedKey, DbError> {
    Ok(WrappedKey {
        user_id: row.uuid("user_id")?,
        wrapped_key: row.bytes("wrapped_key")?,
        wrap_nonce: row.bytes("wrap_nonce")?,
        master_key_id: row.text("master_key_id")?,
    })
}

impl Database {
    /// The user's wrapped data key, if they have one.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wrapped_data_key(&self, user_id: Uuid) -> Result<Option<WrappedKey>, DbError> {
        self.fetch_optional(
            "SELECT user_id, wrapped_key, wrap_nonce, master_key_id FROM user_data_keys WHERE user_id = $1",
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
                    "SELECT user_id, wrapped_key, wrap_nonce, master_key_id FROM user_data_keys \
                     WHERE master_key_id <> $1 ORDER BY user_id LIMIT $2",
                    &[Param::Text(master_key_id.into()), Param::Int(limit)],
                )
                .await?
            }
            Some(after) => {
                self.fetch_all(
                    "SELECT user_id, wrapped_key, wrap_nonce, master_key_id FROM user_data_keys \
                     WHERE master_key_id <> $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
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

    /// Replaces a wrapped key, provided it is still wrapped by `expected_master_key_id` (a
    /// concurrent rotation or shred wins); returns whether it was replaced.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn rewrap_data_key(
        &self,
        expected_master_key_id: &str,
        key: &WrappedKey,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE user_data_keys SET wrapped_key = $1, wrap_nonce = $2, master_key_id = $3, rotated_at = $4 \
                 WHERE user_id = $5 AND master_key_id = $6",
                &[
                    Param::Bytes(key.wrapped_key.clone()),
                    Param::Bytes(key.wrap_nonce.clone()),
                    Param::Text(key.master_key_id.clone()),
                    Param::Time(Utc::now()),
                    Param::Uuid(key.user_id),
                    Param::Text(expected_master_key_id.into()),
                ],
            )
            .await?
            > 0)
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
