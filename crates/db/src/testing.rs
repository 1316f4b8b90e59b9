//! Fresh, migrated databases for the host's unit tests: SQLite in a temporary folder, and
//! PostgreSQL when `MINDFLOW_TEST_DATABASE_URL` names a server (as `cargo xtask test` sets
//! it), each test with a database of its own.

use sqlx::Connection;
use uuid::Uuid;

use super::Database;

/// A migrated SQLite database and the folder that holds it (removed when dropped).
pub async fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::connect(None, dir.path()).await.expect("sqlite");
    db.migrate().await.expect("migrate");
    (db, dir)
}

/// A new migrated PostgreSQL database and its URL; `None` without a test server.
pub async fn postgres() -> Option<(Database, String)> {
    let server = std::env::var("MINDFLOW_TEST_DATABASE_URL").ok()?;
    let name = format!("mf_unit_{}", Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&server).await.expect("pg");
    // `name` is made here from a UUID.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create database");
    let (base, _) = server.rsplit_once('/').expect("database part");
    let url = format!("{base}/{name}");
    let db = Database::connect(Some(&url), std::path::Path::new("."))
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    Some((db, url))
}
