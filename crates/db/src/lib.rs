//! The database: SQLite (embedded, the default) or PostgreSQL + pgvector, behind one API.
//!
//! A crate of its own (`mindflow-db`, the host's `db`): storage with its catalog and SQL
//! builder depends on nothing of the host, so the compiler keeps the one place that writes SQL
//! apart, and touching a host file does not recompile it.
//!
//! Invariant: only this module writes SQL. Queries are written once, with `$1`-style
//! placeholders that both backends accept, and values cross as [`Param`]s so each backend
//! gets its own encoding (UUIDs as text in SQLite, timestamps as RFC 3339 text in UTC).
//! SQL text is only ever this module's own constants (with `$n` placeholders for every
//! value), which is why passing it through `AssertSqlSafe` is sound.
//! SQLite runs in WAL mode with `synchronous = FULL`: a committed write survives a crash.
//! SQLite allows one writer at a time; its own remedy for contention is a busy handler that
//! sleeps and retries, which under load gives the writes a tail fifty times their median.
//! So this process queues its SQLite writes fairly itself ([`WriterQueue`]): one write
//! statement or write transaction at a time, first come first served, while reads run on the
//! other connections in parallel (WAL readers never wait for the writer).

mod params;
mod row;

pub mod audit;
pub mod auth;
pub mod backfill;
pub mod catalog;
pub mod collections;
pub mod components;
pub mod content;
pub mod crisis;
pub mod data_keys;
pub mod export;
pub mod llm_usage;
pub mod nightly;
pub mod outbox;
pub mod profiles;
pub mod registrations;
pub mod retention;
mod rollups;
pub mod sealed_values;
pub mod sqlite_vector;
pub mod users;
pub mod wearables;

/// Fresh migrated databases for tests (this crate's and the host's, through the `testing`
/// feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// Unit tests' record of the statements this module runs.
#[cfg(test)]
pub mod statement_log;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

pub use params::Param;
pub use row::DbRow;

/// Which database is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL with pgvector.
    Postgres,
}

/// A database failure.
#[derive(Debug, Error)]
pub enum DbError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value did not have the expected shape.
    #[error("unexpected value in column `{column}`: {message}")]
    Decode {
        /// The column.
        column: String,
        /// What was wrong.
        message: String,
    },
    /// The configuration is wrong.
    #[error("database configuration: {0}")]
    Config(String),
    /// A text value holds a NUL character, which PostgreSQL cannot store (and no text a
    /// person writes holds): bad input, refused before any SQL runs.
    #[error("a text value contains a NUL character")]
    NulInText,
}

impl DbError {
    /// Whether the error is a uniqueness or foreign-key violation.
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Sqlx(sqlx::Error::Database(e)) => {
                e.is_unique_violation() || e.is_foreign_key_violation()
            }
            _ => false,
        }
    }
}

/// A pool on one of the backends.
#[derive(Clone, Debug)]
pub enum Database {
    /// SQLite, and the queue its writes take turns in.
    Sqlite(SqlitePool, WriterQueue),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// How long a SQLite write waits for its turn before it fails as the pool's timeout does
/// (the same bound the busy handler had, so a mistake can never hang a request).
const WRITER_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// The turn-taking of one SQLite database's writers in this process: a FIFO queue of one
/// (tokio's semaphore is fair), so writers are served in arrival order and never sleep in
/// SQLite's busy handler. A transaction holds its turn until it commits or rolls back.
#[derive(Clone, Debug)]
pub struct WriterQueue(Arc<Semaphore>);

impl WriterQueue {
    fn new() -> Self {
        Self(Arc::new(Semaphore::new(1)))
    }

    /// The turn `sql` needs: a writer's turn if it may write, none for a read.
    async fn turn_for(&self, sql: &str) -> Result<Option<OwnedSemaphorePermit>, DbError> {
        if may_write(sql) {
            Ok(Some(self.turn().await?))
        } else {
            Ok(None)
        }
    }

