//! The `storage` vocabulary the handlers see, the same for every component: values, rows,
//! filters, pages and batch writes (mirroring `mindflow:platform/storage` as plain Rust, so
//! handlers run natively in tests). Each component keeps its own `StorageError`, because how
//! a failure reads to its users (which row was not found) is the component's.

use std::collections::HashMap;

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
    /// A vector: not used by domain components.
    Other,
}

/// A row: column names and values.
pub type Row = Vec<(String, Value)>;

/// Looks a column up in a row.
pub fn column<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    row.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The most parent ids one `storage.children` call takes (a page of parents).
pub const MAX_CHILDREN_PARENTS: usize = 100;

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
