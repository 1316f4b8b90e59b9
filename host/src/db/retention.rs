//! Data retention: deleting a user's records older than their `data_retention_days`.
//!
//! Users are grouped by their retention period (few distinct values), so one purge is a
//! handful of statements whatever the number of users. A user whose period is NULL keeps
//! everything.

use chrono::{DateTime, Duration, Utc};

use super::{Backend, Database, DbError, Param};

/// Rows deleted by one purge, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Mood logs (their factors go with them).
    pub mood_logs: u64,
    /// Journal entries.
    pub journal_entries: u64,
    /// Chat sessions with no activity since the cut-off (their messages go with them).
    pub chat_sessions: u64,
    /// Older messages of chat sessions still in use.
    pub chat_messages: u64,
    /// Insights.
    pub insights: u64,
    /// Recommendations.
    pub recommendations: u64,
    /// Crisis events.
    pub crisis_events: u64,
    /// Wearable metrics.
    pub wearable_metrics: u64,
}

impl PurgeCounts {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.mood_logs
            + self.journal_entries
            + self.chat_sessions
            + self.chat_messages
            + self.insights
            + self.recommendations
            + self.crisis_events
            + self.wearable_metrics
    }
}

/// Users with this retention period (`$2`).
const USERS_WITH_PERIOD: &str =
    "SELECT id FROM users WHERE data_retention_days = $2 AND deleted_at IS NULL";

impl Database {
    /// Deletes, for every live user, the records older than `now` minus their retention
    /// period.
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
            let Some(cutoff) = now.checked_sub_signed(Duration::days(days)) else {
                continue;
            };
            let params = [Param::Time(cutoff), Param::Int(days)];
            let run = |table_sql: &str| format!("{table_sql} AND user_id IN ({USERS_WITH_PERIOD})");
            counts.mood_logs += self
                .execute(&run("DELETE FROM mood_logs WHERE logged_at < $1"), &params)
                .await?;
            counts.journal_entries += self
                .execute(
                    &run("DELETE FROM journal_entries WHERE created_at < $1"),
                    &params,
                )
                .await?;
            counts.chat_sessions += self
                .execute(
                    &run("DELETE FROM chat_sessions WHERE COALESCE(last_message_at, created_at) < $1"),
                    &params,
                )
                .await?;
            counts.chat_messages += self
                .execute(
                    &format!(
                        "DELETE FROM chat_messages WHERE created_at < $1 AND session_id IN \
                         (SELECT id FROM chat_sessions WHERE user_id IN ({USERS_WITH_PERIOD}))"
                    ),
                    &params,
                )
                .await?;
            // Recommendations point at insights without ON DELETE CASCADE: old ones go, and
            // newer ones let go of the insight that is about to be deleted.
            counts.recommendations += self
                .execute(
                    &run("DELETE FROM recommendations WHERE created_at < $1"),
                    &params,
                )
                .await?;
            self.execute(
                &format!(
                    "UPDATE recommendations SET insight_id = NULL WHERE insight_id IN \
                     (SELECT id FROM user_insights WHERE created_at < $1 AND user_id IN ({USERS_WITH_PERIOD}))"
                ),
                &params,
            )
            .await?;
            counts.insights += self
                .execute(
                    &run("DELETE FROM user_insights WHERE created_at < $1"),
                    &params,
                )
                .await?;
            counts.crisis_events += self
                .execute(
                    &run("DELETE FROM crisis_events WHERE created_at < $1"),
                    &params,
                )
                .await?;
            // A metric's date is a calendar day: it goes once the whole day is before the
            // cut-off's day.
            let day = cutoff.date_naive().format("%Y-%m-%d").to_string();
            let before_day = match self.backend() {
                Backend::Postgres => {
                    "DELETE FROM wearable_metrics WHERE metric_date < CAST($1 AS DATE)"
                }
                Backend::Sqlite => "DELETE FROM wearable_metrics WHERE metric_date < $1",
            };
            counts.wearable_metrics += self
                .execute(&run(before_day), &[Param::Text(day), Param::Int(days)])
                .await?;
        }
        Ok(counts)
    }
}
