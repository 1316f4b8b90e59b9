//! The exporter: batches finished spans and POSTs them to the collector as OTLP/HTTP JSON.
//!
//! A batch leaves when it holds [`MAX_BATCH`] spans or a second after its first span. A
//! refused batch (429, 502, 503, 504, or no connection) is tried once more after the
//! collector's `Retry-After` (at most five seconds) or a second, then dropped and counted:
//! a collector that is down costs memory bounded by the channel and one task, never a
//! request's latency.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::encode::export_request;
use super::span::FinishedSpan;

/// Spans per request to the collector.
pub const MAX_BATCH: usize = 512;

/// How long the first span of a batch waits for others.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait before the one retry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// Where and how batches are sent.
pub struct Exporter {
    /// The traces endpoint (`…/v1/traces`).
    pub url: String,
    /// Extra headers (a collector's API key): never logged.
    pub headers: HeaderMap,
    /// `service.name`.
    pub service_name: String,
    /// The HTTP client (timeouts set).
    pub client: reqwest::Client,
}

impl Exporter {
    /// Receives spans until every sender is gone, sending them in batches.
    pub async fn run(self, mut spans: mpsc::Receiver<FinishedSpan>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = spans.recv().await {
            batch.push(first);
            let deadline = Instant::now() + FLUSH_INTERVAL;
            while batch.len() < MAX_BATCH {
                match tokio::time::timeout_at(deadline, spans.recv()).await {
                    Ok(Some(span)) => batch.push(span),
                    Ok(None) | Err(_) => break,
                }
            }
            self.send(&batch).await;
            batch.clear();
        }
    }

    async fn send(&self, batch: &[FinishedSpan]) {
        let body = export_request(&self.service_name, batch).to_string();
        let count = batch.len() as u64;
        let metrics = crate::metrics::global();
        for attempt in 0..2 {
            let sent = self
                .client
                .post(&self.url)
                .headers(self.headers.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let wait = match sent {
                Ok(response) if response.status().is_success() => {
                    metrics.otlp_spans.add(&["exported"], count);
                    return;
                }
                Ok(response) if matches!(response.status().as_u16(), 429 | 502 | 503 | 504) => {
                    tracing::warn!(
                        status = response.status().as_u16(),
                        spans = count,
                        attempt,
                        "the trace collector refused a batch"
                    );
                    retry_after(response.headers())
                }
                Ok(response) => {
                    tracing::warn!(
                        status = response.status().as_u16(),
                        spans = count,
                        "the trace collector rejected a batch; dropped"
                    );
                    break;
                }
                Err(error) => {
                    // The error names the URL, never the headers.
                    tracing::warn!(%error, spans = count, attempt, "cannot reach the trace collector");
                    FLUSH_INTERVAL
                }
            };
            if attempt == 0 {
                tokio::time::sleep(wait).await;
            }
        }
        metrics.otlp_spans.add(&["dropped"], count);
    }
}

/// The collector's `Retry-After` in seconds, capped; a second when it gives none.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(FLUSH_INTERVAL, |s| {
            Duration::from_secs(s).min(MAX_RETRY_WAIT)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_and_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), FLUSH_INTERVAL);
        headers.insert(RETRY_AFTER, "2".parse().expect("header"));
        assert_eq!(retry_after(&headers), Duration::from_secs(2));
        headers.insert(RETRY_AFTER, "3600".parse().expect("header"));
        assert_eq!(retry_after(&headers), MAX_RETRY_WAIT);
    }
}
