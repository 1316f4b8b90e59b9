//! What an operator sees of the running service: `GET /metrics` on its own address (requests
//! by route pattern and status, component instances and failures, crisis assessments by
//! severity, the database pool) with no user id or user text in it; a request id on every
//! response and problem document; W3C `traceparent` continued and returned.

use mindflow_tests::accounts::user;
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
