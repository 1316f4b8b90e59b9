//! Serving one request with a domain-service component, in process: a fresh store and
//! instance of `hello-spin` (an unmodified Spin component) per request, as the edge does, with
//! no HTTP or TCP around it. This is the part of the dispatch benchmark's added latency that
//! the runtime owns. Prints p50/p99; asserts nothing.
//!
//! Run with `cargo bench -p mindflow --bench http_call` after `cargo xtask components`.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mindflow::capabilities::HostServices;
use mindflow::crypto::{KeyService, MasterKeys};
use mindflow::db::Database;
use mindflow::manifest::Manifest;
use mindflow::registry::ComponentRegistry;
use mindflow::runtime::{Runnable, Runtime};

mod support;

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "bench"
[variables]
greeting = { default = "hello" }
[[trigger.http]]
route = "/api/v1/hello/..."
component = "hello"
[component.hello]
source = "hello-spin.wasm"
[component.hello.variables]
greeting = "{{ greeting }}"
[component.hello.tool.mindflow]
authentication = "none"
"#;

/// A request as the edge hands it over: an absolute URI and Spin's routing headers.
fn request() -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::get("http://127.0.0.1:8080/api/v1/hello")
        .header("host", "127.0.0.1:8080")
        .header("accept", "*/*");
    for (name, value) in [
        ("spin-full-url", "http://127.0.0.1:8080/api/v1/hello"),
        ("spin-path-info", ""),
        ("spin-matched-route", "/api/v1/hello/..."),
        ("spin-raw-component-route", "/api/v1/hello/..."),
        ("spin-component-route", "/api/v1/hello"),
        ("spin-base-path", "/"),
        ("x-request-id", "0b6f2f43-5d7c-4c47-9a52-6a3bd0e3f1a2"),
    ] {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = Manifest::parse(MANIFEST, &root.join("target/components"))?;
    let variables =
        mindflow::manifest::variables::resolve_application_variables(&manifest.variables)
            .map_err(anyhow::Error::msg)?;
    let data = tempfile::tempdir()?;
    let db = Database::connect(None, data.path()).await?;
    db.migrate().await?;
    let runtime = Runtime::new(data.path().join("cache"))?;
    let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
    let services = HostServices::new(
        db.clone(),
        keys,
        "moderate",
        mindflow::crisis::semantic::from_environment(),
    )
    .map_err(anyhow::Error::msg)?;
    let registry = Arc::new(ComponentRegistry::new(
        runtime,
        db,
        Arc::new(manifest),
        variables,
        services,
    ));
    registry.bootstrap().await?;
    let active = registry
        .get("hello")
        .ok_or_else(|| anyhow::anyhow!("hello is not active"))?;
    let Runnable::Http(component) = &active.prepared.runnable else {
        anyhow::bail!("hello is not an HTTP component");
    };
    let mut samples = Vec::with_capacity(20_000);
    for round in 0..22_000 {
        let started = Instant::now();
        let response = component.handle(request(), None, String::new()).await?;
        let body = response.into_body().collect().await?.to_bytes();
        if round >= 2_000 {
            samples.push(started.elapsed().as_nanos());
        }
        std::hint::black_box(body);
        // Between requests a server waits for the network: the host's own work between
        // requests (dropping the last store, making the next instance) runs then, untimed.
        tokio::task::yield_now().await;
    }
    samples.sort_unstable();
    println!(
        "hello-spin, fresh instance per request, in process: n={} p50 {:.1} µs, p99 {:.1} µs",
        samples.len(),
        support::percentile(&samples, 0.5) as f64 / 1000.0,
        support::percentile(&samples, 0.99) as f64 / 1000.0
    );
    Ok(())
}
