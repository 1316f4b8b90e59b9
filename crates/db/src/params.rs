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
    /// A double-precision float.
    Float(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An instant (TIMESTAMPTZ in PostgreSQL, RFC 3339 UTC text in SQLite).
    Time(DateTime<Utc>),
    /// An optional instant.
    OptTime(Option<DateTime<Utc>>),
    /// A JSON document (JSONB in PostgreSQL, text in SQLite).
    Json(serde_json::Value),
    /// An optional integer (storage capability).
    OptInt(Option<i64>),
    /// An optional double-precision float (storage capability).
    OptFloat(Option<f64>),
    /// An optional boolean (storage capability).
    OptBool(Option<bool>),
    /// Optional bytes (storage capability).
    OptBytes(Option<Vec<u8>>),
    /// An optional date (DATE in PostgreSQL, `YYYY-MM-DD` text in SQLite).
    OptDate(Option<chrono::NaiveDate>),
    /// An optional JSON document.
    OptJson(Option<serde_json::Value>),
    /// An optional embedding: FLOAT4[] in PostgreSQL (the SQL casts it to `vector`), a BLOB
    /// of little-endian f32s in SQLite.
    OptVector(Option<Vec<f32>>),
}

/// The SQLite form of an embedding: its f32s, little-endian, back to back.
pub fn vector_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
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
            Param::Float(f) => query.bind(f),
            Param::Bytes(b) => query.bind(b),
            Param::Time(t) => query.bind(sqlite_time(&t)),
            Param::OptTime(t) => query.bind(t.as_ref().map(sqlite_time)),
            Param::Json(j) => query.bind(j.to_string()),
            Param::OptInt(i) => query.bind(i),
            Param::OptFloat(f) => query.bind(f),
            Param::OptBool(b) => query.bind(b),
            Param::OptBytes(b) => query.bind(b),
            Param::OptDate(d) => query.bind(d.map(|d| d.format("%Y-%m-%d").to_string())),
            Param::OptJson(j) => query.bind(j.map(|j| j.to_string())),
            Param::OptVector(v) => query.bind(v.map(|v| vector_blob(&v))),
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
            Param::Float(f) => query.bind(f),
            Param::Bytes(b) => query.bind(b),
            Param::Time(t) => query.bind(t),
            Param::OptTime(t) => query.bind(t),
            Param::Json(j) => query.bind(sqlx::types::Json(j)),
            Param::OptInt(i) => query.bind(i),
            Param::OptFloat(f) => query.bind(f),
            Param::OptBool(b) => query.bind(b),
            Param::OptBytes(b) => query.bind(b),
            Param::OptDate(d) => query.bind(d),
            Param::OptJson(j) => query.bind(j.map(sqlx::types::Json)),
            Param::OptVector(v) => query.bind(v),
        };
    }
    query
}

/// [`super::DbError::NulInText`] when a text parameter holds a NUL character.
pub(crate) fn refuse_nul(params: &[Param]) -> Result<(), super::DbError> {
    let has_nul = params.iter().any(|param| match param {
        Param::Text(text) | Param::OptText(Some(text)) => text.contains('\0'),
        _ => false,
    });
    if has_nul {
        Err(super::DbError::NulInText)
    } else {
        Ok(())
    }
}
