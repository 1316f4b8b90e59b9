//! Process metrics in the Prometheus text format (version 0.0.4), served on the operator's
//! separate listen address (`MINDFLOW_METRICS_LISTEN`, see [`crate::edge::metrics`]).
//!
//! One process-wide registry ([`global`]) of a few fixed families: every module counts into
//! it without being handed anything, so the runtime, the capabilities and the edge stay
//! decoupled. Labels hold only bounded, non-personal values: route *patterns* (never a
//! path with an id in it), methods, status codes, component names and versions, severities,
//! providers and outcomes. **Never a user id or any user text.**
//!
//! Counters and histograms are kept per label set behind a short mutex; a request costs one
//! lookup per family it touches (measured in BENCHMARKS.md, "Metrics").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

/// A counter family: a monotonically increasing value per label set.
pub struct Counter {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl Counter {
    const fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one for these label values (in the family's label order).
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    /// Adds `n` for these label values.
    pub fn add(&self, values: &[&str], n: u64) {
        let Ok(mut map) = self.values.lock() else {
            return;
        };
        if let Some(value) = map.get_mut(&key(values)) {
            *value += n;
        } else {
            map.insert(key(values), n);
        }
    }

    /// The value for these label values (0 when never counted).
    pub fn get(&self, values: &[&str]) -> u64 {
        self.values
            .lock()
            .ok()
            .and_then(|map| map.get(&key(values)).copied())
            .unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} counter", self.name);
        let Ok(map) = self.values.lock() else {
            return;
        };
        for (values, value) in map.iter() {
            let _ = writeln!(
                out,
                "{}{} {value}",
                self.name,
                label_text(self.labels, values, None)
            );
        }
    }
}

fn key(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Bucket bounds of request and call latencies, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Buckets {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A histogram family of durations in seconds ([`LATENCY_BUCKETS`]).
pub struct Histogram {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, Buckets>>,
}

impl Histogram {
    const fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one observation of `seconds`.
    pub fn observe(&self, values: &[&str], seconds: f64) {
        let Ok(mut map) = self.values.lock() else {
            return;
        };
        let buckets = match map.get_mut(&key(values)) {
            Some(buckets) => buckets,
            None => map.entry(key(values)).or_default(),
        };
        for (bound, count) in LATENCY_BUCKETS.iter().zip(buckets.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        buckets.count += 1;
        buckets.sum += seconds;
    }

    /// Observations recorded for these label values.
    pub fn count(&self, values: &[&str]) -> u64 {
        self.values
            .lock()
            .ok()
            .and_then(|map| map.get(&key(values)).map(|b| b.count))
            .unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} histogram", self.name);
        let Ok(map) = self.values.lock() else {
            return;
        };
        for (values, buckets) in map.iter() {
            for (bound, count) in LATENCY_BUCKETS.iter().zip(buckets.counts.iter()) {
                let le = bound.to_string();
                let _ = writeln!(
                    out,
                    "{}_bucket{} {count}",
                    self.name,
                    label_text(self.labels, values, Some(&le))
                );
            }
            let _ = writeln!(
                out,
                "{}_bucket{} {}",
                self.name,
                label_text(self.labels, values, Some("+Inf")),
                buckets.count
            );
            let labels = label_text(self.labels, values, None);
            let _ = writeln!(out, "{}_sum{labels} {}", self.name, buckets.sum);
            let _ = writeln!(out, "{}_count{labels} {}", self.name, buckets.count);
        }
    }
}

/// `{a="x",b="y"}` (with `le` last for a bucket), values escaped as the format requires.
fn label_text(names: &[&str], values: &[String], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every family the host keeps.
pub struct Metrics {
    /// Requests answered, by route pattern, method and status.
    pub http_requests: Counter,
    /// Request latency, by route pattern and method.
    pub http_duration: Histogram,
    /// Component instances made, by component and version.
    pub component_instances: Counter,
    /// Component calls that failed, by component, version and kind (`trap`, `deadline`,
    /// `memory_limit`, `fuel`, `no_response`, `unavailable`).
    pub component_failures: Counter,
    /// Crisis assessments, by severity (counts only).
    pub crisis_assessments: Counter,
    /// Language-model calls, by provider and outcome (`ok`, `filtered`, `error`).
    pub llm_calls: Counter,
    /// Language-model tokens, by provider and kind (`prompt`, `completion`).
    pub llm_tokens: Counter,
    /// Language-model call latency, by provider.
    pub llm_duration: Histogram,
    /// Nightly per-user runs, by component and outcome.
    pub nightly_runs: Counter,
    /// Requests refused by a rate limit, by route class.
    pub rate_limit_rejections: Counter,
    /// Rate-limit checks made in process because Redis was unreachable, erroring or slow.
    pub rate_limit_fallbacks: Counter,
    /// Spans handed to the trace collector, by outcome (`exported`, `dropped`).
    pub otlp_spans: Counter,
    /// Wearable syncs, by provider and outcome (`active`, `error`, `reauth_required`).
    pub wearable_syncs: Counter,
    /// Requests wearable adapters sent to their providers, by provider.
    pub wearable_requests: Counter,
    /// Wearable webhook deliveries, by provider and outcome.
    pub wearable_webhooks: Counter,
}

impl Metrics {
    const fn new() -> Self {
        Self {
            http_requests: Counter::new(
                "mindflow_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
                &["route", "method", "status"],
            ),
            http_duration: Histogram::new(
                "mindflow_http_request_duration_seconds",
                "Time to the response head, by route pattern and method.",
                &["route", "method"],
            ),
            component_instances: Counter::new(
                "mindflow_component_instances_total",
                "Component instances made (one per request or call).",
                &["component", "version"],
            ),
            component_failures: Counter::new(
                "mindflow_component_failures_total",
                "Component requests or calls that failed, by kind (trap, deadline, memory_limit, fuel, no_response, unavailable).",
                &["component", "version", "kind"],
            ),
            crisis_assessments: Counter::new(
                "mindflow_crisis_assessments_total",
                "Crisis assessments, by severity.",
                &["severity"],
            ),
            llm_calls: Counter::new(
                "mindflow_llm_calls_total",
                "Language-model calls, by provider and outcome.",
                &["provider", "outcome"],
            ),
            llm_tokens: Counter::new(
                "mindflow_llm_tokens_total",
                "Language-model tokens, by provider and kind (prompt, completion).",
                &["provider", "kind"],
            ),
            llm_duration: Histogram::new(
                "mindflow_llm_call_duration_seconds",
                "Language-model call latency, by provider.",
                &["provider"],
            ),
            nightly_runs: Counter::new(
                "mindflow_nightly_runs_total",
                "Nightly per-user runs, by component and outcome.",
                &["component", "outcome"],
            ),
            rate_limit_rejections: Counter::new(
                "mindflow_rate_limit_rejections_total",
                "Requests refused by a rate limit, by route class.",
                &["class"],
            ),
            rate_limit_fallbacks: Counter::new(
                "mindflow_rate_limit_fallbacks_total",
                "Rate-limit checks made in process because Redis was unreachable, erroring or slow.",
                &[],
            ),
            otlp_spans: Counter::new(
                "mindflow_otlp_spans_total",
                "Trace spans for the OTLP collector, by outcome (exported, dropped).",
                &["outcome"],
            ),
            wearable_syncs: Counter::new(
                "mindflow_wearable_syncs_total",
                "Wearable syncs, by provider and outcome (active, deferred, error, reauth_required).",
                &["provider", "outcome"],
            ),
            wearable_requests: Counter::new(
                "mindflow_wearable_provider_requests_total",
                "Requests wearable adapters sent to their providers, by provider.",
                &["provider"],
            ),
            wearable_webhooks: Counter::new(
                "mindflow_wearable_webhooks_total",
                "Wearable webhook deliveries, by provider and outcome.",
                &["provider", "outcome"],
            ),
        }
    }

    /// Every family in the text format, then `extra` (gauges the caller samples now, such
    /// as the database pool's: `(name, help, value)`).
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        self.http_requests.render(&mut out);
        self.http_duration.render(&mut out);
        self.component_instances.render(&mut out);
        self.component_failures.render(&mut out);
        self.crisis_assessments.render(&mut out);
        self.llm_calls.render(&mut out);
        self.llm_tokens.render(&mut out);
        self.llm_duration.render(&mut out);
        self.nightly_runs.render(&mut out);
        self.rate_limit_rejections.render(&mut out);
        self.rate_limit_fallbacks.render(&mut out);
        self.otlp_spans.render(&mut out);
        self.wearable_syncs.render(&mut out);
        self.wearable_requests.render(&mut out);
        self.wearable_webhooks.render(&mut out);
        for (name, help, value) in extra {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// The process's registry.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let metrics = Metrics::new();
        metrics
            .http_requests
            .inc(&["/api/v1/mood/...", "GET", "200"]);
        metrics
            .http_requests
            .inc(&["/api/v1/mood/...", "GET", "200"]);
        metrics
            .http_duration
            .observe(&["/api/v1/mood/...", "GET"], 0.003);
        metrics.crisis_assessments.inc(&["high"]);
        let text = metrics.render(&[("mindflow_db_pool_connections", "Open connections.", 4.0)]);
        assert!(text.contains(
            "mindflow_http_requests_total{route=\"/api/v1/mood/...\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "mindflow_http_request_duration_seconds_bucket{route=\"/api/v1/mood/...\",method=\"GET\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "mindflow_http_request_duration_seconds_bucket{route=\"/api/v1/mood/...\",method=\"GET\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "mindflow_http_request_duration_seconds_bucket{route=\"/api/v1/mood/...\",method=\"GET\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains("mindflow_http_request_duration_seconds_count{route=\"/api/v1/mood/...\",method=\"GET\"} 1"));
        assert!(text.contains("mindflow_crisis_assessments_total{severity=\"high\"} 1"));
        assert!(
            text.contains(
                "# TYPE mindflow_db_pool_connections gauge\nmindflow_db_pool_connections 4"
            )
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_text(&["a"], &["x\"y\\z\n".to_owned()], None),
            "{a=\"x\\\"y\\\\z\\n\"}"
        );
    }
}
