//! Test support: start the real `mindflow` binary on a fresh database with a manifest made
//! for the test, and talk HTTP to it.
//!
//! - [`server`] / [`Server::start`]: a running server; [`start_failure`]: one that must refuse
//!   to start;
//! - [`manifest`](mod@manifest): manifests, from the repository's `spin.toml`
//!   ([`Manifest::product`]) or for test-only components;
//! - [`accounts`]: addresses, registration, login; [`http`]: requests and their answers;
//!   [`admin`]: component versions through the admin API; [`database`]: the server's
//!   database, directly; [`smtp`]: a fake mail relay; [`llm_double`]: a language-model
//!   provider double (OpenAI and Anthropic wire formats); [`redis`](mod@redis): a throwaway
//!   `redis-server` (`MINDFLOW_REDIS_SERVER`); [`balancer`]: a real HAProxy in front of
//!   replicas (`MINDFLOW_HAPROXY`); [`metrics`]: a server's Prometheus metrics;
//!   [`collector`]: an OpenTelemetry collector double (OTLP/HTTP JSON); [`webdriver`]: a
//!   headless Chromium driven over W3C WebDriver (`MINDFLOW_CHROMEDRIVER`);
//!   [`providers`]: wearable provider simulators.
//!
//! Environment (set by `cargo xtask test`):
//! - `MINDFLOW_BIN`: the binary (default `target/debug/mindflow`);
//! - `MINDFLOW_COMPONENTS_DIR`: the built components (default `target/components`);
//! - `MINDFLOW_TEST_BACKEND`: `sqlite` (default) or `postgres`;
//! - `MINDFLOW_TEST_DATABASE_URL`: a PostgreSQL server URL (each test gets its own database);
//! - `MINDFLOW_REDIS_SERVER`, `MINDFLOW_HAPROXY`, `MINDFLOW_CHROMEDRIVER`: a
//!   `redis-server`, an `haproxy` and a `chromedriver` for the tests that need them (they
//!   fail, never skip, without them).

pub mod accounts;
pub mod admin;
pub mod balancer;
pub mod collector;
pub mod database;
pub mod http;
pub mod llm_double;
pub mod manifest;
pub mod metrics;
pub mod providers;
pub mod redis;
pub mod smtp;
pub mod webdriver;

pub use manifest::{Manifest, manifest};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::Connection;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `mindflow` binary under test.
pub fn binary() -> PathBuf {
    std::env::var_os("MINDFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/mindflow"))
}

/// A built component's path, e.g. `component("hello-spin")`.
pub fn component(name: &str) -> PathBuf {
    std::env::var_os("MINDFLOW_COMPONENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/components"))
        .join(format!("{name}.wasm"))
}

/// The compiled-component cache shared by every test server (keyed by content and engine).
fn shared_cache() -> PathBuf {
    workspace_root().join("target/test-cache")
}

/// Which database the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL 16 + pgvector.
    Postgres,
}

