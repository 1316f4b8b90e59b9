//! Rows read back, with typed accessors that hide each backend's encoding.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::DbError;

/// A row from either backend.
pub enum DbRow {
    /// SQLite.
    Sqlite(SqliteRow),
    /// PostgreSQL.
    Postgres(PgRow),
}

fn decode(column: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Decode {
        column: column.to_owned(),
        message: error.to_string(),
    }
}

/// The PostgreSQL type name (`INT2`, `FLOAT8`...) of a column of `row`.
fn pg_type<'r>(row: &'r PgRow, column: &str) -> Result<&'r str, DbError> {
    use sqlx::{Column, TypeInfo};
    row.try_column(column)
        .map(|c| c.type_info().name())
        .map_err(|e| decode(column, e))
}

impl DbRow {
    /// Optional text.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get(column),
            Self::Postgres(r) => r.try_get(column),
        }
        .map_err(|e| decode(column, e))
    }

    /// Text.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn text(&self, column: &str) -> Result<String, DbError> {
        self.opt_text(column)?
            .ok_or_else(|| decode(column, "unexpected NULL"))
    }

    /// A UUID.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn uuid(&self, column: &str) -> Result<Uuid, DbError> {
        self.opt_uuid(column)?
            .ok_or_else(|| decode(column, "unexpected NULL"))
    }

    /// An optional UUID.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, DbError> {
        match self {
            Self::Sqlite(r) => {
                let text: Option<String> = r.try_get(column).map_err(|e| decode(column, e))?;
                text.map(|t| Uuid::parse_str(&t).map_err(|e| decode(column, e)))
                    .transpose()
            }
            Self::Postgres(r) => r.try_get(column).map_err(|e| decode(column, e)),
        }
    }

    /// An integer (any width).
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn int(&self, column: &str) -> Result<i64, DbError> {
        self.opt_int(column)?
            .ok_or_else(|| decode(column, "unexpected NULL"))
    }

    /// A boolean.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn bool(&self, column: &str) -> Result<bool, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get(column),
            Self::Postgres(r) => r.try_get(column),
        }
        .map_err(|e| decode(column, e))
    }

    /// Bytes.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn bytes(&self, column: &str) -> Result<Vec<u8>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get(column),
            Self::Postgres(r) => r.try_get(column),
        }
        .map_err(|e| decode(column, e))
    }

    /// An optional instant.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        match self {
            Self::Sqlite(r) => {
                let text: Option<String> = r.try_get(column).map_err(|e| decode(column, e))?;
                text.map(|t| {
                    DateTime::parse_from_rfc3339(&t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| decode(column, e))
                })
                .transpose()
            }
            Self::Postgres(r) => r.try_get(column).map_err(|e| decode(column, e)),
        }
    }

    /// An instant.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type or NULL.
    pub fn time(&self, column: &str) -> Result<DateTime<Utc>, DbError> {
        self.opt_time(column)?
            .ok_or_else(|| decode(column, "unexpected NULL"))
    }

    /// An optional JSON document.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_json(&self, column: &str) -> Result<Option<serde_json::Value>, DbError> {
        match self {
            Self::Sqlite(r) => {
                let text: Option<String> = r.try_get(column).map_err(|e| decode(column, e))?;
                text.map(|t| serde_json::from_str(&t).map_err(|e| decode(column, e)))
                    .transpose()
            }
            Self::Postgres(r) => r
                .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(column)
                .map(|j| j.map(|j| j.0))
                .map_err(|e| decode(column, e)),
        }
    }

    /// An optional integer (any width).
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get::<Option<i64>, _>(column),
            // Decoded at the column's own width: trying the widths in turn would build (and
            // format) a mismatch error for every narrower column read.
            Self::Postgres(r) => match pg_type(r, column)? {
                "INT2" => r
                    .try_get::<Option<i16>, _>(column)
                    .map(|i| i.map(i64::from)),
                "INT4" => r
                    .try_get::<Option<i32>, _>(column)
                    .map(|i| i.map(i64::from)),
                _ => r.try_get::<Option<i64>, _>(column),
            },
        }
        .map_err(|e| decode(column, e))
    }

    /// An optional double-precision float.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_float(&self, column: &str) -> Result<Option<f64>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get::<Option<f64>, _>(column),
            Self::Postgres(r) => match pg_type(r, column)? {
                "FLOAT4" => r
                    .try_get::<Option<f32>, _>(column)
                    .map(|f| f.map(f64::from)),
                _ => r.try_get::<Option<f64>, _>(column),
            },
        }
        .map_err(|e| decode(column, e))
    }

    /// An optional boolean.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_bool(&self, column: &str) -> Result<Option<bool>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get(column),
            Self::Postgres(r) => r.try_get(column),
        }
        .map_err(|e| decode(column, e))
    }

    /// Optional bytes.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, DbError> {
        match self {
            Self::Sqlite(r) => r.try_get(column),
            Self::Postgres(r) => r.try_get(column),
        }
        .map_err(|e| decode(column, e))
    }

    /// An optional date.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_date(&self, column: &str) -> Result<Option<chrono::NaiveDate>, DbError> {
        match self {
            Self::Sqlite(r) => {
                let text: Option<String> = r.try_get(column).map_err(|e| decode(column, e))?;
                text.map(|t| {
                    chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|e| decode(column, e))
                })
                .transpose()
            }
            Self::Postgres(r) => r.try_get(column).map_err(|e| decode(column, e)),
        }
    }

    /// An optional embedding: a BLOB of little-endian f32s in SQLite; in PostgreSQL the
    /// query must select the `vector` column cast to `real[]`.
    ///
    /// # Errors
    /// A decode error naming the column when the row lacks it or it holds another type.
    pub fn opt_vector(&self, column: &str) -> Result<Option<Vec<f32>>, DbError> {
        match self {
            Self::Sqlite(r) => {
                let blob: Option<Vec<u8>> = r.try_get(column).map_err(|e| decode(column, e))?;
                blob.map(|b| {
                    if b.len() % 4 != 0 {
                        return Err(decode(column, "not a whole number of f32s"));
                    }
                    Ok(b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect())
                })
                .transpose()
            }
            Self::Postgres(r) => r.try_get(column).map_err(|e| decode(column, e)),
        }
    }
}
