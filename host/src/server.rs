//! Assembling the service: database, manifest, runtime, registry, edge.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use crate::capabilities::HostServices;
use crate::config::{CommonConfig, ServeConfig};
use crate::crisis::semantic::Semantic;
use crate::db::Database;
use crate::edge::{self, AppState};
use crate::identity::TokenKeys;
use crate::manifest::Manifest;
use crate::registry::{self, ComponentRegistry};
use crate::runtime::Runtime;
use mindflow_ml::sentence::SentenceEncoder;

/// Opens and migrates the database.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open_database(config: &CommonConfig) -> Result<Database> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = Database::connect_sized(
        config.database_url.as_deref(),
        &config.data_dir,
        config.db_max_connections,
    )
    .await
    .context("cannot open the database")?;
    db.migrate().await.context("cannot migrate the database")?;
    db.prepare_embedding_column(config.embedding_dim as usize)
        .await
        .context("cannot prepare chat_messages.embedding")?;
    Ok(db)
}

/// The host services capabilities reach: they exist before any component is prepared (the
/// crisis service learns the active rules from the registry through its
/// [`crate::crisis::rules::ActiveRules`] slot).
///
/// # Errors
/// When the master keys are misconfigured or the threshold is not a severity.
pub fn host_services(
    config: &CommonConfig,
    db: &Database,
    crisis_threshold: &str,
) -> Result<HostServices> {
    let keys = crate::crypto::KeyService::with_cache_ttl(
        db.clone(),
        crate::crypto::MasterKeys::from_config(config)?,
        std::time::Duration::from_secs(config.key_cache_ttl_seconds),
    );
    let encoder = sentence_encoder(config)?;
    let semantic = Semantic::new(encoder, Some(config.cache_dir().join("embeddings")))
        .context("cannot start the embedding worker")?;
    let llm =
        crate::llm::Llm::from_config(&config.llm).map_err(|message| anyhow::anyhow!(message))?;
    let origins = crate::runtime::adapter::OriginMap::parse(&config.wearable_origins)
        .map_err(|message| anyhow::anyhow!("MINDFLOW_WEARABLE_ORIGINS: {message}"))?;
    crate::wearables::budget::check_settings(
        std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }),
    )
    .map_err(|message| anyhow::anyhow!(message))?;
    HostServices::new(db.clone(), keys, crisis_threshold, semantic)
        .map(|services| services.with_llm(llm).with_wearable_origins(origins))
        .map_err(|message| anyhow::anyhow!(message))
}

/// Loads the sentence-embedding model the configuration names; a missing, corrupt or
/// mismatched model is an error that says how to fix it.
///
/// # Errors
/// When no model is configured or it cannot be loaded.
pub fn sentence_encoder(config: &CommonConfig) -> Result<Arc<SentenceEncoder>> {
    let fix = "run scripts/fetch-models.sh and set MINDFLOW_EMBEDDING_MODEL (or \
               --embedding-model) to the folder it prints; `cargo xtask run` does both";
    let dir = config
        .embedding_model
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no sentence-embedding model is configured: {fix}"))?;
    let encoder =
        SentenceEncoder::load(dir, Some(&config.embedding_model_sha256)).map_err(|error| {
            anyhow::anyhow!(
                "the sentence-embedding model in {}: {error}; {fix}",
                dir.display()
            )
        })?;
    if encoder.dimension() != config.embedding_dim as usize {
        // The column may be filled by another embedder (a provider's embeddings API); the
        // model's vectors then cannot be stored in it, which storage refuses per request.
        tracing::warn!(
            model = encoder.dimension(),
            column = config.embedding_dim,
            "ml.embed vectors do not have the dimension of chat_messages.embedding"
        );
    }
    Ok(Arc::new(encoder))
}

/// Loads the manifest and creates the registry (nothing loaded yet).
///
/// # Errors
/// When the manifest is invalid or the runtime cannot start.
pub fn registry(config: &CommonConfig, services: &HostServices) -> Result<Arc<ComponentRegistry>> {
    let manifest = Manifest::load(&config.manifest)?;
    let variables = crate::manifest::variables::resolve_application_variables(&manifest.variables)
        .map_err(|message| anyhow::anyhow!("manifest: {message}"))?;
    let runtime = Runtime::new(config.cache_dir())?;
    Ok(Arc::new(ComponentRegistry::new(
        runtime,
        services.db.clone(),
        Arc::new(manifest),
        variables,
        services.clone(),
    )))
}

