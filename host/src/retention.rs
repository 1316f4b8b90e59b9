//! The retention purge: once an hour, every user's mood logs, journal entries, chat sessions,
//! insights, recommendations, crisis events and wearable metrics older than their
//! `data_retention_days` are deleted ([`crate::db::Database::purge_expired`]). Only counts are
//! logged. Every replica runs it; the deletes are idempotent.

use std::time::Duration;

use chrono::Utc;

use crate::db::Database;
use crate::db::retention::PurgeCounts;

/// How often the purge runs.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// Delay before the first purge, so start-up is not slowed.
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(60);

/// Purges once now; logs the counts, or the failure.
pub async fn purge_once(db: &Database) -> Option<PurgeCounts> {
    match db.purge_expired(Utc::now()).await {
        Ok(counts) => {
            if counts.total() > 0 {
                tracing::info!(
                    deleted = %counts,
                    "retention purge deleted expired records"
                );
            } else {
                tracing::debug!("retention purge: nothing expired");
            }
            Some(counts)
        }
        Err(error) => {
            tracing::warn!(%error, "retention purge failed; retrying at the next run");
            None
        }
    }
}

/// Runs [`purge_once`] every [`PURGE_INTERVAL`] in the background.
pub fn spawn(db: Database) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + FIRST_PURGE_AFTER;
        let mut interval = tokio::time::interval_at(start, PURGE_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            purge_once(&db).await;
        }
    })
}
