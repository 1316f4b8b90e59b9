//! `bench api`: the whole API under load, endpoint by endpoint and as a realistic mix, for
//! users with a mood history of each configured size.
//!
//! Per endpoint: a closed loop at [`Config::connections`] connections (after a warm-up)
//! gives the saturation throughput; then open loops at 50% and 80% of it give the latency
//! at a known offered load (see [`openloop`]). When nothing at all succeeds at that
//! concurrency, a closed loop at one connection is measured and the open loops are based on
//! it instead. Only run when asked for by name: it is long.
//!
//! Environment (defaults; `BENCH_QUICK=1` switches to a smoke run of about a minute):
//! - `BENCH_SECONDS` (8; quick 1): length of each measured run;
//! - `BENCH_WARMUP` (1; quick 0.5): closed-loop warm-up before each endpoint;
//! - `BENCH_HISTORY` (`1000,100000`; quick `300,10000`): mood logs per user; the first
//!   size is given to `BENCH_USERS` users, each further size to one user;
//! - `BENCH_USERS` (32; quick 8), `BENCH_JOURNAL` (200; quick 20): journal entries per user;
//! - `BENCH_CONNECTIONS` (32): closed-loop connections;
//! - `BENCH_MAX_IN_FLIGHT` (256; quick 64): open-loop workers (and refresh sessions);
//! - `BENCH_API_ONLY`: comma-separated parts of row labels to run (e.g. `stats,mix`);
//! - `BENCH_RATES`: comma-separated offered loads (requests/s) to run open loops at as well,
//!   after 50% and 80% (e.g. `200` for a target stated at that load).

pub(crate) mod endpoints;
pub(crate) mod mix;
pub(crate) mod openloop;
pub(crate) mod seed;
pub mod soak;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mindflow_tests::Server;

use endpoints::{Actor, Endpoint, Sessions, Target};
use mix::Mix;
use openloop::{Op, Outcome};
use seed::{Db, SeededUser};

/// How long a measured closed loop lets the requests it started finish.
const CLOSED_LOOP_PATIENCE: Duration = Duration::from_secs(30);

/// Run lengths and sizes, from the environment.
struct Config {
    quick: bool,
    seconds: Duration,
    warmup: Duration,
    histories: Vec<usize>,
    users: usize,
    journal: usize,
    connections: usize,
    max_in_flight: usize,
    only: Vec<String>,
    rates: Vec<f64>,
}

/// `name` from the environment, parsed, or `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={text} is not valid")),
        _ => Ok(default),
    }
}

impl Config {
    fn from_env() -> Result<Self> {
        let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true");
        let pick = |full: f64, smoke: f64| if quick { smoke } else { full };
        let seconds = env_or("BENCH_SECONDS", pick(8.0, 1.0))?;
        let warmup = env_or("BENCH_WARMUP", pick(1.0, 0.5))?;
        let histories: Vec<usize> = env_or(
            "BENCH_HISTORY",
            if quick { "300,10000" } else { "1000,100000" }.to_owned(),
        )?
        .split(',')
        .map(|size| size.trim().replace('_', "").parse())
        .collect::<Result<_, _>>()
        .context("BENCH_HISTORY must be a comma-separated list of sizes")?;
        if histories.is_empty() || histories.contains(&0) {
            bail!("BENCH_HISTORY needs at least one size, none of them 0");
        }
        if !(seconds > 0.0 && warmup >= 0.0) {
            bail!("BENCH_SECONDS must be positive and BENCH_WARMUP not negative");
        }
        Ok(Self {
            quick,
            seconds: Duration::from_secs_f64(seconds),
            warmup: Duration::from_secs_f64(warmup),
            histories,
            users: env_or("BENCH_USERS", if quick { 8 } else { 32 })?.max(1),
            journal: env_or("BENCH_JOURNAL", if quick { 20 } else { 200 })?.max(1),
            connections: env_or("BENCH_CONNECTIONS", 32)?.max(1),
            max_in_flight: env_or("BENCH_MAX_IN_FLIGHT", if quick { 64 } else { 256 })?.max(1),
            only: std::env::var("BENCH_API_ONLY")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            rates: std::env::var("BENCH_RATES")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|r| *r > 0.0)
                        .with_context(|| format!("BENCH_RATES: `{s}` is not a rate"))
                })
                .collect::<Result<_>>()?,
        })
    }

    /// Whether the row labelled `label` is to run.
    fn wants(&self, label: &str) -> bool {
        let label = label.to_lowercase();
        self.only.is_empty() || self.only.iter().any(|part| label.contains(part))
    }
}

/// Users sharing one history size.
struct Group {
    history: usize,
    users: Vec<SeededUser>,
    /// When the users' access tokens were issued (they live 15 minutes).
    tokens_issued: Instant,
}

