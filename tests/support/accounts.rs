//! Accounts: addresses no other test uses, registration, login and refresh.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::Server;
use crate::http::post;

/// The password every account the tests register has.
pub const PASSWORD: &str = "a long enough passphrase";

/// An address of its own for a test's user: `TAG-<uuid>@example.com`.
#[must_use]
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Registers `email` with [`PASSWORD`]; returns the whole token answer (access and refresh
/// tokens, the user).
///
/// # Errors
/// When the request fails or the answer is not 201 (with the answer).
pub async fn register(server: &Server, email: &str) -> Result<Value> {
    let response = server
        .http
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != 201 {
        bail!("register {email}: {status} {body}");
    }
    Ok(body)
}

/// A new user tagged `tag` ([`email`]): their access token and id.
///
/// # Panics
/// When registration fails.
pub async fn user(server: &Server, tag: &str) -> (String, String) {
    server.register(&email(tag)).await.expect("register")
}

/// `POST /api/v1/auth/login`.
///
/// # Panics
/// When the request cannot be sent.
pub async fn login(server: &Server, email: &str, password: &str) -> reqwest::Response {
    post(
        server,
        "/api/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

/// `POST /api/v1/auth/refresh` with a refresh token.
///
/// # Panics
/// When the request cannot be sent.
pub async fn refresh(server: &Server, token: &str) -> reqwest::Response {
    post(
        server,
        "/api/v1/auth/refresh",
        json!({"refresh_token": token}),
    )
    .await
}
