//! `mindflow:platform/storage`: the current user's rows, in the collections the component's
//! manifest grants.
//!
//! Grants: insert, get, update, delete, keyset-paged queries, the children of a page of
//! parents in one call (or a page with its children in one call), aggregates (grouped in the caller's time zone), nearest-neighbour
//! search and atomic batches over the granted collections, for the store's caller only. Never gives: another user's rows (they answer
//! `not-found`, like missing ones), a collection the manifest does not grant (`not-granted`),
//! writes to read-only collections (`content_library`, and `crisis_events`/`safety_plans`,
//! which the crisis capability writes), SQL, or database details: a database failure is
//! logged without user content and answered `unavailable`.
//!
//! The SQL lives in [`crate::db::collections`]; the catalog of collections in
//! [`crate::db::catalog`]. This module maps WIT types to those and checks the grants.

use uuid::Uuid;

use crate::db::catalog::{self, Collection, Value};
use crate::db::collections::{
    self, AggregateFn, AggregateRequest, CollectionError, Comparison, Filter, Grouping,
    PageRequest, Record, Write,
};
use crate::db::{Database, DbError};
use crate::manifest::{Capability, ComponentDecl};
use wasmtime::component::Linker;

use super::bindings::mindflow::platform::storage::{self as wit, StorageError};
use super::bindings::mindflow::platform::types::FieldError;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};

/// The capability.
pub struct Storage;

/// What `storage` requests share: the database and the collections the manifest grants.
struct StorageGrant {
    db: Database,
    collections: Vec<String>,
}

impl<T: CapabilityHost> HostCapability<T> for Storage {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Storage)
    }

    fn prepare(
        &self,
        decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        if let Some(unknown) = decl
            .grants
            .collections
            .iter()
            .find(|name| catalog::collection(name).is_none())
        {
            return Err(format!("no collection named `{unknown}`"));
        }
        configs.insert(StorageGrant {
            db: install.services.db.clone(),
            collections: decl.grants.collections.clone(),
        });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, Has<StorageGrant>>(linker, view)
    }
}

/// Whether an operation writes (read-only collections refuse it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Intent {
    Read,
    Write,
}

impl View<'_, StorageGrant> {
    /// The caller's id, or `not-granted` on an anonymous request.
    fn storage_user(&self) -> Result<Uuid, StorageError> {
        self.ctx
            .caller
            .as_ref()
            .map(|caller| caller.user_id)
            .ok_or_else(|| StorageError::NotGranted("no authenticated user".into()))
    }

    /// The collection, if it exists and the manifest grants it (and allows the intent).
    fn storage_collection(
        &self,
        name: &str,
        intent: Intent,
    ) -> Result<&'static Collection, StorageError> {
        let not_granted = || {
            StorageError::NotGranted(format!(
                "collection `{}` is not granted to this component",
                name.chars().take(64).collect::<String>()
            ))
        };
        let granted = self.config().map_err(|_| not_granted())?;
        if !granted.collections.iter().any(|granted| granted == name) {
            return Err(not_granted());
        }
        let collection = catalog::collection(name).ok_or_else(not_granted)?;
        if intent == Intent::Write && collection.access == catalog::Access::ReadOnly {
            return Err(StorageError::NotGranted(format!(
                "collection `{}` is read-only to components",
                collection.name
            )));
        }
        Ok(collection)
    }

    /// The caller, the collection and the database, checked and owned, so that no borrow of
    /// the (non-`Sync`) state is held across the database call.
    fn storage_target(
        &self,
        name: &str,
        intent: Intent,
    ) -> Result<(Uuid, &'static Collection, Database), StorageError> {
        let user = self.storage_user()?;
        let collection = self.storage_collection(name, intent)?;
        let db = self
            .config()
            .map_err(|_| StorageError::Unavailable)?
            .db
            .clone();
        Ok((user, collection, db))
    }
}

/// Returns the error to the guest when a check fails.
macro_rules! checked {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        }
    };
}

