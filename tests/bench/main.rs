//! Benchmarks against the real binary (`cargo xtask bench [NAME]`): figures are printed, not
//! asserted. Each load loop is bounded in time and count and targets loopback only.
//!
//! - `dispatch`: a trivial Spin component behind the edge vs the same handler written
//!   natively in axum in the same binary (`MINDFLOW_BENCH_NATIVE=1` mounts it), same run:
//!   throughput ratio and p50/p99 latency.
//! - `activation`: from the admin request to the first response served by the new version.
//! - `storage`: a mood-log insert then a keyset page of the user's 20 newest rows, through the
//!   `storage-probe` component and the `storage` capability, with several users at once.
//! - `api`: every mood, journal and refresh endpoint and a realistic mix, at saturation and
//!   in open loops at 50% and 80% of it, for users with seeded histories (see [`api`]). Long,
//!   so only run when named.
//! - `chat`, `chat-safety`: the chat pipeline's costs without the model, and the safety
//!   evaluation against the configured provider (see [`chat`]). Named only.
//! - `insights`: one person's insights recomputed through the component, and a night of
//!   nightly runs for 10,000 users (see [`insights`]). Named only.
//! - `ratelimit`: the cost of request rate limiting per request, off vs in process vs
//!   Redis (see [`ratelimit`]). Named only; needs `MINDFLOW_REDIS_SERVER`.
//! - `observability`: what serving metrics and exporting traces over OTLP cost per request
//!   (see [`observability`]). Named only.
//! - `wearables`: an Apple Health export streamed into the adapter (MB/s), and a year of
//!   merged metrics read back (see [`wearables`]). Named only; needs `BENCH_EXPORT`.
//! - `wearables-sync`: a year of daily data for 1,000 users connected through OAuth,
//!   synced from the Oura simulator (see [`wearables_sync`]). Named only.
//! - `replicas`: throughput of one, two and three replicas behind HAProxy on a read-heavy
//!   and a write-heavy mix (see [`replicas`]). Named only; PostgreSQL, `MINDFLOW_REDIS_SERVER`
//!   and `MINDFLOW_HAPROXY`.

mod api;
mod chat;
mod insights;
mod observability;
mod ratelimit;
mod replicas;
mod wearables;
mod wearables_sync;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use mindflow_tests::accounts::email;
use mindflow_tests::{Manifest, Server, ServerOptions, component};
use serde_json::{Value, json};

/// Latency figures of one load run.
struct LoadResult {
    /// Latencies of the successful requests, sorted.
    latencies_us: Vec<u64>,
    failures: usize,
    seconds: f64,
}

impl LoadResult {
    fn rate(&self) -> f64 {
        per_second(self.latencies_us.len(), self.seconds)
    }

    fn p50_us(&self) -> u64 {
        percentile(&self.latencies_us, 0.50)
    }

    fn p99_us(&self) -> u64 {
        percentile(&self.latencies_us, 0.99)
    }

    /// Adds another run's samples and time.
    fn absorb(&mut self, other: LoadResult) {
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
        self.failures += other.failures;
        self.seconds += other.seconds;
    }
}

/// The `p`-quantile (0 to 1) of sorted samples, or 0 without any.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the nearest rank: a sample count far below 2^52, times p in [0, 1], rounded"
)]
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// A duration in whole microseconds (saturating, though no latency comes near 2^64 µs).
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// A count or a latency in µs as a float, for rates, shares and printing.
#[allow(
    clippy::cast_precision_loss,
    reason = "counts and latencies in µs stay far below 2^52, where f64 stops being exact"
)]
fn float(n: u64) -> f64 {
    n as f64
}

/// Microseconds in milliseconds, for printing.
fn ms(us: u64) -> f64 {
    float(us) / 1000.0
}

/// `count` events in `seconds`, per second.
fn per_second(count: usize, seconds: f64) -> f64 {
    float(count as u64) / seconds
}

/// `concurrency` keep-alive clients send `GET url` for `duration` (bounded as [`load_with`] is).
async fn load(url: &str, concurrency: usize, duration: Duration) -> Result<LoadResult> {
    let url = url.to_owned();
    load_with(concurrency, duration, move |client: &reqwest::Client| {
        client.get(&url)
    })
    .await
}

