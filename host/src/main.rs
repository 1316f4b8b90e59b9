//! The `mindflow` command: serve the API, migrate the database, manage component versions
//! and users.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mindflow::audit::Actor;
use mindflow::config::{CommonConfig, ServeConfig};
use mindflow::server;

/// Every request allocates and frees a store, an instance's host state and its HTTP
/// plumbing on whichever worker thread runs it; mimalloc's thread-local free lists make that
/// measurably cheaper than glibc's arenas (BENCHMARKS.md §1).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mindflow",
    version,
    about = "MindFlow: a mental-wellness backend on a WebAssembly plugin platform"
)]
struct Cli {
    #[command(flatten)]
    common: CommonConfig,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeConfig>),
    /// Run the database migrations and exit.
    Migrate,
    /// Manage component versions.
    #[command(subcommand)]
    Component(ComponentCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the master key and the per-user data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply the data-retention policy (the server also does it hourly).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Crisis detection tools.
    #[command(subcommand)]
    Crisis(CrisisCommand),
    /// The content library.
    #[command(subcommand)]
    Content(ContentCommand),
}

#[derive(Subcommand)]
enum ContentCommand {
    /// Write every content provider's catalogue into the content library, as activating
    /// its version does: the version the database marks active, or else the manifest's
    /// source (the built-in library on a fresh database). Idempotent: run again, it changes
    /// nothing.
    Seed,
}

