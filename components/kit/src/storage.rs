//! The `storage` vocabulary the handlers see, the same for every component: values, rows,
//! filters, pages, aggregates, batch writes and errors (mirroring `mindflow:platform/storage`
//! as plain Rust, so handlers run natively in tests), and the row helpers every service needs.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

/// A typed column value (`storage.value`). Vectors are not part of the domain collections;
/// they read back as [`Value::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// An instant, RFC 3339.
    Timestamp(String),
    /// A calendar date, `YYYY-MM-DD`.
    Date(String),
    /// A UUID, hyphenated.
    Uuid(String),
    /// A JSON document, as JSON text.
    Json(String),
    /// Raw bytes (ciphertexts and nonces, for example).
    Bytes(Vec<u8>),
    /// An embedding vector (never shown to clients: it reads as JSON `null`).
    Vector(Vec<f32>),
    /// A value of a kind this kit does not model.
    Other,
}

impl Value {
    /// The value as a client sees it in JSON: timestamps, dates and UUIDs as strings, JSON
    /// documents inline; bytes (ciphertexts) and vectors never leave the service (`null`).
    pub fn to_json(&self) -> Json {
        match self {
            Self::Null | Self::Other | Self::Bytes(_) | Self::Vector(_) => Json::Null,
            Self::Bool(b) => json!(b),
            Self::Int(i) => json!(i),
            Self::Float(f) => json!(f),
            Self::Text(s) | Self::Timestamp(s) | Self::Date(s) | Self::Uuid(s) => json!(s),
            Self::Json(text) => serde_json::from_str(text).unwrap_or(Json::Null),
        }
    }
}

/// A row: column names and values.
pub type Row = Vec<(String, Value)>;

/// Looks a column up in a row.
pub fn column<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    row.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// A text-like column (text, UUID, timestamp or date) as a string.
pub fn text_of(row: &Row, name: &str) -> Option<String> {
    match column(row, name)? {
        Value::Text(s) | Value::Uuid(s) | Value::Timestamp(s) | Value::Date(s) => Some(s.clone()),
        _ => None,
    }
}

/// An integer column.
pub fn int_of(row: &Row, name: &str) -> Option<i64> {
    match column(row, name)? {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// A bytes column (a ciphertext, a nonce).
pub fn bytes_of(row: &Row, name: &str) -> Option<Vec<u8>> {
    match column(row, name)? {
        Value::Bytes(b) => Some(b.clone()),
        _ => None,
    }
}

/// A row as a JSON object whose members are the column names (see [`Value::to_json`]).
pub fn row_json(row: &Row) -> serde_json::Map<String, Json> {
    row.iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect()
}

/// Keeps, in each row, only `fields`, `id` and the `order` field, as the host's
/// `storage.select` answers (every field when `fields` is empty).
pub fn keep_fields(rows: &mut [Row], order: &str, fields: &[&str]) {
    if fields.is_empty() {
        return;
    }
    for row in rows {
        row.retain(|(name, _)| name == "id" || name == order || fields.contains(&name.as_str()));
    }
}

/// The most parent ids one `storage.children` call takes (a page of parents).
pub const MAX_CHILDREN_PARENTS: usize = 1_000;
/// The most rows one `storage.query` page holds (a client-facing list asks for at most
/// 100; reading a whole history, ask for this many).
pub const MAX_PAGE: u32 = 1_000;

/// Groups the rows a `storage.children` call returned by the parent they point at through
/// `field`: read a page of parents, then all their children in one call, then look each
/// parent's children up here (instead of a storage call per parent).
pub fn group_by_parent(rows: Vec<Row>, field: &str) -> HashMap<String, Vec<Row>> {
    let mut groups: HashMap<String, Vec<Row>> = HashMap::new();
    for row in rows {
        if let Some(Value::Uuid(parent) | Value::Text(parent)) = column(&row, field) {
            groups.entry(parent.clone()).or_default().push(row);
        }
    }
    groups
}

/// A comparison in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// `field <comparison> value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// A filterable field of the collection.
    pub field: String,
    /// The comparison.
    pub comparison: Comparison,
    /// The value compared with.
    pub value: Value,
}

impl Filter {
    /// A filter.
    pub fn new(field: &str, comparison: Comparison, value: Value) -> Self {
        Self {
            field: field.to_owned(),
            comparison,
            value,
        }
    }
}

/// A page request (`storage.page-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// A sortable field; `id` breaks ties.
    pub order_by: String,
    /// Largest first.
    pub descending: bool,
    /// At most this many rows (the host caps it at 100).
    pub limit: u32,
    /// Where the previous page ended.
    pub cursor: Option<String>,
}

/// A page of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows.
    pub rows: Vec<Row>,
    /// Opaque; `None` at the end.
    pub next_cursor: Option<String>,
}

/// A row and its cosine distance from a search's target (`storage.scored-row`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The row.
    pub row: Row,
    /// Cosine distance: 0 is identical.
    pub distance: f32,
}

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Insert `row` into a collection.
    Insert(String, Row),
    /// Update the row with this id.
    Update(String, String, Row),
    /// Delete the row with this id.
    Delete(String, String),
}

/// An aggregate function (`storage.aggregate-fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    /// Number of non-null values.
    Count,
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Standard deviation.
    Stddev,
}

/// How rows are grouped (time groupings are in the user's time zone, computed by the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grouping {
    /// One group.
    None,
    /// Calendar day, `2026-11-25`.
    Day,
    /// ISO week, `2026-W48`.
    IsoWeek,
    /// ISO weekday, `1` (Monday) .. `7`.
    Weekday,
    /// Hour of day, `0` .. `23`.
    Hour,
    /// The value of `group_field`.
    FieldValue,
}

/// An aggregation request (`storage.aggregate-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRequest {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Fields and functions, in the order the values come back.
    pub measures: Vec<(String, AggregateFn)>,
    /// How to group.
    pub grouping: Grouping,
    /// The timestamp field for time groupings, or the field for `FieldValue`.
    pub group_field: Option<String>,
}

/// One group's results.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    /// The group key.
    pub group: Option<String>,
    /// One value per measure.
    pub values: Vec<Option<f64>>,
}

/// Why a storage call failed (`storage.storage-error`). How each becomes a problem document
/// is in [`crate::reply`].
#[derive(Debug, Clone, PartialEq)]
pub enum StorageError {
    /// The collection is not granted (the component's bug).
    NotGranted(String),
    /// No such row for this user.
    NotFound,
    /// A value does not fit its column.
    Invalid {
        /// The field at fault.
        field: String,
        /// Why.
        message: String,
    },
    /// A constraint failed.
    Conflict(String),
    /// The database is unreachable.
    Unavailable,
}