/// The product's hello, mood, journal and crisis rules, with the test components the
/// benchmarks need: `versioned` (activation) and `storage-probe` (storage round trip).
fn bench_manifest() -> Manifest {
    Manifest::product(&["hello", "mood", "journal", "crisis-rules"])
        .set("variables.greeting.default", "hello")
        .with(
            r#"
[[trigger.http]]
route = "/api/v1/versioned/..."
component = "versioned"

[component.versioned]
source = "{components}/versioned-v1.wasm"
[component.versioned.tool.mindflow]
authentication = "none"

[[trigger.http]]
route = "/api/v1/probe/..."
component = "storage-probe"

[component.storage-probe]
source = "{components}/storage-probe.wasm"
[component.storage-probe.tool.mindflow]
capabilities = ["context", "storage"]
collections = ["mood_logs"]
"#,
        )
}

async fn dispatch(server: &Server) -> Result<()> {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64);
    let concurrency = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16usize);
    println!("## dispatch overhead ({seconds} s per handler, in alternating 1 s slices, loopback)");
    // Warm up both paths.
    load(&server.url("/bench/native"), 4, Duration::from_secs(1)).await?;
    load(&server.url("/api/v1/hello"), 4, Duration::from_secs(1)).await?;
    for (connections, title) in [
        (concurrency, "throughput"),
        (1, "one connection: latency without queueing"),
    ] {
        let (native, wasm) = alternate(server, connections, seconds).await?;
        println!("### {connections} connection(s): {title}");
        println!("| handler | req/s | p50 µs | p99 µs | failures |");
        println!("|---|---|---|---|---|");
        for (name, result) in [("native axum", &native), ("hello-spin component", &wasm)] {
            println!(
                "| {name} | {:.0} | {} | {} | {} |",
                result.rate(),
                result.p50_us(),
                result.p99_us(),
                result.failures
            );
        }
        println!(
            "component/native throughput: {:.1}%; added p50 latency: {} µs; added p99: {} µs",
            100.0 * wasm.rate() / native.rate(),
            wasm.p50_us().saturating_sub(native.p50_us()),
            wasm.p99_us().saturating_sub(native.p99_us())
        );
    }
    Ok(())
}

/// Loads the native handler and the component in alternating one-second slices, `seconds`
/// each, so that whatever else the (shared) machine does weighs on both alike.
async fn alternate(
    server: &Server,
    connections: usize,
    seconds: u64,
) -> Result<(LoadResult, LoadResult)> {
    let slice = Duration::from_secs(1);
    let mut native = load(&server.url("/bench/native"), connections, slice).await?;
    let mut wasm = load(&server.url("/api/v1/hello"), connections, slice).await?;
    for _ in 1..seconds {
        native.absorb(load(&server.url("/bench/native"), connections, slice).await?);
        wasm.absorb(load(&server.url("/api/v1/hello"), connections, slice).await?);
    }
    Ok((native, wasm))
}

async fn version_of(server: &Server) -> Result<String> {
    let body: Value = server
        .http
        .get(server.url("/api/v1/versioned"))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["version"].as_str().unwrap_or_default().to_owned())
}

