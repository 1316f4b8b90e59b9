//! Periodic pruning of authentication records that no longer serve a purpose: login attempts
//! past the throttling window, expired refresh and reset tokens, old outbox rows, and ended
//! sessions no live access token can name, and registrations whose code expired.

use std::time::Duration;

use chrono::Utc;

use super::throttle::RETENTION_MINUTES;
use crate::db::Database;

/// How often the pruner runs.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(600);
/// Expired tokens are kept this long (so a late client still gets a clear 401 for a while).
pub const EXPIRED_TOKEN_GRACE_DAYS: i64 = 7;
/// Outbox rows are kept this long.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

/// Prunes once.
///
/// # Errors
/// [`crate::db::DbError`].
pub async fn prune_once(db: &Database) -> Result<crate::db::auth::Pruned, crate::db::DbError> {
    let now = Utc::now();
    db.prune_auth_records(
        now - chrono::Duration::minutes(RETENTION_MINUTES),
        now - chrono::Duration::days(EXPIRED_TOKEN_GRACE_DAYS),
        now - chrono::Duration::days(OUTBOX_RETENTION_DAYS),
        super::callers::sessions_ended_since(now),
        // A registration's address is kept no longer than its code works.
        now,
    )
    .await
}

/// Runs the pruner for the life of the process (first run at start-up).
pub fn spawn(db: Database) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PRUNE_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match prune_once(&db).await {
                Ok(pruned) => tracing::debug!(?pruned, "pruned authentication records"),
                Err(error) => tracing::warn!(%error, "cannot prune authentication records"),
            }
        }
    })
}
