//! Everything stored about one user, as JSON records: the GDPR right of access.
//!
//! Columns are listed explicitly per table, so a secret column (password hash, OAuth or
//! wearable tokens, refresh-token hashes) is exported only if someone adds it here on purpose.
//! Sealed values come back as bytes for [`crate::crypto`] to open; this module never decrypts.

use serde_json::{Map, Value, json};
use sqlx::Row;
use uuid::Uuid;

use super::{Backend, Database, DbError, DbRow, Param};

/// How a column is read and rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uuid,
    Text,
    Int,
    Float,
    Bool,
    /// An instant, rendered as RFC 3339 UTC.
    Time,
    /// A calendar date, rendered as `YYYY-MM-DD`.
    Date,
    Json,
    /// An IP address (`INET` in PostgreSQL), rendered without a prefix length.
    Inet,
}

use Kind::{Bool, Date, Float, Inet, Int, Json, Text, Time};

type Spec = &'static [(&'static str, Kind)];

const USER: Spec = &[
    ("id", Kind::Uuid),
    ("email", Text),
    ("email_verified", Bool),
    ("display_name", Text),
    ("avatar_url", Text),
    ("timezone", Text),
    ("locale", Text),
    ("subscription_tier", Text),
    ("subscription_expires_at", Time),
    ("anonymous_id", Text),
    ("data_retention_days", Int),
    ("created_at", Time),
    ("updated_at", Time),
    ("last_active_at", Time),
    ("deleted_at", Time),
];
const ROLES: Spec = &[("role", Text), ("granted_at", Time)];
const CONSENTS: Spec = &[
    ("id", Kind::Uuid),
    ("consent_type", Text),
    ("granted", Bool),
    ("granted_at", Time),
    ("revoked_at", Time),
    ("ip_address", Inet),
    ("user_agent", Text),
];
const OAUTH: Spec = &[
    ("id", Kind::Uuid),
    ("provider", Text),
    ("provider_user_id", Text),
    ("token_expires_at", Time),
    ("created_at", Time),
];
const SESSIONS: Spec = &[
    ("id", Kind::Uuid),
    ("issued_at", Time),
    ("expires_at", Time),
    ("rotated_at", Time),
    ("revoked_at", Time),
    ("user_agent", Text),
    ("ip_address", Inet),
];
const MOOD_LOGS: Spec = &[
    ("id", Kind::Uuid),
    ("mood_score", Int),
    ("energy_level", Int),
    ("anxiety_level", Int),
    ("note", Text),
    ("note_sentiment", Float),
    ("logged_at", Time),
    ("time_of_day", Text),
    ("day_of_week", Int),
    ("location_type", Text),
    ("processed_for_insights", Bool),
    ("crisis_flag_triggered", Bool),
    ("created_at", Time),
];
const MOOD_FACTORS: Spec = &[
    ("id", Kind::Uuid),
    ("mood_log_id", Kind::Uuid),
    ("factor_type", Text),
    ("factor_value", Text),
    ("impact_score", Int),
];
const JOURNAL: Spec = &[
    ("id", Kind::Uuid),
    ("content_hash", Text),
    ("word_count", Int),
    ("entry_type", Text),
    ("prompt_id", Kind::Uuid),
    ("sentiment_score", Float),
    ("primary_emotion", Text),
    ("topics", Json),
    ("created_at", Time),
    ("updated_at", Time),
];
const CHAT_SESSIONS: Spec = &[
    ("id", Kind::Uuid),
    ("title", Text),
    ("session_type", Text),
    ("context_summary", Text),
    ("mood_context", Json),
    ("is_active", Bool),
    ("message_count", Int),
    ("created_at", Time),
    ("last_message_at", Time),
];
const CHAT_MESSAGES: Spec = &[
    ("id", Kind::Uuid),
    ("session_id", Kind::Uuid),
    ("role", Text),
    ("content", Text),
    ("model_used", Text),
    ("tokens_used", Int),
    ("response_time_ms", Int),
    ("crisis_detected", Bool),
    ("content_filtered", Bool),
    ("created_at", Time),
];
const INSIGHTS: Spec = &[
    ("id", Kind::Uuid),
    ("insight_type", Text),
    ("title", Text),
    ("description", Text),
    ("data_points", Json),
    ("confidence_score", Float),
    ("shown_at", Time),
    ("dismissed_at", Time),
    ("helpful_rating", Int),
    ("valid_from", Time),
    ("valid_until", Time),
    ("created_at", Time),
];
const RECOMMENDATIONS: Spec = &[
    ("id", Kind::Uuid),
    ("insight_id", Kind::Uuid),
    ("content_id", Kind::Uuid),
    ("reason", Text),
    ("priority", Int),
    ("shown_at", Time),
    ("clicked_at", Time),
    ("completed_at", Time),
    ("feedback", Text),
    ("expires_at", Time),
    ("created_at", Time),
];
const WEARABLE_CONNECTIONS: Spec = &[
    ("id", Kind::Uuid),
    ("provider", Text),
    ("provider_user_id", Text),
    ("token_expires_at", Time),
    ("scopes", Json),
    ("last_sync_at", Time),
    ("sync_status", Text),
    ("sync_error", Text),
    ("created_at", Time),
];
const WEARABLE_METRICS: Spec = &[
    ("id", Kind::Uuid),
    ("connection_id", Kind::Uuid),
    ("metric_date", Date),
    ("sleep_duration_minutes", Int),
    ("sleep_quality_score", Int),
    ("deep_sleep_minutes", Int),
    ("rem_sleep_minutes", Int),
    ("steps", Int),
    ("active_minutes", Int),
    ("calories_burned", Int),
    ("avg_heart_rate", Int),
    ("hrv_avg", Float),
    ("stress_score", Int),
    ("readiness_score", Int),
    ("created_at", Time),
];
const CRISIS_EVENTS: Spec = &[
    ("id", Kind::Uuid),
    ("trigger_source", Text),
    ("trigger_content_hash", Text),
    ("severity", Text),
    ("detection_confidence", Float),
    ("resources_shown", Json),
    ("resource_clicked", Text),
    ("hotline_called", Bool),
    ("resolved_at", Time),
    ("resolution_type", Text),
    ("follow_up_scheduled", Bool),
    ("created_at", Time),
];
const SAFETY_PLAN: Spec = &[
    ("id", Kind::Uuid),
    ("created_at", Time),
    ("updated_at", Time),
];