async fn activation(server: &Server) -> Result<()> {
    println!(
        "## activation of an already-compiled version (admin request → first response of the new version)"
    );
    let admin = server.admin_token().await?;
    let upload = server
        .http
        .post(server.url("/api/v1/admin/components/versioned/versions?version=v2"))
        .bearer_auth(&admin)
        .body(std::fs::read(component("versioned-v2"))?)
        .send()
        .await?;
    if upload.status() != 201 {
        bail!("upload failed: {}", upload.status());
    }
    let active = version_of(server).await?;
    let mut labels = vec!["v2".to_owned()];
    let v1_label = {
        let list: Value = server
            .http
            .get(server.url("/api/v1/admin/components"))
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["name"] == "versioned"))
            .and_then(|c| c["active_version"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    labels.push(v1_label);
    let mut samples = Vec::new();
    let mut expected_next = if active == "v1" { "v2" } else { "v1" };
    for round in 0..30 {
        let label = &labels[round % 2];
        let started = Instant::now();
        let response = server
            .http
            .post(server.url("/api/v1/admin/components/versioned/activate"))
            .bearer_auth(&admin)
            .json(&json!({"version": label}))
            .send()
            .await?;
        if response.status() != 200 {
            bail!("activate failed: {}", response.status());
        }
        while version_of(server).await? != expected_next {
            if started.elapsed() > Duration::from_secs(5) {
                bail!("the new version never answered");
            }
        }
        samples.push(micros(started.elapsed()));
        expected_next = if expected_next == "v1" { "v2" } else { "v1" };
    }
    samples.sort_unstable();
    println!(
        "activations: {}; p50 {:.2} ms; p99 {:.2} ms; max {:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or(0))
    );
    Ok(())
}

/// Latencies of the storage round trip: an insert, then a page of the user's newest rows.
struct StorageSamples {
    insert_us: Vec<u64>,
    query_us: Vec<u64>,
    round_trip_us: Vec<u64>,
    failures: usize,
}

/// `concurrency` users (one keep-alive client each) insert a mood log through the probe
/// component and read their 20 newest back, for `duration` (at most 200,000 round trips).
async fn storage_load(
    server: &Server,
    tokens: &[String],
    duration: Duration,
) -> Result<(StorageSamples, f64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(tokens.len())
        .build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let client = client.clone();
        let token = token.clone();
        let insert_url = server.url("/api/v1/probe/insert/mood_logs");
        let query_url = server.url("/api/v1/probe/query/mood_logs");
        let cap = 200_000 / tokens.len();
        tasks.push(tokio::spawn(async move {
            let mut samples = StorageSamples {
                insert_us: Vec::new(),
                query_us: Vec::new(),
                round_trip_us: Vec::new(),
                failures: 0,
            };
            let mut n = 0usize;
            while Instant::now() < deadline && samples.round_trip_us.len() < cap {
                n += 1;
                let sent = Instant::now();
                let insert = client
                    .post(&insert_url)
                    .bearer_auth(&token)
                    .json(&json!({"mood_score": (n + i) % 10 + 1, "note": "bench", "energy_level": n % 10 + 1}))
                    .send()
                    .await;
                let ok = matches!(&insert, Ok(r) if r.status() == 201);
                if let Ok(response) = insert {
                    let _ = response.bytes().await;
                }
                let inserted = Instant::now();
                let query = client
                    .post(&query_url)
                    .bearer_auth(&token)
                    .json(&json!({"order_by": "logged_at", "descending": true, "limit": 20}))
                    .send()
                    .await;
                let ok = ok && matches!(&query, Ok(r) if r.status() == 200);
                if let Ok(response) = query {
                    let _ = response.bytes().await;
                }
                if ok {
                    samples.insert_us.push(micros(inserted - sent));
                    samples.query_us.push(micros(inserted.elapsed()));
                    samples.round_trip_us.push(micros(sent.elapsed()));
                } else {
                    samples.failures += 1;
                }
            }
            samples
        }));
    }
    let mut all = StorageSamples {
        insert_us: Vec::new(),
        query_us: Vec::new(),
        round_trip_us: Vec::new(),
        failures: 0,
    };
    for task in tasks {
        let samples = task.await?;
        all.insert_us.extend(samples.insert_us);
        all.query_us.extend(samples.query_us);
        all.round_trip_us.extend(samples.round_trip_us);
        all.failures += samples.failures;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.insert_us.sort_unstable();
    all.query_us.sort_unstable();
    all.round_trip_us.sort_unstable();
    Ok((all, seconds))
}

async fn storage(server: &Server) -> Result<()> {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64)
        .min(20);
    let concurrency = std::env::var("BENCH_STORAGE_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8usize)
        .max(1);
    println!(
        "## storage round trip through a component ({concurrency} users, {seconds} s, backend {:?})",
        mindflow_tests::backend()
    );
    let mut tokens = Vec::new();
    for i in 0..concurrency {
        tokens.push(server.register(&email(&format!("bench-{i}"))).await?.0);
    }
    // Warm up (instances, connections, caches).
    storage_load(server, &tokens, Duration::from_secs(1)).await?;
    let (samples, elapsed) = storage_load(server, &tokens, Duration::from_secs(seconds)).await?;
    let trips = samples.round_trip_us.len();
    println!("| step | req/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|");
    for (name, sorted) in [
        ("insert (POST /insert/mood_logs)", &samples.insert_us),
        ("query (20 newest, keyset page)", &samples.query_us),
        ("insert + query round trip", &samples.round_trip_us),
    ] {
        println!(
            "| {name} | {:.0} | {} | {} |",
            per_second(sorted.len(), elapsed),
            percentile(sorted, 0.50),
            percentile(sorted, 0.99)
        );
    }
    println!(
        "round trips: {trips} in {elapsed:.1} s ({:.0} HTTP requests/s); failures: {}",
        per_second(2 * trips, elapsed),
        samples.failures
    );
    Ok(())
}

/// `concurrency` clients send requests made by `make` back to back for `duration` (bounded
/// in count): a closed loop, which finds the throughput limit; a 200 or 201 counts as success.
async fn load_with<F>(concurrency: usize, duration: Duration, make: F) -> Result<LoadResult>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    load_scheduled(concurrency, duration, None, make).await
}

