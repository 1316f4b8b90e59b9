//! The `tracing` layer that turns this host's spans into OTLP spans.
//!
//! A span takes its trace from its own `trace_id`/`span_id`/`parent_span_id`/`trace_flags`
//! fields when it has them (the request span: the W3C trace context of the request, so
//! the exported trace continues the caller's), else from its parent span, else it starts a
//! new trace. When it closes it is handed to the exporter through a bounded channel: a
//! full channel drops the span and counts it, so tracing never holds up a request.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::span::{Fields, FinishedSpan, SpanKind, Value, is_error};
use crate::edge::observe::random_hex;

/// What the layer keeps on a span while it is open.
struct OpenSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    sampled: bool,
    start_unix_ns: u64,
    attributes: Vec<(String, Value)>,
}

/// The layer; see the module documentation.
pub struct OtlpLayer {
    spans: mpsc::Sender<FinishedSpan>,
}

impl OtlpLayer {
    /// A layer handing finished spans to `spans`.
    pub fn new(spans: mpsc::Sender<FinishedSpan>) -> Self {
        Self { spans }
    }
}

fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn valid_hex(text: &str, digits: usize) -> bool {
    text.len() == digits
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && text.bytes().any(|b| b != b'0')
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !super::exported(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        // The nearest exported ancestor (spans of other crates in between are skipped).
        let parent = span.scope().skip(1).find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<OpenSpan>()
                .map(|open| (open.trace_id.clone(), open.span_id.clone(), open.sampled))
        });
        let trace = fields.trace;
        let own_trace = trace.trace_id.filter(|t| valid_hex(t, 32));
        let (trace_id, parent_span_id, sampled) = match (own_trace, parent) {
            (Some(trace_id), _) => (
                trace_id,
                trace.parent_span_id.filter(|p| valid_hex(p, 16)),
                trace.flags.as_deref() != Some("00"),
            ),
            (None, Some((trace_id, parent_span, sampled))) => {
                (trace_id, Some(parent_span), sampled)
            }
            (None, None) => (random_hex(16), None, true),
        };
        let span_id = trace
            .span_id
            .filter(|s| valid_hex(s, 16))
            .unwrap_or_else(|| random_hex(8));
        span.extensions_mut().insert(OpenSpan {
            trace_id,
            span_id,
            parent_span_id,
            sampled,
            start_unix_ns: now_unix_ns(),
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(open) = span.extensions_mut().get_mut::<OpenSpan>() {
            for (key, value) in fields.attributes {
                match open.attributes.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => open.attributes.push((key, value)),
                }
            }
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        if !open.sampled {
            return;
        }
        let name = span.metadata().name();
        let finished = FinishedSpan {
            error: is_error(&open.attributes),
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent_span_id: open.parent_span_id,
            name,
            kind: SpanKind::of(name),
            start_unix_ns: open.start_unix_ns,
            end_unix_ns: now_unix_ns(),
            attributes: open.attributes,
        };
        if self.spans.try_send(finished).is_err() {
            crate::metrics::global().otlp_spans.inc(&["dropped"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn collect(work: impl FnOnce()) -> Vec<FinishedSpan> {
        let (sender, mut receiver) = mpsc::channel(64);
        let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(sender));
        tracing::subscriber::with_default(subscriber, work);
        let mut spans = Vec::new();
        while let Ok(span) = receiver.try_recv() {
            spans.push(span);
        }
        spans
    }

    #[test]
    fn children_join_the_request_trace_and_the_request_continues_the_callers() {
        let spans = collect(|| {
            let request = tracing::info_span!(
                "request",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "00f067aa0ba902b7",
                parent_span_id = "b7ad6b7169203331",
                trace_flags = "01",
                route = "/api/v1/mood/...",
                status = tracing::field::Empty,
            );
            let _entered = request.enter();
            {
                let statement = tracing::debug_span!("db.statement", verb = "SELECT");
                let _inner = statement.enter();
            }
            request.record("status", 201_u64);
        });
        assert_eq!(spans.len(), 2);
        let (statement, request) = (&spans[0], &spans[1]);
        assert_eq!(request.name, "request");
        assert_eq!(request.span_id, "00f067aa0ba902b7");
        assert_eq!(request.parent_span_id.as_deref(), Some("b7ad6b7169203331"));
        assert!(
            request
                .attributes
                .contains(&("http.response.status_code".into(), Value::Int(201)))
        );
        assert!(!request.error);
        assert_eq!(statement.trace_id, request.trace_id);
        assert_eq!(
            statement.parent_span_id.as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(statement.kind, SpanKind::Client);
        assert_eq!(statement.span_id.len(), 16);
        assert!(statement.end_unix_ns >= statement.start_unix_ns);
    }

    #[test]
    fn an_unsampled_trace_is_not_exported_and_a_root_starts_its_own() {
        let spans = collect(|| {
            let request = tracing::info_span!(
                "request",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "00f067aa0ba902b7",
                trace_flags = "00",
            );
            let _entered = request.enter();
            let _child = tracing::info_span!("component").entered();
        });
        assert!(spans.is_empty(), "{spans:?}");
        let spans = collect(|| {
            let _root = tracing::info_span!("nightly").entered();
        });
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].trace_id.len(), 32);
        assert_eq!(spans[0].parent_span_id, None);
    }
}