/// One record with a sealed value still to open.
#[derive(Debug, Clone)]
pub struct SealedRecord {
    /// The record's other columns.
    pub fields: Map<String, Value>,
    /// The sealed content (ciphertext with tag).
    pub ciphertext: Vec<u8>,
    /// Its nonce.
    pub nonce: Vec<u8>,
}

/// Every record of one user, grouped by kind.
#[derive(Debug, Clone, Default)]
pub struct UserRecords {
    /// The account (no password hash).
    pub user: Map<String, Value>,
    /// Roles held.
    pub roles: Vec<Map<String, Value>>,
    /// Consents, with when, from where and from what client they were given or revoked.
    pub consents: Vec<Map<String, Value>>,
    /// OAuth connections (no tokens).
    pub oauth_connections: Vec<Map<String, Value>>,
    /// Sign-in sessions (refresh-token metadata; no token hashes).
    pub sessions: Vec<Map<String, Value>>,
    /// Mood logs, each with its `factors`.
    pub mood_logs: Vec<Map<String, Value>>,
    /// Journal entries, sealed (purpose `journal`).
    pub journal_entries: Vec<SealedRecord>,
    /// Chat sessions, each with its `messages`.
    pub chat_sessions: Vec<Map<String, Value>>,
    /// Insights.
    pub insights: Vec<Map<String, Value>>,
    /// Recommendations.
    pub recommendations: Vec<Map<String, Value>>,
    /// Wearable connections (no tokens).
    pub wearable_connections: Vec<Map<String, Value>>,
    /// Wearable metrics.
    pub wearable_metrics: Vec<Map<String, Value>>,
    /// Crisis events.
    pub crisis_events: Vec<Map<String, Value>>,
    /// The safety plan, sealed (purpose `safety_plan`).
    pub safety_plan: Option<SealedRecord>,
}

fn column_error(column: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Decode {
        column: column.to_owned(),
        message: error.to_string(),
    }
}