fn from_wit_value(value: wit::Value) -> Value {
    match value {
        wit::Value::Null => Value::Null,
        wit::Value::Boolean(b) => Value::Boolean(b),
        wit::Value::Integer(i) => Value::Integer(i),
        wit::Value::Float(f) => Value::Float(f),
        wit::Value::Text(t) => Value::Text(t),
        wit::Value::Timestamp(t) => Value::Timestamp(t),
        wit::Value::Date(d) => Value::Date(d),
        wit::Value::Uuid(u) => Value::Uuid(u),
        wit::Value::Json(j) => Value::Json(j),
        wit::Value::Bytes(b) => Value::Bytes(b),
        wit::Value::Vector(v) => Value::Vector(v),
    }
}

fn to_wit_value(value: Value) -> wit::Value {
    match value {
        Value::Null => wit::Value::Null,
        Value::Boolean(b) => wit::Value::Boolean(b),
        Value::Integer(i) => wit::Value::Integer(i),
        Value::Float(f) => wit::Value::Float(f),
        Value::Text(t) => wit::Value::Text(t),
        Value::Timestamp(t) => wit::Value::Timestamp(t),
        Value::Date(d) => wit::Value::Date(d),
        Value::Uuid(u) => wit::Value::Uuid(u),
        Value::Json(j) => wit::Value::Json(j),
        Value::Bytes(b) => wit::Value::Bytes(b),
        Value::Vector(v) => wit::Value::Vector(v),
    }
}

fn from_wit_row(row: wit::Row) -> Record {
    row.into_iter()
        .map(|column| (column.name, from_wit_value(column.value)))
        .collect()
}

fn to_wit_row(record: Record) -> wit::Row {
    record
        .into_iter()
        .map(|(name, value)| wit::Column {
            name,
            value: to_wit_value(value),
        })
        .collect()
}

fn from_wit_filters(filters: Vec<wit::Filter>) -> Vec<Filter> {
    filters
        .into_iter()
        .map(|filter| Filter {
            field: filter.field,
            comparison: match filter.comparison {
                wit::Comparison::Eq => Comparison::Eq,
                wit::Comparison::Ne => Comparison::Ne,
                wit::Comparison::Lt => Comparison::Lt,
                wit::Comparison::Le => Comparison::Le,
                wit::Comparison::Gt => Comparison::Gt,
                wit::Comparison::Ge => Comparison::Ge,
            },
            value: from_wit_value(filter.value),
        })
        .collect()
}

/// A page request holding `fields` (every field when empty).
fn from_wit_page_request(request: wit::PageRequest, fields: Vec<String>) -> PageRequest {
    PageRequest {
        fields,
        filters: from_wit_filters(request.filters),
        order_by: request.order_by,
        descending: request.descending,
        limit: request.limit,
        cursor: request.cursor,
    }
}

fn to_wit_page(page: collections::Page) -> wit::Page {
    wit::Page {
        rows: page.rows.into_iter().map(to_wit_row).collect(),
        next_cursor: page.next_cursor,
    }
}

/// A database failure, described without anything a user wrote.
fn describe(error: &DbError) -> String {
    match error {
        DbError::Sqlx(sqlx::Error::Database(e)) => format!(
            "database error (SQLSTATE/code {})",
            e.code().unwrap_or_default()
        ),
        DbError::Sqlx(sqlx::Error::PoolTimedOut) => "connection pool timed out".into(),
        DbError::Sqlx(sqlx::Error::PoolClosed) => "connection pool closed".into(),
        DbError::Sqlx(sqlx::Error::Io(e)) => format!("i/o error: {}", e.kind()),
        DbError::Sqlx(_) => "database driver error".into(),
        DbError::Decode { column, .. } => format!("unexpected value in column `{column}`"),
        _ => "database failure".into(),
    }
}