#[derive(Subcommand)]
enum CrisisCommand {
    /// Judge labelled case files with a crisis-rules component exactly as the server does
    /// (its exemplars, the sentence encoder, the rules) and print recall and false-positive
    /// rates per group. Needs no database.
    Evaluate {
        /// Case files (JSON lines: `text` or `messages`, `expected`, `category`, `kind`).
        #[arg(required = true)]
        cases: Vec<std::path::PathBuf>,
        /// The crisis-rules component (default: the manifest's).
        #[arg(long)]
        component: Option<std::path::PathBuf>,
        /// Also list the ids of the cases missed or falsely flagged.
        #[arg(long)]
        misses: bool,
        /// Write the single-text cases with their computed signals to this file, in the
        /// crisis-rules case format (for `cargo run -p crisis-rules --example evaluate`).
        #[arg(long)]
        annotate: Option<std::path::PathBuf>,
        /// Also cross-validate the semantic signal over the component's own training
        /// examples in this many folds: each fold is judged with a classifier and exemplar
        /// index built without it.
        #[arg(long)]
        folds: Option<usize>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-wrap every data key not wrapped by the current master key (MINDFLOW_MASTER_KEY),
    /// using the previous key that wrapped it (MINDFLOW_PREVIOUS_MASTER_KEYS). Sealed data is
    /// not touched.
    Rotate,
    /// Replace a user's data key with a new one and seal every value again under it (see
    /// `crypto::rekey`). Waits out the key cache's lifetime (MINDFLOW_KEY_CACHE_TTL_SECONDS,
    /// plus 5 s) so no server still seals with the old key, then seals again and erases the
    /// old key; with --no-wait the servers finish it in the background.
    RotateDataKey {
        /// The user whose key to rotate.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        user: Option<String>,
        /// Every user who has a data key.
        #[arg(long)]
        all: bool,
        /// Rotate only; leave sealing again and erasing the old keys to the servers.
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Delete every user's records older than their data_retention_days, now.
    Purge,
}

#[derive(Subcommand)]
enum ComponentCommand {
    /// List components, their versions and the active one.
    List,
    /// Validate, compile, gate and store a version (not activated).
    Install {
        /// The component's name in the manifest.
        name: String,
        /// The .wasm file.
        file: std::path::PathBuf,
        /// The version label.
        #[arg(long)]
        version: String,
    },
    /// Activate a stored version.
    Activate {
        /// The component's name.
        name: String,
        /// The version label.
        version: String,
    },
    /// Re-activate the previously active version.
    Rollback {
        /// The component's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Grant the admin role to the user with this email.
    GrantAdmin {
        /// The user's email.
        email: String,
    },
    /// Set the subscription tier of the user with this email.
    SetTier {
        /// The user's email.
        email: String,
        /// `free` or `premium`.
        tier: String,
        /// When premium ends (RFC 3339); without it, it does not.
        #[arg(long)]
        expires_at: Option<String>,
    },
}

/// Logs to stderr (filtered by `RUST_LOG`), and, for `serve` with an OTLP endpoint
/// configured, spans to the trace collector (filtered by `otlp::exported`, whatever
/// `RUST_LOG` says).
fn init_logging(command: &Command) -> Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift=warn")
    });
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let export = match command {
        Command::Serve(serve) => serve.otlp.build().context("trace export")?,
        _ => None,
    };
    let (layer, pipeline) = export.unzip();
    tracing_subscriber::registry().with(logs).with(layer).init();
    if let Some(pipeline) = pipeline {
        tokio::spawn(pipeline.run());
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The local model's kernels (candle) read their thread count from the environment once;
    // it is set here, before the runtime's threads exist.
    #[allow(unsafe_code)]
    // SAFETY: no other thread has been started yet: the runtime is built below.
    unsafe {
        mindflow::llm::local::set_compute_threads(cli.common.llm.llm_threads);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    init_logging(&cli.command)?;
    match cli.command {
        Command::Serve(serve) => server::serve(cli.common, *serve).await,
        Command::Migrate => {
            server::open_database(&cli.common).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Component(command) => component(cli.common, command).await,
        Command::Content(ContentCommand::Seed) => content_seed(&cli.common).await,
        Command::Crisis(CrisisCommand::Evaluate {
            cases,
            component,
            misses,
            annotate,
            folds,
        }) => {
            crisis_evaluate(
                &cli.common,
                &cases,
                component.as_deref(),
                misses,
                annotate.as_deref(),
                folds,
            )
            .await
        }
        Command::User(UserCommand::SetTier {
            email,
            tier,
            expires_at,
        }) => set_tier(&cli.common, &email, &tier, expires_at.as_deref()).await,
        Command::Keys(KeysCommand::Rotate) => rotate_keys(&cli.common).await,
        Command::Keys(KeysCommand::RotateDataKey { user, all, no_wait }) => {
            rotate_data_keys(&cli.common, user, all, no_wait).await
        }
        Command::Retention(RetentionCommand::Purge) => {
            let db = server::open_database(&cli.common).await?;
            let counts = mindflow::retention::purge_once(&db)
                .await
                .context("the retention purge failed")?;
            println!("deleted {} expired records ({counts})", counts.total());
            Ok(())
        }
        Command::User(UserCommand::GrantAdmin { email }) => {
            let db = server::open_database(&cli.common).await?;
            let email = mindflow::identity::normalise_email(&email);
            let Some(user) = db.user_by_email(&email).await? else {
                bail!("no user with email {email}");
            };
            db.grant_role(user.id, "admin", "cli").await?;
            mindflow::audit::record(
                &db,
                &Actor::cli(),
                "user.grant_admin",
                &user.id.to_string(),
                serde_json::json!({}),
            )
            .await;
            println!("{email} is now an admin");
            Ok(())
        }
    }
}

async fn component(common: CommonConfig, command: ComponentCommand) -> Result<()> {
    let db = server::open_database(&common).await?;
    // The CLI assesses nothing: the default threshold serves.
    let services = server::host_services(&common, &db, "moderate")?;
    let registry = server::registry(&common, &services)?;
    let actor = Actor::cli();
    match command {
        ComponentCommand::List => {
            let versions = registry.versions().await?;
            for name in registry.manifest().components.keys() {
                println!("{name}");
                for v in versions.iter().filter(|v| &v.name == name) {
                    let marker = if v.status == "active" { "*" } else { " " };
                    println!(
                        "  {marker} {:<32} {:<9} {} {}",
                        v.version,
                        v.status,
                        &v.sha256[..12],
                        v.installed_at.to_rfc3339()
                    );
                }
            }
        }
        ComponentCommand::Install {
            name,
            file,
            version,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            // The gate compares with the active version.
            registry.reload(&name).await?;
            match registry.install(&name, &version, &bytes, &actor).await {
                Ok(installed) => {
                    println!("installed {name}@{version} ({})", installed.version.sha256);
                    println!("{}", serde_json::to_string_pretty(&installed.gate)?);
                }
                Err(mindflow::registry::RegistryError::GateRefused { report, .. }) => {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    bail!("{name}@{version} was refused by the {} gate", report.gate);
                }
                Err(error) => return Err(error.into()),
            }
        }
        ComponentCommand::Activate { name, version } => {
            let record = registry.activate(&name, &version, &actor).await?;
            println!("{name}@{} is active", record.version);
        }
        ComponentCommand::Rollback { name } => {
            let record = registry.rollback(&name, &actor).await?;
            println!("{name}@{} is active again", record.version);
        }
    }
    Ok(())
}

/// `mindflow content seed`: the registry's activation sync, for every content provider of
/// the manifest, without starting a server.
async fn content_seed(common: &CommonConfig) -> Result<()> {
    use mindflow::manifest::ComponentKind;
    let db = server::open_database(common).await?;
    let manifest = mindflow::manifest::Manifest::load(&common.manifest)?;
    let runtime = mindflow::runtime::Runtime::new(common.cache_dir())?;
    let active = db.active_component_versions().await?;
    let providers: Vec<_> = manifest
        .components
        .values()
        .filter(|d| d.grants.kind == ComponentKind::ContentProvider)
        .collect();
    if providers.is_empty() {
        bail!("the manifest declares no content-provider component");
    }
    for decl in providers {
        let stored = match active.iter().find(|r| r.name == decl.name) {
            Some(record) => db
                .component_bytes(record.id)
                .await?
                .map(|bytes| (bytes, format!("active version {}", record.version))),
            None => None,
        };
        let (bytes, from) = match stored {
            Some(found) => found,
            None => (
                std::fs::read(&decl.source)
                    .with_context(|| format!("cannot read {}", decl.source.display()))?,
                decl.source.display().to_string(),
            ),
        };
        let sha = mindflow::registry::sha256_hex(&bytes);
        let provider = {
            let (runtime, owned) = (runtime.clone(), (*decl).clone());
            tokio::task::spawn_blocking(move || {
                runtime.prepare_content_provider(&owned, &sha, &bytes)
            })
            .await?
            .with_context(|| format!("content provider `{}` ({from})", decl.name))?
        };
        let report = mindflow::content::sync(&db, &decl.name, provider.catalogue())
            .await
            .with_context(|| format!("cannot sync `{}`", decl.name))?;
        println!("{report} (from {from})");
        for (what, items) in [
            ("inserted", &report.inserted),
            ("updated", &report.updated),
            ("deactivated", &report.deactivated),
        ] {
            for item in items {
                println!("  {what} {item}");
            }
        }
    }
    Ok(())
}

async fn crisis_evaluate(
    common: &CommonConfig,
    files: &[std::path::PathBuf],
    component: Option<&std::path::Path>,
    show_misses: bool,
    annotate: Option<&std::path::Path>,
    folds: Option<usize>,
) -> Result<()> {
    use mindflow::crisis::{evaluation, judge::SharedRules};
    let semantic = mindflow::crisis::semantic::Semantic::new(
        server::sentence_encoder(common)?,
        Some(common.cache_dir().join("embeddings")),
    )?;
    let manifest = mindflow::manifest::Manifest::load(&common.manifest)?;
    let decl = manifest
        .components
        .values()
        .find(|d| d.grants.kind == mindflow::manifest::ComponentKind::CrisisRules)
        .context("the manifest declares no crisis-rules component")?;
    let source = component.map_or_else(|| decl.source.clone(), std::path::Path::to_path_buf);
    let bytes =
        std::fs::read(&source).with_context(|| format!("cannot read {}", source.display()))?;
    let runtime = mindflow::runtime::Runtime::new(common.cache_dir())?;
    let sha = mindflow::registry::sha256_hex(&bytes);
    let prepared = {
        let (decl, semantic) = (decl.clone(), semantic.clone());
        tokio::task::spawn_blocking(move || runtime.prepare_rules(&decl, &sha, &bytes, &semantic))
            .await??
    };
    let mut all_judged = Vec::new();
    if let Some(folds) = folds {
        let (report, judged) = evaluation::cross_validate(&semantic, &prepared, folds)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("{report}");
        all_judged.extend(judged);
    }
    let rules: SharedRules = std::sync::Arc::new(Box::new(prepared));
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let cases =
            evaluation::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let judged = evaluation::judge_all(&semantic, &rules, &cases)
            .await
            .map_err(anyhow::Error::msg)?;
        println!(
            "{}",
            evaluation::report(&file.display().to_string(), &judged, show_misses)
        );
        all_judged.extend(judged);
    }
    let mut annotated = String::new();
    for j in all_judged.iter().filter(|j| j.case.text.is_some()) {
        let mut line = serde_json::to_value(&j.case)?;
        if let (Some(object), Some(signals)) = (line.as_object_mut(), &j.signals) {
            for (key, value) in signals.as_object().into_iter().flatten() {
                object.insert(key.clone(), value.clone());
            }
            object.retain(|_, v| !v.is_null());
            object.remove("messages");
            object
                .entry("category")
                .or_insert_with(|| serde_json::json!("uncategorised"));
        }
        annotated.push_str(&line.to_string());
        annotated.push('\n');
    }
    if let Some(path) = annotate {
        std::fs::write(path, annotated)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

async fn set_tier(
    common: &CommonConfig,
    email: &str,
    tier: &str,
    expires_at: Option<&str>,
) -> Result<()> {
    let Some(tier) = mindflow::tiers::Tier::parse(tier) else {
        bail!("the tier must be `free` or `premium`, not `{tier}`");
    };
    let expires_at = expires_at
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .with_context(|| format!("--expires-at must be an RFC 3339 instant, not `{text}`"))
        })
        .transpose()?;
    let db = server::open_database(common).await?;
    let email = mindflow::identity::normalise_email(email);
    let Some(user) = db.user_by_email(&email).await? else {
        bail!("no user with email {email}");
    };
    mindflow::tiers::set_subscription(&db, &Actor::cli(), user.id, tier, expires_at).await?;
    match expires_at {
        Some(end) => println!("{email} is on the {tier} tier until {}", end.to_rfc3339()),
        None => println!("{email} is on the {tier} tier"),
    }
    Ok(())
}

async fn rotate_data_keys(
    common: &CommonConfig,
    email: Option<String>,
    all: bool,
    no_wait: bool,
) -> Result<()> {
    use mindflow::crypto::rekey::{CLOCK_MARGIN, DataKeyRotation};

    let db = server::open_database(common).await?;
    let keys = mindflow::crypto::KeyService::with_cache_ttl(
        db.clone(),
        mindflow::crypto::MasterKeys::from_config(common)?,
        std::time::Duration::from_secs(common.key_cache_ttl_seconds),
    );
    let users = match (email, all) {
        (Some(email), _) => {
            let email = mindflow::identity::normalise_email(&email);
            let Some(user) = db.user_by_email(&email).await? else {
                bail!("no account uses {email}");
            };
            vec![user.id]
        }
        (None, true) => db.users_with_data_keys().await?,
        (None, false) => bail!("name a user (--user EMAIL) or --all"),
    };
    let mut rotated = Vec::new();
    let (mut in_progress, mut no_key) = (0, 0);
    for user in users {
        match keys
            .rotate_data_key(user)
            .await
            .context("the key store is unavailable")?
        {
            DataKeyRotation::Rotated { .. } => rotated.push(user),
            DataKeyRotation::InProgress => in_progress += 1,
            DataKeyRotation::NoKey => no_key += 1,
        }
    }
    mindflow::audit::record(
        &db,
        &Actor::cli(),
        "keys.rotate_data_key",
        if all { "all" } else { "one" },
        serde_json::json!({"rotated": rotated.len(), "in_progress": in_progress, "no_key": no_key}),
    )
    .await;
    println!("rotated {} data keys", rotated.len());
    if in_progress > 0 {
        println!("{in_progress} users have a rotation not finished yet: left as they are");
    }
    if no_key > 0 {
        println!("{no_key} users have no data key (nothing sealed): nothing to rotate");
    }
    if no_wait || rotated.is_empty() {
        if !rotated.is_empty() {
            println!("the servers seal again and erase the old keys once they are due");
        }
        return Ok(());
    }
    let wait = keys.cache_ttl() + CLOCK_MARGIN;
    println!(
        "waiting {} s so that no server still seals with an old key",
        wait.as_secs()
    );
    tokio::time::sleep(wait).await;
    let (mut resealed, mut unfinished, mut unreadable) = (0, 0, 0);
    for user in rotated {
        let mut done = false;
        for _ in 0..3 {
            let finish = keys
                .finish_rotation(user, chrono::Utc::now())
                .await
                .context("the key store is unavailable")?;
            resealed += finish.resealed;
            unreadable += finish.unreadable;
            if finish.erased {
                done = true;
                break;
            }
        }
        if !done {
            unfinished += 1;
        }
    }
    keys.reclaim_after_rotations().await;
    println!("sealed {resealed} values again under the new keys");
    if unreadable > 0 {
        println!("{unreadable} values open under no key of their user (corrupt): left as they are");
    }
    if unfinished > 0 {
        bail!(
            "{unfinished} users' values kept changing while being sealed again: the servers finish them in the background"
        );
    }
    println!("the old data keys are erased");
    Ok(())
}

async fn rotate_keys(common: &CommonConfig) -> Result<()> {
    let db = server::open_database(common).await?;
    let masters = mindflow::crypto::MasterKeys::from_config(common)?;
    let keys = mindflow::crypto::KeyService::new(db.clone(), masters);
    let report = keys
        .rotate()
        .await
        .context("the key store is unavailable")?;
    mindflow::audit::record(
        &db,
        &Actor::cli(),
        "keys.rotate",
        keys.current_master_key_id(),
        serde_json::json!({
            "rewrapped": report.rewrapped,
            "unknown_master": report.unknown_master,
            "skipped": report.skipped,
        }),
    )
    .await;
    println!(
        "re-wrapped {} data keys under master key {}",
        report.rewrapped,
        keys.current_master_key_id()
    );
    if report.skipped > 0 {
        println!(
            "{} keys changed during the rotation (deleted or re-wrapped by another process)",
            report.skipped
        );
    }
    if report.unknown_master > 0 {
        bail!(
            "{} data keys are wrapped by a master key that is not configured: add it to MINDFLOW_PREVIOUS_MASTER_KEYS and run again",
            report.unknown_master
        );
    }
    Ok(())
}
