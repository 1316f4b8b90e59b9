//! Health checks, problem documents and the OpenAPI document.

use mindflow_tests::{Manifest, server};
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer() {
    let server = server(Manifest::product(&["hello"])).await;
    let live = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(live.status(), 200);
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["components"], 1);
}

#[tokio::test]
async fn unknown_route_is_a_problem_document() {
    let server = server(Manifest::product(&["hello"])).await;
    let response = server
        .http
        .get(server.url("/api/v1/nowhere"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], 404);
    assert!(
        body["type"]
            .as_str()
            .expect("type")
            .starts_with("urn:mindflow:problem:")
    );
}

#[tokio::test]
async fn openapi_document_merges_host_and_component_paths() {
    let server = server(Manifest::product(&["hello"])).await;
    let doc: Value = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/auth/register"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/admin/components/{name}/activate"]["post"].is_object());
    // hello-spin ships `/` relative to its route.
    assert_eq!(
        doc["paths"]["/api/v1/hello"]["get"]["operationId"],
        "helloSpinGreet"
    );
}

/// Errors the framework answers on the host's routes (a malformed query, a method a route
/// does not serve, a body over the limit) are problem documents like every other error.
#[tokio::test]
async fn framework_errors_on_host_routes_are_problem_documents() {
    let server = mindflow_tests::server(mindflow_tests::Manifest::product(&["hello"])).await;
    let cases = [
        (
            reqwest::Method::GET,
            "/api/v1/crisis/resources?language=en&language=fr",
            Vec::new(),
            400,
        ),
        (reqwest::Method::PUT, "/api/v1/auth/login", Vec::new(), 405),
        (
            reqwest::Method::POST,
            "/api/v1/auth/login",
            // Just over the 64 KiB limit: small enough that the client finishes sending before
            // the server answers (a far larger body can meet a closed connection instead).
            vec![b' '; 70 * 1024],
            413,
        ),
    ];
    for (method, path, body, status) in cases {
        let response = server
            .http
            .request(method.clone(), server.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        if status == 405 {
            assert!(response.headers().contains_key("allow"), "{method} {path}");
        }
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{method} {path}"
        );
        let problem: serde_json::Value = response.json().await.expect("json");
        assert_eq!(problem["status"], status, "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// Every body the host's endpoints take is a JSON object: an array, which serde would read
/// into a struct field by field, is refused (422) and changes nothing (found by the API
/// fuzzer: `[[]]` was stored as an empty safety plan).
#[tokio::test]
async fn bodies_must_be_json_objects() {
    let server = server(Manifest::product(&["hello"])).await;
    let (token, _) = server
        .register("arrays@example.com")
        .await
        .expect("register");
    let cases = [
        (reqwest::Method::PUT, "/api/v1/crisis/safety-plan", "[[]]"),
        (
            reqwest::Method::POST,
            "/api/v1/auth/login",
            r#"["arrays@example.com", "correct horse battery staple"]"#,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/crisis/check",
            "[true, false]",
        ),
    ];
    for (method, path, body) in cases {
        let response = server
            .http
            .request(method.clone(), server.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 422, "{method} {path}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(
            problem["type"], "urn:mindflow:problem:invalid-body",
            "{problem}"
        );
    }
    let plan = server
        .http
        .get(server.url("/api/v1/crisis/safety-plan"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("plan");
    assert_eq!(plan.status(), 404, "nothing was stored");
}
