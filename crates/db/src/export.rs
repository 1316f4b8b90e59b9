//! Everything stored about one user, as JSON records: the GDPR right of access.
//!
//! The account's own tables list their columns explicitly here, so a secret column (password
//! hash, OAuth tokens, refresh-token hashes) is exported only if someone adds it on purpose.
//! The storage collections are exported as their catalog declaration says
//! ([`super::catalog::Export`]): every column but bytes (sealed values and tokens), vectors
//! and the ones marked unexported. Sealed values come back as bytes, with their purpose, for
//! the host's `crypto` module to open; this module never decrypts.

use serde_json::{Map, Value, json};
use sqlx::Row;
use uuid::Uuid;

use super::catalog::{CATALOG, Collection, ColumnType, Export, Ownership, Sealing};
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
/// One record with a sealed value still to open.
#[derive(Debug, Clone)]
pub struct SealedRecord {
    /// The record's other columns (children already nested in them).
    pub fields: Map<String, Value>,
    /// The sealed value (ciphertext with tag, and its nonce); `None` when the record has no
    /// value (a mood log without a note).
    pub sealed: Option<(Vec<u8>, Vec<u8>)>,
}

/// The user's rows of one collection, as its catalog declaration says to export them.
#[derive(Debug, Clone)]
pub enum CollectionRecords {
    /// Plain records (children already nested in them).
    Plain(Vec<Map<String, Value>>),
    /// Records holding a value sealed as `sealing` says, for the caller to open.
    Sealed {
        /// Where the value goes and its crypto purpose.
        sealing: Sealing,
        /// The records.
        records: Vec<SealedRecord>,
    },
}

impl CollectionRecords {
    /// Every record's fields, to nest children in.
    fn fields_mut(&mut self) -> Box<dyn Iterator<Item = &mut Map<String, Value>> + '_> {
        match self {
            Self::Plain(records) => Box::new(records.iter_mut()),
            Self::Sealed { records, .. } => Box::new(records.iter_mut().map(|r| &mut r.fields)),
        }
    }
}

/// One exported collection: its declaration and the user's rows.
#[derive(Debug, Clone)]
pub struct ExportedCollection {
    /// The catalog's declaration (its [`Export`] says where the rows go).
    pub collection: &'static Collection,
    /// The rows.
    pub records: CollectionRecords,
}

/// Every record of one user: the account's own tables, then every collection the catalog
/// exports, in catalog order.
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
    /// The collections exported at the top of the document (lists and single rows); nested
    /// collections are inside their parents' records.
    pub collections: Vec<ExportedCollection>,
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

fn record(row: &DbRow, spec: &[(&str, Kind)]) -> Result<Map<String, Value>, DbError> {
    spec.iter()
        .map(|(column, kind)| Ok(((*column).to_owned(), value(row, column, *kind)?)))
        .collect()
}

