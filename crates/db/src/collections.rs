//! The storage capability's SQL: insert, get, update, delete, query (keyset pages),
//! aggregate, nearest-neighbour search and atomic batches over the [`catalog`]'s collections,
//! plus the host-made `chat_messages.embedding` column.
//!
//! Owns: every statement a component's storage call becomes. Each one is scoped to the
//! caller's user id by construction (`user_id = $1`, or the parent row's `user_id` for
//! child collections), identifiers come only from the catalog, and values are typed by the
//! catalog and bound as parameters before any SQL runs. Never gives: a row of another user
//! (asking for one by id is [`CollectionError::NotFound`], exactly as for a missing row), a
//! way to point a row at another user's row, SQL text from a component, or a write to a
//! read-only collection.
//!
//! Aggregates group in the user's IANA time zone. An all-time aggregate that a collection's
//! rollup keeps is answered from it (see `rollups`). Otherwise: SQLite cannot convert time
//! zones in SQL, so both backends fetch the filtered rows (put in id order in Rust) and
//! aggregate in Rust with `chrono-tz`: the figures are identical on both. Nearest-neighbour search uses pgvector's
//! `<=>` on PostgreSQL (which may use the HNSW index) and an exact scan of the user's rows,
//! with the same cosine distance, on SQLite.

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, Timelike, Utc};
use chrono_tz::Tz;
use thiserror::Error;
use uuid::Uuid;

use super::catalog::{
    self, Access, Collection, Column, ColumnType, Cursor, Ownership, Typed, Value, Writer,
};
use super::{Backend, Database, DbError, DbRow, Param, Transaction};

/// A row as components see it: `(field, value)` pairs in the catalog's column order.
pub type Record = Vec<(String, Value)>;

/// The most rows a page holds, whatever the request asks. A client-facing list pages by at
/// most 100 (the component kit's `limit`); a component reading a whole history (the insights'
/// two years) asks for larger pages, so the history costs a few storage calls, not dozens.
pub const MAX_PAGE: u32 = 1_000;
/// The most neighbours a nearest-neighbour search returns.
pub const MAX_NEAREST: u32 = 100;
/// The most filters in one request.
pub const MAX_FILTERS: usize = 32;
/// The most measures in one aggregation.
pub const MAX_MEASURES: usize = 32;
/// The most writes in one batch.
pub const MAX_BATCH: usize = 100;
/// The most rows one aggregation reads.
pub const MAX_AGGREGATE_ROWS: usize = 100_000;
/// The most parent ids one children read names (a page of parents at most).
pub const MAX_CHILDREN_PARENTS: usize = MAX_PAGE as usize;
/// The most rows one children read returns.
pub const MAX_CHILDREN_ROWS: usize = 20_000;

/// Why a storage operation failed.
#[derive(Debug, Error)]
pub enum CollectionError {
    /// No such row for this user (a missing row and another user's row look the same).
    #[error("no such row")]
    NotFound,
    /// A value, field name or request parameter was refused before any SQL ran.
    #[error("`{field}`: {message}")]
    Invalid {
        /// The field (or request parameter) at fault.
        field: String,
        /// Why, in words fit for an API client.
        message: String,
    },
    /// A uniqueness, reference or other constraint failed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The collection is read-only to components.
    #[error("collection `{0}` is read-only to components")]
    ReadOnly(&'static str),
    /// The database failed.
    #[error("storage database error")]
    Database(#[source] DbError),
}

impl CollectionError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with its field prefixed (`writes[2].mood_score`).
    fn prefixed(self, prefix: &str) -> Self {
        match self {
            Self::Invalid { field, message } if !prefix.is_empty() => Self::Invalid {
                field: format!("{prefix}{field}"),
                message,
            },
            other => other,
        }
    }
}

impl From<DbError> for CollectionError {
    fn from(error: DbError) -> Self {
        if let DbError::Sqlx(sqlx::Error::Database(e)) = &error {
            use sqlx::error::ErrorKind;
            let message = match e.kind() {
                ErrorKind::UniqueViolation => "a row with the same unique fields already exists",
                ErrorKind::ForeignKeyViolation => {
                    "a referenced row does not exist, or the row is still referenced"
                }
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    "a constraint of the collection failed"
                }
                _ => return Self::Database(error),
            };
            return Self::Conflict(message.into());
        }
        Self::Database(error)
    }
}

/// A comparison in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=` (`IS NULL` with a null value).
    Eq,
    /// `<>` (`IS NOT NULL` with a null value).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl Comparison {
    fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// `field <comparison> value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// A filterable field.
    pub field: String,
    /// The comparison.
    pub comparison: Comparison,
    /// The value (typed by the field's column).
    pub value: Value,
}

/// A page request.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// A sortable field (`id` when empty); `id` breaks ties.
    pub order_by: String,
    /// Largest first.
    pub descending: bool,
    /// At most this many rows (capped at [`MAX_PAGE`]).
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// The fields each row holds (with `id` and the order field always); empty: every field.
    pub fields: Vec<String>,
}

/// A page of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows.
    pub rows: Vec<Record>,
    /// Where to continue; `None` when there are no more rows.
    pub next_cursor: Option<String>,
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    /// Non-null values (all rows for `*` or `id`).
    Count,
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Sample standard deviation (`None` below two values), as PostgreSQL's `stddev`.
    Stddev,
}

/// How rows are grouped (time groupings in the user's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One group.
    None,
    /// `2026-11-25`.
    Day,
    /// `2026-W48`.
    IsoWeek,
    /// `1` (Monday) to `7` (Sunday).
    Weekday,
    /// `0` to `23`.
    Hour,
    /// The group field's value.
    FieldValue,
}

/// An aggregation request.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRequest {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// `(field, function)`; `count` also takes `*`.
    pub measures: Vec<(String, AggregateFn)>,
    /// How to group.
    pub grouping: Grouping,
    /// The time field (default: the collection's) or the field for `FieldValue`.
    pub group_field: Option<String>,
}

/// One group's figures, in the order of the request's measures.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    /// The group's key (`None` for `Grouping::None` and for rows whose field is NULL).
    pub group: Option<String>,
    /// The measures.
    pub values: Vec<Option<f64>>,
}

/// A row and its cosine distance to the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The row.
    pub row: Record,
    /// Cosine distance (0 is identical).
    pub distance: f32,
}

/// One write of a batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// Insert a row.
    Insert {
        /// Where.
        collection: &'static Collection,
        /// The row.
        row: Record,
    },
    /// Update a row by id.
    Update {
        /// Where.
        collection: &'static Collection,
        /// The row's id.
        id: String,
        /// The changed fields.
        changes: Record,
    },
    /// Delete a row by id.
    Delete {
        /// Where.
        collection: &'static Collection,
        /// The row's id.
        id: String,
    },
}

/// A statement being built: SQL text from this module and the catalog only, values as
/// numbered parameters.
struct Statement {
    sql: String,
    params: Vec<Param>,
    backend: Backend,
}

impl Statement {
    fn new(backend: Backend) -> Self {
        Self {
            sql: String::new(),
            params: Vec::new(),
            backend,
        }
    }

    /// Adds a parameter; returns its placeholder.
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    /// Adds a column value; returns the SQL expression for it (vectors are cast in PostgreSQL).
    fn bind_value(&mut self, column: &Column, value: Typed) -> String {
        let placeholder = self.bind(value.into_param(column.ty));
        if column.ty == ColumnType::Vector && self.backend == Backend::Postgres {
            format!("CAST({placeholder} AS vector)")
        } else {
            placeholder
        }
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }
}

/// How a column is selected (PostgreSQL vectors are read as `real[]`), named
/// `{prefix}{column}` in the result.
fn column_expr(column: &Column, backend: Backend, prefix: &str) -> String {
    match (column.ty, backend) {
        (ColumnType::Vector, Backend::Postgres) => {
            format!("CAST({0} AS real[]) AS {prefix}{0}", column.name)
        }
        _ if prefix.is_empty() => column.name.to_owned(),
        _ => format!("{0} AS {prefix}{0}", column.name),
    }
}

/// [`column_expr`] of `table`'s column, for a statement where another table has a column
/// of the same name.
fn column_expr_of(column: &Column, backend: Backend, table: &str, prefix: &str) -> String {
    match (column.ty, backend) {
        (ColumnType::Vector, Backend::Postgres) => {
            format!("CAST({table}.{0} AS real[]) AS {prefix}{0}", column.name)
        }
        _ => format!("{table}.{0} AS {prefix}{0}", column.name),
    }
}

/// The columns to select, in catalog order.
fn select_list(collection: &Collection, backend: Backend) -> String {
    select_list_as(collection, backend, "")
}

