//! Who changed what: a thin layer over [`crate::db::Database::audit`] that never fails the
//! action it records (a failed audit write is logged loudly instead).

use serde_json::Value;
use uuid::Uuid;

use crate::db::Database;

/// The actor of an administrative change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user, when a user acted.
    pub user_id: Option<Uuid>,
    /// A label: the user's email, `cli`, or `watch`.
    pub label: String,
}

impl Actor {
    /// The command line (an operator on the machine).
    pub fn cli() -> Self {
        Self {
            user_id: None,
            label: "cli".into(),
        }
    }

    /// The manifest, at start-up (a new deployment of a component's file).
    pub fn manifest() -> Self {
        Self {
            user_id: None,
            label: "manifest".into(),
        }
    }

    /// `mindflow serve --watch` (a developer rebuilt a component).
    pub fn watch() -> Self {
        Self {
            user_id: None,
            label: "watch".into(),
        }
    }
}

/// Records an administrative change.
pub async fn record(db: &Database, actor: &Actor, action: &str, target: &str, details: Value) {
    if let Err(error) = db
        .audit(actor.user_id, &actor.label, action, target, details)
        .await
    {
        tracing::error!(%action, %target, %error, "cannot write the audit log");
    }
}
