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