/// [`select_list_as`] of `table`'s columns, for a statement that joins another table with
/// columns of the same names.
fn select_list_of(collection: &Collection, backend: Backend, table: &str, prefix: &str) -> String {
    collection
        .visible_columns()
        .map(|column| column_expr_of(column, backend, table, prefix))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns to select, in catalog order, each named `{prefix}{column}` in the result.
fn select_list_as(collection: &Collection, backend: Backend, prefix: &str) -> String {
    collection
        .visible_columns()
        .map(|column| column_expr(column, backend, prefix))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How much of a child collection a statement reads, which decides how its ownership is
/// checked (see [`scope`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Rows pinned by id or by their parent's id: a handful, whatever the user's history.
    Pinned,
    /// Any of the user's rows.
    Open,
}

impl Reach {
    /// `Pinned` when the filters fix `collection`'s parent link (or id) to one value.
    fn of(collection: &Collection, filters: &[(&'static Column, Comparison, Typed)]) -> Self {
        let link = match collection.ownership {
            Ownership::Parent { column, .. } => column,
            Ownership::User | Ownership::Shared => return Self::Open,
        };
        if filters.iter().any(|(column, cmp, _)| {
            *cmp == Comparison::Eq && (column.name == link || column.name == "id")
        }) {
            Self::Pinned
        } else {
            Self::Open
        }
    }
}

/// The predicate that keeps only `user`'s rows of `collection`.
///
/// A child row (`Ownership::Parent`) is the user's when its parent is. A statement pinned to
/// a few rows checks each row's parent by primary key (a correlated scalar subquery, O(log n) per row, so its
/// cost does not grow with the user's history); a statement that may read any of the user's
/// rows walks the user's parents through their `user_id` index instead (`IN (SELECT …)`),
/// which is what reading all of them costs anyway. (The `IN` form on a pinned statement made
/// SQLite build the list of every parent of the user for each call.)
fn scope(statement: &mut Statement, collection: &Collection, user: Uuid, reach: Reach) -> String {
    match collection.ownership {
        Ownership::User => {
            let user = statement.bind(Param::Uuid(user));
            format!("user_id = {user}")
        }
        Ownership::Parent { column, table } => {
            let user = statement.bind(Param::Uuid(user));
            let child = collection.name;
            match reach {
                // A correlated scalar subquery, not `EXISTS`: PostgreSQL may turn an `EXISTS`
                // into a hash semi-join that reads every parent of the user (measured: a page
                // of a 100,000-log history fell from 540 to 46 req/s), while a scalar subquery
                // always runs as a per-row lookup by primary key, on both backends.
                Reach::Pinned => {
                    format!(
                        "(SELECT p.user_id FROM {table} p WHERE p.id = {child}.{column}) = {user}"
                    )
                }
                Reach::Open => {
                    format!("{column} IN (SELECT p.id FROM {table} p WHERE p.user_id = {user})")
                }
            }
        }
        Ownership::Shared => "1 = 1".to_owned(),
    }
}

fn read_typed(column: &Column, row: &DbRow) -> Result<Typed, DbError> {
    read_typed_as(column, row, column.name)
}

/// The value of `column` from the result column named `name`.
fn read_typed_as(column: &Column, row: &DbRow, name: &str) -> Result<Typed, DbError> {
    Ok(match column.ty {
        ColumnType::Uuid => row.opt_uuid(name)?.map_or(Typed::Null, Typed::Uuid),
        ColumnType::Text { .. } => row.opt_text(name)?.map_or(Typed::Null, Typed::Text),
        ColumnType::Int { .. } => row.opt_int(name)?.map_or(Typed::Null, Typed::Int),
        ColumnType::Float => row.opt_float(name)?.map_or(Typed::Null, Typed::Float),
        ColumnType::Bool => row.opt_bool(name)?.map_or(Typed::Null, Typed::Bool),
        ColumnType::Timestamp => row.opt_time(name)?.map_or(Typed::Null, Typed::Timestamp),
        ColumnType::Date => row.opt_date(name)?.map_or(Typed::Null, Typed::Date),
        ColumnType::Json => row.opt_json(name)?.map_or(Typed::Null, Typed::Json),
        ColumnType::Bytes => row.opt_bytes(name)?.map_or(Typed::Null, Typed::Bytes),
        ColumnType::Vector => row.opt_vector(name)?.map_or(Typed::Null, Typed::Vector),
    })
}

fn read_record(collection: &Collection, row: &DbRow) -> Result<Record, DbError> {
    read_record_as(collection, row, "")
}

/// The columns a page selects: every column, or the named `fields` with `id` and the order
/// column, in catalog order.
fn projection(
    collection: &'static Collection,
    fields: &[String],
    order: &'static Column,
) -> Result<Vec<&'static Column>, CollectionError> {
    if fields.is_empty() {
        return Ok(collection.visible_columns().collect());
    }
    if fields.len() > collection.columns.len() {
        return Err(CollectionError::invalid(
            "fields",
            "more fields than the collection has",
        ));
    }
    for field in fields {
        if collection.column(field).is_none() {
            return Err(CollectionError::invalid(
                "fields",
                format!("`{}` is not a field of `{}`", echo(field), collection.name),
            ));
        }
    }
    Ok(collection
        .columns
        .iter()
        .filter(|column| {
            column.name == "id"
                || column.name == order.name
                || fields.iter().any(|f| f == column.name)
        })
        .collect())
}

/// A row holding `columns` only.
fn read_columns(columns: &[&'static Column], row: &DbRow) -> Result<Record, DbError> {
    columns
        .iter()
        .map(|column| {
            Ok((
                column.name.to_owned(),
                read_typed(column, row)?.into_value(),
            ))
        })
        .collect()
}

/// A row of `collection` from result columns named `{prefix}{column}`.
fn read_record_as(collection: &Collection, row: &DbRow, prefix: &str) -> Result<Record, DbError> {
    collection
        .visible_columns()
        .map(|column| {
            let typed = if prefix.is_empty() {
                read_typed(column, row)?
            } else {
                read_typed_as(column, row, &format!("{prefix}{}", column.name))?
            };
            Ok((column.name.to_owned(), typed.into_value()))
        })
        .collect()
}

/// The prefix of a child's columns in a statement that reads a page with its children.
const CHILD_PREFIX: &str = "child__";

/// The UUID field of `collection` its rows can be grouped by (a link to a parent row).
fn child_link(collection: &Collection, field: &str) -> Result<&'static Column, CollectionError> {
    collection
        .column(field)
        .filter(|c| c.ty == ColumnType::Uuid && c.filterable() && c.name != "id")
        .ok_or_else(|| {
            CollectionError::invalid(
                "field",
                format!(
                    "`{}` is not a UUID field of `{}` that rows can be grouped by",
                    echo(field),
                    collection.name
                ),
            )
        })
}

/// [`scope`] of a few pinned rows, its columns qualified by the table's name (for a
/// statement that joins it to another table).
fn qualified_scope(statement: &mut Statement, collection: &Collection, user: Uuid) -> String {
    match collection.ownership {
        Ownership::User => {
            let user = statement.bind(Param::Uuid(user));
            format!("{}.user_id = {user}", collection.name)
        }
        // Already qualified by the child's table name.
        Ownership::Parent { .. } | Ownership::Shared => {
            scope(statement, collection, user, Reach::Pinned)
        }
    }
}

/// The words of an `ORDER BY` term: direction, and where NULLs go when the column has any.
fn order_words(descending: bool, order: &Column) -> (&'static str, &'static str) {
    let direction = if descending { "DESC" } else { "ASC" };
    let nulls = match (order.not_null || order.name == "id", descending) {
        (true, _) => "",
        (false, true) => " NULLS FIRST",
        (false, false) => " NULLS LAST",
    };
    (direction, nulls)
}

/// The statement of one keyset page, checked and built but not run: what
/// [`Database::storage_query`] runs alone and [`Database::storage_query_with_children`] runs
/// joined to a child collection.
struct PageStatement {
    /// `SELECT … LIMIT limit + 1` (one more row tells whether another page follows).
    statement: Statement,
    /// The columns each row holds.
    columns: Vec<&'static Column>,
    /// The column the page is ordered by (then by `id`).
    order: &'static Column,
    descending: bool,
    /// Rows in the page (the request's, capped at [`MAX_PAGE`]).
    limit: usize,
}

impl PageStatement {
    fn new(
        backend: Backend,
        user: Uuid,
        collection: &'static Collection,
        request: PageRequest,
    ) -> Result<Self, CollectionError> {
        let order_name = if request.order_by.is_empty() {
            "id"
        } else {
            request.order_by.as_str()
        };
        let order = collection
            .column(order_name)
            .filter(|c| c.sortable())
            .ok_or_else(|| {
                let sortable: Vec<&str> = collection
                    .columns
                    .iter()
                    .filter(|c| c.sortable())
                    .map(|c| c.name)
                    .collect();
                CollectionError::invalid(
                    "order-by",
                    format!(
                        "`{}` is not a sortable field of `{}` (sortable: {})",
                        echo(order_name),
                        collection.name,
                        sortable.join(", ")
                    ),
                )
            })?;
        if request.limit == 0 {
            return Err(CollectionError::invalid("limit", "must be at least 1"));
        }
        let limit = request.limit.min(MAX_PAGE);
        let columns = projection(collection, &request.fields, order)?;
        let filters = check_filters(collection, request.filters)?;
        let after = match &request.cursor {
            None => None,
            Some(text) => {
                let bad = || CollectionError::invalid("cursor", "not a cursor of this query");
                let cursor = Cursor::decode(text).ok_or_else(bad)?;
                if cursor.field != order.name || cursor.descending != request.descending {
                    return Err(bad());
                }
                let value = cursor.typed_value(order).ok_or_else(bad)?;
                Some((value, cursor.id))
            }
        };
        let mut statement = Statement::new(backend);
        let scope = scope(
            &mut statement,
            collection,
            user,
            Reach::of(collection, &filters),
        );
        statement.sql = format!(
            "SELECT {} FROM {} WHERE {scope}",
            columns
                .iter()
                .map(|column| column_expr(column, backend, ""))
                .collect::<Vec<_>>()
                .join(", "),
            collection.name
        );
        push_filters(&mut statement, filters);
        let name = order.name;
        let cmp = if request.descending { "<" } else { ">" };
        if let Some((value, id)) = after {
            let id = statement.bind(Param::Uuid(id));
            let clause = if name == "id" {
                format!(" AND id {cmp} {id}")
            } else if value == Typed::Null {
                if request.descending {
                    format!(" AND (({name} IS NULL AND id < {id}) OR {name} IS NOT NULL)")
                } else {
                    format!(" AND {name} IS NULL AND id > {id}")
                }
            } else {
                let v = statement.bind_value(order, value);
                let nulls_after = if !request.descending && !order.not_null {
                    format!(" OR {name} IS NULL")
                } else {
                    String::new()
                };
                format!(" AND ({name} {cmp} {v} OR ({name} = {v} AND id {cmp} {id}){nulls_after})")
            };
            statement.push(&clause);
        }
        let fetch = statement.bind(Param::Int(i64::from(limit) + 1));
        // No NULLs to place for a NOT NULL column: plain order lets SQLite walk the
        // (user_id, time) indexes.
        let (direction, nulls) = order_words(request.descending, order);
        if name == "id" {
            statement.push(&format!(" ORDER BY id {direction} LIMIT {fetch}"));
        } else {
            statement.push(&format!(
                " ORDER BY {name} {direction}{nulls}, id {direction} LIMIT {fetch}"
            ));
        }
        Ok(Self {
            statement,
            columns,
            order,
            descending: request.descending,
            limit: limit as usize,
        })
    }

    /// The cursor of the page that follows `last`, the last row of this one.
    fn cursor_after(&self, last: &DbRow) -> Result<String, CollectionError> {
        let value = read_typed(self.order, last)?;
        let id = last.uuid("id")?;
        Ok(Cursor::after(self.order.name, self.descending, &value, id).encode())
    }
}

fn parse_id(id: &str) -> Result<Uuid, CollectionError> {
    Uuid::parse_str(id)
        .ok()
        .filter(|_| id.len() == 36)
        .ok_or_else(|| CollectionError::invalid("id", "not a UUID in hyphenated form"))
}

/// A field name echoed in an error, shortened.
fn echo(name: &str) -> String {
    name.chars().take(64).collect()
}

fn writable(collection: &'static Collection) -> Result<(), CollectionError> {
    match collection.access {
        Access::ReadWrite => Ok(()),
        Access::ReadOnly => Err(CollectionError::ReadOnly(collection.name)),
    }
}

/// Whether a value is being checked for an insert (required fields must be present) or an
/// update.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Insert,
    Update,
}

/// Types a row against the collection's writable columns.
fn check_record(
    collection: &'static Collection,
    record: Record,
    mode: Mode,
) -> Result<Vec<(&'static Column, Typed)>, CollectionError> {
    let dim = catalog::embedding_dimension();
    let mut values: Vec<(&'static Column, Typed)> = Vec::with_capacity(record.len());
    for (name, value) in record {
        let column = collection.column(&name).ok_or_else(|| {
            CollectionError::invalid(
                echo(&name),
                format!("no such field in `{}`", collection.name),
            )
        })?;
        // An insert may bring its own `id` (so a batch can insert a parent and children
        // that reference it); otherwise the host makes one. Never on update.
        let own_id = mode == Mode::Insert && column.name == "id";
        if column.writer == Writer::Host && !own_id {
            return Err(CollectionError::invalid(
                column.name,
                if column.name == "id" {
                    "a row's id never changes"
                } else {
                    "set by the host; a component cannot write it"
                },
            ));
        }
        if values.iter().any(|(c, _)| c.name == column.name) {
            return Err(CollectionError::invalid(
                column.name,
                "given more than once",
            ));
        }
        let typed = column
            .check(value, dim)
            .map_err(|message| CollectionError::invalid(column.name, message))?;
        values.push((column, typed));
    }
    if mode == Mode::Insert
        && let Some(missing) = collection
            .columns
            .iter()
            .filter(|c| c.required && c.writer == Writer::Component)
            .find(|c| !values.iter().any(|(v, _)| v.name == c.name))
    {
        return Err(CollectionError::invalid(missing.name, "required"));
    }
    Ok(values)
}

/// Types the filters of a request.
fn check_filters(
    collection: &'static Collection,
    filters: Vec<Filter>,
) -> Result<Vec<(&'static Column, Comparison, Typed)>, CollectionError> {
    if filters.len() > MAX_FILTERS {
        return Err(CollectionError::invalid(
            "filters",
            format!("at most {MAX_FILTERS} filters"),
        ));
    }
    let dim = catalog::embedding_dimension();
    filters
        .into_iter()
        .map(|filter| {
            let column = collection
                .column(&filter.field)
                .filter(|c| c.filterable())
                .ok_or_else(|| {
                    CollectionError::invalid(
                        echo(&filter.field),
                        format!("not a filterable field of `{}`", collection.name),
                    )
                })?;
            let typed = column
                .relaxed()
                .check(filter.value, dim)
                .map_err(|message| CollectionError::invalid(column.name, message))?;
            if typed == Typed::Null && !matches!(filter.comparison, Comparison::Eq | Comparison::Ne)
            {
                return Err(CollectionError::invalid(
                    column.name,
                    "null can only be compared with eq or ne",
                ));
            }
            Ok((column, filter.comparison, typed))
        })
        .collect()
}

/// Appends ` AND <filter>` for each filter.
fn push_filters(statement: &mut Statement, filters: Vec<(&'static Column, Comparison, Typed)>) {
    for (column, comparison, value) in filters {
        let name = column.name;
        let clause = match (value, comparison) {
            (Typed::Null, Comparison::Eq) => format!(" AND {name} IS NULL"),
            (Typed::Null, _) => format!(" AND {name} IS NOT NULL"),
            (value, comparison) => {
                let placeholder = statement.bind_value(column, value);
                // Text ranges compare bytes on both backends (SQLite's BINARY collation).
                let collate = if statement.backend == Backend::Postgres
                    && matches!(column.ty, ColumnType::Text { .. })
                    && !matches!(comparison, Comparison::Eq | Comparison::Ne)
                {
                    " COLLATE \"C\""
                } else {
                    ""
                };
                format!(" AND {name}{collate} {} {placeholder}", comparison.sql())
            }
        };
        statement.push(&clause);
    }
}

fn tx_backend(tx: &Transaction) -> Backend {
    match tx {
        Transaction::Sqlite(..) => Backend::Sqlite,
        Transaction::Postgres(_) => Backend::Postgres,
    }
}

/// Where a write's statements run: a transaction (batches, and writes that check a parent
/// or a reference first), or the pool directly (a single statement is atomic on its own).
enum Exec<'a> {
    Pool(&'a Database),
    Tx(&'a mut Transaction),
}

impl Exec<'_> {
    fn backend(&self) -> Backend {
        match self {
            Self::Pool(db) => db.backend(),
            Self::Tx(tx) => tx_backend(tx),
        }
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<DbRow>, DbError> {
        match self {
            Self::Pool(db) => db.fetch_optional(sql, params).await,
            Self::Tx(tx) => tx.fetch_optional(sql, params).await,
        }
    }

    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        match self {
            Self::Pool(db) => db.execute(sql, params).await,
            Self::Tx(tx) => tx.execute(sql, params).await,
        }
    }
}

/// Rows of user-owned collections that earlier writes of the same transaction inserted for
/// the caller (and did not delete): a later write referencing one of them (a mood log's
/// factors in the log's batch) needs no query to know the row exists and is the caller's.
#[derive(Default)]
struct OwnRows(HashSet<(&'static str, Uuid)>);

/// A row a write points at: its parent, or a row one of its columns references.
struct Reference {
    /// The referencing column.
    column: &'static str,
    /// The referenced table.
    table: &'static str,
    /// The referenced row.
    id: Uuid,
    /// Whether the referenced row must be the caller's.
    owned: bool,
    /// Whether it is the write's parent (a missing parent is `not-found`).
    is_parent: bool,
}

impl OwnRows {
    /// Whether `reference` is known, without a query, to be there and the caller's.
    fn covers(&self, reference: &Reference) -> bool {
        reference.owned && self.0.contains(&(reference.table, reference.id))
    }
}

/// The rows a write of `values` to `collection` points at.
fn references<'a>(
    collection: &'static Collection,
    values: &'a [(&'static Column, Typed)],
) -> impl Iterator<Item = Reference> + 'a {
    values.iter().filter_map(move |(column, value)| {
        let Typed::Uuid(id) = value else { return None };
        let (table, owned, is_parent) = match (collection.ownership, column.references) {
            (
                Ownership::Parent {
                    column: link,
                    table,
                },
                _,
            ) if link == column.name => (table, true, true),
            (_, Some(reference)) => (reference.table, reference.owned, false),
            _ => return None,
        };
        Some(Reference {
            column: column.name,
            table,
            id: *id,
            owned,
            is_parent,
        })
    })
}

/// Checks, inside the write's transaction, that the parent row and every referenced row
/// exist and (when user-owned) are the caller's.
async fn check_references(
    tx: &mut Exec<'_>,
    own: &OwnRows,
    collection: &'static Collection,
    user: Uuid,
    values: &[(&'static Column, Typed)],
) -> Result<(), CollectionError> {
    for reference in references(collection, values) {
        if own.covers(&reference) {
            continue;
        }
        let Reference {
            column,
            table,
            id,
            owned,
            is_parent,
        } = reference;
        let found = if owned {
            tx.fetch_optional(
                &format!("SELECT 1 AS one FROM {table} WHERE id = $1 AND user_id = $2"),
                &[Param::Uuid(id), Param::Uuid(user)],
            )
            .await?
        } else {
            tx.fetch_optional(
                &format!("SELECT 1 AS one FROM {table} WHERE id = $1"),
                &[Param::Uuid(id)],
            )
            .await?
        };
        if found.is_none() {
            return Err(if is_parent {
                CollectionError::NotFound
            } else {
                CollectionError::invalid(column, format!("no such row in `{table}`"))
            });
        }
    }
    Ok(())
}

async fn insert_in(
    tx: &mut Exec<'_>,
    own: &mut OwnRows,
    collection: &'static Collection,
    user: Uuid,
    values: Vec<(&'static Column, Typed)>,
) -> Result<Record, CollectionError> {
    check_references(tx, own, collection, user, &values).await?;
    let mut statement = Statement::new(tx.backend());
    let (sql, id) = insert_sql(&mut statement, collection, user, values, "");
    statement.sql = sql;
    let row = tx
        .fetch_optional(&statement.sql, &statement.params)
        .await?
        .ok_or_else(|| DbError::Config("INSERT … RETURNING returned no row".into()))?;
    own.record_insert(collection, id);
    Ok(read_record(collection, &row)?)
}

impl OwnRows {
    /// Notes a row the transaction inserted (only user-owned rows are known to be the
    /// caller's by their own `user_id`).
    fn record_insert(&mut self, collection: &'static Collection, id: Uuid) {
        if collection.ownership == Ownership::User {
            self.0.insert((collection.name, id));
        }
    }
}

/// The id an insert brings for its row, if any.
fn chosen_id(values: &[(&'static Column, Typed)]) -> Option<Uuid> {
    values.iter().find_map(|(column, value)| match value {
        Typed::Uuid(id) if column.name == "id" => Some(*id),
        _ => None,
    })
}

/// The INSERT of one row of `collection` for `user`, its values bound into `statement`
/// (numbered after the parameters already there), returning the stored row's columns named
/// `{prefix}{column}`. Also returns the row's id: the one it brings, or a new one.
fn insert_sql(
    statement: &mut Statement,
    collection: &'static Collection,
    user: Uuid,
    values: Vec<(&'static Column, Typed)>,
    prefix: &str,
) -> (String, Uuid) {
    let now =
        catalog::parse_timestamp(&catalog::format_timestamp(&Utc::now())).unwrap_or_else(Utc::now);
    let mut names = Vec::new();
    let mut placeholders = Vec::new();
    let id = chosen_id(&values).unwrap_or_else(Uuid::new_v4);
    if !values.iter().any(|(column, _)| column.name == "id") {
        names.push("id");
        placeholders.push(statement.bind(Param::Uuid(id)));
    }
    if collection.ownership == Ownership::User {
        names.push("user_id");
        placeholders.push(statement.bind(Param::Uuid(user)));
    }
    if collection.created_at {
        names.push("created_at");
        placeholders.push(statement.bind(Param::Time(now)));
    }
    if collection.updated_at {
        names.push("updated_at");
        placeholders.push(statement.bind(Param::Time(now)));
    }
    for (column, value) in values {
        names.push(column.name);
        placeholders.push(statement.bind_value(column, value));
    }
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
        collection.name,
        names.join(", "),
        placeholders.join(", "),
        select_list_as(collection, statement.backend, prefix)
    );
    (sql, id)
}

async fn update_in(
    tx: &mut Exec<'_>,
    own: &OwnRows,
    collection: &'static Collection,
    user: Uuid,
    id: Uuid,
    values: Vec<(&'static Column, Typed)>,
) -> Result<Record, CollectionError> {
    let backend = tx.backend();
    if values.is_empty() && !collection.updated_at {
        let mut statement = Statement::new(backend);
        let id = statement.bind(Param::Uuid(id));
        let scope = scope(&mut statement, collection, user, Reach::Pinned);
        statement.sql = format!(
            "SELECT {} FROM {} WHERE id = {id} AND {scope}",
            select_list(collection, backend),
            collection.name
        );
        let row = tx
            .fetch_optional(&statement.sql, &statement.params)
            .await?
            .ok_or(CollectionError::NotFound)?;
        return Ok(read_record(collection, &row)?);
    }
    check_references(tx, own, collection, user, &values).await?;
    let mut statement = Statement::new(backend);
    let mut sets = Vec::new();
    for (column, value) in values {
        let placeholder = statement.bind_value(column, value);
        sets.push(format!("{} = {placeholder}", column.name));
    }
    if collection.updated_at {
        let now = catalog::parse_timestamp(&catalog::format_timestamp(&Utc::now()))
            .unwrap_or_else(Utc::now);
        let placeholder = statement.bind(Param::Time(now));
        sets.push(format!("updated_at = {placeholder}"));
    }
    let id = statement.bind(Param::Uuid(id));
    let scope = scope(&mut statement, collection, user, Reach::Pinned);
    statement.sql = format!(
        "UPDATE {} SET {} WHERE id = {id} AND {scope} RETURNING {}",
        collection.name,
        sets.join(", "),
        select_list(collection, backend)
    );
    let row = tx
        .fetch_optional(&statement.sql, &statement.params)
        .await?
        .ok_or(CollectionError::NotFound)?;
    Ok(read_record(collection, &row)?)
}

async fn delete_in(
    tx: &mut Exec<'_>,
    own: &mut OwnRows,
    collection: &'static Collection,
    user: Uuid,
    id: Uuid,
) -> Result<(), CollectionError> {
    own.0.remove(&(collection.name, id));
    let mut statement = Statement::new(tx.backend());
    let id = statement.bind(Param::Uuid(id));
    let scope = scope(&mut statement, collection, user, Reach::Pinned);
    statement.sql = format!(
        "DELETE FROM {} WHERE id = {id} AND {scope}",
        collection.name
    );
    if tx.execute(&statement.sql, &statement.params).await? == 0 {
        return Err(CollectionError::NotFound);
    }
    Ok(())
}

/// A write checked before any SQL runs.
enum CheckedWrite {
    Insert(&'static Collection, Vec<(&'static Column, Typed)>),
    Update(&'static Collection, Uuid, Vec<(&'static Column, Typed)>),
    Delete(&'static Collection, Uuid),
}

fn check_write(write: Write) -> Result<CheckedWrite, CollectionError> {
    Ok(match write {
        Write::Insert { collection, row } => {
            writable(collection)?;
            CheckedWrite::Insert(collection, check_record(collection, row, Mode::Insert)?)
        }
        Write::Update {
            collection,
            id,
            changes,
        } => {
            writable(collection)?;
            let id = parse_id(&id)?;
            CheckedWrite::Update(
                collection,
                id,
                check_record(collection, changes, Mode::Update)?,
            )
        }
        Write::Delete { collection, id } => {
            writable(collection)?;
            CheckedWrite::Delete(collection, parse_id(&id)?)
        }
    })
}

async fn apply(
    tx: &mut Exec<'_>,
    own: &mut OwnRows,
    user: Uuid,
    write: CheckedWrite,
) -> Result<Option<Record>, CollectionError> {
    Ok(match write {
        CheckedWrite::Insert(collection, values) => {
            Some(insert_in(tx, own, collection, user, values).await?)
        }
        CheckedWrite::Update(collection, id, values) => {
            Some(update_in(tx, own, collection, user, id, values).await?)
        }
        CheckedWrite::Delete(collection, id) => {
            delete_in(tx, own, collection, user, id).await?;
            None
        }
    })
}

/// The name the SQLite memory search gives a row's distance (no collection has such a
/// column).
const NEAREST_DISTANCE: &str = "mindflow_nearest_distance";

/// Cosine distance as pgvector 0.6 computes it (f32 sums, f64 quotient, clamped), the sums
/// kept in lanes as the SQLite search keeps them ([`crate::sqlite_vector`]).
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    crate::sqlite_vector::cosine_distance_f32(a, b)
}

/// A group's key, ordered by its meaning (hours as numbers, days as dates).
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum GroupKey {
    Int(i64),
    Float(f64),
    Text(String),
}

impl GroupKey {
    fn render(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

/// The group of a row's group-field value; `None` for NULL.
fn group_key(grouping: Grouping, value: &Typed, tz: Tz) -> Option<GroupKey> {
    let date = match value {
        Typed::Timestamp(t) => Some(t.with_timezone(&tz).date_naive()),
        Typed::Date(d) => Some(*d),
        _ => None,
    };
    match grouping {
        Grouping::None => None,
        Grouping::Day => date.map(|d| GroupKey::Text(d.format("%Y-%m-%d").to_string())),
        Grouping::IsoWeek => date.map(|d| {
            let week = d.iso_week();
            GroupKey::Text(format!("{:04}-W{:02}", week.year(), week.week()))
        }),
        Grouping::Weekday => {
            date.map(|d| GroupKey::Int(i64::from(d.weekday().number_from_monday())))
        }
        Grouping::Hour => match value {
            Typed::Timestamp(t) => Some(GroupKey::Int(i64::from(t.with_timezone(&tz).hour()))),
            _ => None,
        },
        Grouping::FieldValue => match value {
            Typed::Null | Typed::Json(_) | Typed::Bytes(_) | Typed::Vector(_) => None,
            Typed::Int(i) => Some(GroupKey::Int(*i)),
            Typed::Float(f) => Some(GroupKey::Float(*f)),
            Typed::Bool(b) => Some(GroupKey::Text(b.to_string())),
            Typed::Text(t) => Some(GroupKey::Text(t.clone())),
            Typed::Uuid(u) => Some(GroupKey::Text(u.to_string())),
            Typed::Timestamp(t) => Some(GroupKey::Text(catalog::format_timestamp(t))),
            Typed::Date(d) => Some(GroupKey::Text(d.format("%Y-%m-%d").to_string())),
        },
    }
}

/// The figures of one measure over a group's values.
fn measure(function: AggregateFn, values: &[f64]) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    match function {
        AggregateFn::Count => Some(n),
        _ if values.is_empty() => None,
        AggregateFn::Avg => Some(values.iter().sum::<f64>() / n),
        AggregateFn::Min => values.iter().copied().reduce(f64::min),
        AggregateFn::Max => values.iter().copied().reduce(f64::max),
        AggregateFn::Stddev => {
            if values.len() < 2 {
                return None;
            }
            let mean = values.iter().sum::<f64>() / n;
            let squares: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
            Some((squares / (n - 1.0)).sqrt())
        }
    }
}

/// Groups rows (`(group-field value, measure values)`) and computes the measures; groups in
/// key order, the NULL group last. With no grouping there is always exactly one row.
pub fn aggregate_rows(
    rows: impl IntoIterator<Item = (Typed, Vec<Option<f64>>)>,
    functions: &[AggregateFn],
    grouping: Grouping,
    tz: Tz,
) -> Vec<AggregateRow> {
    let mut groups: Vec<(Option<GroupKey>, Vec<Vec<f64>>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    if grouping == Grouping::None {
        groups.push((None, vec![Vec::new(); functions.len()]));
    }
    for (source, values) in rows {
        let key = group_key(grouping, &source, tz);
        let slot = if grouping == Grouping::None {
            0
        } else {
            // One map key per group: its kind and rendering.
            let map_key = match &key {
                None => "n".to_owned(),
                Some(GroupKey::Int(i)) => format!("i{i}"),
                Some(GroupKey::Float(f)) => format!("f{}", f.to_bits()),
                Some(GroupKey::Text(t)) => format!("t{t}"),
            };
            *index.entry(map_key).or_insert_with(|| {
                groups.push((key.clone(), vec![Vec::new(); functions.len()]));
                groups.len() - 1
            })
        };
        for (bucket, value) in groups[slot].1.iter_mut().zip(values) {
            if let Some(value) = value {
                bucket.push(value);
            }
        }
    }
    groups.sort_by(|(a, _), (b, _)| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    groups
        .into_iter()
        .map(|(key, buckets)| AggregateRow {
            group: key.map(|k| k.render()),
            values: functions
                .iter()
                .zip(&buckets)
                .map(|(function, values)| measure(*function, values))
                .collect(),
        })
        .collect()
}

fn numeric(typed: &Typed) -> Option<f64> {
    match typed {
        #[allow(clippy::cast_precision_loss)]
        Typed::Int(i) => Some(*i as f64),
        Typed::Float(f) => Some(*f),
        _ => None,
    }
}

impl CheckedWrite {
    /// Whether the write checks a parent or a referenced row before it runs (and so needs a
    /// transaction around the check and the write).
    fn checks_references(&self) -> bool {
        let (collection, values) = match self {
            Self::Insert(collection, values) | Self::Update(collection, _, values) => {
                (collection, values)
            }
            Self::Delete(..) => return false,
        };
        references(collection, values).next().is_some()
    }
}

impl Database {
    /// Runs one checked write: in a transaction when it checks references first, otherwise
    /// as a single (atomic) statement on the pool.
    async fn apply_one(
        &self,
        user: Uuid,
        write: CheckedWrite,
    ) -> Result<Option<Record>, CollectionError> {
        if write.checks_references() {
            let mut tx = self.begin().await?;
            let row = apply(&mut Exec::Tx(&mut tx), &mut OwnRows::default(), user, write).await?;
            tx.commit().await?;
            Ok(row)
        } else {
            apply(&mut Exec::Pool(self), &mut OwnRows::default(), user, write).await
        }
    }
}

impl Database {
    /// Inserts a row for `user` and returns it as stored. A child row's parent must be the
    /// user's ([`CollectionError::NotFound`] otherwise). The row is stored under a fresh id
    /// the host makes, whatever `id` it brings (see `ids`).
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_insert(
        &self,
        user: Uuid,
        collection: &'static Collection,
        row: Record,
    ) -> Result<Record, CollectionError> {
        let mut writes = [Write::Insert { collection, row }];
        ids::assign(&mut writes)?;
        let [write] = writes;
        let write = check_write(write)?;
        self.apply_one(user, write)
            .await?
            .ok_or(CollectionError::NotFound)
    }

    /// The user's row with this id.
    ///
    /// # Errors
    /// [`CollectionError::NotFound`] for a missing row or another user's.
    pub async fn storage_get(
        &self,
        user: Uuid,
        collection: &'static Collection,
        id: &str,
    ) -> Result<Record, CollectionError> {
        let id = parse_id(id)?;
        let backend = self.backend();
        let mut statement = Statement::new(backend);
        let id = statement.bind(Param::Uuid(id));
        let scope = scope(&mut statement, collection, user, Reach::Pinned);
        statement.sql = format!(
            "SELECT {} FROM {} WHERE id = {id} AND {scope}",
            select_list(collection, backend),
            collection.name
        );
        let row = self
            .fetch_optional(&statement.sql, &statement.params)
            .await?
            .ok_or(CollectionError::NotFound)?;
        Ok(read_record(collection, &row)?)
    }

    /// The user's rows of `collection` whose `field` (a filterable UUID field, usually the
    /// link to a parent row) is one of `parent_ids`, ordered by that field then `id`: the
    /// children of a whole page of parents in one statement, scoped exactly as a query is.
    ///
    /// # Errors
    /// [`CollectionError::Invalid`] for an unknown or unfit field, a malformed id, more than
    /// [`MAX_CHILDREN_PARENTS`] ids, or more than [`MAX_CHILDREN_ROWS`] matching rows.
    pub async fn storage_children(
        &self,
        user: Uuid,
        collection: &'static Collection,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Record>, CollectionError> {
        let column = child_link(collection, field)?;
        if parent_ids.len() > MAX_CHILDREN_PARENTS {
            return Err(CollectionError::invalid(
                "parent-ids",
                format!("at most {MAX_CHILDREN_PARENTS} ids"),
            ));
        }
        let mut ids = parent_ids
            .iter()
            .map(|id| {
                parse_id(id).map_err(|_| {
                    CollectionError::invalid("parent-ids", "every id must be a hyphenated UUID")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let mut statement = Statement::new(backend);
        let placeholders: Vec<String> = ids
            .into_iter()
            .map(|id| statement.bind(Param::Uuid(id)))
            .collect();
        let scope = scope(&mut statement, collection, user, Reach::Pinned);
        let cap = statement.bind(Param::Int(
            i64::try_from(MAX_CHILDREN_ROWS).unwrap_or(i64::MAX) + 1,
        ));
        let name = column.name;
        statement.sql = format!(
            "SELECT {} FROM {} WHERE {name} IN ({}) AND {scope} ORDER BY {name}, id LIMIT {cap}",
            select_list(collection, backend),
            collection.name,
            placeholders.join(", ")
        );
        let rows = self.fetch_all(&statement.sql, &statement.params).await?;
        if rows.len() > MAX_CHILDREN_ROWS {
            return Err(CollectionError::invalid(
                "parent-ids",
                format!("more than {MAX_CHILDREN_ROWS} rows; ask for fewer parents"),
            ));
        }
        Ok(rows
            .iter()
            .map(|row| read_record(collection, row))
            .collect::<Result<_, _>>()?)
    }

    /// Changes writable fields of the user's row; returns the row as stored.
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_update(
        &self,
        user: Uuid,
        collection: &'static Collection,
        id: &str,
        changes: Record,
    ) -> Result<Record, CollectionError> {
        let write = check_write(Write::Update {
            collection,
            id: id.to_owned(),
            changes,
        })?;
        self.apply_one(user, write)
            .await?
            .ok_or(CollectionError::NotFound)
    }

    /// Deletes the user's row (and what the schema cascades to).
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_delete(
        &self,
        user: Uuid,
        collection: &'static Collection,
        id: &str,
    ) -> Result<(), CollectionError> {
        let write = check_write(Write::Delete {
            collection,
            id: id.to_owned(),
        })?;
        self.apply_one(user, write).await?;
        Ok(())
    }

    /// Applies all writes in one transaction: all of them, or none. Field errors name the
    /// write (`writes[2].mood_score`). An id an insert brings names the row within the batch
    /// only: the row is stored under a fresh id, and later writes that name it are pointed
    /// at that (see `ids`). On PostgreSQL, a batch of inserts that point only at
    /// each other runs as one statement (see `one_statement`): one round trip instead of a
    /// transaction's several.
    ///
    /// # Errors
    /// [`CollectionError`] from the first write that fails.
    pub async fn storage_batch(
        &self,
        user: Uuid,
        mut writes: Vec<Write>,
    ) -> Result<Vec<Option<Record>>, CollectionError> {
        if writes.len() > MAX_BATCH {
            return Err(CollectionError::invalid(
                "writes",
                format!("at most {MAX_BATCH} writes in a batch"),
            ));
        }
        ids::assign(&mut writes)?;
        let checked = writes
            .into_iter()
            .enumerate()
            .map(|(i, w)| check_write(w).map_err(|e| e.prefixed(&format!("writes[{i}]."))))
            .collect::<Result<Vec<_>, _>>()?;
        if self.backend() == Backend::Postgres
            && one_statement::fits(&checked)
            && let Some(results) = self.insert_batch_in_one_statement(user, &checked).await?
        {
            return Ok(results);
        }
        let mut tx = self.begin().await?;
        let mut own = OwnRows::default();
        let mut results = Vec::with_capacity(checked.len());
        for (i, write) in checked.into_iter().enumerate() {
            let result = apply(&mut Exec::Tx(&mut tx), &mut own, user, write)
                .await
                .map_err(|e| e.prefixed(&format!("writes[{i}].")))?;
            results.push(result);
        }
        tx.commit().await?;
        Ok(results)
    }

    /// A page of the user's rows, in keyset order (`order_by`, then `id`; NULLs after every
    /// value ascending, before them descending): no duplicates or gaps across pages.
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_query(
        &self,
        user: Uuid,
        collection: &'static Collection,
        request: PageRequest,
    ) -> Result<Page, CollectionError> {
        let page = PageStatement::new(self.backend(), user, collection, request)?;
        let rows = self
            .fetch_all(&page.statement.sql, &page.statement.params)
            .await?;
        let more = rows.len() > page.limit;
        let rows = &rows[..rows.len().min(page.limit)];
        let next_cursor = match rows.last() {
            Some(last) if more => Some(page.cursor_after(last)?),
            _ => None,
        };
        Ok(Page {
            rows: rows
                .iter()
                .map(|row| read_columns(&page.columns, row))
                .collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    /// [`storage_query`](Self::storage_query) and [`storage_children`](Self::storage_children)
    /// of the page's rows in one statement: the page, and the user's rows of `child` whose
    /// `field` points at one of the page's rows, each row's children by `id` in the page's
    /// order. A list of parents with their children (mood logs and their factors) is one
    /// round trip to the database, whatever the page size.
    ///
    /// The children are the user's as `storage_children`'s are: a child owned through
    /// `field` itself is the user's because its parent, a row of the page, is; any other
    /// child is also checked for its own owner.
    ///
    /// # Errors
    /// [`CollectionError`]: as `storage_query`; `field` not a UUID field of `child`; more
    /// than [`MAX_CHILDREN_ROWS`] children.
    pub async fn storage_query_with_children(
        &self,
        user: Uuid,
        collection: &'static Collection,
        request: PageRequest,
        child: &'static Collection,
        field: &str,
    ) -> Result<(Page, Vec<Record>), CollectionError> {
        let link = child_link(child, field)?;
        let backend = self.backend();
        let mut page = PageStatement::new(backend, user, collection, request)?;
        let page_sql = std::mem::take(&mut page.statement.sql);
        let statement = &mut page.statement;
        let child_scope = match child.ownership {
            // A child owned through this very link belongs to its parent's owner, and its
            // parent is a row of the page, which the page's own scope has limited to the
            // user's rows: checking each child's parent again would look up what the join
            // has just matched.
            Ownership::Parent { column, table }
                if column == link.name && table == collection.name =>
            {
                "1 = 1".to_owned()
            }
            _ => qualified_scope(statement, child, user),
        };
        // Enough rows for every page row (one more tells whether a page follows) and one
        // child past the most a page may have, which makes it an error.
        let cap = statement.bind(Param::Int(
            i64::try_from(page.limit + 1 + MAX_CHILDREN_ROWS + 1).unwrap_or(i64::MAX),
        ));
        let table = child.name;
        let link = link.name;
        let (direction, nulls) = order_words(page.descending, page.order);
        let page_order = format!(
            "page.{order} {direction}{nulls}, page.id {direction}",
            order = page.order.name
        );
        let child_columns = select_list_of(child, backend, table, CHILD_PREFIX);
        // The page is a subquery in `FROM`, not a `WITH`: a statement that starts with
        // `SELECT` is a read, which on SQLite runs beside other reads instead of waiting for
        // a writer's turn (`WriterQueue`).
        statement.sql = match backend {
            // A LATERAL subquery with a LIMIT cannot be flattened into a join, so each page row
            // finds its children by the link's index whatever the planner's estimates: a
            // plain join may be planned (in a generic plan, which guesses a parameterised
            // LIMIT at a tenth of the user's rows) as a hash join that reads the whole child
            // table.
            Backend::Postgres => format!(
                "SELECT page.*, c.* FROM ({page}) page LEFT JOIN LATERAL \
                 (SELECT {child_columns} FROM {table} WHERE {table}.{link} = page.id \
                 AND {child_scope} ORDER BY {table}.id LIMIT {cap}) c ON TRUE \
                 ORDER BY {page_order}, c.{CHILD_PREFIX}id LIMIT {cap}",
                page = page_sql,
            ),
            // SQLite has no LATERAL, and joins only by nested loops: each page row looks
            // its children up by the link's index.
            Backend::Sqlite => format!(
                "SELECT page.*, {child_columns} FROM ({page}) page \
                 LEFT JOIN {table} ON {table}.{link} = page.id AND {child_scope} \
                 ORDER BY {page_order}, {table}.id LIMIT {cap}",
                page = page_sql,
            ),
        };
        let rows = self.fetch_all(&statement.sql, &statement.params).await?;
        let child_id = format!("{CHILD_PREFIX}id");
        let mut parents = Vec::new();
        let mut children = Vec::new();
        let mut last_parent: Option<Uuid> = None;
        let mut more = false;
        for row in &rows {
            let id = row.uuid("id")?;
            if last_parent != Some(id) {
                if parents.len() == page.limit {
                    more = true;
                    break;
                }
                last_parent = Some(id);
                parents.push(row);
            }
            if row.opt_uuid(&child_id)?.is_some() {
                if children.len() == MAX_CHILDREN_ROWS {
                    return Err(CollectionError::invalid(
                        "limit",
                        format!("more than {MAX_CHILDREN_ROWS} child rows; ask for a smaller page"),
                    ));
                }
                children.push(read_record_as(child, row, CHILD_PREFIX)?);
            }
        }
        let next_cursor = match parents.last() {
            Some(last) if more => Some(page.cursor_after(last)?),
            _ => None,
        };
        let rows = parents
            .into_iter()
            .map(|row| read_columns(&page.columns, row))
            .collect::<Result<_, _>>()?;
        Ok((Page { rows, next_cursor }, children))
    }

    /// Aggregates the user's rows, grouped in the IANA time zone `timezone` (UTC when it is
    /// not a known zone).
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_aggregate(
        &self,
        user: Uuid,
        collection: &'static Collection,
        request: AggregateRequest,
        timezone: &str,
    ) -> Result<Vec<AggregateRow>, CollectionError> {
        if request.measures.is_empty() || request.measures.len() > MAX_MEASURES {
            return Err(CollectionError::invalid(
                "measures",
                format!("between 1 and {MAX_MEASURES} measures"),
            ));
        }
        // (column or None for `count(*)`, function) per measure.
        let mut measures: Vec<(Option<&'static Column>, AggregateFn)> = Vec::new();
        for (field, function) in &request.measures {
            if *function == AggregateFn::Count && field == "*" {
                measures.push((None, *function));
                continue;
            }
            let column = collection.column(field).ok_or_else(|| {
                CollectionError::invalid(
                    echo(field),
                    format!("no such field in `{}`", collection.name),
                )
            })?;
            if *function != AggregateFn::Count && !column.numeric() {
                return Err(CollectionError::invalid(
                    column.name,
                    "avg, min, max and stddev need a numeric field",
                ));
            }
            measures.push((Some(column), *function));
        }
        let group_column: Option<&'static Column> = match request.grouping {
            Grouping::None => None,
            Grouping::FieldValue => {
                let name = request.group_field.as_deref().ok_or_else(|| {
                    CollectionError::invalid("group-field", "field-value grouping needs a field")
                })?;
                Some(
                    collection
                        .column(name)
                        .filter(|c| c.filterable())
                        .ok_or_else(|| {
                            CollectionError::invalid(
                                "group-field",
                                format!(
                                    "`{}` is not a groupable field of `{}`",
                                    echo(name),
                                    collection.name
                                ),
                            )
                        })?,
                )
            }
            time => {
                let name = request
                    .group_field
                    .as_deref()
                    .or(collection.time_field)
                    .ok_or_else(|| {
                        CollectionError::invalid("group-field", "time groupings need a time field")
                    })?;
                let column = collection.column(name).ok_or_else(|| {
                    CollectionError::invalid(
                        "group-field",
                        format!("no such field `{}` in `{}`", echo(name), collection.name),
                    )
                })?;
                let fits = match column.ty {
                    ColumnType::Timestamp => true,
                    ColumnType::Date => time != Grouping::Hour,
                    _ => false,
                };
                if !fits {
                    return Err(CollectionError::invalid(
                        "group-field",
                        format!("`{}` cannot be grouped that way", column.name),
                    ));
                }
                Some(column)
            }
        };
        let filters = check_filters(collection, request.filters)?;
        // All time: the collection's rollup answers in a few statements, when it keeps what
        // is asked (see `rollups`).
        if filters.is_empty()
            && let Some(rows) = self
                .rollup_aggregate(
                    user,
                    collection,
                    &measures,
                    request.grouping,
                    group_column,
                    timezone,
                )
                .await?
        {
            return Ok(rows);
        }
        let tz: Tz = timezone.parse().unwrap_or(Tz::UTC);
        let backend = self.backend();
        let mut fields: Vec<&'static Column> = Vec::new();
        for column in group_column
            .into_iter()
            .chain(measures.iter().filter_map(|(c, _)| *c))
        {
            if !fields.iter().any(|f| f.name == column.name) {
                fields.push(column);
            }
        }
        let mut list = vec!["id".to_owned()];
        list.extend(
            fields
                .iter()
                .filter(|c| c.name != "id")
                .map(|c| column_expr(c, backend, "")),
        );
        let mut statement = Statement::new(backend);
        let scope = scope(
            &mut statement,
            collection,
            user,
            Reach::of(collection, &filters),
        );
        statement.sql = format!(
            "SELECT {} FROM {} WHERE {scope}",
            list.join(", "),
            collection.name
        );
        push_filters(&mut statement, filters);
        let cap = statement.bind(Param::Int(
            i64::try_from(MAX_AGGREGATE_ROWS).unwrap_or(i64::MAX) + 1,
        ));
        // No ORDER BY: with one, PostgreSQL may walk the primary key of the whole table
        // (every user's rows) to serve the order instead of the user's index. The rows are
        // put in id order here instead, so sums add up in the same order on both backends.
        statement.push(&format!(" LIMIT {cap}"));
        let rows = self.fetch_all(&statement.sql, &statement.params).await?;
        if rows.len() > MAX_AGGREGATE_ROWS {
            return Err(CollectionError::invalid(
                "filters",
                format!("more than {MAX_AGGREGATE_ROWS} rows match; narrow the filters"),
            ));
        }
        let mut inputs = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = row.uuid("id")?;
            let source = match group_column {
                Some(column) => read_typed(column, row)?,
                None => Typed::Null,
            };
            let mut values = Vec::with_capacity(measures.len());
            for (column, _) in &measures {
                values.push(match column {
                    None => Some(0.0),
                    Some(column) => {
                        let typed = read_typed(column, row)?;
                        if typed == Typed::Null {
                            None
                        } else {
                            // Count counts non-null values of any type.
                            Some(numeric(&typed).unwrap_or(0.0))
                        }
                    }
                });
            }
            inputs.push((id, source, values));
        }
        inputs.sort_unstable_by_key(|(id, _, _)| *id);
        let functions: Vec<AggregateFn> = measures.iter().map(|(_, f)| *f).collect();
        Ok(aggregate_rows(
            inputs
                .into_iter()
                .map(|(_, source, values)| (source, values)),
            &functions,
            request.grouping,
            tz,
        ))
    }

    /// The `k` of the user's rows nearest to `target` on a vector field, by cosine distance,
    /// nearest first (ties by id).
    ///
    /// # Errors
    /// [`CollectionError`].
    pub async fn storage_nearest(
        &self,
        user: Uuid,
        collection: &'static Collection,
        field: &str,
        target: Vec<f32>,
        k: u32,
        filters: Vec<Filter>,
    ) -> Result<Vec<Scored>, CollectionError> {
        let column = collection
            .column(field)
            .filter(|c| c.ty == ColumnType::Vector)
            .ok_or_else(|| {
                CollectionError::invalid(
                    echo(field),
                    format!("not a vector field of `{}`", collection.name),
                )
            })?;
        let Typed::Vector(target) = column
            .check(Value::Vector(target), catalog::embedding_dimension())
            .map_err(|message| CollectionError::invalid("target", message))?
        else {
            return Err(CollectionError::invalid("target", "not a vector"));
        };
        if k == 0 {
            return Err(CollectionError::invalid("k", "must be at least 1"));
        }
        let k = k.min(MAX_NEAREST) as usize;
        let filters = check_filters(collection, filters)?;
        let backend = self.backend();
        let name = column.name;
        let mut statement = Statement::new(backend);
        let scope = scope(
            &mut statement,
            collection,
            user,
            Reach::of(collection, &filters),
        );
        let mut scored = match backend {
            Backend::Postgres => {
                let target = statement.bind_value(column, Typed::Vector(target));
                statement.sql = format!(
                    "SELECT {}, ({name} <=> {target}) AS distance FROM {} WHERE {scope} AND {name} IS NOT NULL",
                    select_list(collection, backend),
                    collection.name
                );
                push_filters(&mut statement, filters);
                let limit = statement.bind(Param::Int(i64::try_from(k).unwrap_or(100)));
                let base = statement.sql.clone();
                // Ordered by distance alone, the HNSW index may serve the query; pgvector 0.6
                // filters its candidates afterwards, so it can return fewer than `k` of this
                // user's rows. Then the exact search (the `id` tie-break rules the index out)
                // answers instead.
                statement.sql = format!("{base} ORDER BY {name} <=> {target} LIMIT {limit}");
                let mut rows = self.fetch_all(&statement.sql, &statement.params).await?;
                if rows.len() < k {
                    statement.sql =
                        format!("{base} ORDER BY {name} <=> {target}, id LIMIT {limit}");
                    rows = self.fetch_all(&statement.sql, &statement.params).await?;
                }
                let mut scored = Vec::with_capacity(rows.len());
                for row in &rows {
                    let distance = row.opt_float("distance")?.unwrap_or(f64::NAN);
                    scored.push((distance, row.uuid("id")?, read_record(collection, row)?));
                }
                scored
            }
            Backend::Sqlite => {
                // Exact: every vector of the user's rows is compared, inside SQLite
                // (`sqlite_vector`), and only the `k` nearest ids leave the inner query;
                // those rows are then joined whole by their primary key, in one statement. A
                // vector of another dimension has no distance.
                let target = statement.bind_value(column, Typed::Vector(target));
                statement.sql = format!(
                    "SELECT id, {} ({name}, {target}) AS distance FROM {} WHERE {scope} AND {name} IS NOT NULL",
                    crate::sqlite_vector::COSINE_DISTANCE,
                    collection.name
                );
                push_filters(&mut statement, filters);
                let limit = statement.bind(Param::Int(i64::try_from(k).unwrap_or(100)));
                let table = collection.name;
                let columns = select_list_of(collection, backend, "whole", "");
                statement.sql = format!(
                    "SELECT {columns}, nearest.distance AS {NEAREST_DISTANCE} FROM \
                     (SELECT id, distance FROM ({}) WHERE distance IS NOT NULL ORDER BY distance, id LIMIT {limit}) AS nearest \
                     JOIN {table} AS whole ON whole.id = nearest.id",
                    statement.sql
                );
                let rows = self.fetch_all(&statement.sql, &statement.params).await?;
                let mut scored = Vec::with_capacity(rows.len());
                for row in &rows {
                    let distance = row.opt_float(NEAREST_DISTANCE)?.unwrap_or(f64::NAN);
                    scored.push((distance, row.uuid("id")?, read_record(collection, row)?));
                }
                scored
            }
        };
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        #[allow(clippy::cast_possible_truncation)]
        Ok(scored
            .into_iter()
            .map(|(distance, _, row)| Scored {
                row,
                distance: distance as f32,
            })
            .collect())
    }

    /// Creates `chat_messages.embedding` with dimension `dim` if it does not exist (the
    /// migrations leave it out because the dimension is configuration): `vector(dim)` plus an
    /// HNSW index (`vector_cosine_ops`) on PostgreSQL, a BLOB of `dim` little-endian f32s
    /// (length-checked) on SQLite, whose dimension is recorded in `platform_settings`. Then
    /// makes `dim` the dimension the storage capability checks vectors against.
    ///
    /// # Errors
    /// [`DbError::Config`] naming `MINDFLOW_EMBEDDING_DIM` when the column exists with
    /// another dimension or `dim` is out of range; [`DbError`] when the DDL fails.
    pub async fn prepare_embedding_column(&self, dim: usize) -> Result<(), DbError> {
        if !(1..=catalog::MAX_EMBEDDING_DIM).contains(&dim) {
            return Err(DbError::Config(format!(
                "MINDFLOW_EMBEDDING_DIM must be between 1 and {}, not {dim}",
                catalog::MAX_EMBEDDING_DIM
            )));
        }
        let mismatch = |existing: usize| {
            DbError::Config(format!(
                "MINDFLOW_EMBEDDING_DIM is {dim}, but chat_messages.embedding already holds \
                 {existing}-dimensional vectors; set MINDFLOW_EMBEDDING_DIM={existing} \
                 (changing the dimension needs a data migration)"
            ))
        };
        let mut tx = self.begin().await?;
        match tx_backend(&tx) {
            Backend::Postgres => {
                // Replicas starting together: one at a time.
                tx.execute("SELECT pg_advisory_xact_lock(7236011912)", &[])
                    .await?;
                let existing = tx
                    .fetch_optional(
                        "SELECT format_type(atttypid, atttypmod) AS column_type FROM pg_attribute \
                         WHERE attrelid = 'chat_messages'::regclass AND attname = 'embedding' \
                         AND NOT attisdropped",
                        &[],
                    )
                    .await?;
                match existing {
                    Some(row) => {
                        let column_type = row.text("column_type")?;
                        let existing = column_type
                            .strip_prefix("vector(")
                            .and_then(|rest| rest.strip_suffix(')'))
                            .and_then(|n| n.parse::<usize>().ok())
                            .ok_or_else(|| {
                                DbError::Config(format!(
                                    "chat_messages.embedding has type {column_type}, not vector(N)"
                                ))
                            })?;
                        if existing != dim {
                            return Err(mismatch(existing));
                        }
                    }
                    None => {
                        tx.execute(
                            &format!(
                                "ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS embedding vector({dim})"
                            ),
                            &[],
                        )
                        .await?;
                    }
                }
                tx.execute(
                    "CREATE INDEX IF NOT EXISTS idx_chat_messages_embedding ON chat_messages \
                     USING hnsw (embedding vector_cosine_ops)",
                    &[],
                )
                .await?;
            }
            Backend::Sqlite => {
                let present = tx
                    .fetch_optional(
                        "SELECT COUNT(*) AS n FROM pragma_table_info('chat_messages') \
                         WHERE name = 'embedding'",
                        &[],
                    )
                    .await?
                    .map(|row| row.int("n"))
                    .transpose()?
                    .unwrap_or(0)
                    > 0;
                if present {
                    let recorded = tx
                        .fetch_optional(
                            "SELECT value FROM platform_settings WHERE key = $1",
                            &[Param::Text(DIMENSION_SETTING.into())],
                        )
                        .await?
                        .map(|row| row.text("value"))
                        .transpose()?
                        .and_then(|v| v.parse::<usize>().ok());
                    let existing = match recorded {
                        Some(n) => Some(n),
                        None => tx
                            .fetch_optional(
                                "SELECT length(embedding) AS n FROM chat_messages \
                                 WHERE embedding IS NOT NULL LIMIT 1",
                                &[],
                            )
                            .await?
                            .map(|row| row.int("n"))
                            .transpose()?
                            .and_then(|n| usize::try_from(n / 4).ok()),
                    };
                    if let Some(existing) = existing.filter(|n| *n != dim) {
                        return Err(mismatch(existing));
                    }
                } else {
                    tx.execute(
                        &format!(
                            "ALTER TABLE chat_messages ADD COLUMN embedding BLOB \
                             CHECK (embedding IS NULL OR length(embedding) = {})",
                            dim * 4
                        ),
                        &[],
                    )
                    .await?;
                }
                tx.execute(
                    "INSERT INTO platform_settings (key, value, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    &[
                        Param::Text(DIMENSION_SETTING.into()),
                        Param::Text(dim.to_string()),
                        Param::Time(Utc::now()),
                    ],
                )
                .await?;
            }
        }
        tx.commit().await?;
        catalog::set_embedding_dimension(dim);
        Ok(())
    }
}

/// The `platform_settings` key recording the SQLite embedding column's dimension.
const DIMENSION_SETTING: &str = "chat_messages.embedding.dimension";

mod ids;
mod one_statement;

#[cfg(test)]
mod tests;
