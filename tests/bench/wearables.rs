//! `bench wearables`: an Apple Health export streamed through the real server into the
//! sandboxed adapter (MB/s, under the adapter's memory cap), then `GET /wearables/metrics`
//! over a year of the days it stored, one request at a time (p50/p99) and at 16
//! connections.
//!
//! `BENCH_EXPORT` names the export: an `export.xml` or an `export.zip` (known by its first
//! bytes; make one with `cargo run --release -p apple-health --example generate_export --
//! OUT.xml|OUT.zip DAYS`; about 0.9 MB of XML a day, days from 2026-01-01). For a zip the
//! figure is given for both the bytes sent and the XML inflated from them (measured
//! beforehand with the adapter's own zip reader, natively).
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

/// The size of the `export.xml` inside `zip`, read with the adapter's zip reader.
fn export_size(zip: &[u8]) -> Result<u64> {
    let mut unzip = apple_health::zip::Unzip::default();
    let mut size = 0_u64;
    unzip.write(zip, &mut |xml: &[u8]| {
        size += xml.len() as u64;
        Ok::<(), apple_health::zip::ZipError>(())
    })?;
    unzip.finish()?;
    Ok(size)
}

/// Runs the benchmark and prints its figures.
///
/// # Errors
/// When the export is missing, the server does not start, or a request fails.
pub async fn run() -> Result<()> {
    let path = std::env::var("BENCH_EXPORT").context(
        "BENCH_EXPORT must name an export.xml or export.zip (cargo run --release -p apple-health --example generate_export -- OUT.xml|OUT.zip DAYS)",
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
    let zipped = bytes.starts_with(&apple_health::zip::MAGIC);
    let xml_size = if zipped { export_size(&bytes)? } else { size };
    let (filename, content_type) = if zipped {
        ("export.zip", "application/zip")
    } else {
        ("export.xml", "application/xml")
    };
    let started = Instant::now();
    let response = server
        .http
        .post(server.url(&format!(
            "/api/v1/wearables/upload/apple-health?filename={filename}"
        )))
        .bearer_auth(&token)
        .header("content-type", content_type)
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
    #[allow(clippy::cast_precision_loss, reason = "file sizes far below 2^52")]
    let (megabytes, xml_megabytes) = (size as f64 / 1_000_000.0, xml_size as f64 / 1_000_000.0);
    let what = if zipped {
        format!(
            "{megabytes:.0} MB export.zip ({xml_megabytes:.0} MB export.xml, {:.1}:1)",
            xml_megabytes / megabytes
        )
    } else {
        format!("{megabytes:.0} MB export.xml")
    };
    let rate = if zipped {
        format!(
            "**{:.1} MB/s of zip, {:.1} MB/s of XML**",
            megabytes / seconds,
            xml_megabytes / seconds
        )
    } else {
        format!("**{:.1} MB/s**", megabytes / seconds)
    };
    println!(
        "- upload of a {what} through the server into the adapter (memory cap {cap} MiB, one upload at a time): {seconds:.1} s, {rate}; {} days and {} sleep sessions stored, {} values dropped",
        body["days"], body["sleep_sessions"], body["dropped"]
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
