//! The outbox: messages (e-mails) written in the same transaction as the change that causes
//! them, delivered afterwards by a consumer. A delivered message keeps its row (when, how many
//! attempts) but loses its payload, which may hold a secret such as a reset token.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Database, DbError, Param, Transaction};

/// A message waiting for delivery.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Row id.
    pub id: Uuid,
    /// What it is, e.g. `password_reset`.
    pub kind: String,
    /// The address.
    pub recipient: String,
    /// What the mailer needs to render it.
    pub payload: serde_json::Value,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: i64,
}

impl Transaction {
    /// Queues a message in the transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn enqueue_outbox(
        &mut self,
        kind: &str,
        recipient: &str,
        payload: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Uuid, DbError> {
        let id = Uuid::new_v4();
        self.execute(
            "INSERT INTO outbox (id, kind, recipient, payload, created_at, attempts) VALUES ($1, $2, $3, $4, $5, 0)",
            &[
                Param::Uuid(id),
                Param::Text(kind.into()),
                Param::Text(recipient.into()),
                Param::Json(payload),
                Param::Time(now),
            ],
        )
        .await?;
        Ok(id)
    }
}

impl Database {
    /// Undelivered messages with fewer than `max_attempts` attempts, oldest first.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn undelivered_outbox(
        &self,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, DbError> {
        self.fetch_all(
            "SELECT id, kind, recipient, payload, created_at, attempts FROM outbox \
             WHERE delivered_at IS NULL AND attempts < $1 ORDER BY created_at LIMIT $2",
            &[Param::Int(max_attempts), Param::Int(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(OutboxMessage {
                id: row.uuid("id")?,
                kind: row.text("kind")?,
                recipient: row.text("recipient")?,
                payload: row.opt_json("payload")?.unwrap_or_default(),
                created_at: row.time("created_at")?,
                attempts: row.int("attempts")?,
            })
        })
        .collect()
    }

    /// Counts one delivery attempt if nobody else counted it first (replicas race for the
    /// same message: only the one whose update lands delivers it).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn claim_outbox_attempt(
        &self,
        id: Uuid,
        seen_attempts: i64,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL",
                &[Param::Uuid(id), Param::Int(seen_attempts)],
            )
            .await?
            == 1)
    }

    /// Marks a message delivered and drops its payload.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn mark_outbox_delivered(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DbError> {
        self.execute(
            "UPDATE outbox SET delivered_at = $2, payload = $3 WHERE id = $1",
            &[Param::Uuid(id), Param::Time(now), Param::Json(json!({}))],
        )
        .await?;
        Ok(())
    }
}
