//! `bench wearables-sync`: a year of daily data for many connected users synced from the
//! Oura simulator by the real server (the sandboxed Oura adapter, the durable scheduler, its
//! budgets), on the backend `MINDFLOW_TEST_BACKEND` selects.
//!
//! 1. **Connect.** The simulator (`providers::oura`, loopback) is seeded with a year and a
//!    few days of data for each of `BENCH_USERS` (1,000) Oura users. A server whose
//!    scheduler is idle (a one-hour tick) registers each person, makes them premium with
//!    the wearables consent, and connects them through the real OAuth flow (the host's
//!    authorization URL with PKCE, a code from the simulator, the host's callback with its
//!    token exchange).
//! 2. **Sync.** The server restarts on the same database with a 500 ms tick,
//!    `MINDFLOW_WEARABLE_SYNC_CONCURRENCY` of each value in `BENCH_SYNC_CONCURRENCY` (`4`;
//!    a comma list runs each on fresh connections) and `MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS=365`
//!    (the adapter declares 90): every connection is due, and the bench waits until every
//!    one has synced (`last_sync_at` set: the whole year fetched and stored). It prints the
//!    wall time, the data requests the simulator served, the rows stored against the rows
//!    the seeded year makes, the server's CPU time and, on PostgreSQL, the database's.
//!    `BENCH_OURA_REQUESTS_PER_MINUTE` sets the operator's budget of requests to Oura
//!    (unset: none; the adapter's own ten `fetch` calls per user per minute always apply).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{Days, Utc};
use futures::StreamExt as _;
use mindflow_tests::providers::oura::{self as sim, OuraSim};
use mindflow_tests::{Manifest, Server, ServerOptions};

use crate::api::seed::Db;
use crate::insights::{PgLoad, env_number, process_cpu_seconds};
use crate::wearables::premium_wearer;

/// Days back from today the backfill reaches (today included: 366 days).
const YEAR: u64 = 365;

fn ring_user(i: usize) -> String {
    format!("oura-bench-{i:05}")
}

/// Runs the benchmark once per concurrency asked for.
///
/// # Errors
/// When a server does not start, a connection cannot be made, or the sync does not finish
/// within `BENCH_TIMEOUT_SECONDS` (7,200).
pub async fn run() -> Result<()> {
    let users = env_number("BENCH_USERS", 1_000);
    let concurrencies: Vec<usize> = std::env::var("BENCH_SYNC_CONCURRENCY")
        .unwrap_or_else(|_| "4".into())
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()
        .context("BENCH_SYNC_CONCURRENCY: a comma list of numbers")?;
    let budget = std::env::var("BENCH_OURA_REQUESTS_PER_MINUTE").ok();
    println!(
        "## wearables-sync (backend {:?}, {users} users, a year each)",
        mindflow_tests::backend()
    );
    for concurrency in concurrencies {
        one_run(users, concurrency, budget.as_deref()).await?;
    }
    Ok(())
}

/// The server's environment: the simulator, the client, a year's backfill, and `env`.
fn options(oura: &OuraSim, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let origins = oura.origins_env();
    [
        ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
        ("MINDFLOW_WEARABLE_OURA_CLIENT_ID", sim::CLIENT_ID),
        ("MINDFLOW_WEARABLE_OURA_CLIENT_SECRET", sim::CLIENT_SECRET),
        ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "365"),
        ("RUST_LOG", "warn,mindflow::server=info"),
    ]
    .iter()
    .chain(env)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

