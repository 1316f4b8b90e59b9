//! Per-user rollups: all-time aggregates whose cost does not grow with a person's history.
//!
//! Owns: the `storage_rollups` table (migration sqlite 0016, postgres 0017), the triggers
//! that keep it, and the answers [`crate::collections`] takes from it. A collection declares
//! its rollup in the catalog ([`Rollup`]): integer fields of a small declared range and the
//! groupings kept (all rows; weekday or hour of a timestamp in the user's zone; a field's
//! value). For each user, grouping, group and field the table holds a histogram: how many
//! rows hold each value (field `*` counts the group's rows). Count, mean, min, max and
//! standard deviation follow from a histogram exactly, and a delete only decrements, so a
//! deleted minimum needs no rescan.
//!
//! Maintenance is at write time, in the writing transaction: triggers generated here from
//! the catalog and installed at start-up (after the migrations) add one to each bucket a new
//! row falls in and take one from each bucket a deleted row was in (an update does both), as
//! atomic `n = n + 1` upserts (row-level triggers on SQLite; statement-level ones with
//! transition tables on PostgreSQL, where a multi-row statement then updates each bucket once
//! instead of lengthening its version chain row by row). Being triggers, they see every
//! write whatever its path: the storage capability's inserts, updates, deletes and batches,
//! cascades, account deletion, the retention purge, and rows written with plain SQL (the
//! benchmark's seeding).
//!
//! Weekday and hour need the user's zone, which SQLite cannot convert: the triggers look
//! the instant's offset up in `time_zone_offsets`, which holds the zone's transitions as
//! chrono-tz (the scan's zone data) has them (see `zones`). A zone whose offsets are not
//! loaded yet puts the row in group `?`; an aggregate that meets `?` loads the zone and
//! rebuilds that user's zoned buckets once. When a user's `timezone` changes, a trigger on
//! `users` rebuilds their zoned buckets in the same transaction.
//!
//! On PostgreSQL every trigger touches the user's `(all, *)` bucket of the collection
//! first (see `sql::claim`): a user's writes to a collection take turns on that row lock,
//! which rules out lost updates and deadlocks between them, and orders a zone rebuild
//! against them. SQLite runs one write transaction at a time anyway.
//!
//! Existing rows: when the generated SQL differs from what the database last installed
//! (first start after the migration, or a changed declaration), start-up rebuilds every
//! rollup from the rows in the same transaction that installs the triggers.

mod figures;
mod sql;
mod zones;

#[cfg(test)]
mod tests;

use uuid::Uuid;

use crate::catalog::{CATALOG, Collection, Column, ColumnType, Rollup, RollupGrouping};
use crate::collections::{AggregateFn, AggregateRow, Grouping};
use crate::{Backend, Database, DbError, Param, Transaction};

use figures::{Buckets, KeyKind, Measure};

/// The `platform_settings` key recording which rollup SQL the database has installed.
const VERSION_SETTING: &str = "storage.rollups.version";

/// The collections with a rollup.
fn rolled_up() -> Vec<&'static Collection> {
    CATALOG.iter().filter(|c| c.rollup.is_some()).collect()
}

/// Every DDL statement of the rollups on `backend`, in order.
fn ddl(backend: Backend) -> Vec<String> {
    let collections = rolled_up();
    let mut statements = Vec::new();
    for collection in &collections {
        for trigger in sql::collection_triggers(backend, collection) {
            statements.extend(sql::trigger_ddl(backend, &trigger));
        }
    }
    if let Some(trigger) = sql::rezone_trigger(backend, &collections) {
        statements.extend(sql::trigger_ddl(backend, &trigger));
    }
    statements
}

