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
    /// The most PostgreSQL connections this process opens. Every replica opens up to this
    /// many, so replicas × this must stay below the server's `max_connections` (100 by
    /// default) with room for migrations and administration. SQLite ignores it.
    #[arg(long = "db-max-connections", env = "MINDFLOW_DB_MAX_CONNECTIONS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,
    /// Where wearable providers' origins go instead, for a provider's sandbox or a
    /// simulator: `https://api.ouraring.com=http://127.0.0.1:9000,…`. Applies to the
    /// adapters' requests and the host's OAuth endpoints alike.
    #[arg(long, env = "MINDFLOW_WEARABLE_ORIGINS", default_value = "")]
    pub wearable_origins: String,
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
    /// The `llm` capability's provider and limits.
    #[command(flatten)]
    pub llm: LlmConfig,
}

/// Which language-model provider the `llm` capability calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LlmProviderKind {
    /// SmolLM2-135M-Instruct in this process (offline; `MINDFLOW_LLM_MODEL`).
    #[default]
    Local,
    /// An OpenAI-compatible API (OpenAI, vLLM, llama.cpp's server, Ollama).
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// The `llm` capability's settings. The API key is read from `MINDFLOW_LLM_API_KEY` only
/// (never a flag, so it is not in a process listing) and never printed.
#[derive(Debug, Clone, Args)]
pub struct LlmConfig {
    /// The provider: `local` (default; offline), `openai` or `anthropic`.
    #[arg(long, env = "MINDFLOW_LLM_PROVIDER", value_enum, default_value_t = LlmProviderKind::Local)]
    pub llm_provider: LlmProviderKind,
    /// The local model: a GGUF file, or a folder holding one (`scripts/fetch-llm.sh` fetches
    /// SmolLM2-135M-Instruct and prints its path). Unset: the local provider is off and `llm`
    /// calls fail; set to a missing or non-GGUF file: start-up fails.
    #[arg(long, env = "MINDFLOW_LLM_MODEL")]
    pub llm_model: Option<PathBuf>,
    /// The API's base URL, version included (default `https://api.openai.com/v1` or
    /// `https://api.anthropic.com/v1`; e.g. `http://127.0.0.1:11434/v1` for Ollama).
    #[arg(long, env = "MINDFLOW_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// The model a remote provider is asked for (default `gpt-4o-mini` or
    /// `claude-3-5-haiku-latest`).
    #[arg(long, env = "MINDFLOW_LLM_MODEL_NAME")]
    pub llm_model_name: Option<String>,
    /// The embedding model of an OpenAI-compatible provider.
    #[arg(
        long,
        env = "MINDFLOW_LLM_EMBEDDING_MODEL",
        default_value = "text-embedding-3-small"
    )]
    pub llm_embedding_model: String,
    /// How long connecting to a remote provider may take, in milliseconds.
    #[arg(long, env = "MINDFLOW_LLM_CONNECT_TIMEOUT_MS", default_value_t = 5_000)]
    pub llm_connect_timeout_ms: u64,
    /// How long one attempt of a remote call may take, answer included, in milliseconds.
    #[arg(long, env = "MINDFLOW_LLM_TIMEOUT_MS", default_value_t = 60_000)]
    pub llm_timeout_ms: u64,
    /// Attempts of a remote call in all (retries on 429, 5xx and failed connections, with
    /// back-off; never once a streamed answer has begun).
    #[arg(long, env = "MINDFLOW_LLM_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub llm_attempts: u32,
    /// Compute threads of the local model (one generation runs at a time); candle's
    /// `CANDLE_NUM_THREADS` is set to it at start-up unless the environment sets it.
    #[arg(long, env = "MINDFLOW_LLM_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub llm_threads: u64,
    /// Sampling seed of the local model at temperatures above 0 (default: one per call).
    #[arg(long, env = "MINDFLOW_LLM_SEED")]
    pub llm_seed: Option<u64>,
    /// Answered `llm` calls a free user may make per UTC day.
    #[arg(long, env = "MINDFLOW_LLM_FREE_MESSAGES_PER_DAY", default_value_t = 50)]
    pub llm_free_messages_per_day: u64,
    /// Tokens (prompt and answer) a free user may use per UTC day.
    #[arg(
        long,
        env = "MINDFLOW_LLM_FREE_TOKENS_PER_DAY",
        default_value_t = 50_000
    )]
    pub llm_free_tokens_per_day: u64,
    /// Answered `llm` calls a premium user may make per UTC day.
    #[arg(
        long,
        env = "MINDFLOW_LLM_PREMIUM_MESSAGES_PER_DAY",
        default_value_t = 500
    )]
    pub llm_premium_messages_per_day: u64,
    /// Tokens (prompt and answer) a premium user may use per UTC day.
    #[arg(
        long,
        env = "MINDFLOW_LLM_PREMIUM_TOKENS_PER_DAY",
        default_value_t = 500_000
    )]
    pub llm_premium_tokens_per_day: u64,
    /// Upper bound on `max-tokens` of one call (a larger request is lowered to it).
    #[arg(long, env = "MINDFLOW_LLM_MAX_TOKENS", default_value_t = 1024)]
    pub llm_max_tokens: u32,
}