/// Runs the service until SIGTERM or Ctrl-C; in-flight requests finish first.
///
/// # Errors
/// When start-up fails (the message names the component and field at fault).
pub async fn serve(common: CommonConfig, serve: ServeConfig) -> Result<()> {
    let db = open_database(&common).await?;
    let services = host_services(&common, &db, &serve.crisis_threshold)?;
    // Logs (never fails start-up) when data keys are wrapped by an unconfigured master key.
    let _ = services.keys.check_master_keys().await;
    let registry = registry(&common, &services)?;
    registry.bootstrap().await?;
    registry::sync::spawn(registry.clone());
    if serve.watch {
        registry::watch::spawn(registry.clone()).context("cannot watch the component files")?;
    }
    let tokens = TokenKeys::load(
        serve.jwt_secret.as_deref(),
        serve.jwt_previous_secrets.as_deref(),
        &common.data_dir,
    )
    .map_err(|message| anyhow::anyhow!(message))?;
    let oidc = crate::identity::oidc::OidcVerifier::new(
        crate::identity::oidc::ProviderSettings {
            client_ids: serve.google_client_ids.clone(),
            jwks_url: serve.google_jwks_url.clone(),
        },
        crate::identity::oidc::ProviderSettings {
            client_ids: serve.apple_client_ids.clone(),
            jwks_url: serve.apple_jwks_url.clone(),
        },
    )?;
    let outbox = crate::mail::OutboxSignal::default();
    crate::mail::spawn_outbox_consumer(
        db.clone(),
        crate::mail::Mailer::from_config(&crate::mail::MailSettings {
            kind: serve.mailer,
            data_dir: &common.data_dir,
            smtp_url: serve.smtp_url.as_deref(),
            from: serve.mail_from.as_deref(),
        })
        .map_err(|error| anyhow::anyhow!("mail: {error}"))?,
        outbox.clone(),
    );
    crate::identity::housekeeping::spawn(db.clone());
    crate::retention::spawn(db.clone());
    crate::crypto::backfill::spawn(db.clone(), services.keys.clone());
    crate::crypto::rekey::spawn(services.keys.clone());
    let callers = crate::identity::callers::CallerCache::start(&db);
    let trusted_proxies = edge::client::TrustedProxies::parse(&serve.trusted_proxies)
        .map_err(|message| anyhow::anyhow!("--trusted-proxies: {message}"))?;
    let rate_limits = rate_limiter(&serve.rate_limits)?;
    let wearables = crate::wearables::Wearables {
        db: db.clone(),
        keys: services.keys.clone(),
        registry: registry.clone(),
        http: reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the wearables HTTP client")?,
        origins: services.wearable_origins.clone(),
        settings: crate::wearables::sync::SyncSettings {
            tick: std::time::Duration::from_millis(serve.wearable_sync_tick_ms),
            interval: std::time::Duration::from_secs(serve.wearable_sync_interval_minutes * 60),
            backoff: std::time::Duration::from_millis(serve.wearable_sync_backoff_ms),
            concurrency: usize::try_from(serve.wearable_sync_concurrency).unwrap_or(1),
        },
    };
    let state = AppState {
        db,
        registry,
        tokens: Arc::new(tokens),
        services,
        oidc,
        callers,
        trusted_proxies: Arc::new(trusted_proxies),
        outbox,
        registrations_per_address: serve.registrations_per_address.max(1),
        rate_limits: Arc::new(rate_limits),
        public_url: serve.public_url.clone(),
        wearables: wearables.clone(),
    };
    crate::wearables::sync::spawn(wearables);
    crate::nightly::spawn(
        state.clone(),
        crate::nightly::NightlySettings {
            local_hour: serve.nightly_hour,
            tick: std::time::Duration::from_millis(serve.nightly_tick_ms),
            concurrency: usize::try_from(serve.nightly_concurrency).unwrap_or(1),
        },
    );
    if let Some(address) = serve.metrics_listen {
        let metrics = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} for metrics"))?;
        tracing::info!(address = %metrics.local_addr()?, "metrics are served");
        let app = edge::metrics::router(state.db.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics, app).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let listener = TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    tracing::info!(address = %listener.local_addr()?, "mindflow is serving");
    let trusted = state.trusted_proxies.clone();
    let mut app = edge::router(state);
    if serve.bench_native {
        app = app.merge(edge::bench_native_route());
    }
    let limits = edge::listener::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_millis(serve.header_read_timeout_ms.max(1)),
        max_per_address: serve.max_connections_per_address.max(1),
    };
    edge::listener::serve(listener, app, limits, trusted, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The request rate limiter the configuration asks for.
fn rate_limiter(config: &crate::config::RateLimitConfig) -> Result<edge::ratelimit::RateLimiter> {
    use edge::ratelimit::policy::{Class, Policies, parse_limit};
    if config.enabled == "off" {
        tracing::info!("rate limits: off");
        return Ok(edge::ratelimit::RateLimiter::off());
    }
    let mut policies = Policies::off();
    for (class, text) in [
        (Class::Auth, &config.auth),
        (Class::Writes, &config.writes),
        (Class::Reads, &config.reads),
        (Class::Chat, &config.chat),
        (Class::Uploads, &config.uploads),
    ] {
        policies = policies.with(class, parse_limit(text)?);
    }
    let shared = match config
        .redis_url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
    {
        Some(url) => {
            let timeout = std::time::Duration::from_millis(config.redis_timeout_ms.max(1));
            // The error names no URL (it may hold a password).
            let shared = edge::ratelimit::redis::SharedLimiter::new(url.trim(), timeout)
                .map_err(|_| anyhow::anyhow!("REDIS_URL is not a Redis URL"))?;
            tracing::info!(redis = shared.host(), "rate limits: shared through Redis");
            Some(shared)
        }
        None => {
            tracing::info!("rate limits: in process");
            None
        }
    };
    Ok(edge::ratelimit::RateLimiter::new(
        policies,
        config.keys.max(1),
        shared,
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
