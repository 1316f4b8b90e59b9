//! Accounts: addresses no other test uses, registration, login and refresh.

use std::time::{Duration, Instant};

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

/// Registers `email` with [`PASSWORD`] the way a person does: `POST /auth/register`, the
/// code from the mail the server's file mailer wrote, then `POST /auth/verify-email`.
/// Returns the whole token answer (access and refresh tokens, the user).
///
/// # Errors
/// When a request fails, no code arrives, or an answer is not the expected one (with it).
pub async fn register(server: &Server, email: &str) -> Result<Value> {
    start_registration(server, email).await?;
    let code = mailed_code(server, email, "verify_email").await?;
    verify_email(server, &code).await
}

/// `POST /auth/register` for `email` with [`PASSWORD`]; fails unless the answer is 202.
///
/// # Errors
/// When the request fails or the answer is not 202 (with the answer).
pub async fn start_registration(server: &Server, email: &str) -> Result<()> {
    let response = server
        .http
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    let status = response.status();
    if status != 202 {
        let body = response.text().await.unwrap_or_default();
        bail!("register {email}: {status} {body}");
    }
    Ok(())
}

/// `POST /auth/verify-email` with a mailed code; the token answer (201).
///
/// # Errors
/// When the request fails or the answer is not 201 (with the answer).
pub async fn verify_email(server: &Server, code: &str) -> Result<Value> {
    let response = server
        .http
        .post(server.url("/api/v1/auth/verify-email"))
        .json(&json!({"token": code}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != 201 {
        bail!("verify-email: {status} {body}");
    }
    Ok(body)
}

/// The messages of `kind` to `email` the server's file mailer has written so far (JSON
/// documents: `to`, `kind`, `subject`, `text`, `payload`, `queued_at`), oldest first.
#[must_use]
pub fn mails_to(server: &Server, email: &str, kind: &str) -> Vec<Value> {
    // As the server stores and mails it.
    let normalised = email.trim().to_lowercase();
    let dir = server.data_dir.join("outbox-mail");
    let mut messages: Vec<Value> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && !p
                            .file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with('.'))
                })
                .filter_map(|p| std::fs::read(p).ok())
                .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(|m| m["kind"] == kind && m["to"] == normalised.as_str())
                .collect()
        })
        .unwrap_or_default();
    messages.sort_by_key(|m| m["queued_at"].as_str().unwrap_or_default().to_owned());
    messages
}

/// The code of the newest message of `kind` to `email` (the registration or reset code),
/// waiting up to 20 seconds for the file mailer to write it.
///
/// # Errors
/// When none arrives in time.
pub async fn mailed_code(server: &Server, email: &str, kind: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = mails_to(server, email, kind)
            .last()
            .and_then(|m| m["payload"]["token"].as_str())
        {
            return Ok(code.to_owned());
        }
        if Instant::now() > deadline {
            bail!("no {kind} mail to {email} arrived within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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

/// Moves the user of `token` to the IANA time zone `zone` (`PATCH /api/v1/users/me`).
///
/// # Panics
/// When the server does not answer 200.
pub async fn set_timezone(server: &Server, token: &str, zone: &str) {
    let answer = crate::http::send(
        server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(token),
        Some(json!({"timezone": zone})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
