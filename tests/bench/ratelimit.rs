//! `bench ratelimit`: what request rate limiting costs per request. Three servers of one
//! manifest: limits off, in process, and shared through a real Redis
//! (`MINDFLOW_REDIS_SERVER`), each loaded in turn with `GET /api/v1/hello` (the `hello-spin`
//! component) at 16 connections in alternating 1 s slices, so drifts of the machine hit
//! all three alike. The limit is far out of reach: every request is counted, none refused.

use std::time::Duration;

use anyhow::{Result, bail};
use mindflow_tests::redis::Redis;
use mindflow_tests::{Server, ServerOptions};

use super::{LoadResult, bench_manifest, load};

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

/// Runs the benchmark and prints its table.
///
/// # Errors
/// When a server or Redis does not start, or a load run fails.
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
    let redis = Redis::start().await?;
    let reads = ("MINDFLOW_RATE_LIMIT_READS", "1000000000/60s".to_owned());
    let servers = [
        (
            "off",
            start(&[("MINDFLOW_RATE_LIMITS", "off".to_owned())]).await?,
        ),
        ("in process", start(std::slice::from_ref(&reads)).await?),
        (
            "Redis",
            start(&[reads.clone(), ("REDIS_URL", redis.url())]).await?,
        ),
    ];
    println!(
        "## rate limiting per request ({seconds} s per mode in alternating 1 s slices, {connections} connections, GET /api/v1/hello, loopback)"
    );
    let slice = Duration::from_secs(1);
    for (_, server) in &servers {
        load(&server.url("/api/v1/hello"), 4, slice).await?;
    }
    let mut results: Vec<Option<LoadResult>> = vec![None, None, None];
    for _ in 0..seconds {
        for ((_, server), result) in servers.iter().zip(results.iter_mut()) {
            let run = load(&server.url("/api/v1/hello"), connections, slice).await?;
            match result {
                Some(so_far) => so_far.absorb(run),
                None => *result = Some(run),
            }
        }
    }
    let results: Vec<LoadResult> = results.into_iter().flatten().collect();
    let [off, local, shared] = results.as_slice() else {
        bail!("a mode was not measured");
    };
    println!("| limits | req/s | p50 µs | p99 µs | failures |");
    println!("|---|---|---|---|---|");
    for ((name, _), result) in servers.iter().zip([off, local, shared]) {
        println!(
            "| {name} | {:.0} | {} | {} | {} |",
            result.rate(),
            result.p50_us(),
            result.p99_us(),
            result.failures
        );
    }
    for (name, result) in [("in process", local), ("Redis", shared)] {
        println!(
            "{name} vs off: throughput {:.1}%, p50 {:+} µs, p99 {:+} µs",
            100.0 * result.rate() / off.rate().max(f64::MIN_POSITIVE),
            signed(result.p50_us(), off.p50_us()),
            signed(result.p99_us(), off.p99_us()),
        );
    }
    for (name, server) in &servers {
        if server.log().contains("Redis unavailable") {
            bail!("the {name} server fell back from Redis during the run: figures are not Redis's");
        }
    }
    Ok(())
}

/// `a - b` as a signed number of microseconds.
fn signed(a: u64, b: u64) -> i128 {
    i128::from(a) - i128::from(b)
}