fn opt_int(row: &DbRow, column: &str) -> Result<Option<i64>, DbError> {
    match row {
        DbRow::Sqlite(r) => r.try_get::<Option<i64>, _>(column),
        DbRow::Postgres(r) => r
            .try_get::<Option<i64>, _>(column)
            .or_else(|_| {
                r.try_get::<Option<i32>, _>(column)
                    .map(|v| v.map(i64::from))
            })
            .or_else(|_| {
                r.try_get::<Option<i16>, _>(column)
                    .map(|v| v.map(i64::from))
            }),
    }
    .map_err(|e| column_error(column, e))
}

fn opt_float(row: &DbRow, column: &str) -> Result<Option<f64>, DbError> {
    match row {
        DbRow::Sqlite(r) => r.try_get::<Option<f64>, _>(column),
        DbRow::Postgres(r) => r.try_get::<Option<f64>, _>(column).or_else(|_| {
            r.try_get::<Option<f32>, _>(column)
                .map(|v| v.map(f64::from))
        }),
    }
    .map_err(|e| column_error(column, e))
}

fn opt_bool(row: &DbRow, column: &str) -> Result<Option<bool>, DbError> {
    match row {
        DbRow::Sqlite(r) => r.try_get::<Option<bool>, _>(column),
        DbRow::Postgres(r) => r.try_get::<Option<bool>, _>(column),
    }
    .map_err(|e| column_error(column, e))
}

fn opt_date(row: &DbRow, column: &str) -> Result<Option<String>, DbError> {
    match row {
        DbRow::Sqlite(r) => r
            .try_get::<Option<String>, _>(column)
            .map_err(|e| column_error(column, e)),
        DbRow::Postgres(r) => r
            .try_get::<Option<chrono::NaiveDate>, _>(column)
            .map(|d| d.map(|d| d.format("%Y-%m-%d").to_string()))
            .map_err(|e| column_error(column, e)),
    }
}

fn value(row: &DbRow, column: &str, kind: Kind) -> Result<Value, DbError> {
    let value = match kind {
        Kind::Uuid => row.opt_uuid(column)?.map(|u| json!(u)),
        Text | Inet => row.opt_text(column)?.map(Value::String),
        Int => opt_int(row, column)?.map(Value::from),
        Float => opt_float(row, column)?.map(Value::from),
        Bool => opt_bool(row, column)?.map(Value::Bool),
        Time => row
            .opt_time(column)?
            .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))),
        Date => opt_date(row, column)?.map(Value::String),
        Json => row.opt_json(column)?,
    };
    Ok(value.unwrap_or(Value::Null))
}

fn record(row: &DbRow, spec: Spec) -> Result<Map<String, Value>, DbError> {
    spec.iter()
        .map(|(column, kind)| Ok(((*column).to_owned(), value(row, column, *kind)?)))
        .collect()
}