/// A fingerprint of the installed SQL (FNV-1a, 64 bits).
fn fingerprint(statements: &[String]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in statements.iter().flat_map(|s| s.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

async fn installed_version(tx: &mut Transaction) -> Result<Option<String>, DbError> {
    tx.fetch_optional(
        "SELECT value FROM platform_settings WHERE key = $1",
        &[Param::Text(VERSION_SETTING.into())],
    )
    .await?
    .map(|row| row.text("value"))
    .transpose()
}

impl Database {
    /// Installs the rollup triggers the catalog declares and, when they differ from what the
    /// database had, rebuilds every rollup from the rows, all in one transaction (run by
    /// [`Database::migrate`]). Loads the offsets of every zone users are in first.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn install_rollups(&self) -> Result<(), DbError> {
        let backend = self.backend();
        let statements = ddl(backend);
        let version = fingerprint(&statements);
        let current = self
            .fetch_optional(
                "SELECT value FROM platform_settings WHERE key = $1",
                &[Param::Text(VERSION_SETTING.into())],
            )
            .await?
            .map(|row| row.text("value"))
            .transpose()?;
        if current.as_deref() == Some(version.as_str()) {
            return Ok(());
        }
        let zones = self
            .fetch_all(
                "SELECT DISTINCT COALESCE(timezone, 'UTC') AS zone FROM users",
                &[],
            )
            .await?;
        for row in &zones {
            self.load_time_zone(&row.text("zone")?).await?;
        }
        let mut tx = self.begin().await?;
        if backend == Backend::Postgres {
            // Replicas starting together: one at a time.
            tx.execute("SELECT pg_advisory_xact_lock(7236011913)", &[])
                .await?;
        }
        if installed_version(&mut tx).await?.as_deref() == Some(version.as_str()) {
            return Ok(());
        }
        for statement in &statements {
            tx.execute(statement, &[]).await?;
        }
        for collection in rolled_up() {
            for statement in sql::rebuild_all(backend, collection) {
                tx.execute(&statement, &[]).await?;
            }
        }
        tx.execute(
            "INSERT INTO platform_settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[
                Param::Text(VERSION_SETTING.into()),
                Param::Text(version),
                Param::Time(chrono::Utc::now()),
            ],
        )
        .await?;
        tx.commit().await?;
        tracing::info!("storage rollups installed and rebuilt from the rows");
        Ok(())
    }

    /// Loads the UTC offsets of the zone `name` (an IANA name; any other means UTC, as to
    /// the aggregate scan) for the rollup triggers, unless they are loaded.
    ///
    /// # Errors
    /// [`DbError`].
    pub(crate) async fn load_time_zone(&self, name: &str) -> Result<(), DbError> {
        let loaded = self
            .fetch_optional(
                "SELECT 1 AS one FROM time_zone_offsets WHERE zone = $1 LIMIT 1",
                &[Param::Text(name.to_owned())],
            )
            .await?;
        if loaded.is_some() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        zones::load(&mut tx, name).await?;
        tx.commit().await
    }

    /// Rebuilds `user`'s zoned buckets of `collection` after loading the offsets of
    /// `zone` (the user's zone), in one transaction.
    async fn rebuild_zoned_rollup(
        &self,
        user: Uuid,
        collection: &'static Collection,
        zone: &str,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        zones::load(&mut tx, zone).await?;
        let backend = zones::backend_of(&tx);
        for statement in sql::rebuild_zoned(backend, collection, "$1") {
            tx.execute(&statement, &[Param::Uuid(user)]).await?;
        }
        tx.commit().await
    }

    /// The buckets of one grouping of `user`'s rollup of `collection`, and the user's zone
    /// (`None`: no such user). One statement.
    async fn rollup_buckets(
        &self,
        user: Uuid,
        collection: &'static Collection,
        grouping: RollupGrouping,
    ) -> Result<Option<(String, Buckets)>, DbError> {
        let rows = self
            .fetch_all(
                "SELECT u.zone AS zone, r.group_key AS group_key, r.field AS field, \
                 r.val AS val, r.n AS n \
                 FROM (SELECT COALESCE(timezone, 'UTC') AS zone FROM users WHERE id = $1) u \
                 LEFT JOIN storage_rollups r ON r.user_id = $1 AND r.collection = $2 \
                 AND r.group_by = $3 AND r.n <> 0",
                &[
                    Param::Uuid(user),
                    Param::Text(collection.name.to_owned()),
                    Param::Text(grouping.key()),
                ],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let zone = first.text("zone")?;
        let mut buckets = Buckets::default();
        for row in &rows {
            let (Some(key), Some(field), Some(val), Some(n)) = (
                row.opt_text("group_key")?,
                row.opt_text("field")?,
                row.opt_int("val")?,
                row.opt_int("n")?,
            ) else {
                continue;
            };
            buckets.add(key, field, val, n);
        }
        Ok(Some((zone, buckets)))
    }

    /// The answer of `user`'s rollup of `collection` to an all-time aggregate (no filters),
    /// or `None` when the rollup cannot answer it exactly (a measure or grouping it does not
    /// keep, a zone other than the user's, a row outside the zone data): then the caller
    /// scans the rows.
    ///
    /// # Errors
    /// [`DbError`].
    pub(crate) async fn rollup_aggregate(
        &self,
        user: Uuid,
        collection: &'static Collection,
        measures: &[(Option<&'static Column>, AggregateFn)],
        grouping: Grouping,
        group_column: Option<&'static Column>,
        timezone: &str,
    ) -> Result<Option<Vec<AggregateRow>>, DbError> {
        let Some(rollup) = &collection.rollup else {
            return Ok(None);
        };
        let Some((kept, kind)) = kept_grouping(rollup, grouping, group_column) else {
            return Ok(None);
        };
        let Some(measures) = kept_measures(rollup, measures) else {
            return Ok(None);
        };
        let Some((zone, mut buckets)) = self.rollup_buckets(user, collection, kept).await? else {
            return Ok(None);
        };
        if kept.zoned() {
            if zone != timezone {
                return Ok(None);
            }
            if buckets.has_unplaced() {
                self.rebuild_zoned_rollup(user, collection, &zone).await?;
                match self.rollup_buckets(user, collection, kept).await? {
                    Some((again, rebuilt)) if again == zone && !rebuilt.has_unplaced() => {
                        buckets = rebuilt;
                    }
                    _ => return Ok(None),
                }
            }
        }
        if buckets
            .0
            .values()
            .flat_map(|fields| fields.values().flat_map(|h| h.values()))
            .any(|n| *n < 0)
        {
            tracing::warn!(
                collection = collection.name,
                "a rollup bucket is negative; answering from the rows"
            );
            return Ok(None);
        }
        Ok(figures::rows(
            &buckets,
            &measures,
            kind,
            kept == RollupGrouping::All,
        ))
    }
}

/// The kept grouping that answers `grouping` on `group_column`, and how its keys read.
fn kept_grouping(
    rollup: &Rollup,
    grouping: Grouping,
    group_column: Option<&'static Column>,
) -> Option<(RollupGrouping, KeyKind)> {
    let field = group_column.map(|c| c.name);
    let wanted = match (grouping, field) {
        (Grouping::None, _) => RollupGrouping::All,
        (Grouping::Weekday, Some(f)) => RollupGrouping::Weekday(f),
        (Grouping::Hour, Some(f)) => RollupGrouping::Hour(f),
        (Grouping::FieldValue, Some(f)) => RollupGrouping::Value(f),
        _ => return None,
    };
    let kept = rollup.groupings.iter().copied().find(|g| *g == wanted)?;
    let kind = match (kept, group_column.map(|c| c.ty)) {
        (RollupGrouping::Value(_), Some(ColumnType::Text { .. })) => KeyKind::Text,
        (RollupGrouping::Value(_), Some(ColumnType::Int { .. })) | (RollupGrouping::All, _) => {
            KeyKind::Int
        }
        (RollupGrouping::Weekday(_) | RollupGrouping::Hour(_), Some(ColumnType::Timestamp)) => {
            KeyKind::Int
        }
        _ => return None,
    };
    Some((kept, kind))
}

/// The request's measures, if the rollup keeps every one.
fn kept_measures(
    rollup: &Rollup,
    measures: &[(Option<&'static Column>, AggregateFn)],
) -> Option<Vec<Measure>> {
    measures
        .iter()
        .map(|(column, function)| match column {
            None => Some(Measure::Rows),
            Some(column) => rollup
                .fields
                .iter()
                .find(|f| **f == column.name)
                .map(|f| Measure::Of(f, *function)),
        })
        .collect()
}
