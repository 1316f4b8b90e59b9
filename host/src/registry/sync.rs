//! Replica convergence: every replica sharing one PostgreSQL runs the same active versions.
//!
//! An activation commits in the database, then `NOTIFY mindflow_components, '<name>'`. Every
//! replica `LISTEN`s and reloads that component from the database. Notifications can be
//! missed while a listener reconnects, so each replica also reconciles on a timer. On SQLite (one
//! host per database file) the host polls for changes the CLI made.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::ComponentRegistry;
use crate::db::Database;

/// The notification channel.
pub const CHANNEL: &str = "mindflow_components";

/// How often a replica reconciles even without notifications.
const RECONCILE_EVERY: Duration = Duration::from_secs(15);

/// Tells other replicas that `name` changed (PostgreSQL only; a failure is logged: the
/// periodic reconcile covers it).
pub async fn notify(db: &Database, name: &str) {
    if let Database::Postgres(pool) = db
        && let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(name)
            .execute(pool)
            .await
    {
        tracing::warn!(component = %name, %error, "cannot notify other replicas");
    }
}

/// How often a SQLite host looks for activations made by the CLI in another process.
const SQLITE_POLL: Duration = Duration::from_secs(2);

/// Follows activations made elsewhere until the process ends: other replicas' through
/// PostgreSQL notifications, or the CLI's on SQLite by polling the (local) database.
pub fn spawn(registry: Arc<ComponentRegistry>) {
    let Database::Postgres(pool) = registry.db().clone() else {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SQLITE_POLL).await;
                reconcile(&registry).await;
            }
        });
        return;
    };
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(CHANNEL).await {
                        tracing::warn!(%error, "cannot LISTEN for component changes");
                    } else {
                        // Anything missed before LISTEN took effect.
                        reconcile(&registry).await;
                        follow(&registry, &mut listener).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot connect the component-change listener")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn follow(registry: &ComponentRegistry, listener: &mut PgListener) {
    loop {
        match tokio::time::timeout(RECONCILE_EVERY, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                let name = notification.payload();
                if let Err(error) = registry.reload(name).await {
                    tracing::error!(component = %name, %error, "cannot load the version another replica activated");
                }
            }
            // The connection dropped and was re-established: notifications may be lost.
            Ok(Ok(None)) => reconcile(registry).await,
            Ok(Err(error)) => {
                tracing::warn!(%error, "component-change listener failed");
                return;
            }
            Err(_idle) => reconcile(registry).await,
        }
    }
}

async fn reconcile(registry: &ComponentRegistry) {
    if let Err(error) = registry.reconcile().await {
        tracing::error!(%error, "cannot reconcile the active components");
    }
}
