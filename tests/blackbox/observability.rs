//! What an operator sees of the running service: `GET /metrics` on its own address (requests
//! by route pattern and status, component instances and failures, crisis assessments by
//! severity, the database pool) with no user id or user text in it; a request id on every
//! response and problem document; W3C `traceparent` continued and returned.

use mindflow_tests::accounts::user;
use mindflow_tests::collector::{Collector, attribute};
use mindflow_tests::http::send;
use mindflow_tests::metrics::{self, sample};
use mindflow_tests::{Manifest, server_with};
use reqwest::Method;
use serde_json::json;

fn manifest() -> Manifest {
    Manifest::product(&["mood", "crisis-rules"]).with(
        r#"
[[trigger.http]]
route = "/api/v1/hostile/..."
component = "hostile"

[component.hostile]
source = "{components}/hostile.wasm"
[component.hostile.tool.mindflow]
authentication = "none"
timeout_ms = 1000
memory_limit_mb = 32
"#,
    )
}

#[tokio::test]
async fn metrics_count_requests_components_and_crises_without_anything_personal() {
    let server = server_with(manifest(), &[("MINDFLOW_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let address = metrics::address(&server).await.expect("metrics address");
    let (token, user_id) = user(&server, "metrics").await;
    let note = "Private words: I want to end my life tonight";
    let logged = send(
        &server,
        Method::POST,
        "/api/v1/mood/logs",
        Some(&token),
        Some(json!({"mood_score": 2, "note": note})),
    )
    .await;
    assert_eq!(logged.status, 201, "{}", logged.body);
    let id = logged.body["id"].as_str().expect("id").to_owned();
    let read = send(
        &server,
        Method::GET,
        &format!("/api/v1/mood/logs/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    let trapped = server
        .http
        .get(server.url("/api/v1/hostile/trap"))
        .send()
        .await
        .expect("trap");
    assert_eq!(trapped.status(), 500);

    let text = metrics::scrape(&server.http, &address)
        .await
        .expect("scrape");
    assert!(
        sample(
            &text,
            "mindflow_http_requests_total{route=\"/api/v1/mood/...\",method=\"POST\",status=\"201\"}"
        ) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "mindflow_http_requests_total{route=\"/api/v1/mood/...\",method=\"GET\",status=\"200\"}"
        ) >= 1.0
    );
    assert!(
        text.contains("mindflow_http_request_duration_seconds_bucket{route=\"/api/v1/mood/...\",method=\"POST\",le=\"+Inf\"}")
    );
    assert!(text.contains("mindflow_component_instances_total{component=\"mood\""));
    assert!(
        text.lines().any(|l| l
            .starts_with("mindflow_component_failures_total{component=\"hostile\"")
            && l.contains("kind=\"trap\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("mindflow_crisis_assessments_total{severity=")),
        "{text}"
    );
    assert!(sample(&text, "mindflow_db_pool_connections_max") >= 1.0);
    // Route patterns only: no id, no user, no text.
    for private in [
        id.as_str(),
        user_id.as_str(),
        "Private words",
        "end my life",
        "metrics@",
    ] {
        assert!(!text.contains(private), "{private} in the metrics");
    }
    // Not served on the public address.
    let public = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("public");
    assert_eq!(public.status(), 404);
}

#[tokio::test]
async fn every_response_and_problem_carries_a_request_id_and_the_trace_continues() {
    let server = server_with(manifest(), &[]).await;
    let (token, _) = user(&server, "trace").await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // A component's answer: the client's id kept, the trace continued with a new span.
    let response = server
        .http
        .get(server.url("/api/v1/mood/logs"))
        .bearer_auth(&token)
        .header("x-request-id", "client-chosen-42")
        .header("traceparent", incoming)
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-chosen-42")
    );
    let traceparent = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent")
        .to_owned();
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{traceparent}"
    );
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "a span of its own"
    );

    // Problem documents, the host's and a component's, name the request.
    for (path, token) in [
        ("/api/v1/users/me", None),
        ("/api/v1/mood/logs/not-a-uuid", Some(token.as_str())),
        ("/api/v1/nowhere", None),
    ] {
        let mut request = server.http.get(server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .header("x-request-id", "has spaces, so not kept")
            .send()
            .await
            .expect("problem");
        assert!(response.status().is_client_error(), "{path}");
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("x-request-id")
            .to_owned();
        assert_ne!(id, "has spaces, so not kept");
        assert!(response.headers().get("traceparent").is_some());
        let body: serde_json::Value = response.json().await.expect("problem body");
        assert_eq!(body["request_id"], id.as_str(), "{path}: {body}");
    }
}

/// With an OTLP endpoint configured, a request's spans reach the collector (OTLP/HTTP JSON)
/// as one trace continuing the caller's: the request (route pattern, method, status), the
/// component, its capability calls and the database statements, each the child of the one
/// before. No user text, id or address is in any export, the collector's key travels only
/// in its header, and a collector that refuses costs no request.
#[tokio::test]
async fn spans_are_exported_to_an_otlp_collector_as_the_callers_trace() {
    let collector = Collector::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let server = server_with(
        manifest(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=collector-secret-7d1e",
            ),
            ("OTEL_SERVICE_NAME", "mindflow-test"),
            ("MINDFLOW_METRICS_LISTEN", "127.0.0.1:0"),
        ],
    )
    .await;
    let (token, user_id) = user(&server, "otlp").await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = server
        .http
        .post(server.url("/api/v1/mood/logs"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"mood_score": 6, "note": "Private words about my week"}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    let own_span = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('-').nth(2))
        .expect("traceparent")
        .to_owned();

    let started = std::time::Instant::now();
    let trace = loop {
        let trace: Vec<serde_json::Value> = collector
            .spans()
            .into_iter()
            .filter(|s| s["traceId"] == trace_id)
            .collect();
        if trace.iter().any(|s| s["name"] == "request") {
            break trace;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no request span exported: {:?}",
            collector.spans()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let request = trace
        .iter()
        .find(|s| s["name"] == "request")
        .expect("request span");
    assert_eq!(request["spanId"], own_span.as_str());
    assert_eq!(request["parentSpanId"], caller_span);
    assert_eq!(request["kind"], 2);
    assert_eq!(
        attribute(request, "http.route").as_deref(),
        Some("/api/v1/mood/...")
    );
    assert_eq!(
        attribute(request, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("201")
    );
    let component = trace
        .iter()
        .find(|s| s["name"] == "component")
        .unwrap_or_else(|| {
            let names: Vec<String> = collector
                .spans()
                .iter()
                .map(|s| format!("{} {} {}", s["name"], s["traceId"], s["parentSpanId"]))
                .collect();
            panic!("no component span in the trace: {names:#?}")
        });
    assert_eq!(component["parentSpanId"], own_span.as_str());
    assert_eq!(
        attribute(component, "mindflow.component").as_deref(),
        Some("mood")
    );
    assert!(
        trace.iter().any(|s| s["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("capability.storage."))),
        "a capability call: {trace:?}"
    );
    assert!(
        trace
            .iter()
            .any(|s| s["name"] == "db.statement" && s["kind"] == 3),
        "a database statement: {trace:?}"
    );
    // One tree: every span's parent is in the trace, but the request's (the caller's).
    let ids: Vec<&str> = trace.iter().filter_map(|s| s["spanId"].as_str()).collect();
    for span in &trace {
        if span["name"] != "request" {
            let parent = span["parentSpanId"].as_str().unwrap_or_default();
            assert!(ids.contains(&parent), "an orphan: {span}");
        }
    }
    let exports = collector.exports();
    for export in &exports {
        assert_eq!(export.service_name.as_deref(), Some("mindflow-test"));
        assert_eq!(
            export
                .headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok()),
            Some("collector-secret-7d1e")
        );
        for private in ["Private words", user_id.as_str(), token.as_str(), "otlp-"] {
            assert!(!export.body.contains(private), "{private} exported");
        }
    }
    assert!(
        !server.log().contains("collector-secret-7d1e"),
        "the key in the log"
    );

    // A collector that refuses: requests are answered as before; the spans are counted lost.
    collector.refuse(true);
    for _ in 0..3 {
        let listed = server
            .http
            .get(server.url("/api/v1/mood/logs"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        assert_eq!(listed.status(), 200);
    }
    let address = metrics::address(&server).await.expect("metrics address");
    let started = std::time::Instant::now();
    loop {
        let text = metrics::scrape(&server.http, &address)
            .await
            .expect("scrape");
        if metrics::total(&text, "mindflow_otlp_spans_total", &["outcome=\"dropped\""]) > 0.0 {
            assert!(
                metrics::total(
                    &text,
                    "mindflow_otlp_spans_total",
                    &["outcome=\"exported\""]
                ) > 0.0
            );
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "no dropped spans counted:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
