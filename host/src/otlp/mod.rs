//! OpenTelemetry trace export over OTLP/HTTP with JSON encoding, when configured.
//!
//! The host's spans (each request with its route, method and status; each component call;
//! each capability call; each database statement) already carry the request's W3C trace
//! context ([`crate::edge::observe`]). With an endpoint configured, [`layer::OtlpLayer`]
//! turns them into OTLP spans of that trace and [`export::Exporter`] sends them to the
//! collector in batches. Written here rather than taken from the `opentelemetry` crates:
//! the wire format is small and stable, and those crates would bring a second HTTP stack
//! and async runtime glue into a build that is already heavy.
//!
//! What a span holds is chosen for privacy: route *patterns* (never a raw path, which may
//! hold ids), statuses, component names and versions, collection names, and this host's
//! SQL text with placeholders (never a value). Spans of other crates (the HTTP stack's,
//! which name raw URIs) are not exported.
//!
//! Configuration, with OpenTelemetry's standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (the collector's base URL; `/v1/traces` is appended) or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), `OTEL_EXPORTER_OTLP_HEADERS`
//! (`key=value,…`, values percent-encoded: a collector's API key, never logged),
//! `OTEL_SERVICE_NAME` (default `mindflow`) and `OTEL_EXPORTER_OTLP_PROTOCOL` (only
//! `http/json`).

pub mod encode;
pub mod export;
pub mod layer;
pub mod span;

use std::time::Duration;

use clap::Args;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tracing::Level;

use crate::secrets::Secret;

/// Finished spans waiting for the exporter; more are dropped (and counted).
const QUEUE: usize = 8192;

/// Trace export settings (OpenTelemetry's environment variables).
#[derive(Debug, Clone, Args)]
pub struct OtlpConfig {
    /// The OTLP/HTTP collector's base URL (`/v1/traces` is appended); unset: no export.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The full traces URL; wins over `--otlp-endpoint`.
    #[arg(
        long = "otlp-traces-endpoint",
        env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )]
    pub traces_endpoint: Option<String>,
    /// Headers sent with every export (`key=value,…`, values percent-encoded).
    #[arg(
        long = "otlp-headers",
        env = "OTEL_EXPORTER_OTLP_HEADERS",
        hide_env_values = true
    )]
    pub headers: Option<String>,
    /// The wire protocol: only `http/json` is built in.
    #[arg(long = "otlp-protocol", env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/json", value_parser = ["http/json"])]
    pub protocol: String,
    /// `service.name` on every exported span.
    #[arg(
        long = "otel-service-name",
        env = "OTEL_SERVICE_NAME",
        default_value = "mindflow"
    )]
    pub service_name: String,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The endpoint is not an http(s) URL.
    #[error("the OTLP endpoint `{0}` is not an http:// or https:// URL")]
    Endpoint(String),
    /// A header is not `key=value` with a valid name and value: given by its position, since
    /// its text may hold a key.
    #[error(
        "OTEL_EXPORTER_OTLP_HEADERS: header number {0} is not `key=value` with a valid name and value"
    )]
    Header(usize),
    /// The HTTP client could not be built.
    #[error("cannot build the OTLP client: {0}")]
    Client(String),
}

impl OtlpConfig {
    /// The traces URL, when export is configured.
    ///
    /// # Errors
    /// [`OtlpError::Endpoint`] for anything but an http(s) URL.
    pub fn traces_url(&self) -> Result<Option<String>, OtlpError> {
        let url = match (&self.traces_endpoint, &self.endpoint) {
            (Some(full), _) if !full.trim().is_empty() => full.trim().to_owned(),
            (_, Some(base)) if !base.trim().is_empty() => {
                format!("{}/v1/traces", base.trim().trim_end_matches('/'))
            }
            _ => return Ok(None),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(OtlpError::Endpoint(url));
        }
        Ok(Some(url))
    }