/// The select list for `spec`, columns qualified by `alias`.
fn select_list(backend: Backend, alias: &str, spec: &[(&str, Kind)]) -> String {
    spec.iter()
        .map(|(column, kind)| match (backend, kind) {
            // `host()` drops the prefix length PostgreSQL's text form of INET carries.
            (Backend::Postgres, Inet) => format!("host({alias}.{column}) AS {column}"),
            _ => format!("{alias}.{column}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the export reads and renders a column of this type (`None`: never exported).
fn kind_of(ty: ColumnType) -> Option<Kind> {
    Some(match ty {
        ColumnType::Uuid => Kind::Uuid,
        ColumnType::Text { .. } => Text,
        ColumnType::Int { .. } => Int,
        ColumnType::Float => Float,
        ColumnType::Bool => Bool,
        ColumnType::Timestamp => Time,
        ColumnType::Date => Date,
        ColumnType::Json => Json,
        ColumnType::Bytes | ColumnType::Vector => return None,
    })
}

/// The exported columns of a catalog collection.
fn collection_spec(collection: &Collection) -> Vec<(&'static str, Kind)> {
    collection
        .columns
        .iter()
        .filter(|c| c.exported())
        .filter_map(|c| kind_of(c.ty).map(|kind| (c.name, kind)))
        .collect()
}

/// `t.a, t.b` for an ORDER BY over catalog columns.
fn order_list(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("t.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Database {
    /// Rows of `from` (the table aliased `t`) matching `filter` (with `$1` the user id),
    /// ordered. Every identifier comes from this module's constants or the catalog.
    async fn export_rows(
        &self,
        spec: &[(&str, Kind)],
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

    /// The user's rows of a collection owned by them (directly or through its parent), plain
    /// or sealed.
    async fn export_owned(
        &self,
        collection: &'static Collection,
        order: &[&str],
        user: Uuid,
    ) -> Result<CollectionRecords, DbError> {
        let spec = collection_spec(collection);
        let (from, mine) = super::sealed_values::owned_rows(collection, 1);
        let order = order_list(order);
        let Some(sealing) = collection.sealed else {
            let rows = self
                .export_rows(&spec, &from, &mine, &order, "", user)
                .await?;
            return rows
                .iter()
                .map(|row| record(row, &spec))
                .collect::<Result<_, _>>()
                .map(CollectionRecords::Plain);
        };
        let rows = self
            .export_rows(
                &spec,
                &from,
                &mine,
                &order,
                &format!(", t.{}, t.{}", sealing.ciphertext, sealing.nonce),
                user,
            )
            .await?;
        let records = rows
            .iter()
            .map(|row| {
                let ciphertext = row.opt_bytes(sealing.ciphertext)?;
                let nonce = row.opt_bytes(sealing.nonce)?;
                Ok(SealedRecord {
                    fields: record(row, &spec)?,
                    sealed: ciphertext.zip(nonce),
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok(CollectionRecords::Sealed { sealing, records })
    }

    /// The user's rows of a child collection, ordered by parent and then `order`.
    async fn export_children(
        &self,
        collection: &'static Collection,
        link: &str,
        parent: &str,
        order: &[&str],
        user: Uuid,
    ) -> Result<Vec<Map<String, Value>>, DbError> {
        let spec = collection_spec(collection);
        let from = format!("{} t JOIN {parent} p ON p.id = t.{link}", collection.name);
        let order = format!("t.{link}, {}", order_list(order));
        self.export_rows(&spec, &from, "p.user_id = $1", &order, "", user)
            .await?
            .iter()
            .map(|row| record(row, &spec))
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
        let mut collections: Vec<ExportedCollection> = Vec::new();
        for collection in CATALOG {
            match (collection.export, collection.ownership) {
                (Export::List { order, .. }, Ownership::User | Ownership::Parent { .. }) => {
                    let records = self.export_owned(collection, order, user).await?;
                    collections.push(ExportedCollection {
                        collection,
                        records,
                    });
                }
                (Export::One { .. }, Ownership::User) => {
                    let records = self.export_owned(collection, &["id"], user).await?;
                    collections.push(ExportedCollection {
                        collection,
                        records,
                    });
                }
                (Export::Nested { key, order }, Ownership::Parent { column, table }) => {
                    let children = self
                        .export_children(collection, column, table, order, user)
                        .await?;
                    let parent = collections
                        .iter_mut()
                        .find(|exported| exported.collection.name == table);
                    if let Some(parent) = parent {
                        nest(parent.records.fields_mut(), key, children, column);
                    }
                }
                // Shared rows are nobody's; the catalog's consistency test refuses any
                // other combination.
                _ => {}
            }
        }
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
            collections,
        }))
    }
}

/// Moves each child into its parent's `key` array (matched by the child's `parent_column`),
/// dropping the now redundant parent column from the child.
fn nest<'a>(
    parents: impl Iterator<Item = &'a mut Map<String, Value>>,
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