/// Like [`load_with`], but each client sends one request every `interval` (their start
/// times spread over the first interval): a fixed offered load. A request's latency counts
/// from when it was due, not when it was sent, so a slow answer delaying the next request
/// is not hidden (no coordinated omission).
async fn load_paced<F>(
    concurrency: usize,
    duration: Duration,
    interval: Duration,
    make: F,
) -> Result<LoadResult>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    load_scheduled(concurrency, duration, Some(interval), make).await
}

async fn load_scheduled<F>(
    concurrency: usize,
    duration: Duration,
    interval: Option<Duration>,
    make: F,
) -> Result<LoadResult>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for index in 0..concurrency {
        let client = client.clone();
        let make = make.clone();
        let (index, clients) = (u32::try_from(index)?, u32::try_from(concurrency)?);
        let first_due = interval.map(|every| started + every * index / clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut due = first_due;
            while Instant::now() < deadline && latencies.len() < 200_000 {
                let sent = match due {
                    Some(at) => {
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => Instant::now(),
                };
                match make(&client).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(micros(sent.elapsed()));
                    }
                    _ => failures += 1,
                }
                due = due.zip(interval).map(|(at, every)| at + every);
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (latencies, failed) = task.await?;
        all.extend(latencies);
        failures += failed;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(LoadResult {
        latencies_us: all,
        failures,
        seconds,
    })
}

fn print_row(name: &str, result: &LoadResult) {
    println!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} |",
        result.rate(),
        ms(result.p50_us()),
        ms(result.p99_us()),
        result.failures
    );
}

/// Authenticated `GET /api/v1/users/me` (token check + two lookups).
async fn users_me(server: &Server) -> Result<()> {
    let (token, _) = server.register(&email("me")).await?;
    let url = server.url("/api/v1/users/me");
    let make = move |c: &reqwest::Client| c.get(&url).bearer_auth(&token);
    load_with(4, Duration::from_secs(1), make.clone()).await?;
    let result = load_with(16, Duration::from_secs(10), make).await?;
    println!("## authenticated GET /users/me (16 connections, 10 s)");
    println!("| endpoint | req/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|");
    print_row("GET /api/v1/users/me", &result);
    Ok(())
}

/// `POST /api/v1/mood/logs` with a 500-character note: auth, the mood component, sentiment,
/// crisis rules and a durable write, at 50 concurrent clients.
async fn mood_create(server: &Server) -> Result<()> {
    let (token, _) = server.register(&email("mood")).await?;
    let sentence = "Slept badly but the morning walk helped, work was busy and a bit stressful, dinner with my sister was lovely. ";
    let mut note = String::new();
    while note.len() < 500 {
        note.push_str(sentence);
    }
    note.truncate(500);
    let body = json!({"mood_score": 6, "energy_level": 5, "anxiety_level": 4, "note": note,
        "factors": [{"factor_type": "sleep", "impact_score": -2}, {"factor_type": "exercise", "impact_score": 2}]});
    let url = server.url("/api/v1/mood/logs");
    let make = move |c: &reqwest::Client| c.post(&url).bearer_auth(&token).json(&body);
    let clients = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50usize);
    load_with(4, Duration::from_secs(1), make.clone()).await?;
    let result = load_with(clients, Duration::from_secs(10), make.clone()).await?;
    println!("## POST /mood/logs with a 500-character note ({clients} clients, 10 s)");
    println!("| load | req/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|");
    print_row("closed loop (back to back)", &result);
    // The same clients at fixed offered loads below the limit: latency without the
    // queue a closed loop builds at saturation.
    for per_client_ms in [200u64, 100] {
        let result = load_paced(
            clients,
            Duration::from_secs(10),
            Duration::from_millis(per_client_ms),
            make.clone(),
        )
        .await?;
        print_row(
            &format!(
                "paced: each client every {per_client_ms} ms ({} req/s offered)",
                clients as u64 * 1000 / per_client_ms
            ),
            &result,
        );
    }
    Ok(())
}

