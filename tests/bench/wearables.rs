//! `bench wearables`: an Apple Health export streamed through the real server into the
//! sandboxed adapter (MB/s, under the adapter's memory cap), then `GET /wearables/metrics`
//! over a year of the days it stored, one request at a time (p50/p99) and at 16
//! connections.
//!
//! `BENCH_EXPORT` names the export (make one with `cargo run --release -p apple-health
//! --example generate_export -- OUT.xml DAYS`; about 0.9 MB a day, days from 2026-01-01).
//! `BENCH_CALLS` (300) metrics reads one at a time.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mindflow_tests::accounts::email;
use mindflow_tests::{Manifest, Server, ServerOptions};
use serde_json::{Value, json};

use super::{LoadResult, load_with, micros, ms, percentile};

/// A premium user (tagged `tag`) who consented to wearables: their access token.
pub(crate) async fn premium_wearer(server: &Server, tag: &str) -> Result<String> {
    let address = email(tag);
    let (token, id) = server.register(&address).await?;
    let admin = server.admin_token().await?;
    let upgraded = server
        .http
        .put(server.url(&format!("/api/v1/admin/users/{id}/subscription")))
        .bearer_auth(&admin)
        .json(&json!({"tier": "premium", "expires_at": null}))
        .send()
        .await?;
    if !upgraded.status().is_success() {
        bail!("upgrade: {}", upgraded.status());
    }
    let consent = server
        .http
        .put(server.url("/api/v1/users/me/consents/wearables"))
        .bearer_auth(&token)
        .json(&json!({"granted": true}))
        .send()
        .await?;
    if !consent.status().is_success() {
        bail!("consent: {}", consent.status());
    }
    Ok(token)
}

/// Runs the benchmark and prints its figures.
///
/// # Errors
/// When the export is missing, the server does not start, or a request fails.
pub async fn run() -> Result<()> {
    let path = std::env::var("BENCH_EXPORT").context(
        "BENCH_EXPORT must name an export.xml (cargo run --release -p apple-health --example generate_export -- OUT.xml DAYS)",
    )?;
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let size = std::fs::metadata(&path)?.len();
    let mut options =
        ServerOptions::new(Manifest::product(&["crisis-rules", "apple-health"])).await?;
    options
        .env
        .push(("RUST_LOG".into(), "warn,mindflow::server=info".into()));
    let server = Server::start(options).await?;
    let token = premium_wearer(&server, "wear-bench").await?;
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(
        mindflow_tests::workspace_root().join("spin.toml"),
    )?)?;
    let cap = manifest
        .get("component")
        .and_then(|c| c.get("apple-health"))
        .and_then(|c| c.get("tool"))
        .and_then(|t| t.get("mindflow"))
        .and_then(|m| m.get("memory_limit_mb"))
        .and_then(toml::Value::as_integer)
        .unwrap_or(0);
    println!("## wearables (backend {:?})", mindflow_tests::backend());
    println!();
    // Read first, so the figure is the server's (it streams the body into the adapter as
    // it arrives).
    let bytes = tokio::fs::read(&path).await?;
    let started = Instant::now();
    let response = server
        .http
        .post(server.url("/api/v1/wearables/upload/apple-health?filename=export.xml"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(3600))
        .body(bytes)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let seconds = started.elapsed().as_secs_f64();
    if !status.is_success() {
        bail!("upload answered {status}: {body}");
    }
    #[allow(clippy::cast_precision_loss, reason = "a file size far below 2^52")]
    let megabytes = size as f64 / 1_000_000.0;
    println!(
        "- upload of a {megabytes:.0} MB export.xml through the server into the adapter (memory cap {cap} MiB): {seconds:.1} s, **{:.1} MB/s**; {} days and {} sleep sessions stored, {} values dropped",
        megabytes / seconds,
        body["days"],
        body["sleep_sessions"],
        body["dropped"]
    );

    let year = "/api/v1/wearables/metrics?from=2026-01-01&to=2026-12-31";
    let url = server.url(year);
    let mut latencies = Vec::with_capacity(calls);
    let mut items = 0;
    for _ in 0..calls {
        let started = Instant::now();
        let response = server.http.get(&url).bearer_auth(&token).send().await?;
        if !response.status().is_success() {
            bail!("metrics answered {}", response.status());
        }
        let body: Value = response.json().await?;
        latencies.push(micros(started.elapsed()));
        items = body["items"].as_array().map_or(0, Vec::len);
    }
    latencies.sort_unstable();
    println!(
        "- `GET {year}` ({items} days, one request at a time, {calls} calls): p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );
    let (url, bearer) = (url.clone(), token.clone());
    let loaded: LoadResult = load_with(
        16,
        Duration::from_secs(5),
        move |client: &reqwest::Client| client.get(&url).bearer_auth(&bearer),
    )
    .await?;
    println!(
        "- the same at 16 connections for 5 s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} failures",
        loaded.rate(),
        ms(loaded.p50_us()),
        ms(loaded.p99_us()),
        loaded.failures
    );
    Ok(())
}
