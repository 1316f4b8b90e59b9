//! An OpenTelemetry collector double: accepts OTLP/HTTP JSON on `POST /v1/traces` (the real
//! wire format) and keeps each export's headers and spans for the test to read. It can be
//! told to refuse (503), as a collector that is down or overloaded does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One export request as received.
#[derive(Debug, Clone)]
pub struct Export {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, raw (to search for what must never be in it).
    pub body: String,
    /// Its spans, flattened out of `resourceSpans[].scopeSpans[].spans[]`.
    pub spans: Vec<Value>,
    /// `service.name` of its resource.
    pub service_name: Option<String>,
}

#[derive(Default)]
struct Inner {
    exports: Vec<Export>,
    refuse: bool,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running collector double; stopped when dropped.
pub struct Collector {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if lock(&shared).refuse {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let Ok(document) = serde_json::from_str::<Value>(&text) else {
        return StatusCode::BAD_REQUEST;
    };
    let resources = document["resourceSpans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let service_name = resources.first().and_then(|r| {
        r["resource"]["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == "service.name")?["value"]["stringValue"]
            .as_str()
            .map(str::to_owned)
    });
    let spans = resources
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    lock(&shared).exports.push(Export {
        headers,
        body: text,
        spans,
        service_name,
    });
    StatusCode::OK
}

impl Collector {
    /// Starts a collector on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the collector double")?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every export so far.
    pub fn exports(&self) -> Vec<Export> {
        lock(&self.shared).exports.clone()
    }

    /// Every span so far.
    pub fn spans(&self) -> Vec<Value> {
        self.exports().into_iter().flat_map(|e| e.spans).collect()
    }

    /// From now on, answer 503 (`true`) or accept (`false`).
    pub fn refuse(&self, refuse: bool) {
        lock(&self.shared).refuse = refuse;
    }
}

/// The value of attribute `key` of an OTLP span (string, or an integer as its text).
pub fn attribute(span: &Value, key: &str) -> Option<String> {
    let value = &span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"];
    value["stringValue"]
        .as_str()
        .or_else(|| value["intValue"].as_str())
        .map(str::to_owned)
}