/// The backend selected by `MINDFLOW_TEST_BACKEND`.
pub fn backend() -> Backend {
    match std::env::var("MINDFLOW_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A fresh database for one test: `None` on SQLite (the server uses its data directory), a
/// new PostgreSQL database's URL otherwise.
///
/// # Errors
/// When `MINDFLOW_TEST_DATABASE_URL` is missing or the database cannot be created.
pub async fn fresh_database() -> Result<Option<String>> {
    if backend() == Backend::Sqlite {
        return Ok(None);
    }
    let server = std::env::var("MINDFLOW_TEST_DATABASE_URL").context(
        "MINDFLOW_TEST_DATABASE_URL must name a PostgreSQL server for the postgres backend",
    )?;
    database_on(&server).await.map(Some)
}

/// A new, empty database on the PostgreSQL server `server` (a URL naming any database on
/// it); its URL.
///
/// # Errors
/// When the database cannot be created.
pub async fn database_on(server: &str) -> Result<String> {
    let name = format!("mf_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(server).await?;
    // `name` is made here from a UUID: no outside text reaches the statement.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    let (base, _) = server
        .rsplit_once('/')
        .context("the PostgreSQL URL has no database part")?;
    let query = server
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{base}/{name}{query}"))
}

/// How to start a server.
pub struct ServerOptions {
    /// The manifest text.
    pub manifest: String,
    /// The database URL (`None`: SQLite in the data directory).
    pub database_url: Option<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Extra `serve` flags.
    pub flags: Vec<String>,
    /// Reuse this data directory (a restart) instead of a new one.
    pub data_dir: Option<PathBuf>,
}

impl ServerOptions {
    /// Options with a manifest and a fresh database of the selected backend.
    ///
    /// # Errors
    /// As [`fresh_database`].
    pub async fn new(manifest: impl Into<String>) -> Result<Self> {
        Ok(Self {
            manifest: manifest.into(),
            database_url: fresh_database().await?,
            env: Vec::new(),
            flags: Vec::new(),
            data_dir: None,
        })
    }
}

/// A running `mindflow serve`; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The manifest's path.
    pub manifest_path: PathBuf,
    /// The database URL, if PostgreSQL.
    pub database_url: Option<String>,
    _temp: Option<tempfile::TempDir>,
    log_path: PathBuf,
    /// An HTTP client.
    pub http: reqwest::Client,
}

/// The address a server's log says it is serving on (`mindflow is serving address=…`).
///
/// The server binds port 0 and reports the port it got: a port picked by the test and
/// released before the server binds it could be taken by another test's server meanwhile,
/// whose `/readyz` would then answer for this one.
fn serving_address(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("mindflow is serving"))?;
    let start = line.find("127.0.0.1:")?;
    let digits = line[start + "127.0.0.1:".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>();
    (!digits.is_empty()).then(|| format!("127.0.0.1:{digits}"))
}

impl Server {
    /// Starts a server and waits until `/readyz` answers 200.
    ///
    /// # Errors
    /// When the server exits or is not ready within a minute (with its log).
    pub async fn start(options: ServerOptions) -> Result<Self> {
        let (temp, data_dir) = match options.data_dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::Builder::new().prefix("mindflow-test").tempdir()?;
                let dir = temp.path().join("data");
                (Some(temp), dir)
            }
        };
        std::fs::create_dir_all(&data_dir)?;
        let manifest_path = data_dir.join("spin.toml");
        std::fs::write(&manifest_path, &options.manifest)?;
        let log_path = data_dir.join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(binary());
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--manifest")
            .arg(&manifest_path)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(&options.flags)
            .env("MINDFLOW_CACHE_DIR", shared_cache())
            .env("RUST_LOG", "info,sqlx=warn")
            // Every test client registers from 127.0.0.1; a test of the limit sets its own.
            .env("MINDFLOW_REGISTRATIONS_PER_ADDRESS", "100000")
            // Likewise every test client and benchmark load comes from one address: the
            // request rate limits stay on (their cost is in every figure) but out of reach.
            // A test of the limits sets its own.
            .env("MINDFLOW_RATE_LIMIT_AUTH", "1000000/60s")
            .env("MINDFLOW_RATE_LIMIT_WRITES", "1000000/60s")
            .env("MINDFLOW_RATE_LIMIT_READS", "1000000/60s")
            .env("MINDFLOW_RATE_LIMIT_CHAT", "1000000/60s")
            .env("MINDFLOW_RATE_LIMIT_UPLOADS", "1000000/60s")
            .env_remove("REDIS_URL")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = &options.database_url {
            command.env("DATABASE_URL", url);
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary().display()))?;
        let mut server = Self {
            child: Some(child),
            base: String::new(),
            data_dir,
            manifest_path,
            database_url: options.database_url,
            _temp: temp,
            log_path,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        // The first server on a new cache folder embeds the crisis rules' training texts
        // (about 15 s on two quiet cores); with the suite's servers starting in parallel on
        // a loaded machine that once took more than two minutes.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "mindflow exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            if self.base.is_empty()
                && let Some(address) = serving_address(&self.log())
            {
                self.base = format!("http://{address}");
            }
            if !self.base.is_empty()
                && let Ok(response) = self.http.get(self.url("/readyz")).send().await
                && response.status() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("mindflow was not ready within 120 s:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An absolute URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly
    /// (a process still running after 20 s is killed: not clean).
    ///
    /// # Errors
    /// When the process's status cannot be read.
    pub fn terminate(&mut self) -> Result<bool> {
        let Some(mut child) = self.child.take() else {
            return Ok(true);
        };
        let pid = i32::try_from(child.id()).unwrap_or(0);
        // SAFETY: `kill` only sends a signal; `pid` is our own child, not yet waited for, so
        // the id cannot have been reused by another process.
        #[allow(unsafe_code, reason = "SIGTERM is what this method is for")]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL (a crash: nothing is flushed or finished) and waits
    /// for it to be gone.
    ///
    /// # Errors
    /// When the process cannot be killed or waited for.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Runs the `mindflow` CLI against this server's data directory, manifest and database.
    ///
    /// # Errors
    /// When the binary cannot be run.
    pub fn cli(&self, args: &[&str]) -> Result<std::process::Output> {
        let mut command = Command::new(binary());
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--manifest")
            .arg(&self.manifest_path)
            .args(args)
            .env("MINDFLOW_CACHE_DIR", shared_cache())
            .env_remove("DATABASE_URL");
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        Ok(command.output()?)
    }

    /// Registers a user ([`accounts::register`]); returns the access token and the user id.
    ///
    /// # Errors
    /// As [`accounts::register`].
    pub async fn register(&self, email: &str) -> Result<(String, String)> {
        let body = accounts::register(self, email).await?;
        Ok((
            body["access_token"].as_str().unwrap_or_default().to_owned(),
            body["user"]["id"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Registers a user and grants them the admin role through the CLI; returns a token.
    ///
    /// # Errors
    /// When registration or the CLI fails.
    pub async fn admin_token(&self) -> Result<String> {
        let email = accounts::email("admin");
        let (token, _) = self.register(&email).await?;
        let output = self.cli(&["user", "grant-admin", &email])?;
        if !output.status.success() {
            bail!(
                "grant-admin failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A server started with `manifest` and a fresh database.
///
/// # Panics
/// When it does not start ([`Server::start`]).
pub async fn server(manifest: impl Into<String>) -> Server {
    server_with(manifest, &[]).await
}

/// A server started with `manifest`, a fresh database and extra environment `env`.
///
/// # Panics
/// When it does not start ([`Server::start`]).
pub async fn server_with(manifest: impl Into<String>, env: &[(&str, &str)]) -> Server {
    let mut options = ServerOptions::new(manifest).await.expect("options");
    options.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Server::start(options).await.expect("server")
}

/// Runs `mindflow` with a manifest and expects it to fail at start-up; returns its stderr.
///
/// # Errors
/// When it cannot be run, does not exit within two minutes, or starts.
pub async fn start_failure(manifest_text: &str) -> Result<String> {
    start_failure_with(manifest_text, &[]).await
}

/// [`start_failure`] with environment changes: `(name, Some(value))` sets a variable,
/// `(name, None)` removes it.
///
/// # Errors
/// As [`start_failure`].
pub async fn start_failure_with(
    manifest_text: &str,
    environment: &[(&str, Option<&str>)],
) -> Result<String> {
    let temp = tempfile::tempdir()?;
    let manifest_path = temp.path().join("spin.toml");
    std::fs::write(&manifest_path, manifest_text)?;
    let mut command = tokio::process::Command::new(binary());
    command
        .arg("--data-dir")
        .arg(temp.path().join("data"))
        .arg("--manifest")
        .arg(&manifest_path)
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("MINDFLOW_CACHE_DIR", shared_cache())
        .env_remove("DATABASE_URL");
    if let Some(url) = fresh_database().await? {
        command.env("DATABASE_URL", url);
    }
    for (name, value) in environment {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .context("mindflow did not exit")??;
    if output.status.success() {
        bail!("mindflow started with a manifest that should have been refused");
    }
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Whether `phrase` appears anywhere in the server's raw database: every byte of the SQLite
/// file and its write-ahead log, or every row of every PostgreSQL table as text (with bytea
/// rendered in hex, so the phrase is looked for in hex too).
///
/// # Errors
/// When the PostgreSQL database cannot be read.
pub async fn raw_database_contains(server: &Server, phrase: &str) -> Result<bool> {
    match &server.database_url {
        None => {
            let mut found = false;
            for name in ["mindflow.db", "mindflow.db-wal"] {
                if let Ok(bytes) = std::fs::read(server.data_dir.join(name)) {
                    found |= bytes
                        .windows(phrase.len())
                        .any(|window| window == phrase.as_bytes());
                }
            }
            Ok(found)
        }
        Some(url) => {
            let mut connection = sqlx::PgConnection::connect(url).await?;
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut connection)
            .await?;
            let hex = hex(phrase.as_bytes());
            for (table,) in tables {
                // Table names come from the catalog, not from outside input.
                let sql = format!(
                    "SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%' OR t::text LIKE '%' || $2 || '%'"
                );
                let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(phrase)
                    .bind(&hex)
                    .fetch_one(&mut connection)
                    .await?;
                if count > 0 {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// `bytes` in lowercase hexadecimal.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
