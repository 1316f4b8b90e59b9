//! Every value a user has sealed, wherever the catalog says collections keep one, for the
//! host to seal again under a new data key (`crypto::rekey`).
//!
//! Owns: the statements that page through a user's sealed values and replace one. A value
//! is replaced only if it is still the one read, so a write racing the re-seal (an edit that
//! seals anew) is never overwritten. Never gives: another user's values.

use uuid::Uuid;

use super::catalog::{CATALOG, Collection, Ownership};
use super::{Database, DbError, Param};

/// One sealed value as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The row's id.
    pub id: Uuid,
    /// Ciphertext with its tag.
    pub ciphertext: Vec<u8>,
    /// Its nonce.
    pub nonce: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The collections that keep a sealed value, with the value's columns.
pub fn sealed_collections() -> impl Iterator<Item = &'static Collection> {
    CATALOG.iter().filter(|c| c.sealed.is_some())
}

/// The sealing of a collection owned by its user, directly or through its parent (the only
/// kinds that seal; the catalog's tests hold it to that).
fn sealing_of(collection: &'static Collection) -> Result<super::catalog::Sealing, DbError> {
    match (collection.sealed, collection.ownership) {
        (Some(sealing), Ownership::User | Ownership::Parent { .. }) => Ok(sealing),
        _ => Err(DbError::Config(format!(
            "`{}` keeps no sealed value of its own user",
            collection.name
        ))),
    }
}

/// `FROM` and the condition that keeps the rows (alias `t`) of the user bound as `$n`.
pub(crate) fn owned_rows(collection: &'static Collection, n: usize) -> (String, String) {
    let table = collection.name;
    match collection.ownership {
        Ownership::Parent {
            column,
            table: parent,
        } => (
            format!("{table} t JOIN {parent} p ON p.id = t.{column}"),
            format!("p.user_id = ${n}"),
        ),
        _ => (format!("{table} t"), format!("t.user_id = ${n}")),
    }
}

/// The condition that row `t` (of an `UPDATE`) belongs to the user bound as `$n`.
fn owned_row(collection: &'static Collection, n: usize) -> String {
    match collection.ownership {
        Ownership::Parent {
            column,
            table: parent,
        } => format!(
            "EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {}.{column} AND p.user_id = ${n})",
            collection.name
        ),
        _ => format!("user_id = ${n}"),
    }
}

impl Database {
    /// Up to `limit` of the user's sealed values in `collection`, in id order after `after`.
    ///
    /// # Errors
    /// [`DbError`]; [`DbError::Config`] for a collection that keeps no sealed value.
    pub async fn sealed_values(
        &self,
        collection: &'static Collection,
        user: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<SealedValue>, DbError> {
        let sealing = sealing_of(collection)?;
        let (ct, nonce) = (sealing.ciphertext, sealing.nonce);
        let (from, mine) = owned_rows(collection, 1);
        let sql = format!(
            "SELECT t.id, t.{ct}, t.{nonce} FROM {from} WHERE {mine} AND t.{ct} IS NOT NULL \
             AND t.{nonce} IS NOT NULL AND t.id > $2 ORDER BY t.id LIMIT $3"
        );
        self.fetch_all(
            &sql,
            &[
                Param::Uuid(user),
                Param::Uuid(after.unwrap_or(Uuid::nil())),
                Param::Int(limit),
            ],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(SealedValue {
                id: row.uuid("id")?,
                ciphertext: row.bytes(ct)?,
                nonce: row.bytes(nonce)?,
            })
        })
        .collect()
    }

    /// Replaces the user's sealed value `old` in `collection` by `ciphertext` and `nonce`,
    /// unless it changed since it was read; returns whether it was replaced.
    ///
    /// # Errors
    /// [`DbError`]; [`DbError::Config`] for a collection that keeps no sealed value.
    pub async fn replace_sealed_value(
        &self,
        collection: &'static Collection,
        user: Uuid,
        old: &SealedValue,
        ciphertext: &[u8],
        nonce: &[u8],
    ) -> Result<bool, DbError> {
        let sealing = sealing_of(collection)?;
        let (ct, iv, table) = (sealing.ciphertext, sealing.nonce, collection.name);
        let mine = owned_row(collection, 4);
        let sql = format!(
            "UPDATE {table} SET {ct} = $1, {iv} = $2 WHERE id = $3 AND {mine} AND {ct} = $5"
        );
        Ok(self
            .execute(
                &sql,
                &[
                    Param::Bytes(ciphertext.to_vec()),
                    Param::Bytes(nonce.to_vec()),
                    Param::Uuid(old.id),
                    Param::Uuid(user),
                    Param::Bytes(old.ciphertext.clone()),
                ],
            )
            .await?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-sealing finds a user's values by `user_id`, of the row or of its parent: every
    /// collection that seals must be owned one of those ways.
    #[test]
    fn every_sealing_collection_is_owned_by_its_user() {
        let sealing: Vec<&str> = sealed_collections().map(|c| c.name).collect();
        assert!(sealing.contains(&"chat_messages"), "{sealing:?}");
        assert!(sealing.contains(&"chat_sessions"), "{sealing:?}");
        assert!(sealing.contains(&"journal_entries"), "{sealing:?}");
        assert!(sealing.contains(&"mood_logs"), "{sealing:?}");
        assert!(sealing.contains(&"safety_plans"), "{sealing:?}");
        for collection in sealed_collections() {
            assert!(sealing_of(collection).is_ok(), "{}", collection.name);
        }
    }
}
