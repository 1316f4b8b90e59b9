//! The edge's own work per request for observability (`edge::observe`): the request id, the
//! trace context from `traceparent`, the request counter and the latency histogram, on one
//! thread, without HTTP around it. Compare with a request's whole cost in the dispatch
//! benchmark (`cargo xtask bench dispatch`). Prints per-request nanoseconds; asserts nothing.
//!
//! Run with `cargo bench -p mindflow --bench observe`.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(clippy::cast_precision_loss)]

use std::time::Instant;

use axum::http::HeaderValue;
use mindflow::edge::observe::{TraceContext, request_id_of};

const REQUESTS: u32 = 200_000;

fn main() {
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let client_id = HeaderValue::from_static("client-chosen-42");
    let metrics = mindflow::metrics::global();
    let routes = [
        "/api/v1/mood/...",
        "/api/v1/journal/...",
        "/api/v1/users/me",
    ];
    for round in 0..3 {
        let started = Instant::now();
        let mut bytes = 0usize;
        for i in 0..REQUESTS {
            let with_headers = i % 2 == 0;
            let id = request_id_of(with_headers.then_some(&client_id));
            let trace = TraceContext::continue_or_start(with_headers.then_some(traceparent));
            let route = routes[(i % 3) as usize];
            metrics.http_requests.inc(&[route, "GET", "200"]);
            metrics.http_duration.observe(&[route, "GET"], 0.000_2);
            bytes += id.len() + trace.header().len();
        }
        let per_request = started.elapsed().as_nanos() as f64 / f64::from(REQUESTS);
        println!(
            "round {round}: {per_request:.0} ns per request (id, trace context, counter, histogram; half with client headers) [{bytes} bytes of headers]"
        );
    }
}
