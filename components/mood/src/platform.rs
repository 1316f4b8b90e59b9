//! What the mood service needs from its host, as plain Rust.
//!
//! These types mirror the `mindflow:platform` WIT interfaces the component imports
//! (`context`, `storage`, `ml`, `crisis`). The handlers in [`crate::api`] are written against
//! the [`Platform`] trait, so they run natively in unit tests against an in-memory fake; the
//! component (`src/component.rs`, wasm32 only) implements the trait with the WIT bindings.

use chrono::{DateTime, Utc};

pub use mindflow_component_kit::storage::{
    Comparison, Filter, MAX_CHILDREN_PARENTS, Page, PageRequest, Row, Value, Write, column,
    group_by_parent,
};

/// An aggregate function.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// An aggregation request.
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

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageError {
    /// The collection is not granted (our bug).
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

pub use mindflow_component_kit::host::{CrisisOutcome, CrisisResource, CrisisUnavailable, User};

/// The host's capabilities, as the handlers use them.
pub trait Platform {
    /// The authenticated caller (`context.current-user`).
    fn current_user(&self) -> Option<User>;
    /// `storage.get`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError>;
    /// `storage.delete`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError>;
    /// `storage.query`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError>;
    /// `storage.children`: the rows of `collection` whose `field` is one of `parent_ids`
    /// (at most [`MAX_CHILDREN_PARENTS`]), in one call.
    ///
    /// # Errors
    /// [`StorageError`].
    fn children(
        &self,
        collection: &str,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Row>, StorageError>;
    /// `storage.aggregate`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn aggregate(
        &self,
        collection: &str,
        request: AggregateRequest,
    ) -> Result<Vec<AggregateRow>, StorageError>;
    /// `storage.batch`: all writes in one transaction.
    ///
    /// # Errors
    /// [`StorageError`]; nothing was written.
    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError>;
    /// `ml.sentiment`, in [-1, 1].
    fn sentiment(&self, text: &str) -> f32;
    /// `crisis.assess`.
    ///
    /// # Errors
    /// [`CrisisUnavailable`] whatever the reason: the caller fails safe.
    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable>;
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// A fresh random (v4) UUID, hyphenated and lowercase.
    fn new_id(&self) -> String;
}