    /// Waits for this writer's turn.
    async fn turn(&self) -> Result<OwnedSemaphorePermit, DbError> {
        match tokio::time::timeout(WRITER_TURN_TIMEOUT, Arc::clone(&self.0).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(DbError::Sqlx(sqlx::Error::PoolClosed)),
            Err(_elapsed) => Err(DbError::Sqlx(sqlx::Error::PoolTimedOut)),
        }
    }
}

/// Whether a statement may write: anything but a plain `SELECT` (or `EXPLAIN`) takes a
/// writer's turn on SQLite.
fn may_write(sql: &str) -> bool {
    let head = sql.trim_start();
    let starts = |word: &str| {
        head.get(..word.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(word))
    };
    !(starts("SELECT") || starts("EXPLAIN"))
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// PostgreSQL connections a process opens unless told otherwise.
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 32;

/// A pooled PostgreSQL connection idle for longer than this is pinged before it is handed
/// out; one used more recently is handed out as it is.
///
/// sqlx pings every connection it hands out by default (`test_before_acquire`): a round
/// trip to the server before every statement's own, which under load was a third of the
/// round trips a read made and most of the pool's cost. A connection in steady use has just
/// shown it works (sqlx also pings it when it comes back to the pool, and closes it if that
/// fails), so only one that sat idle, where a server restart, an idle timeout or a dropped
/// network path may have ended it unseen, is worth the round trip.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

impl Database {
    /// Connects to `url` (`postgres://…` or `sqlite://…`), or to `mindflow.db` in `data_dir`
    /// when no URL is given.
    ///
    /// # Errors
    /// [`DbError`] when the database cannot be opened.
    pub async fn connect(url: Option<&str>, data_dir: &Path) -> Result<Self, DbError> {
        Self::connect_sized(url, data_dir, DEFAULT_POSTGRES_CONNECTIONS).await
    }

    /// As [`connect`](Self::connect), opening at most `postgres_max` PostgreSQL connections
    /// (SQLite keeps its own small pool: one writer at a time whatever the size).
    ///
    /// # Errors
    /// [`DbError`] when the database cannot be opened.
    pub async fn connect_sized(
        url: Option<&str>,
        data_dir: &Path,
        postgres_max: u32,
    ) -> Result<Self, DbError> {
        match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(postgres_max.max(1))
                    .acquire_timeout(Duration::from_secs(5))
                    .test_before_acquire(false)
                    .before_acquire(|connection, meta| {
                        Box::pin(async move {
                            if meta.idle_for > PING_WHEN_IDLE_FOR {
                                sqlx::Connection::ping(connection).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(options)
                    .await?;
                Ok(Self::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => {
                Self::open_sqlite(SqliteConnectOptions::from_str(url)?).await
            }
            Some(other) => Err(DbError::Config(format!(
                "DATABASE_URL must start with postgres:// or sqlite:, not `{}`",
                other.split(':').next().unwrap_or_default()
            ))),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    DbError::Config(format!("cannot create {}: {e}", data_dir.display()))
                })?;
                Self::open_sqlite(
                    SqliteConnectOptions::new().filename(data_dir.join("mindflow.db")),
                )
                .await
            }
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> Result<Self, DbError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted content is overwritten in the file, not left in free pages: a shredded
            // data key or a deleted note cannot be read back from the database file.
            .pragma("secure_delete", "ON")
            // Reads map the file instead of copying each page into the connection's cache: a
            // memory search scans every page of a person's messages (`sqlite_vector`).
            .pragma("mmap_size", "268435456")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    let mut handle = connection.lock_handle().await?;
                    sqlite_vector::register(handle.as_raw_handle()).map_err(|code| {
                        sqlx::Error::Configuration(
                            format!(
                                "cannot register {}: SQLite result code {code}",
                                sqlite_vector::COSINE_DISTANCE
                            )
                            .into(),
                        )
                    })
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self::Sqlite(pool, WriterQueue::new()))
    }

    /// The connection pool now: `(open connections, idle ones, the most it may open)`.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        match self {
            Self::Sqlite(pool, _) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Self::Postgres(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(..) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs the embedded migrations (idempotent), then installs the storage rollups'
    /// triggers (rebuilding the rollups when those changed; see [`Database::install_rollups`]).
    ///
    /// # Errors
    /// [`DbError`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(pool, queue) => {
                let _turn = queue.turn().await?;
                SQLITE_MIGRATIONS.run(pool).await?;
            }
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        self.install_rollups().await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.fetch_optional("SELECT 1 AS one", &[]).await.is_ok()
    }

    /// Runs a statement; returns the rows affected.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(pool, queue) => {
                    let _turn = queue.turn_for(sql).await?;
                    params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                        .execute(pool)
                        .await?
                        .rows_affected()
                }
                Self::Postgres(pool) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Fetches at most one row.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn fetch_optional(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<DbRow>, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(pool, queue) => {
                    let _turn = queue.turn_for(sql).await?;
                    params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                        .fetch_optional(pool)
                        .await?
                        .map(DbRow::Sqlite)
                }
                Self::Postgres(pool) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_optional(pool)
                    .await?
                    .map(DbRow::Postgres),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Fetches all rows.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn fetch_all(&self, sql: &str, params: &[Param]) -> Result<Vec<DbRow>, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(pool, queue) => {
                    let _turn = queue.turn_for(sql).await?;
                    params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                        .fetch_all(pool)
                        .await?
                        .into_iter()
                        .map(DbRow::Sqlite)
                        .collect()
                }
                Self::Postgres(pool) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .map(DbRow::Postgres)
                    .collect(),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn begin(&self) -> Result<Transaction, DbError> {
        Ok(match self {
            Self::Sqlite(pool, queue) => {
                // The turn first, then a connection: a queued writer holds no connection.
                let turn = queue.turn().await?;
                Transaction::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Self::Postgres(pool) => Transaction::Postgres(pool.begin().await?),
        })
    }
}

/// An open transaction; dropped without [`Transaction::commit`] it rolls back.
pub enum Transaction {
    /// SQLite, holding the writer's turn until it ends.
    Sqlite(
        sqlx::Transaction<'static, sqlx::Sqlite>,
        OwnedSemaphorePermit,
    ),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Transaction {
    /// Runs a statement in the transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(tx, _) => params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                Self::Postgres(tx) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Fetches at most one row in the transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<DbRow>, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(tx, _) => params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(DbRow::Sqlite),
                Self::Postgres(tx) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(DbRow::Postgres),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Fetches all rows in the transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn fetch_all(&mut self, sql: &str, params: &[Param]) -> Result<Vec<DbRow>, DbError> {
        #[cfg(test)]
        statement_log::record(sql, params);
        params::refuse_nul(params)?;
        async {
            Ok::<_, DbError>(match self {
                Self::Sqlite(tx, _) => params::bind_sqlite(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .map(DbRow::Sqlite)
                    .collect(),
                Self::Postgres(tx) => params::bind_pg(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .map(DbRow::Postgres)
                    .collect(),
            })
        }
        .instrument(statement_span(sql))
        .await
    }

    /// Which backend the transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(..) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Commits.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(tx, _turn) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The `tracing` span of one statement (debug level: off unless `RUST_LOG` asks for
/// `mindflow_db=debug`). The SQL is this crate's own text with `$n` placeholders, never a
/// value, so it holds no user data; it is cut to its first 160 characters.
fn statement_span(sql: &str) -> tracing::Span {
    let verb = sql.split_whitespace().next().unwrap_or("");
    let text: String = sql.chars().take(160).collect();
    tracing::debug_span!("db.statement", verb, sql = %text)
}
