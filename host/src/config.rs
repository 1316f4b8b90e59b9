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
    /// Base64 master key (32 bytes) wrapping the per-user data keys; generated into
    /// `<data-dir>/master-key` in development.
    #[arg(long, env = "MINDFLOW_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Comma-separated previous master keys: they still unwrap data keys until
    /// `mindflow keys rotate` re-wraps them under the current one.
    #[arg(long, env = "MINDFLOW_PREVIOUS_MASTER_KEYS", hide_env_values = true)]
    pub previous_master_keys: Option<String>,
    /// Dimension of the embedding vectors in `chat_messages.embedding` (fixed once the column
    /// exists; start-up refuses a different value).
    #[arg(long, env = "MINDFLOW_EMBEDDING_DIM", default_value_t = 384, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub embedding_dim: u32,
    /// The sentence-embedding model's folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors`): `scripts/fetch-models.sh` fetches all-MiniLM-L6-v2 and prints it.
    /// Required: crisis detection never falls back to a model-free signal.
    #[arg(long, env = "MINDFLOW_EMBEDDING_MODEL")]
    pub embedding_model: Option<PathBuf>,
    /// The SHA-256 the model's `model.safetensors` must have (default: all-MiniLM-L6-v2's).
    #[arg(long, env = "MINDFLOW_EMBEDDING_MODEL_SHA256", default_value = mindflow_ml::sentence::ALL_MINILM_L6_V2_SHA256)]
    pub embedding_model_sha256: String,
    /// How long unwrapped data keys stay cached, in seconds. Every process sharing a database
    /// must use the same value: a data-key rotation waits this long (plus a margin for
    /// clocks) before it erases the key it replaced.
    #[arg(long, env = "MINDFLOW_KEY_CACHE_TTL_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub key_cache_ttl_seconds: u64,
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
    /// Comma-separated OAuth client ids accepted as the audience of Google ID tokens; none
    /// turns sign-in with Google off.
    #[arg(long, env = "MINDFLOW_GOOGLE_CLIENT_IDS", value_delimiter = ',')]
    pub google_client_ids: Vec<String>,
    /// Comma-separated client ids (services ids, bundle ids) accepted as the audience of
    /// Apple ID tokens; none turns sign-in with Apple off.
    #[arg(long, env = "MINDFLOW_APPLE_CLIENT_IDS", value_delimiter = ',')]
    pub apple_client_ids: Vec<String>,
    /// Where Google publishes the keys that sign its ID tokens.
    #[arg(long, env = "MINDFLOW_GOOGLE_JWKS_URL", default_value = crate::identity::oidc::GOOGLE_JWKS_URL)]
    pub google_jwks_url: String,
    /// Where Apple publishes the keys that sign its ID tokens.
    #[arg(long, env = "MINDFLOW_APPLE_JWKS_URL", default_value = crate::identity::oidc::APPLE_JWKS_URL)]
    pub apple_jwks_url: String,
    /// How outbox mail is delivered (`file`: JSON files in `<data-dir>/outbox-mail/`).
    #[arg(long, env = "MINDFLOW_MAILER", value_enum, default_value_t = crate::mail::MailerKind::File)]
    pub mailer: crate::mail::MailerKind,
    /// The SMTP relay for `--mailer smtp`: `smtp://[user:password@]host[:port][?tls=required]`
    /// (STARTTLS) or `smtps://…` (TLS from the start). A secret: never logged.
    #[arg(long, env = "MINDFLOW_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of outgoing mail for `--mailer smtp` (`MindFlow <no-reply@example.com>`).
    #[arg(long, env = "MINDFLOW_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The lowest crisis severity that records a crisis event and shows resources
    /// (`low`, `moderate`, `high` or `imminent`).
    #[arg(long, env = "MINDFLOW_CRISIS_THRESHOLD", default_value = "moderate")]
    pub crisis_threshold: String,
    /// Comma-separated addresses and CIDR ranges of the reverse proxies in front of the
    /// service: from them, the client's address is read from `X-Forwarded-For` (login
    /// throttling, session and consent records). None by default: the header is ignored.
    #[arg(long, env = "MINDFLOW_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// How long a request's head may take to arrive, and a keep-alive connection may stay
    /// idle, in milliseconds: a slow or idle client is disconnected after it.
    #[arg(
        long,
        env = "MINDFLOW_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_read_timeout_ms: u64,
    /// Open connections one client address may hold at once (trusted proxies are exempt).
    /// Generous, because many people can share one address (a campus, a carrier's NAT).
    #[arg(
        long,
        env = "MINDFLOW_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 1024
    )]
    pub max_connections_per_address: usize,
    /// Registrations one client address may start in 15 minutes (each costs a password
    /// hash and a mail); more answer 429 with `Retry-After`.
    #[arg(
        long,
        env = "MINDFLOW_REGISTRATIONS_PER_ADDRESS",
        default_value_t = crate::identity::throttle::REGISTRATION_LIMIT
    )]
    pub registrations_per_address: usize,
    /// Mount `GET /bench/native`, the native twin of the dispatch benchmark's component.
    #[arg(long, env = "MINDFLOW_BENCH_NATIVE", hide = true)]
    pub bench_native: bool,
}