async fn one_run(users: usize, concurrency: usize, budget: Option<&str>) -> Result<()> {
    let oura = OuraSim::start().await?;
    let today = Utc::now().date_naive();
    let first = today
        .checked_sub_days(Days::new(YEAR + 3))
        .context("date")?;
    let seeded = Instant::now();
    for i in 0..users {
        oura.seed_days(&ring_user(i), &first.to_string(), 370);
    }
    let seed_seconds = seeded.elapsed().as_secs_f64();

    // 1. Connect, with the scheduler idle.
    let data = tempfile::tempdir()?;
    let data_dir = data.path().join("data");
    let manifest = Manifest::product(&["crisis-rules", "oura"]);
    let mut idle = ServerOptions::new(manifest.clone()).await?;
    idle.data_dir = Some(data_dir.clone());
    idle.env = options(&oura, &[("MINDFLOW_WEARABLE_SYNC_TICK_MS", "3600000")]);
    let database_url = idle.database_url.clone();
    let mut connecting = Server::start(idle).await?;
    let connected_at = Instant::now();
    let server = &connecting;
    let oura_ref = &oura;
    let made: Vec<Result<()>> = futures::stream::iter(0..users)
        .map(|i| async move { connect(server, oura_ref, i).await })
        .buffer_unordered(4)
        .collect()
        .await;
    for result in made {
        result?;
    }
    let connect_seconds = connected_at.elapsed().as_secs_f64();
    ensure!(
        connecting.terminate()?,
        "the connecting server did not stop cleanly"
    );
    let requests_before = oura.requests();

    // 2. Sync.
    let mut syncing = ServerOptions::new(manifest).await?;
    syncing.data_dir = Some(data_dir.clone());
    syncing.database_url = database_url.clone();
    let concurrency_text = concurrency.to_string();
    let mut env = vec![
        ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "500"),
        (
            "MINDFLOW_WEARABLE_SYNC_CONCURRENCY",
            concurrency_text.as_str(),
        ),
    ];
    if let Some(budget) = budget {
        env.push(("MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE", budget));
    }
    syncing.env = options(&oura, &env);
    let pg_before = match &database_url {
        Some(url) => Some(PgLoad::sample(url).await?),
        None => None,
    };
    let timeout = Duration::from_secs(
        u64::try_from(env_number("BENCH_TIMEOUT_SECONDS", 7_200)).unwrap_or(7_200),
    );
    let started = Instant::now();
    let server = Server::start(syncing).await?;
    let ready_seconds = started.elapsed().as_secs_f64();
    let pid = server.pid().context("server pid")?;
    let cpu_before = process_cpu_seconds(pid)?;
    let mut db = Db::open(&server).await?;
    let total = i64::try_from(users)?;
    loop {
        let done = count(
            &mut db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM wearable_connections WHERE last_sync_at IS NOT NULL",
        )
        .await?;
        if done >= total {
            break;
        }
        if started.elapsed() > timeout {
            bail!("only {done} of {users} connections synced within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds(pid)? - cpu_before;
    let requests = oura.requests() - requests_before;
    let failing = count(
        &mut db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM wearable_connections WHERE sync_status <> 'active'",
    )
    .await?;
    let days = count(
        &mut db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM wearable_metrics",
    )
    .await?;
    let sessions = count(
        &mut db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM wearable_sleep_sessions",
    )
    .await?;
    db.close().await?;

    // What the seeded year makes: a day each, a session each night and each nap.
    let from = today.checked_sub_days(Days::new(YEAR)).context("date")?;
    let mut expected_sessions = 0_i64;
    for i in 0..users {
        for day in from.iter_days().take_while(|d| *d <= today) {
            let seed = oura
                .day(&ring_user(i), &day.to_string())
                .context("a seeded day")?;
            expected_sessions += 1 + i64::from(seed.nap.is_some());
        }
    }
    let expected_days = total * i64::try_from(YEAR + 1)?;
    let rate = crate::float(u64::try_from(requests).unwrap_or(0)) / seconds;
    println!();
    println!(
        "### concurrency {concurrency}, operator budget {}",
        budget.map_or("none".to_owned(), |b| format!("{b} requests/min"))
    );
    println!(
        "- setup: {users} users seeded in the simulator in {seed_seconds:.1} s; registered, \
         made premium with consent and connected through OAuth in {connect_seconds:.1} s"
    );
    println!(
        "- **sync of a year for every connection: {seconds:.1} s wall** (the server ready \
         after {ready_seconds:.1} s of it); {requests} provider data requests ({rate:.0}/s, \
         {:.1} per user); server CPU {cpu:.1} s",
        crate::float(u64::try_from(requests).unwrap_or(0)) / crate::float(users as u64)
    );
    println!(
        "- rows stored: {days} wearable_metrics (expected {expected_days}), {sessions} \
         wearable_sleep_sessions (expected {expected_sessions}); connections not active: {failing}"
    );
    if let (Some(url), Some(before)) = (&database_url, pg_before) {
        let after = PgLoad::sample(url).await?;
        println!("- database during the sync: {}", after.since(&before));
    }
    ensure!(
        days == expected_days && sessions == expected_sessions && failing == 0,
        "the sync is incomplete or failed"
    );
    drop(server);
    Ok(())
}

/// Registers person `i`, makes them premium with consent, and connects their Oura user
/// through the host's OAuth flow.
async fn connect(server: &Server, oura: &OuraSim, i: usize) -> Result<()> {
    let token = premium_wearer(server, &format!("sync-bench-{i}")).await?;
    let started = server
        .http
        .post(server.url("/api/v1/wearables/connect/oura"))
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(started.status() == 201, "connect: {}", started.status());
    let body: serde_json::Value = started.json().await?;
    let url = reqwest::Url::parse(
        body["authorization_url"]
            .as_str()
            .context("an authorization URL")?,
    )?;
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let field = |name: &str| {
        query
            .get(name)
            .cloned()
            .with_context(|| format!("no {name} in the authorization URL"))
    };
    let code = oura.issue_code_for(
        &ring_user(i),
        &field("code_challenge")?,
        &field("redirect_uri")?,
    );
    let mut callback = reqwest::Url::parse(&server.url("/api/v1/wearables/callback/oura"))?;
    callback
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state")?);
    let done = server.http.get(callback).send().await?;
    ensure!(done.status() == 200, "callback: {}", done.status());
    Ok(())
}

async fn count(db: &mut Db, sql: &'static str) -> Result<i64> {
    let (n,): (i64,) = match db {
        Db::Sqlite(connection) => sqlx::query_as(sql).fetch_one(connection).await?,
        Db::Postgres(connection) => sqlx::query_as(sql).fetch_one(connection).await?,
    };
    Ok(n)
}
