//! Registration and login (the identity issue extends these).

use mindflow_tests::{Server, ServerOptions};
use serde_json::{Value, json};

use crate::health::hello_manifest;

async fn server() -> Server {
    Server::start(ServerOptions::new(hello_manifest()).await.expect("options"))
        .await
        .expect("server")
}

#[tokio::test]
async fn register_then_login_with_normalised_email() {
    let server = server().await;
    server.register("Ada@Example.com ").await.expect("register");
    let response = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.COM", "password": "a long enough passphrase"}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().expect("expires_in") > 0);
}

#[tokio::test]
async fn taken_email_is_409_and_bad_fields_are_422() {
    let server = server().await;
    server
        .register("taken@example.com")
        .await
        .expect("register");
    let again = server
        .http
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": "TAKEN@example.com", "password": "another long passphrase"}))
        .send()
        .await
        .expect("register");
    assert_eq!(again.status(), 409);
    let invalid = server
        .http
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": "not-an-email", "password": "short"}))
        .send()
        .await
        .expect("register");
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.expect("json");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    let unknown_field = server
        .http
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": "x@example.com", "password": "long enough pass", "role": "admin"}))
        .send()
        .await
        .expect("register");
    assert_eq!(unknown_field.status(), 422);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let server = server().await;
    server
        .register("known@example.com")
        .await
        .expect("register");
    let mut bodies = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        let response = server
            .http
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "the wrong passphrase"}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 401);
        bodies.push(response.text().await.expect("text"));
    }
    assert_eq!(bodies[0], bodies[1]);
}