/// Create and read of a 2,000-word journal entry (sealed, analysed, crisis-checked).
async fn journal(server: &Server) -> Result<()> {
    let (token, _) = server.register(&email("journal")).await?;
    let words = [
        "today", "I", "walked", "to", "work", "and", "thought", "about", "the", "week", "ahead",
        "feeling", "calm", "tired", "hopeful", "grateful", "for", "small", "things", "again",
    ];
    let content: Vec<&str> = (0..2000).map(|i| words[i % words.len()]).collect();
    let body = json!({"content": content.join(" "), "entry_type": "reflection"});
    let create_url = server.url("/api/v1/journal/entries");
    let first: Value = server
        .http
        .post(&create_url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    if id.is_empty() {
        bail!("journal create failed: {first}");
    }
    let read_url = server.url(&format!("/api/v1/journal/entries/{id}"));
    let create = {
        let token = token.clone();
        move |c: &reqwest::Client| c.post(&create_url).bearer_auth(&token).json(&body)
    };
    let read = move |c: &reqwest::Client| c.get(&read_url).bearer_auth(&token);
    load_with(4, Duration::from_secs(1), create.clone()).await?;
    let created = load_with(16, Duration::from_secs(10), create).await?;
    let read = load_with(16, Duration::from_secs(10), read).await?;
    println!("## journal: a 2,000-word entry (16 clients, 10 s each)");
    println!("| endpoint | req/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|");
    print_row("POST /api/v1/journal/entries", &created);
    print_row("GET /api/v1/journal/entries/{id}", &read);
    Ok(())
}

/// `bench load URL [CONNECTIONS] [SECONDS]`: loads a server started by hand (for profiling
/// it with `perf`) with `GET URL` and prints the figures.
async fn load_external(args: &[String]) -> Result<()> {
    let Some(url) = args.first() else {
        bail!("usage: bench load URL [CONNECTIONS] [SECONDS]");
    };
    let connections = args.get(1).map_or(Ok(1), |c| c.parse())?;
    let seconds = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let result = load(url, connections, Duration::from_secs(seconds)).await?;
    println!(
        "{url}: {connections} connection(s), {:.0} req/s, p50 {} µs, p99 {} µs, {} failures",
        result.rate(),
        result.p50_us(),
        result.p99_us(),
        result.failures
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let which: Vec<String> = std::env::args().skip(1).collect();
    match which.first().map(String::as_str) {
        Some("load") => return load_external(&which[1..]).await,
        // Each starts a server of its own (the chat component and its provider).
        Some("chat-safety") => {
            return chat::safety(which.get(1).map_or("dev", String::as_str)).await;
        }
        Some("chat") => return chat::costs().await,
        Some("insights") => return insights::run().await,
        Some("ratelimit") => return ratelimit::run().await,
        Some("replicas") => return replicas::run().await,
        Some("observability") => return observability::run().await,
        Some("wearables") => return wearables::run().await,
        Some("wearables-sync") => return wearables_sync::run().await,
        _ => {}
    }
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let mut options = ServerOptions::new(bench_manifest()).await?;
    options
        .env
        .push(("MINDFLOW_BENCH_NATIVE".into(), "true".into()));
    // Warnings only, but the line saying which port the server got must still be logged.
    options
        .env
        .push(("RUST_LOG".into(), "warn,mindflow::server=info".into()));
    let server = Arc::new(Server::start(options).await?);
    println!(
        "# MindFlow benchmarks — {} — backend {:?}",
        std::env::consts::ARCH,
        mindflow_tests::backend()
    );
    if wants("dispatch") {
        dispatch(&server).await?;
    }
    if wants("activation") {
        activation(&server).await?;
    }
    if wants("users") {
        users_me(&server).await?;
    }
    if wants("mood") {
        mood_create(&server).await?;
    }
    if wants("journal") {
        journal(&server).await?;
    }
    if wants("storage") {
        storage(&server).await?;
    }
    // Named only: not part of a run of every benchmark.
    if which.iter().any(|w| w == "api") {
        api::run(&server).await?;
    }
    if which.iter().any(|w| w == "soak") {
        api::soak::run(&server).await?;
    }
    Ok(())
}
