//! A direct connection to a test server's database, for what no endpoint writes or shows:
//! records written as a component would, counts of rows at rest.
//!
//! Statements are written once with `$N` placeholders; on PostgreSQL each is cast to the
//! column's type ([`Param`]), SQLite gets the text forms its schema stores.

use std::time::Duration;

use sqlx::{Connection as _, Row as _};

use crate::Server;

/// A value bound into a test's own SQL.
#[derive(Clone, Debug)]
pub enum Param {
    /// A UUID, as text.
    Uuid(String),
    /// An RFC 3339 instant.
    Time(&'static str),
    /// A `YYYY-MM-DD` date.
    Date(&'static str),
    /// A JSON document.
    Json(&'static str),
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Param {
    /// The PostgreSQL type a placeholder of this value is cast to, if any.
    fn pg_type(&self) -> Option<&'static str> {
        match self {
            Self::Uuid(_) => Some("UUID"),
            Self::Time(_) => Some("TIMESTAMPTZ"),
            Self::Date(_) => Some("DATE"),
            Self::Json(_) => Some("JSONB"),
            _ => None,
        }
    }
}

/// `sql` with each `$N` whose value needs it wrapped in `CAST($N AS TYPE)`.
fn pg_casts(sql: &str, values: &[Param]) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 {
                let n: usize = sql[i + 1..j].parse().expect("placeholder");
                let placeholder = &sql[i..j];
                match values.get(n - 1).and_then(Param::pg_type) {
                    Some(ty) => out.push_str(&format!("CAST({placeholder} AS {ty})")),
                    None => out.push_str(placeholder),
                }
                i = j;
                continue;
            }
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

/// A direct connection to a server's database.
pub enum Db {
    /// PostgreSQL.
    Pg(sqlx::PgConnection),
    /// SQLite (the server's file, foreign keys on).
    Lite(sqlx::SqliteConnection),
}

macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value.clone() {
                Param::Uuid(s) | Param::Text(s) => query.bind(s),
                Param::Time(s) | Param::Date(s) | Param::Json(s) => query.bind(s.to_owned()),
                Param::Int(i) => query.bind(i),
                Param::Bytes(b) => query.bind(b),
            };
        }
        query
    }};
}

impl Db {
    /// Connects to `server`'s database.
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub async fn open(server: &Server) -> Self {
        match &server.database_url {
            Some(url) => Self::Pg(sqlx::PgConnection::connect(url).await.expect("postgres")),
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(server.data_dir.join("mindflow.db"))
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                Self::Lite(
                    sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .expect("sqlite"),
                )
            }
        }
    }

    /// Runs a statement.
    ///
    /// # Panics
    /// When it fails (with the statement and the error).
    pub async fn exec(&mut self, sql: &str, values: &[Param]) {
        match self {
            Self::Pg(connection) => {
                let sql = pg_casts(sql, values);
                bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), values)
                    .execute(&mut *connection)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Self::Lite(connection) => {
                bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), values)
                    .execute(&mut *connection)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// The first column of the one row a query (`SELECT count(*) ...`) answers.
    ///
    /// # Panics
    /// When the query fails.
    pub async fn count(&mut self, sql: &str, values: &[Param]) -> i64 {
        match self {
            Self::Pg(connection) => {
                let sql = pg_casts(sql, values);
                bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
                    .fetch_one(&mut *connection)
                    .await
                    .expect("count")
                    .get::<i64, _>(0)
            }
            Self::Lite(connection) => {
                bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), values)
                    .fetch_one(&mut *connection)
                    .await
                    .expect("count")
                    .get::<i64, _>(0)
            }
        }
    }

    /// The `(id, value)` pairs a query answers (`id` text, `value` bytes).
    pub async fn rows_of_bytes(&mut self, sql: &str) -> Vec<(String, Vec<u8>)> {
        let pairs = |rows: Vec<(String, Vec<u8>)>| rows;
        match self {
            Self::Pg(connection) => pairs(
                sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_all(&mut *connection)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}")),
            ),
            Self::Lite(connection) => pairs(
                sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_all(&mut *connection)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}")),
            ),
        }
    }
}
