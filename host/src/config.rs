//! Configuration: command-line flags and environment variables (documented in README.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where the host keeps its state and finds its application.
#[derive(Debug, Clone, Args)]
pub struct CommonConfig {
    /// Folder for the SQLite database, compiled-component cache and development keys.
    #[arg(long, env = "MINDFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The application manifest (Spin manifest v2 with MindFlow grants).
    #[arg(long, env = "MINDFLOW_MANIFEST", default_value = "spin.toml")]
    pub manifest: PathBuf,
    /// `postgres://…` for PostgreSQL + pgvector, or `sqlite:…`; default: SQLite in the data
    /// directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where compiled components are cached (default: `<data-dir>/cache`).
    #[arg(long, env = "MINDFLOW_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CommonConfig {
    /// The compiled-component cache folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }
}

/// `mindflow serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "MINDFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Reload a component when its `.wasm` file changes (development).
    #[arg(long)]
    pub watch: bool,
    /// Base64 HS256 secret (at least 32 bytes) for access tokens; generated in development.
    #[arg(long, env = "MINDFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Comma-separated previous secrets, still accepted for verification after a rotation.
    #[arg(long, env = "MINDFLOW_JWT_PREVIOUS_SECRETS", hide_env_values = true)]
    pub jwt_previous_secrets: Option<String>,
    /// Mount `GET /bench/native`, the native twin of the dispatch benchmark's component.
    #[arg(long, env = "MINDFLOW_BENCH_NATIVE", hide = true)]
    pub bench_native: bool,
}