/// The select list for `spec`, columns qualified by `alias`.
fn select_list(backend: Backend, alias: &str, spec: Spec) -> String {
    spec.iter()
        .map(|(column, kind)| match (backend, kind) {
            // `host()` drops the prefix length PostgreSQL's text form of INET carries.
            (Backend::Postgres, Inet) => format!("host({alias}.{column}) AS {column}"),
            _ => format!("{alias}.{column}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Database {
    /// Rows of `table` (aliased `t`) matching `filter` (with `$1` the user id), ordered.
    /// Every argument is one of this module's constants.
    async fn export_rows(
        &self,
        spec: Spec,
        from: &str,
        filter: &str,
        order: &str,
        extra_columns: &str,
        user: Uuid,
    ) -> Result<Vec<DbRow>, DbError> {
        let sql = format!(
            "SELECT {}{extra_columns} FROM {from} WHERE {filter} ORDER BY {order}",
            select_list(self.backend(), "t", spec)
        );
        self.fetch_all(&sql, &[Param::Uuid(user)]).await
    }

    async fn export_table(
        &self,
        spec: Spec,
        table: &str,
        order: &str,
        user: Uuid,
    ) -> Result<Vec<Map<String, Value>>, DbError> {
        self.export_rows(
            spec,
            &format!("{table} t"),
            "t.user_id = $1",
            order,
            "",
            user,
        )
        .await?
        .iter()
        .map(|row| record(row, spec))
        .collect()
    }

    async fn export_sealed(
        &self,
        spec: Spec,
        table: &str,
        user: Uuid,
    ) -> Result<Vec<SealedRecord>, DbError> {
        self.export_rows(
            spec,
            &format!("{table} t"),
            "t.user_id = $1",
            "t.created_at, t.id",
            ", t.content_encrypted, t.content_iv",
            user,
        )
        .await?
        .iter()
        .map(|row| {
            Ok(SealedRecord {
                fields: record(row, spec)?,
                ciphertext: row.bytes("content_encrypted")?,
                nonce: row.bytes("content_iv")?,
            })
        })
        .collect()
    }

    /// Every record of `user`, or `None` when there is no such account (deleted accounts are
    /// exported too while their rows exist).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn export_user(&self, user: Uuid) -> Result<Option<UserRecords>, DbError> {
        let Some(account) = self
            .export_rows(USER, "users t", "t.id = $1", "t.id", "", user)
            .await?
            .first()
            .map(|row| record(row, USER))
            .transpose()?
        else {
            return Ok(None);
        };
        let mut mood_logs = self
            .export_table(MOOD_LOGS, "mood_logs", "t.logged_at, t.id", user)
            .await?;
        let factors = self
            .export_rows(
                MOOD_FACTORS,
                "mood_factors t JOIN mood_logs m ON m.id = t.mood_log_id",
                "m.user_id = $1",
                "t.mood_log_id, t.id",
                "",
                user,
            )
            .await?
            .iter()
            .map(|row| record(row, MOOD_FACTORS))
            .collect::<Result<Vec<_>, _>>()?;
        nest(&mut mood_logs, "factors", factors, "mood_log_id");
        let mut chat_sessions = self
            .export_table(CHAT_SESSIONS, "chat_sessions", "t.created_at, t.id", user)
            .await?;
        let messages = self
            .export_rows(
                CHAT_MESSAGES,
                "chat_messages t JOIN chat_sessions s ON s.id = t.session_id",
                "s.user_id = $1",
                "t.session_id, t.created_at, t.id",
                "",
                user,
            )
            .await?
            .iter()
            .map(|row| record(row, CHAT_MESSAGES))
            .collect::<Result<Vec<_>, _>>()?;
        nest(&mut chat_sessions, "messages", messages, "session_id");
        Ok(Some(UserRecords {
            user: account,
            roles: self
                .export_table(ROLES, "user_roles", "t.role", user)
                .await?,
            consents: self
                .export_table(CONSENTS, "user_consents", "t.consent_type", user)
                .await?,
            oauth_connections: self
                .export_table(OAUTH, "oauth_connections", "t.created_at, t.id", user)
                .await?,
            sessions: self
                .export_table(SESSIONS, "refresh_tokens", "t.issued_at, t.id", user)
                .await?,
            mood_logs,
            journal_entries: self.export_sealed(JOURNAL, "journal_entries", user).await?,
            chat_sessions,
            insights: self
                .export_table(INSIGHTS, "user_insights", "t.created_at, t.id", user)
                .await?,
            recommendations: self
                .export_table(
                    RECOMMENDATIONS,
                    "recommendations",
                    "t.created_at, t.id",
                    user,
                )
                .await?,
            wearable_connections: self
                .export_table(
                    WEARABLE_CONNECTIONS,
                    "wearable_connections",
                    "t.created_at, t.id",
                    user,
                )
                .await?,
            wearable_metrics: self
                .export_table(
                    WEARABLE_METRICS,
                    "wearable_metrics",
                    "t.metric_date, t.id",
                    user,
                )
                .await?,
            crisis_events: self
                .export_table(CRISIS_EVENTS, "crisis_events", "t.created_at, t.id", user)
                .await?,
            safety_plan: self
                .export_sealed(SAFETY_PLAN, "safety_plans", user)
                .await?
                .into_iter()
                .next(),
        }))
    }
}

/// Moves each child into its parent's `key` array (matched by the child's `parent_column`),
/// dropping the now redundant parent column from the child.
fn nest(
    parents: &mut [Map<String, Value>],
    key: &str,
    children: Vec<Map<String, Value>>,
    parent_column: &str,
) {
    let mut by_parent: std::collections::HashMap<String, Vec<Value>> =
        std::collections::HashMap::new();
    for mut child in children {
        let parent = child
            .remove(parent_column)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        by_parent
            .entry(parent)
            .or_default()
            .push(Value::Object(child));
    }
    for parent in parents {
        let id = parent
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let children = by_parent.remove(&id).unwrap_or_default();
        parent.insert(key.to_owned(), Value::Array(children));
    }
}
