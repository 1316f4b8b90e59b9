//! Stored ids are the host's (issue 18, finding 4). A component may still give a row it
//! inserts an id, so later writes of the same batch can name it (a mood log and the factors
//! that point at it), but that id is only a name within the call: the row is stored under a
//! fresh random id, and every later write of the batch that names it (a link column, or the
//! id of an update or delete) is pointed at the stored one. The stored id comes back with
//! the row.
//!
//! Why: when a component chose stored ids, an insert with an id another user's row already
//! had was refused, so a hostile component version could encode one user's data in ids
//! while serving them and read it back, bit by bit, while serving someone else, without any
//! outbound grant. Now no id a component sends can collide with anything it cannot see.

use std::collections::HashMap;

use uuid::Uuid;

use super::{CollectionError, Write};
use crate::catalog::{ColumnType, Value};

/// The UUID a value names, if it is one (as a UUID or as text).
fn uuid_of(value: &Value) -> Option<Uuid> {
    match value {
        Value::Uuid(text) | Value::Text(text) => Uuid::parse_str(text).ok(),
        _ => None,
    }
}

/// Renames, in place, the ids the batch's inserts chose and the references to them: see the
/// module. `writes` are in batch order; a reference is renamed only when it comes after the
/// insert that chose the name. An id that is not a UUID is left for the write's own checks
/// to refuse.
///
/// # Errors
/// [`CollectionError::Invalid`] (field `writes[i].id`) when an insert chooses a name an
/// earlier insert of the batch already chose.
pub(super) fn assign(writes: &mut [Write]) -> Result<(), CollectionError> {
    let mut stored: HashMap<Uuid, Uuid> = HashMap::new();
    for (i, write) in writes.iter_mut().enumerate() {
        let (collection, fields, inserting) = match write {
            Write::Insert { collection, row } => (*collection, row, true),
            Write::Update {
                collection,
                id,
                changes,
            } => {
                rename(id, &stored);
                (*collection, changes, false)
            }
            Write::Delete { id, .. } => {
                rename(id, &stored);
                continue;
            }
        };
        let mut chosen = None;
        for (name, value) in fields.iter_mut() {
            let names_a_row = collection
                .column(name)
                .is_some_and(|c| c.ty == ColumnType::Uuid);
            let Some(named) = uuid_of(value).filter(|_| names_a_row) else {
                continue;
            };
            if name == "id" {
                // An update's `id` field is refused by its own checks (ids never change).
                if inserting {
                    chosen = Some((named, value));
                }
            } else if let Some(fresh) = stored.get(&named) {
                *value = Value::Uuid(fresh.to_string());
            }
        }
        if let Some((named, value)) = chosen {
            let fresh = Uuid::new_v4();
            if stored.insert(named, fresh).is_some() {
                return Err(CollectionError::invalid(
                    format!("writes[{i}].id"),
                    "names a row an earlier write of this batch inserted",
                ));
            }
            *value = Value::Uuid(fresh.to_string());
        }
    }
    Ok(())
}

/// `text`, if it names a row the batch inserted, renamed to that row's stored id.
fn rename(text: &mut String, stored: &HashMap<Uuid, Uuid>) {
    if let Some(fresh) = Uuid::parse_str(text).ok().and_then(|u| stored.get(&u)) {
        *text = fresh.to_string();
    }
}
