//! The audit log: every administrative change, who made it and when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Database, DbError, Param};

/// One audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: Uuid,
    /// The acting user, if a user acted.
    pub actor_user_id: Option<Uuid>,
    /// A label for the actor (`cli`, an email, `watch`).
    pub actor: String,
    /// What was done, e.g. `component.activate`.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Details (never user content).
    pub details: Option<serde_json::Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Database {
    /// Appends an entry.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn audit(
        &self,
        actor_user_id: Option<Uuid>,
        actor: &str,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO audit_log (id, actor_user_id, actor, action, target, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::OptUuid(actor_user_id),
                Param::Text(actor.into()),
                Param::Text(action.into()),
                Param::Text(target.into()),
                Param::Json(details),
                Param::Time(Utc::now()),
            ],
        )
        .await?;
        Ok(())
    }

    /// The newest entries.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn audit_entries(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        self.fetch_all(
            "SELECT id, actor_user_id, actor, action, target, details, created_at FROM audit_log ORDER BY created_at DESC LIMIT $1",
            &[Param::Int(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.uuid("id")?,
                actor_user_id: row.opt_uuid("actor_user_id")?,
                actor: row.text("actor")?,
                action: row.text("action")?,
                target: row.opt_text("target")?,
                details: row.opt_json("details")?,
                created_at: row.time("created_at")?,
            })
        })
        .collect()
    }
}
