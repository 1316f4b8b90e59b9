//! What every request carries in and out for the operator: a request id, a W3C trace
//! context, a tracing span, and its count and latency in the metrics.
//!
//! - **Request id.** A client's `X-Request-Id` is kept when it is a plain token (1–64 of
//!   `A–Z a–z 0–9 . _ -`), else one is made (a UUID). It goes to the component (so its logs
//!   and the host's agree), back on every response, and into every problem document as
//!   `request_id`, the host's and the components' alike.
//! - **Trace context** (W3C Trace Context, level 1). A valid incoming `traceparent` gives the
//!   trace id and flags; the request gets a span id of its own, sent back in `traceparent`.
//!   Without one (or with an invalid one) a new trace starts.
//! - **Metrics.** Requests by route *pattern* (a host route's, or the manifest route of the
//!   component that served it; never the raw path, which may hold ids), method and status,
//!   and a latency histogram.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::AppState;

/// The request id header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The largest problem document given a `request_id` (larger ones pass unchanged).
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

/// The request id of the request being served (an extension set by [`observe`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A W3C trace context: the trace, this request's span, the caller's span, the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// This request's span: 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's span (`parent-id` of the incoming `traceparent`), when it sent one.
    pub parent_span_id: Option<String>,
    /// The flags (`01`: sampled).
    pub flags: String,
}

impl TraceContext {
    /// Continues the trace of a valid `traceparent`, or starts a new one.
    pub fn continue_or_start(traceparent: Option<&str>) -> Self {
        let span_id = random_hex(8);
        if let Some((trace_id, parent_span_id, flags)) = traceparent.and_then(parse_traceparent) {
            return Self {
                trace_id,
                span_id,
                parent_span_id: Some(parent_span_id),
                flags,
            };
        }
        Self {
            trace_id: random_hex(16),
            span_id,
            parent_span_id: None,
            flags: "01".into(),
        }
    }

    /// The `traceparent` value naming this request's span.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

/// The trace id, parent id and flags of a version-00 `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`,
/// lowercase, ids not all zero); a future version is read by its first four fields, as the
/// specification asks.
fn parse_traceparent(value: &str) -> Option<(String, String, String)> {
    let value = value.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !hex(trace_id, 32) || !hex(parent_id, 16) || !hex(flags, 2) {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace_id.to_owned(), parent_id.to_owned(), flags.to_owned()))
}

/// `bytes` random bytes in lowercase hex (trace and span ids).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}

/// A client's request id when it is a plain token, else a new one.
pub fn request_id_of(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The route label: the host route's pattern, the component route's pattern, or
/// `unmatched`.
fn route_label(state: &AppState, request: &Request) -> String {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        return path.as_str().to_owned();
    }
    state
        .registry
        .manifest()
        .route(request.uri().path())
        .map_or_else(
            || "unmatched".to_owned(),
            |(route, _)| route.route.pattern().to_owned(),
        )
}

/// The middleware (see the module documentation).
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(request.headers().get(X_REQUEST_ID));
    let trace = TraceContext::continue_or_start(
        request
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok()),
    );
    let route = route_label(&state, &request);
    let method = request.method().as_str().to_owned();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(X_REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&trace.header()) {
        request.headers_mut().insert(TRACEPARENT, value);
    }
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "request",
        %request_id,
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
        parent_span_id = trace.parent_span_id.as_deref(),
        trace_flags = %trace.flags,
        %method,
        %route,
        status = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    let mut response = with_request_id_in_problem(response, &request_id).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&trace.header()) {
        headers.insert(TRACEPARENT, value);
    }
    let metrics = crate::metrics::global();
    let status = response.status().as_u16().to_string();
    metrics.http_requests.inc(&[&route, &method, &status]);
    metrics
        .http_duration
        .observe(&[&route, &method], started.elapsed().as_secs_f64());
    response
}

/// A problem document, host's or component's, with `request_id` added (when it has none).
async fn with_request_id_in_problem(response: Response, request_id: &str) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROBLEM_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.entry("request_id")
                .or_insert_with(|| serde_json::Value::String(request_id.to_owned()));
            let text = serde_json::Value::Object(map).to_string();
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(text)
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::continue_or_start(Some(incoming));
        assert_eq!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.flags, "01");
        assert_ne!(trace.span_id, "00f067aa0ba902b7");
        assert_eq!(trace.span_id.len(), 16);
        assert!(
            trace
                .header()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
    }

    #[test]
    fn an_invalid_traceparent_starts_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            let trace = TraceContext::continue_or_start(Some(bad));
            assert_ne!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(trace.trace_id.len(), 32);
        }
        // A future version is read by its first four fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert_eq!(
            TraceContext::continue_or_start(Some(future)).trace_id,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn a_client_request_id_is_kept_only_when_plain() {
        let plain = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(request_id_of(Some(&plain)), "abc-123_x.y");
        let odd = HeaderValue::from_static("has space");
        assert_ne!(request_id_of(Some(&odd)), "has space");
        let long = HeaderValue::from_str(&"a".repeat(65)).expect("header");
        assert_eq!(request_id_of(Some(&long)).len(), 36);
    }
}