impl Group {
    /// Requests as this group's users, with their current tokens.
    fn target(&self, server: &Server, sessions: &Arc<Sessions>) -> Arc<Target> {
        Arc::new(Target {
            base: server.base.clone(),
            actors: self
                .users
                .iter()
                .map(|u| Actor {
                    token: u.access_token.clone(),
                    mood_ids: u.mood_ids.clone(),
                    journal_ids: u.journal_ids.clone(),
                })
                .collect(),
            sessions: sessions.clone(),
        })
    }

    /// `32 users × 1,000` / `1 user × 100,000`.
    fn label(&self) -> String {
        let n = self.users.len();
        format!(
            "{n} user{} × {}",
            if n == 1 { "" } else { "s" },
            thousands(self.history as u64)
        )
    }
}

/// `100000` → `100,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `bench api` against `server`.
pub async fn run(server: &Server) -> Result<()> {
    let config = Config::from_env()?;
    let mix = Arc::new(Mix::realistic());
    println!(
        "## api: every endpoint under load{}",
        if config.quick {
            " (quick smoke run)"
        } else {
            ""
        }
    );
    println!();
    println!(
        "- backend: {:?}; server: {}",
        mindflow_tests::backend(),
        mindflow_tests::binary().display()
    );
    println!(
        "- histories: {} mood logs per user (two factors each, three logs a day going back from yesterday); the first size for {} users, each further size for one user; {} journal entries per user",
        config
            .histories
            .iter()
            .map(|h| thousands(*h as u64))
            .collect::<Vec<_>>()
            .join(" and "),
        config.users,
        config.journal
    );
    println!(
        "- method: per endpoint, a {:.1} s closed-loop warm-up, then {:.1} s closed loop at {} keep-alive connections (saturation), then {:.1} s open loop at 50% and at 80% of that rate (constant arrival rate, at most {} in flight; latency counted from each request's intended send time, so queueing is not hidden). Requests act as the group's users in turn; refresh rotates one session per worker.",
        config.warmup.as_secs_f64(),
        config.seconds.as_secs_f64(),
        config.connections,
        config.seconds.as_secs_f64(),
        config.max_in_flight
    );
    println!(
        "- failures: non-2xx answers, transport errors and requests cut off at the end of a run (an open loop drains for at most 3 s after its last request is due; a closed loop lets the requests it started finish for up to {} s); *unsent*: requests due that no open-loop worker could send before the run ended (not in failures)",
        CLOSED_LOOP_PATIENCE.as_secs()
    );
    println!("- mix: {}", mix.describe());
    println!(
        "- endpoints not reading the mood history (journal, refresh) run for the first size only"
    );
    println!();

    let (mut groups, sessions) = prepare(server, &config).await?;

    println!(
        "| endpoint | history | load | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | failures | unsent |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut failure_notes = Vec::new();
    for (g, group) in groups.iter_mut().enumerate() {
        let runs: Vec<(String, Option<Endpoint>)> = Endpoint::ALL
            .iter()
            .filter(|e| g == 0 || e.reads_mood_history())
            .map(|e| (e.label().to_owned(), Some(*e)))
            .chain(std::iter::once(("mix".to_owned(), None)))
            .filter(|(label, _)| config.wants(label))
            .collect();
        for (label, endpoint) in runs {
            if group.tokens_issued.elapsed() > Duration::from_secs(5 * 60) {
                seed::renew_tokens(server, &mut group.users).await?;
                group.tokens_issued = Instant::now();
            }
            let target = group.target(server, &sessions);
            let op = match endpoint {
                Some(endpoint) => endpoints::op(endpoint, &target),
                None => endpoints::mix_op(&mix, &target),
            };
            series(&config, &op, &label, &group.label(), &mut failure_notes).await?;
        }
    }
    if !failure_notes.is_empty() {
        println!();
        println!("Failures by kind:");
        for note in failure_notes {
            println!("- {note}");
        }
    }
    Ok(())
}

/// Registers and seeds every group; opens the refresh sessions.
async fn prepare(server: &Server, config: &Config) -> Result<(Vec<Group>, Arc<Sessions>)> {
    let started = Instant::now();
    let mut db = Db::open(server)
        .await
        .context("opening the server's database")?;
    let mut groups = Vec::new();
    for (g, &history) in config.histories.iter().enumerate() {
        let count = if g == 0 { config.users } else { 1 };
        eprintln!("seeding {count} user(s) with {history} mood logs each…");
        let mut users = seed::register_many(server, &format!("load-{history}"), count).await?;
        let tokens_issued = Instant::now();
        for user in &mut users {
            db.mood_history(user, history).await?;
        }
        db.keep_history(&users).await?;
        groups.push(Group {
            history,
            users,
            tokens_issued,
        });
    }
    db.close().await?;
    let sql_seconds = started.elapsed().as_secs_f64();
    eprintln!("seeding journal entries over HTTP…");
    for group in &mut groups {
        seed::journal(server, &mut group.users, config.journal).await?;
    }
    let journal_seconds = started.elapsed().as_secs_f64() - sql_seconds;
    // Check the seeding through the API itself: every user's all-time count.
    for group in &groups {
        for user in &group.users {
            let count = seed::mood_count(server, user).await?;
            if count != group.history as u64 {
                bail!(
                    "{} has {count} mood logs by /mood/stats, {} were seeded",
                    user.email,
                    group.history
                );
            }
        }
    }
    let slots = config.max_in_flight.max(config.connections);
    eprintln!("logging in {slots} refresh sessions…");
    let sessions = Arc::new(Sessions::new(
        seed::sessions(server, &groups[0].users, slots).await?,
    ));
    let total: u64 = groups
        .iter()
        .map(|g| (g.history * g.users.len()) as u64)
        .sum();
    println!(
        "Seeded {} mood logs ({} factors) by SQL and users' registrations in {sql_seconds:.1} s; {} journal entries over HTTP in {journal_seconds:.1} s; checked: every user's /mood/stats count equals their seeded history; {} refresh sessions in {:.1} s.",
        thousands(total),
        thousands(2 * total),
        thousands(
            groups
                .iter()
                .map(|g| g
                    .users
                    .iter()
                    .map(|u| u.journal_ids.len() as u64)
                    .sum::<u64>())
                .sum()
        ),
        sessions.len(),
        started.elapsed().as_secs_f64() - sql_seconds - journal_seconds
    );
    println!();
    Ok((groups, sessions))
}

/// Saturation then open loops at 50% and 80% of it for one op; prints the rows.
async fn series(
    config: &Config,
    op: &Op,
    label: &str,
    history: &str,
    failure_notes: &mut Vec<String>,
) -> Result<()> {
    if !config.warmup.is_zero() {
        // Discarded, but waited for: a request cut off here would go on running in the
        // server (nothing cancels it there) during the measurement.
        openloop::closed_loop(op, config.connections, config.warmup, CLOSED_LOOP_PATIENCE).await?;
    }
    let saturation =
        openloop::closed_loop(op, config.connections, config.seconds, CLOSED_LOOP_PATIENCE).await?;
    let load = format!("closed, {} conn.", config.connections);
    row(label, history, &load, &saturation, failure_notes);
    let mut rate = saturation.result.rate();
    if saturation.result.latencies_us.is_empty() && config.connections > 1 {
        // Nothing answered at that concurrency (e.g. every request timed out in the
        // server): one connection at least says what the endpoint can do, and the open
        // loops are based on it.
        let alone = openloop::closed_loop(op, 1, config.seconds, CLOSED_LOOP_PATIENCE).await?;
        row(
            label,
            history,
            "closed, 1 conn. (fallback)",
            &alone,
            failure_notes,
        );
        rate = alone.result.rate();
    }
    if rate * 0.5 * config.seconds.as_secs_f64() < 1.0 {
        println!(
            "| {label} | {history} | open loops skipped: not one request in a run at 50% | | | | | | | |"
        );
        return Ok(());
    }
    for share in [0.5, 0.8] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let outcome =
            openloop::open_loop(op, rate * share, config.seconds, config.max_in_flight).await?;
        row(
            label,
            history,
            &format!("open {:.0}%", 100.0 * share),
            &outcome,
            failure_notes,
        );
    }
    for &offered in &config.rates {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let outcome =
            openloop::open_loop(op, offered, config.seconds, config.max_in_flight).await?;
        row(
            label,
            history,
            &format!("open {offered:.0}/s"),
            &outcome,
            failure_notes,
        );
    }
    Ok(())
}

/// One table row (and its failures, for the notes under the table).
fn row(label: &str, history: &str, load: &str, outcome: &Outcome, notes: &mut Vec<String>) {
    let ms = |us: u64| format!("{:.2}", crate::ms(us));
    // Slow endpoints run at a few requests per second: keep a decimal there.
    let per_second = |r: f64| {
        if r < 10.0 {
            format!("{r:.1}")
        } else {
            format!("{r:.0}")
        }
    };
    let result = &outcome.result;
    println!(
        "| {label} | {history} | {load} | {} | {} | {} | {} | {} | {} | {} |",
        outcome.offered.map_or_else(|| "–".to_owned(), per_second),
        per_second(result.rate()),
        ms(result.p50_us()),
        ms(result.p99_us()),
        outcome.p999_us().map_or_else(|| "–".to_owned(), ms),
        result.failures,
        if outcome.offered.is_some() {
            outcome.unsent.to_string()
        } else {
            "–".to_owned()
        }
    );
    if !outcome.errors.is_empty() {
        let kinds: Vec<String> = outcome
            .errors
            .iter()
            .map(|(what, count)| format!("{what} ×{count}"))
            .collect();
        notes.push(format!("{label}, {history}, {load}: {}", kinds.join("; ")));
    }
}