impl LlmConfig {
    /// The API key (`MINDFLOW_LLM_API_KEY`), if set and not empty.
    pub fn api_key(&self) -> Option<crate::secrets::Secret> {
        std::env::var("MINDFLOW_LLM_API_KEY")
            .ok()
            .filter(|key| !key.trim().is_empty())
            .map(|key| crate::secrets::Secret::new(key.trim().to_owned()))
    }
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
    /// Serve `GET /metrics` (Prometheus text format) on this separate address; unset: no
    /// metrics endpoint. Bind it to a private interface: it has no authentication.
    #[arg(long, env = "MINDFLOW_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The local hour (0–23, in each user's own time zone) from which a component's nightly
    /// job may run for that user's day.
    #[arg(long, env = "MINDFLOW_NIGHTLY_HOUR", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..24))]
    pub nightly_hour: u32,
    /// How often (ms) the scheduler looks for users whose nightly run is due.
    #[arg(long, env = "MINDFLOW_NIGHTLY_TICK_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub nightly_tick_ms: u64,
    /// How many nightly runs one replica makes at once (the rest of its cores keep serving).
    #[arg(long, env = "MINDFLOW_NIGHTLY_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub nightly_concurrency: u64,
    /// Request rate limits by route class.
    #[command(flatten)]
    pub rate_limits: RateLimitConfig,
    /// The service's public base URL (`https://api.example.com`): wearable OAuth callbacks
    /// are `<it>/api/v1/wearables/callback/<provider>`. Unset: the request's own host.
    #[arg(long, env = "MINDFLOW_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How often (ms) each replica looks for wearable connections due a sync.
    #[arg(long, env = "MINDFLOW_WEARABLE_SYNC_TICK_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(50..))]
    pub wearable_sync_tick_ms: u64,
    /// Minutes between two successful syncs of a connection (webhooks bring data sooner).
    #[arg(long, env = "MINDFLOW_WEARABLE_SYNC_INTERVAL_MINUTES", default_value_t = 360, value_parser = clap::value_parser!(u64).range(1..=10_080))]
    pub wearable_sync_interval_minutes: u64,
    /// The first back-off (ms) after a failed sync; doubled per failure up to six hours,
    /// with full jitter.
    #[arg(long, env = "MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub wearable_sync_backoff_ms: u64,
    /// How many wearable connections one replica syncs at once (each under its own lease).
    #[arg(long, env = "MINDFLOW_WEARABLE_SYNC_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub wearable_sync_concurrency: u64,
    /// Trace export (OpenTelemetry's `OTEL_*` variables).
    #[command(flatten)]
    pub otlp: crate::otlp::OtlpConfig,
    /// Mount `GET /bench/native`, the native twin of the dispatch benchmark's component.
    #[arg(long, env = "MINDFLOW_BENCH_NATIVE", hide = true)]
    pub bench_native: bool,
}

/// Request rate limits (`edge::ratelimit`): a limit per route class, each written
/// `QUOTA/WINDOW` (`6000/60s`, `60/1m`, `10/1h`) or `off`. Counted per user when a request
/// carries a valid access token, else per client address (`auth` always per address).
#[derive(Debug, Clone, Args)]
pub struct RateLimitConfig {
    /// `off` turns every request rate limit off (login throttling stays).
    #[arg(long = "rate-limits", env = "MINDFLOW_RATE_LIMITS", default_value = "on", value_parser = ["on", "off"])]
    pub enabled: String,
    /// `/api/v1/auth/*`, per client address.
    #[arg(
        long = "rate-limit-auth",
        env = "MINDFLOW_RATE_LIMIT_AUTH",
        default_value = "60/60s"
    )]
    pub auth: String,
    /// POST, PUT, PATCH and DELETE elsewhere.
    #[arg(
        long = "rate-limit-writes",
        env = "MINDFLOW_RATE_LIMIT_WRITES",
        default_value = "1200/60s"
    )]
    pub writes: String,
    /// GET and HEAD.
    #[arg(
        long = "rate-limit-reads",
        env = "MINDFLOW_RATE_LIMIT_READS",
        default_value = "6000/60s"
    )]
    pub reads: String,
    /// Changes under `/api/v1/chat` (sending a message), also each message over the
    /// WebSocket relay.
    #[arg(
        long = "rate-limit-chat",
        env = "MINDFLOW_RATE_LIMIT_CHAT",
        default_value = "60/60s"
    )]
    pub chat: String,
    /// Component uploads (`POST /api/v1/admin/components/{name}/versions`).
    #[arg(
        long = "rate-limit-uploads",
        env = "MINDFLOW_RATE_LIMIT_UPLOADS",
        default_value = "30/60s"
    )]
    pub uploads: String,
    /// Keys (class and user or address) the in-process limiter holds at most; past it, the
    /// keys nearest to idle are forgotten.
    #[arg(
        long = "rate-limit-keys",
        env = "MINDFLOW_RATE_LIMIT_KEYS",
        default_value_t = 100_000
    )]
    pub keys: usize,
    /// `redis://[user:password@]host[:port][/db]`: share the limits of every replica through
    /// this Redis. A secret (it may hold a password): never logged. Unset: in process.
    #[arg(long = "redis-url", env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// How long a check waits for Redis before it is made in process instead.
    #[arg(
        long = "redis-timeout-ms",
        env = "MINDFLOW_REDIS_TIMEOUT_MS",
        default_value_t = 50
    )]
    pub redis_timeout_ms: u64,
}
