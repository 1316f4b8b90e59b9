//! A batch of spans as an OTLP/HTTP JSON `ExportTraceServiceRequest` (the protobuf's JSON
//! mapping as OTLP specifies it: ids in lowercase hex, 64-bit integers as decimal strings,
//! enums as numbers, field names in lowerCamelCase).

use serde_json::{Value as Json, json};

use super::span::{FinishedSpan, Value};

/// The request body exporting `spans` for the service `service_name`.
pub fn export_request(service_name: &str, spans: &[FinishedSpan]) -> Json {
    json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [
                    attribute("service.name", &Value::Text(service_name.to_owned())),
                    attribute("service.version", &Value::Text(env!("CARGO_PKG_VERSION").to_owned())),
                ],
            },
            "scopeSpans": [{
                "scope": {"name": "mindflow", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans.iter().map(span).collect::<Vec<_>>(),
            }],
        }],
    })
}

fn span(span: &FinishedSpan) -> Json {
    let mut out = json!({
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind as i32,
        "startTimeUnixNano": span.start_unix_ns.to_string(),
        "endTimeUnixNano": span.end_unix_ns.to_string(),
        "attributes": span
            .attributes
            .iter()
            .map(|(key, value)| attribute(key, value))
            .collect::<Vec<_>>(),
        // STATUS_CODE_UNSET (0) unless the request failed on the server's side (2, ERROR).
        "status": if span.error { json!({"code": 2}) } else { json!({}) },
    });
    if let (Some(parent), Some(map)) = (&span.parent_span_id, out.as_object_mut()) {
        map.insert("parentSpanId".into(), Json::String(parent.clone()));
    }
    out
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Text(text) => json!({"stringValue": text}),
        Value::Int(n) => json!({"intValue": n.to_string()}),
        Value::Float(x) => json!({"doubleValue": x}),
        Value::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

#[cfg(test)]
mod tests {
    use super::super::span::SpanKind;
    use super::*;

    fn request_span() -> FinishedSpan {
        FinishedSpan {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: Some("b7ad6b7169203331".into()),
            name: "request",
            kind: SpanKind::Server,
            start_unix_ns: 1_700_000_000_000_000_000,
            end_unix_ns: 1_700_000_000_002_000_000,
            attributes: vec![
                ("http.route".into(), Value::Text("/api/v1/mood/...".into())),
                ("http.response.status_code".into(), Value::Int(503)),
            ],
            error: true,
        }
    }

    #[test]
    fn a_span_is_encoded_as_otlp_json() {
        let body = export_request("mindflow", &[request_span()]);
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "mindflow"}})
        );
        let span = &resource["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["spanId"], "00f067aa0ba902b7");
        assert_eq!(span["parentSpanId"], "b7ad6b7169203331");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["endTimeUnixNano"], "1700000000002000000");
        assert_eq!(span["status"], json!({"code": 2}));
        assert_eq!(
            span["attributes"][1],
            json!({"key": "http.response.status_code", "value": {"intValue": "503"}})
        );
    }

    #[test]
    fn a_root_span_has_no_parent_and_an_unset_status() {
        let mut root = request_span();
        root.parent_span_id = None;
        root.error = false;
        let body = export_request("mindflow", &[root]);
        let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert!(span.get("parentSpanId").is_none());
        assert_eq!(span["status"], json!({}));
    }
}