    fn header_map(&self) -> Result<HeaderMap, OtlpError> {
        let mut map = HeaderMap::new();
        let Some(text) = self.headers.as_ref().map(|h| Secret::new(h.clone())) else {
            return Ok(map);
        };
        let pairs = text.expose().split(',').filter(|p| !p.trim().is_empty());
        for (index, pair) in pairs.enumerate() {
            let refused = || OtlpError::Header(index + 1);
            let (key, value) = pair.split_once('=').ok_or_else(refused)?;
            let name = HeaderName::from_bytes(key.trim().as_bytes()).map_err(|_| refused())?;
            let mut value =
                HeaderValue::from_str(&percent_decode(value.trim())).map_err(|_| refused())?;
            value.set_sensitive(true);
            map.append(name, value);
        }
        Ok(map)
    }

    /// The layer to add to the subscriber and the exporter to spawn, when export is
    /// configured.
    ///
    /// # Errors
    /// [`OtlpError`] for an unusable endpoint, header or client.
    pub fn build(&self) -> Result<Option<(layer::OtlpLayer, Pipeline)>, OtlpError> {
        let Some(url) = self.traces_url()? else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OtlpError::Client(e.to_string()))?;
        let (sender, receiver) = mpsc::channel(QUEUE);
        let exporter = export::Exporter {
            url,
            headers: self.header_map()?,
            service_name: self.service_name.clone(),
            client,
        };
        Ok(Some((
            layer::OtlpLayer::new(sender),
            Pipeline {
                exporter,
                spans: receiver,
            },
        )))
    }
}

/// The exporter with the spans the layer hands it; [`Pipeline::run`] it on the runtime.
pub struct Pipeline {
    exporter: export::Exporter,
    spans: mpsc::Receiver<span::FinishedSpan>,
}

impl Pipeline {
    /// Sends batches until the layer is gone.
    pub async fn run(self) {
        self.exporter.run(self.spans).await;
    }
}

/// Whether a span is exported: this host's crates' (`mindflow`, `mindflow_db`, …), debug
/// level and up (statements and capability calls included), whatever the log filter says.
///
/// The layer checks this itself rather than through a per-layer filter: with the log
/// filter and a per-layer filter side by side, spans created inside a component's
/// capability calls on PostgreSQL were seen by the layer without their request span (a
/// trace in pieces). Unfiltered, the layer sees every span the registry makes and keeps
/// its own; a span of another crate in between is skipped when finding a parent.
pub fn exported(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target().starts_with("mindflow") && *metadata.level() <= Level::DEBUG
}

/// `%XX` escapes decoded (the header value format of OTLP's environment variable).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<&str>, traces: Option<&str>, headers: Option<&str>) -> OtlpConfig {
        OtlpConfig {
            endpoint: endpoint.map(str::to_owned),
            traces_endpoint: traces.map(str::to_owned),
            headers: headers.map(str::to_owned),
            protocol: "http/json".into(),
            service_name: "mindflow".into(),
        }
    }

    #[test]
    fn the_traces_url_comes_from_either_variable() {
        assert_eq!(config(None, None, None).traces_url().expect("ok"), None);
        assert_eq!(
            config(Some("http://collector:4318/"), None, None)
                .traces_url()
                .expect("ok")
                .as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            config(Some("http://a:4318"), Some("https://b/otlp/traces"), None)
                .traces_url()
                .expect("ok")
                .as_deref(),
            Some("https://b/otlp/traces")
        );
        assert!(
            config(Some("collector:4318"), None, None)
                .traces_url()
                .is_err()
        );
    }

    #[test]
    fn headers_are_parsed_decoded_and_kept_sensitive() {
        let map = config(None, None, Some("api-key=s3cr%3Dt, x-team = ops"))
            .header_map()
            .expect("headers");
        assert_eq!(
            map.get("api-key").map(HeaderValue::as_bytes),
            Some(&b"s3cr=t"[..])
        );
        assert!(map.get("api-key").is_some_and(HeaderValue::is_sensitive));
        assert_eq!(
            map.get("x-team").map(HeaderValue::as_bytes),
            Some(&b"ops"[..])
        );
        let error = config(None, None, Some("x-team=ops,no-equals-sign-secret"))
            .header_map()
            .expect_err("refused");
        assert!(error.to_string().contains("number 2"));
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
