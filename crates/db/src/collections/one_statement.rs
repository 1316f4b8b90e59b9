//! A batch of inserts as one PostgreSQL statement.
//!
//! A batch normally runs as `BEGIN`, a statement per write, `COMMIT`: a round trip each.
//! When every write is an insert and every row it points at was inserted earlier in the same
//! batch (a mood log and its factors), nothing has to be checked between the writes, so the
//! batch can run as one statement instead: each INSERT a data-modifying CTE, and one result
//! row holding every inserted row's columns, named `w{i}_{column}`.
//!
//! The guarantees are the transaction's. A statement is atomic on its own and durable when it
//! returns; PostgreSQL checks foreign keys at the end of the statement, after every CTE has
//! inserted its row, so a child may point at a parent inserted beside it. The ownership rule
//! is the transaction path's too: a row the batch inserts with the caller's `user_id` is the
//! caller's, and anything else disqualifies the batch from this path.

use super::{
    Backend, CheckedWrite, Collection, CollectionError, Database, DbError, OwnRows, Record,
    Statement, Uuid, chosen_id, insert_sql, read_record_as, references,
};

/// The most writes one statement carries (its result row has a column per field of every
/// write, and PostgreSQL allows 1,664).
const MAX_WRITES: usize = 16;

/// Whether `writes` can run as one statement: two or more (one alone already is a single
/// statement), at most [`MAX_WRITES`], all inserts, each pointing only at rows inserted by
/// the writes before it.
pub(super) fn fits(writes: &[CheckedWrite]) -> bool {
    if !(2..=MAX_WRITES).contains(&writes.len()) {
        return false;
    }
    let mut own = OwnRows::default();
    for write in writes {
        let CheckedWrite::Insert(collection, values) = write else {
            return false;
        };
        if references(collection, values).any(|reference| !own.covers(&reference)) {
            return false;
        }
        // Only an id the write brings can be pointed at by a later write.
        if let Some(id) = chosen_id(values) {
            own.record_insert(collection, id);
        }
    }
    true
}

/// The statement for `writes` (which [`fits`]), and where each write's row is in its result.
fn build(user: Uuid, writes: &[CheckedWrite]) -> (Statement, Vec<(&'static Collection, String)>) {
    let mut statement = Statement::new(Backend::Postgres);
    let mut ctes = Vec::with_capacity(writes.len());
    let mut parts = Vec::with_capacity(writes.len());
    for (i, write) in writes.iter().enumerate() {
        let CheckedWrite::Insert(collection, values) = write else {
            continue;
        };
        let prefix = format!("w{i}_");
        let (insert, _) = insert_sql(&mut statement, collection, user, values.clone(), &prefix);
        ctes.push(format!("w{i} AS ({insert})"));
        parts.push((*collection, prefix));
    }
    let from = (0..parts.len())
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    statement.sql = format!("WITH {} SELECT * FROM {from}", ctes.join(", "));
    (statement, parts)
}

impl Database {
    /// Runs `writes` (which [`fits`]) as one statement on PostgreSQL.
    ///
    /// `Ok(None)` when PostgreSQL refused the statement (a constraint, a duplicate id): it
    /// changed nothing, and the caller runs the batch write by write to say which write
    /// failed and why.
    ///
    /// # Errors
    /// [`CollectionError::Database`] when the database could not be asked.
    pub(super) async fn insert_batch_in_one_statement(
        &self,
        user: Uuid,
        writes: &[CheckedWrite],
    ) -> Result<Option<Vec<Option<Record>>>, CollectionError> {
        let (statement, parts) = build(user, writes);
        let row = match self.fetch_optional(&statement.sql, &statement.params).await {
            Ok(row) => {
                row.ok_or_else(|| DbError::Config("a batch INSERT returned no row".into()))?
            }
            Err(DbError::Sqlx(sqlx::Error::Database(_))) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let records = parts
            .iter()
            .map(|(collection, prefix)| read_record_as(collection, &row, prefix).map(Some))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Value, collection};
    use crate::collections::{Write, check_write};

    fn checked(writes: Vec<Write>) -> Vec<CheckedWrite> {
        writes
            .into_iter()
            .map(|w| check_write(w).expect("valid write"))
            .collect()
    }

    fn log(id: &str) -> Write {
        Write::Insert {
            collection: collection("mood_logs").expect("mood_logs"),
            row: vec![
                ("id".into(), Value::Uuid(id.into())),
                ("mood_score".into(), Value::Integer(5)),
            ],
        }
    }

    fn factor(parent: &str) -> Write {
        Write::Insert {
            collection: collection("mood_factors").expect("mood_factors"),
            row: vec![
                ("mood_log_id".into(), Value::Uuid(parent.into())),
                ("factor_type".into(), Value::Text("sleep".into())),
            ],
        }
    }

    #[test]
    fn a_log_and_its_factors_fit_in_one_statement() {
        let id = Uuid::new_v4().to_string();
        assert!(fits(&checked(vec![log(&id), factor(&id), factor(&id)])));
    }

    #[test]
    fn a_write_pointing_outside_the_batch_needs_the_transaction() {
        let (id, elsewhere) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        // The parent is not in the batch: it must be looked up (and be the caller's).
        assert!(!fits(&checked(vec![log(&id), factor(&elsewhere)])));
        // The parent comes after the child.
        assert!(!fits(&checked(vec![factor(&id), log(&id)])));
    }

    #[test]
    fn updates_deletes_single_writes_and_long_batches_take_the_transaction() {
        let id = Uuid::new_v4().to_string();
        let logs = collection("mood_logs").expect("mood_logs");
        let delete = Write::Delete {
            collection: logs,
            id: id.clone(),
        };
        assert!(!fits(&checked(vec![log(&id), delete])));
        assert!(!fits(&checked(vec![log(&id)])));
        let many = (0..=MAX_WRITES)
            .map(|_| log(&Uuid::new_v4().to_string()))
            .collect();
        assert!(!fits(&checked(many)));
    }
}
