//! Handlers that are the same in every service.

use crate::platform::Platform;
use crate::{Problem, Reply, Wording};

/// `DELETE …/{id}`: deletes the caller's row of `collection` named in the path (and, as the
/// schema cascades, its dependants); `204`.
///
/// # Errors
/// A 404 in the service's words for an id that is not a UUID (storage is never asked) or a
/// row storage did not find (another user's included); any other storage failure as a
/// problem.
pub fn delete_row(
    p: &impl Platform,
    collection: &str,
    raw_id: &str,
    wording: &Wording,
) -> Result<Reply, Problem> {
    let id = wording.row_id(raw_id)?;
    p.delete(collection, &id)?;
    Ok(Reply::no_content())
}