/// The WIT error for a storage failure; database failures are logged here.
fn to_wit_error(error: CollectionError, operation: &str, collection: &str) -> StorageError {
    match error {
        CollectionError::NotFound => StorageError::NotFound,
        CollectionError::Invalid { field, message } => {
            StorageError::Invalid(FieldError { field, message })
        }
        CollectionError::Conflict(message) => StorageError::Conflict(message),
        CollectionError::ReadOnly(name) => {
            StorageError::NotGranted(format!("collection `{name}` is read-only to components"))
        }
        CollectionError::Database(error) => {
            tracing::warn!(
                operation,
                collection,
                error = %describe(&error),
                "storage call failed"
            );
            StorageError::Unavailable
        }
    }
}

type Answer<T> = wasmtime::Result<Result<T, StorageError>>;

impl wit::Host for View<'_, StorageGrant> {
    #[tracing::instrument(level = "debug", name = "capability.storage.insert", skip_all, fields(collection = %collection))]
    async fn insert(&mut self, collection: String, row: wit::Row) -> Answer<wit::Row> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Write));
        Ok(db
            .storage_insert(user, collection, from_wit_row(row))
            .await
            .map(to_wit_row)
            .map_err(|e| to_wit_error(e, "insert", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.get", skip_all, fields(collection = %collection))]
    async fn get(&mut self, collection: String, id: String) -> Answer<wit::Row> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        Ok(db
            .storage_get(user, collection, &id)
            .await
            .map(to_wit_row)
            .map_err(|e| to_wit_error(e, "get", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.update", skip_all, fields(collection = %collection))]
    async fn update(
        &mut self,
        collection: String,
        id: String,
        changes: wit::Row,
    ) -> Answer<wit::Row> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Write));
        Ok(db
            .storage_update(user, collection, &id, from_wit_row(changes))
            .await
            .map(to_wit_row)
            .map_err(|e| to_wit_error(e, "update", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.delete", skip_all, fields(collection = %collection))]
    async fn delete(&mut self, collection: String, id: String) -> Answer<()> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Write));
        Ok(db
            .storage_delete(user, collection, &id)
            .await
            .map_err(|e| to_wit_error(e, "delete", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.query", skip_all, fields(collection = %collection))]
    async fn query(&mut self, collection: String, request: wit::PageRequest) -> Answer<wit::Page> {
        self.select(collection, request, Vec::new()).await
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.select", skip_all, fields(collection = %collection))]
    async fn select(
        &mut self,
        collection: String,
        request: wit::PageRequest,
        fields: Vec<String>,
    ) -> Answer<wit::Page> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        let request = from_wit_page_request(request, fields);
        Ok(db
            .storage_query(user, collection, request)
            .await
            .map(to_wit_page)
            .map_err(|e| to_wit_error(e, "query", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.children", skip_all, fields(collection = %collection))]
    async fn children(
        &mut self,
        collection: String,
        field: String,
        parent_ids: Vec<String>,
    ) -> Answer<Vec<wit::Row>> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        Ok(db
            .storage_children(user, collection, &field, &parent_ids)
            .await
            .map(|rows| rows.into_iter().map(to_wit_row).collect())
            .map_err(|e| to_wit_error(e, "children", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.select_with_children", skip_all, fields(collection = %collection, child = %child_collection))]
    async fn select_with_children(
        &mut self,
        collection: String,
        request: wit::PageRequest,
        fields: Vec<String>,
        child_collection: String,
        child_field: String,
    ) -> Answer<(wit::Page, Vec<wit::Row>)> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        let child = checked!(self.storage_collection(&child_collection, Intent::Read));
        let request = from_wit_page_request(request, fields);
        Ok(db
            .storage_query_with_children(user, collection, request, child, &child_field)
            .await
            .map(|(page, children)| {
                (
                    to_wit_page(page),
                    children.into_iter().map(to_wit_row).collect(),
                )
            })
            .map_err(|e| to_wit_error(e, "select-with-children", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.aggregate", skip_all, fields(collection = %collection))]
    async fn aggregate(
        &mut self,
        collection: String,
        request: wit::AggregateRequest,
    ) -> Answer<Vec<wit::AggregateRow>> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        let timezone = self
            .ctx
            .caller
            .as_ref()
            .map_or_else(|| "UTC".to_owned(), |caller| caller.timezone.clone());
        let request = AggregateRequest {
            filters: from_wit_filters(request.filters),
            measures: request
                .measures
                .into_iter()
                .map(|(field, function)| {
                    let function = match function {
                        wit::AggregateFn::Count => AggregateFn::Count,
                        wit::AggregateFn::Avg => AggregateFn::Avg,
                        wit::AggregateFn::Min => AggregateFn::Min,
                        wit::AggregateFn::Max => AggregateFn::Max,
                        wit::AggregateFn::Stddev => AggregateFn::Stddev,
                    };
                    (field, function)
                })
                .collect(),
            grouping: match request.grouping {
                wit::Grouping::None => Grouping::None,
                wit::Grouping::Day => Grouping::Day,
                wit::Grouping::IsoWeek => Grouping::IsoWeek,
                wit::Grouping::Weekday => Grouping::Weekday,
                wit::Grouping::Hour => Grouping::Hour,
                wit::Grouping::FieldValue => Grouping::FieldValue,
            },
            group_field: request.group_field,
        };
        Ok(db
            .storage_aggregate(user, collection, request, &timezone)
            .await
            .map(|rows| {
                rows.into_iter()
                    .map(|row| wit::AggregateRow {
                        group: row.group,
                        values: row.values,
                    })
                    .collect()
            })
            .map_err(|e| to_wit_error(e, "aggregate", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.nearest", skip_all, fields(collection = %collection))]
    async fn nearest(
        &mut self,
        collection: String,
        field: String,
        target: Vec<f32>,
        k: u32,
        filters: Vec<wit::Filter>,
    ) -> Answer<Vec<wit::ScoredRow>> {
        let (user, collection, db) = checked!(self.storage_target(&collection, Intent::Read));
        Ok(db
            .storage_nearest(
                user,
                collection,
                &field,
                target,
                k,
                from_wit_filters(filters),
            )
            .await
            .map(|rows| {
                rows.into_iter()
                    .map(|scored| wit::ScoredRow {
                        row: to_wit_row(scored.row),
                        distance: scored.distance,
                    })
                    .collect()
            })
            .map_err(|e| to_wit_error(e, "nearest", collection.name)))
    }

    #[tracing::instrument(level = "debug", name = "capability.storage.batch", skip_all)]
    async fn batch(&mut self, writes: Vec<wit::Write>) -> Answer<Vec<Option<wit::Row>>> {
        let user = checked!(self.storage_user());
        if writes.len() > collections::MAX_BATCH {
            return Ok(Err(StorageError::Invalid(FieldError {
                field: "writes".into(),
                message: format!("at most {} writes in a batch", collections::MAX_BATCH),
            })));
        }
        let mut checked = Vec::with_capacity(writes.len());
        for write in writes {
            checked.push(match write {
                wit::Write::Insert((collection, row)) => Write::Insert {
                    collection: checked!(self.storage_collection(&collection, Intent::Write)),
                    row: from_wit_row(row),
                },
                wit::Write::Update((collection, id, changes)) => Write::Update {
                    collection: checked!(self.storage_collection(&collection, Intent::Write)),
                    id,
                    changes: from_wit_row(changes),
                },
                wit::Write::Delete((collection, id)) => Write::Delete {
                    collection: checked!(self.storage_collection(&collection, Intent::Write)),
                    id,
                },
            });
        }
        let db = match self.config() {
            Ok(grant) => grant.db.clone(),
            Err(_) => return Ok(Err(StorageError::Unavailable)),
        };
        Ok(db
            .storage_batch(user, checked)
            .await
            .map(|rows| rows.into_iter().map(|row| row.map(to_wit_row)).collect())
            .map_err(|e| to_wit_error(e, "batch", "(batch)")))
    }
}
