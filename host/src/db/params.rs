//! Values bound to queries, encoded per backend.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use uuid::Uuid;

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone)]
pub enum Param {
    /// A UUID (UUID in PostgreSQL, canonical text in SQLite).
    Uuid(Uuid),
    /// An optional UUID.
    OptUuid(Option<Uuid>),
    /// Text.
    Text(String),
    /// Optional text.
    OptText(Option<String>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An instant (TIMESTAMPTZ in PostgreSQL, RFC 3339 UTC text in SQLite).
    Time(DateTime<Utc>),
    /// An optional instant.
    OptTime(Option<DateTime<Utc>>),
    /// A JSON document (JSONB in PostgreSQL, text in SQLite).
    Json(serde_json::Value),
}

/// The text form of instants in SQLite: fixed width, so text order is time order.
pub fn sqlite_time(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn bind_sqlite<'q>(
    mut query: Query<'q, sqlx::Sqlite, SqliteArguments>,
    params: &[Param],
) -> Query<'q, sqlx::Sqlite, SqliteArguments> {
    for param in params {
        query = match param.clone() {
            Param::Uuid(u) => query.bind(u.to_string()),
            Param::OptUuid(u) => query.bind(u.map(|u| u.to_string())),
            Param::Text(t) => query.bind(t),
            Param::OptText(t) => query.bind(t),
            Param::Int(i) => query.bind(i),
            Param::Bool(b) => query.bind(b),
            Param::Bytes(b) => query.bind(b),
            Param::Time(t) => query.bind(sqlite_time(&t)),
            Param::OptTime(t) => query.bind(t.as_ref().map(sqlite_time)),
            Param::Json(j) => query.bind(j.to_string()),
        };
    }
    query
}

pub(super) fn bind_pg<'q>(
    mut query: Query<'q, sqlx::Postgres, PgArguments>,
    params: &[Param],
) -> Query<'q, sqlx::Postgres, PgArguments> {
    for param in params {
        query = match param.clone() {
            Param::Uuid(u) => query.bind(u),
            Param::OptUuid(u) => query.bind(u),
            Param::Text(t) => query.bind(t),
            Param::OptText(t) => query.bind(t),
            Param::Int(i) => query.bind(i),
            Param::Bool(b) => query.bind(b),
            Param::Bytes(b) => query.bind(b),
            Param::Time(t) => query.bind(t),
            Param::OptTime(t) => query.bind(t),
            Param::Json(j) => query.bind(sqlx::types::Json(j)),
        };
    }
    query
}
