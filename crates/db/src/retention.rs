//! Data retention: deleting a user's records older than their `data_retention_days`.
//!
//! What goes is the catalog's [`Retention`] declaration of each collection. Users are grouped
//! by their retention period (few distinct values), so one purge is a handful of statements
//! whatever the number of users. A user whose period is NULL keeps
//! everything.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};

use super::catalog::{CATALOG, Collection, Ownership, Retention};
use super::{Backend, Database, DbError, Param};

/// Rows deleted by one purge, per collection (in catalog order; children that go with
/// their parent by `ON DELETE CASCADE` are not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCounts(pub Vec<(&'static str, u64)>);

impl PurgeCounts {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, collection: &'static str, deleted: u64) {
        match self.0.iter_mut().find(|(name, _)| *name == collection) {
            Some((_, n)) => *n += deleted,
            None => self.0.push((collection, deleted)),
        }
    }
}

impl std::fmt::Display for PurgeCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (name, n) in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}: {n}")?;
        }
        Ok(())
    }
}

/// Users with this retention period (`$2`).
const USERS_WITH_PERIOD: &str =
    "SELECT id FROM users WHERE data_retention_days = $2 AND deleted_at IS NULL";

/// The rows of `collection` that belong to a user with the period `$2`.
fn owned_by_users_with_period(collection: &Collection) -> Option<String> {
    match collection.ownership {
        Ownership::User => Some(format!("user_id IN ({USERS_WITH_PERIOD})")),
        Ownership::Parent { column, table } => Some(format!(
            "{column} IN (SELECT id FROM {table} WHERE user_id IN ({USERS_WITH_PERIOD}))"
        )),
        Ownership::Shared => None,
    }
}

/// The first calendar day a retention of `days` keeps on `today`: a day-dated record
/// ([`Retention::DayBefore`]) goes once the whole day is before it. Whatever else stores
/// such records (a wearable sync) stops at this day too, so it never writes what the next
/// purge deletes. `None` for a negative period.
pub fn first_kept_day(today: NaiveDate, days: i64) -> Option<NaiveDate> {
    today.checked_sub_days(Days::new(u64::try_from(days).ok()?))
}

/// The condition that a row of the collection has expired (`$1` the cut-off, or for a
/// calendar day the first day kept), and the value to bind as `$1`; `None` when the purge
/// leaves the collection alone.
fn expired(
    collection: &Collection,
    backend: Backend,
    cutoff: DateTime<Utc>,
    first_kept: NaiveDate,
) -> Option<(String, Param)> {
    match collection.retention {
        Retention::OlderThan([field]) => Some((format!("{field} < $1"), Param::Time(cutoff))),
        Retention::OlderThan(fields) => Some((
            format!("COALESCE({}) < $1", fields.join(", ")),
            Param::Time(cutoff),
        )),
        // A calendar day goes once the whole day is before the first day kept.
        Retention::DayBefore(field) => {
            let day = first_kept.format("%Y-%m-%d").to_string();
            let condition = match backend {
                Backend::Postgres => format!("{field} < CAST($1 AS DATE)"),
                Backend::Sqlite => format!("{field} < $1"),
            };
            Some((condition, Param::Text(day)))
        }
        Retention::WithParent | Retention::Kept | Retention::Shared => None,
    }
}

impl Database {
    /// Deletes, for every live user, the records older than `now` minus their retention
    /// period, collection by collection as the catalog declares ([`Retention`]). Before rows
    /// go, nullable references to them from other collections are cleared (a recommendation
    /// outlives the insight it came from).
    ///
    /// # Errors
    /// [`DbError`]; counts of the periods already purged are lost with the error (each
    /// statement commits on its own, so a retry just continues).
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<PurgeCounts, DbError> {
        let periods = self
            .fetch_all(
                "SELECT DISTINCT data_retention_days FROM users WHERE data_retention_days IS NOT NULL AND deleted_at IS NULL",
                &[],
            )
            .await?
            .iter()
            .map(|row| row.int("data_retention_days"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = PurgeCounts::default();
        for days in periods {
            if days <= 0 {
                continue;
            }
            let (Some(cutoff), Some(first_kept)) = (
                now.checked_sub_signed(Duration::days(days)),
                first_kept_day(now.date_naive(), days),
            ) else {
                continue;
            };
            for collection in CATALOG {
                let Some((condition, cutoff)) =
                    expired(collection, self.backend(), cutoff, first_kept)
                else {
                    continue;
                };
                let Some(owned) = owned_by_users_with_period(collection) else {
                    continue;
                };
                let params = [cutoff, Param::Int(days)];
                let expiring = format!("{condition} AND {owned}");
                for (referrer, column) in referrers(collection.name) {
                    self.execute(
                        &format!(
                            "UPDATE {referrer} SET {column} = NULL WHERE {column} IN \
                             (SELECT id FROM {} WHERE {expiring})",
                            collection.name
                        ),
                        &params,
                    )
                    .await?;
                }
                let deleted = self
                    .execute(
                        &format!("DELETE FROM {} WHERE {expiring}", collection.name),
                        &params,
                    )
                    .await?;
                counts.add(collection.name, deleted);
            }
        }
        Ok(counts)
    }
}

/// The collections and columns that point at `table` with a nullable reference the host
/// checks (not ownership links, which cascade).
fn referrers(table: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    CATALOG.iter().flat_map(move |collection| {
        collection
            .columns
            .iter()
            .filter(move |column| {
                column.references.is_some_and(|r| r.table == table) && !column.not_null
            })
            .map(move |column| (collection.name, column.name))
    })
}
