//! `bench observability`: what metrics and trace export cost per request. Three servers of
//! one manifest: neither (no metrics address, no OTLP endpoint), metrics served, and
//! metrics plus every span exported over OTLP/HTTP to a collector double in this process.
//! Each is loaded in turn with `GET /api/v1/mood/logs?limit=20` (a component, its storage
//! calls and their statements: about a dozen spans a request) at 16 connections in
//! alternating 1 s slices, so drifts of the machine hit all three alike. The request
//! counters and the request span exist in every mode (they cost about 0.4 µs, see `cargo
//! bench -p mindflow --bench observe`); what is compared is serving metrics, and building
//! and exporting the debug-level spans.

use anyhow::{Result, bail};
use mindflow_tests::collector::Collector;
use mindflow_tests::{Server, ServerOptions};
use serde_json::json;

use super::{LoadResult, bench_manifest, load_with};

async fn start(env: &[(&str, String)]) -> Result<Server> {
    let mut options = ServerOptions::new(bench_manifest()).await?;
    for (name, value) in env {
        options.env.push(((*name).into(), value.clone()));
    }
    options
        .env
        .push(("RUST_LOG".into(), "warn,mindflow::server=info".into()));
    Server::start(options).await
}

/// A user with 40 mood logs on `server`; their token.
async fn user_with_logs(server: &Server) -> Result<String> {
    let (token, _) = server
        .register(&mindflow_tests::accounts::email("observe"))
        .await?;
    for i in 0..40 {
        let status = server
            .http
            .post(server.url("/api/v1/mood/logs"))
            .bearer_auth(&token)
            .json(&json!({"mood_score": 1 + i % 10, "note": format!("note {i}")}))
            .send()
            .await?
            .status();
        if status != 201 {
            bail!("seeding a mood log answered {status}");
        }
    }
    Ok(token)
}

/// Runs the benchmark and prints its table.
///
/// # Errors
/// When a server or the collector does not start, or a load run fails.
pub async fn run() -> Result<()> {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64)
        .max(1);
    let connections = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16usize);
    let collector = Collector::start().await?;
    let metrics = ("MINDFLOW_METRICS_LISTEN", "127.0.0.1:0".to_owned());
    let servers = [
        ("neither", start(&[]).await?),
        ("metrics", start(std::slice::from_ref(&metrics)).await?),
        (
            "metrics + OTLP traces",
            start(&[
                metrics.clone(),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            ])
            .await?,
        ),
    ];
    let mut tokens = Vec::new();
    for (_, server) in &servers {
        tokens.push(user_with_logs(server).await?);
    }
    println!(
        "## observability per request ({seconds} s per mode in alternating 1 s slices, {connections} connections, GET /api/v1/mood/logs?limit=20 of 40 logs, loopback)"
    );
    let slice = std::time::Duration::from_secs(1);
    let run_one = |server: &Server, token: &str| {
        let (url, token) = (server.url("/api/v1/mood/logs?limit=20"), token.to_owned());
        load_with(connections, slice, move |client: &reqwest::Client| {
            client.get(&url).bearer_auth(&token)
        })
    };
    for ((_, server), token) in servers.iter().zip(&tokens) {
        run_one(server, token).await?;
    }
    let mut results: Vec<Option<LoadResult>> = vec![None, None, None];
    for _ in 0..seconds {
        for (((_, server), token), result) in servers.iter().zip(&tokens).zip(results.iter_mut()) {
            let run = run_one(server, token).await?;
            match result {
                Some(so_far) => so_far.absorb(run),
                None => *result = Some(run),
            }
        }
    }
    let results: Vec<LoadResult> = results.into_iter().flatten().collect();
    let [neither, ..] = results.as_slice() else {
        bail!("a mode was not measured");
    };
    println!("| mode | req/s | vs neither | p50 µs | p99 µs | failures |");
    println!("|---|---|---|---|---|---|");
    for ((name, _), result) in servers.iter().zip(&results) {
        println!(
            "| {name} | {:.0} | {:.1}% | {} | {} | {} |",
            result.rate(),
            100.0 * result.rate() / neither.rate().max(f64::MIN_POSITIVE),
            result.p50_us(),
            result.p99_us(),
            result.failures
        );
    }
    let spans = collector.spans().len();
    println!(
        "spans received by the collector: {spans} ({:.1} per request served by the tracing server)",
        super::float(spans as u64) / super::float(results[2].latencies_us.len().max(1) as u64)
    );
    Ok(())
}
