//! The component added by following ARCHITECTURE.md's "add a domain component" walk-through:
//! built by `cargo xtask components` from its crate's metadata, declared in `spin.toml`, and
//! serving through the real host with only the capability it is granted.

use mindflow_tests::accounts::user;
use mindflow_tests::{Manifest, server};
use serde_json::Value;

#[tokio::test]
async fn the_walk_through_component_greets_its_caller() {
    let server = server(Manifest::product(&["greeter"])).await;
    let (token, _) = user(&server, "greeter").await;
    let response = server
        .http
        .get(server.url("/api/v1/greeter/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["message"], "Hello");
    assert_eq!(body["timezone"], "UTC");
    assert_eq!(body["premium"], false);

    // Without a token the edge refuses before the component runs; a wrong method is the
    // component's own problem document.
    let anonymous = server
        .http
        .get(server.url("/api/v1/greeter/"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let post = server
        .http
        .post(server.url("/api/v1/greeter/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
    assert_eq!(
        post.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
}
