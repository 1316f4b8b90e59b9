//! `/api/v1/auth`: registration, login and its throttling, refresh-token rotation and reuse
//! detection, logout, sign-in with Google and Apple (against a local JWKS server serving real
//! RS256 and ES256 keys), forgot/reset password through the file mailer, access-token
//! tampering and expiry, and account deletion.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mindflow_tests::accounts::{PASSWORD, login, refresh, register};
use mindflow_tests::http::{json_of, post};
use mindflow_tests::{Manifest, Server, ServerOptions, hex, server, server_with};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
const GOOGLE_CLIENT: &str = "mindflow-test.apps.googleusercontent.com";
const APPLE_CLIENT: &str = "com.example.mindflow.test";
const RS256_KID: &str = "mindflow-test-rs256";
const ES256_KID: &str = "mindflow-test-es256";
/// Test-only keys (see tests/fixtures/README.md).
const RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/oidc-test-only-rs256-private.pkcs1.der");
const ES256_PRIVATE: &[u8] = include_bytes!("../fixtures/oidc-test-only-es256-private.pkcs8.der");
const JWKS: &str = include_str!("../fixtures/oidc-test-only-jwks.json");
/// The HS256 secret the server under test signs access tokens with (test-only).
const JWT_SECRET: &[u8] = b"mindflow black-box test secret: never use it anywhere else";

fn str_of<'a>(document: &'a Value, field: &str) -> &'a str {
    document[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` in {document}"))
}

/// What an access token gets from an endpoint that needs one: 403 (authenticated, not an
/// admin) for a working token, 401 otherwise.
async fn probe(server: &Server, access_token: &str) -> u16 {
    server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("probe")
        .status()
        .as_u16()
}

async fn problem_type(response: reqwest::Response) -> String {
    let body = json_of(response).await;
    body["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn register_then_login_with_normalised_email() {
    let server = server(Manifest::product(&["hello"])).await;
    let registered = register(&server, "Ada@Example.com ")
        .await
        .expect("register");
    assert_eq!(registered["token_type"], "Bearer");
    assert_eq!(str_of(&registered, "refresh_token").len(), 43);
    let response = login(&server, "ada@example.COM", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().expect("expires_in") > 0);
    assert_ne!(
        str_of(&body, "refresh_token"),
        str_of(&registered, "refresh_token")
    );
    assert_eq!(probe(&server, str_of(&body, "access_token")).await, 403);
}

/// Registration never tells whether an address has an account: a taken and a free address
/// get the same answer (status, headers that matter, body) in similar time; the owner of the
/// taken one is told by mail, the free one gets a code; codes are single-use, and mails to
/// one address are capped.
#[tokio::test]
async fn registration_answers_the_same_for_a_taken_address_and_mails_its_owner() {
    use mindflow_tests::accounts::{mailed_code, mails_to, start_registration, verify_email};

    let server = server(Manifest::product(&["hello"])).await;
    server
        .register("taken@example.com")
        .await
        .expect("register");
    let mut answers = Vec::new();
    for email in ["TAKEN@example.com", "free@example.com"] {
        let started = Instant::now();
        let response = post(
            &server,
            "/api/v1/auth/register",
            json!({"email": email, "password": "another long passphrase"}),
        )
        .await;
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        answers.push((status, content_type, response.text().await.expect("text")));
        assert!(
            elapsed >= Duration::from_millis(250),
            "{email}: {elapsed:?}"
        );
    }
    assert_eq!(
        answers[0], answers[1],
        "a taken and a free address look alike"
    );
    assert_eq!(answers[0].0, 202);

    // The owner of the taken address hears of it; nothing else changes for them.
    let deadline = Instant::now() + Duration::from_secs(20);
    while mails_to(&server, "taken@example.com", "account_exists").is_empty() {
        assert!(Instant::now() < deadline, "no mail to the owner");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        login(&server, "taken@example.com", PASSWORD).await.status(),
        200,
        "the owner's password is unchanged"
    );
    assert_eq!(
        login(&server, "taken@example.com", "another long passphrase")
            .await
            .status(),
        401
    );

    // The free address has no account until its code comes back.
    assert_eq!(
        login(&server, "free@example.com", "another long passphrase")
            .await
            .status(),
        401
    );
    let code = mailed_code(&server, "free@example.com", "verify_email")
        .await
        .expect("code");
    let session = verify_email(&server, &code).await.expect("verified");
    assert_eq!(session["user"]["email"], "free@example.com");
    assert_eq!(probe(&server, str_of(&session, "access_token")).await, 403);
    assert_eq!(
        login(&server, "free@example.com", "another long passphrase")
            .await
            .status(),
        200
    );
    // A code works once; junk is refused the same way.
    for token in [code.as_str(), &"C".repeat(43), "junk"] {
        let again = post(
            &server,
            "/api/v1/auth/verify-email",
            json!({"token": token}),
        )
        .await;
        assert_eq!(again.status(), 401, "{token}");
        assert_eq!(
            problem_type(again).await,
            "urn:mindflow:problem:invalid-registration-code"
        );
    }

    // Two codes for one address: the first used wins, the second finds the account.
    for _ in 0..2 {
        start_registration(&server, "twice@example.com")
            .await
            .expect("register");
    }
    let codes: Vec<String> = mails_to(&server, "twice@example.com", "verify_email")
        .iter()
        .filter_map(|m| m["payload"]["token"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(codes.len(), 2);
    verify_email(&server, &codes[0]).await.expect("first code");
    let second = post(
        &server,
        "/api/v1/auth/verify-email",
        json!({"token": codes[1]}),
    )
    .await;
    assert_eq!(second.status(), 401, "spent with the first");

    // A stranger cannot flood an inbox: three mails of a kind per address per day.
    for _ in 0..3 {
        start_registration(&server, "flooded@example.com")
            .await
            .expect("register");
    }
    assert_eq!(
        mails_to(&server, "flooded@example.com", "verify_email").len(),
        3
    );
    start_registration(&server, "flooded@example.com")
        .await
        .expect("the same answer");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mails_to(&server, "flooded@example.com", "verify_email").len(),
        3,
        "no fourth mail"
    );
    let log = server.log();
    assert!(!log.contains(&code), "codes are never logged");
    assert!(!log.contains("free@example.com"), "nor addresses");
}

/// Registrations are limited per client address (each costs a hash and a mail), taken and
/// free addresses alike, and the limit answers 429 with `Retry-After` before any hashing.
#[tokio::test]
async fn registrations_are_throttled_per_address() {
    let server = server_with(
        Manifest::product(&["hello"]),
        &[("MINDFLOW_REGISTRATIONS_PER_ADDRESS", "3")],
    )
    .await;
    server
        .register("first@example.com")
        .await
        .expect("register");
    for email in ["first@example.com", "second@example.com"] {
        mindflow_tests::accounts::start_registration(&server, email)
            .await
            .expect("within the limit");
    }
    let refused = post(
        &server,
        "/api/v1/auth/register",
        json!({"email": "fourth@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        problem_type(refused).await,
        "urn:mindflow:problem:too-many-attempts"
    );
    // Signing in is not registering: the limit does not touch it.
    assert_eq!(
        login(&server, "first@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn bad_registration_fields_are_422() {
    let server = server(Manifest::product(&["hello"])).await;
    let invalid = post(
        &server,
        "/api/v1/auth/register",
        json!({"email": "not-an-email", "password": "short"}),
    )
    .await;
    assert_eq!(invalid.status(), 422);
    let body = json_of(invalid).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    let unknown_field = post(
        &server,
        "/api/v1/auth/register",
        json!({"email": "x@example.com", "password": "long enough pass", "role": "admin"}),
    )
    .await;
    assert_eq!(unknown_field.status(), 422);
}

/// A NUL character in an address (which PostgreSQL cannot store, and no address holds) is
/// bad input: 422 on login and registration, the same on both backends, never a database
/// failure (found by the API fuzzer: login answered 503 on PostgreSQL, and registration
/// stored the address on SQLite). Forgot-password keeps its one answer, 202.
#[tokio::test]
async fn a_nul_in_an_email_is_422_not_a_database_failure() {
    let server = server(Manifest::product(&["hello"])).await;
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/auth/forgot-password",
    ] {
        let mut body = json!({"email": "ada\u{0}@example.com"});
        if !path.ends_with("forgot-password") {
            body["password"] = json!(PASSWORD);
        }
        let response = post(&server, path, body).await;
        if path.ends_with("forgot-password") {
            // Always the same 202, whatever the address (the lookup comes after the answer).
            assert_eq!(response.status().as_u16(), 202, "{path}");
            continue;
        }
        assert_eq!(response.status().as_u16(), 422, "{path}");
        assert_eq!(
            problem_type(response).await,
            if path.ends_with("login") {
                // Not checked for shape (any address may try), refused before any SQL.
                "urn:mindflow:problem:invalid-text"
            } else {
                "urn:mindflow:problem:validation"
            },
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let server = server(Manifest::product(&["hello"])).await;
    server
        .register("known@example.com")
        .await
        .expect("register");
    let mut bodies = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        let response = login(&server, email, "the wrong passphrase").await;
        assert_eq!(response.status(), 401);
        let mut body: serde_json::Value = response.json().await.expect("problem");
        // Every answer names its own request; the rest must be the same.
        assert!(body["request_id"].is_string(), "{body}");
        if let Some(map) = body.as_object_mut() {
            map.remove("request_id");
        }
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = server(Manifest::product(&["hello"])).await;
    let first = register(&server, "rotate@example.com")
        .await
        .expect("register");
    let r0 = str_of(&first, "refresh_token").to_owned();

    let response = refresh(&server, &r0).await;
    assert_eq!(response.status(), 200);
    let second = json_of(response).await;
    let r1 = str_of(&second, "refresh_token").to_owned();
    assert_ne!(r0, r1);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(probe(&server, str_of(&second, "access_token")).await, 403);

    let third = json_of(refresh(&server, &r1).await).await;
    let r2 = str_of(&third, "refresh_token").to_owned();

    // Another session (another family) of the same user.
    let other = json_of(login(&server, "rotate@example.com", PASSWORD).await).await;
    let other_refresh = str_of(&other, "refresh_token").to_owned();

    // r0 was rotated: presenting it again is reuse. The family dies, r2 included.
    let reuse = refresh(&server, &r0).await;
    assert_eq!(reuse.status(), 401);
    assert_eq!(
        problem_type(reuse).await,
        "urn:mindflow:problem:unauthorized"
    );
    assert_eq!(
        refresh(&server, &r2).await.status(),
        401,
        "the family is revoked"
    );
    assert_eq!(refresh(&server, &r1).await.status(), 401);

    // The family's access tokens die with it (a thief's included).
    assert_eq!(probe(&server, str_of(&third, "access_token")).await, 401);

    // The other family is untouched.
    assert_eq!(probe(&server, str_of(&other, "access_token")).await, 403);
    assert_eq!(refresh(&server, &other_refresh).await.status(), 200);

    // Junk is refused without fuss.
    for junk in ["", "short", &"A".repeat(43), &format!("{r2}x")] {
        assert_eq!(refresh(&server, junk).await.status(), 401, "{junk}");
    }
    let missing = post(&server, "/api/v1/auth/refresh", json!({})).await;
    assert_eq!(missing.status(), 422);
}

#[tokio::test]
async fn logout_revokes_and_never_tells_whether_the_token_existed() {
    let server = server(Manifest::product(&["hello"])).await;
    let session = register(&server, "bye@example.com")
        .await
        .expect("register");
    let token = str_of(&session, "refresh_token").to_owned();
    let rotated = json_of(refresh(&server, &token).await).await;
    let current = str_of(&rotated, "refresh_token").to_owned();
    // Another session of the same person, on another device.
    let elsewhere = json_of(login(&server, "bye@example.com", PASSWORD).await).await;
    let access_tokens = [
        str_of(&session, "access_token"),
        str_of(&rotated, "access_token"),
    ];
    for access in access_tokens {
        assert_eq!(probe(&server, access).await, 403, "signed in, not an admin");
    }

    let out = post(
        &server,
        "/api/v1/auth/logout",
        json!({"refresh_token": current}),
    )
    .await;
    assert_eq!(out.status(), 204);
    assert_eq!(refresh(&server, &current).await.status(), 401);
    // The session's access tokens end with it, not when they expire; the other session's
    // do not.
    for access in access_tokens {
        assert_eq!(probe(&server, access).await, 401, "the session has ended");
    }
    assert_eq!(
        probe(&server, str_of(&elsewhere, "access_token")).await,
        403,
        "another session is untouched"
    );
    // Idempotent, and the same answer for a token that never existed or is junk.
    for token in [current.as_str(), token.as_str(), &"B".repeat(43), "junk"] {
        let again = post(
            &server,
            "/api/v1/auth/logout",
            json!({"refresh_token": token}),
        )
        .await;
        assert_eq!(again.status(), 204, "{token}");
        assert!(again.text().await.expect("text").is_empty());
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_with_retry_after() {
    let server = server(Manifest::product(&["hello"])).await;
    server
        .register("target@example.com")
        .await
        .expect("register");
    // Four failures, then a success resets the account's count.
    for _ in 0..4 {
        assert_eq!(
            login(&server, "target@example.com", "wrong passphrase!")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        login(&server, "target@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    for _ in 0..5 {
        assert_eq!(
            login(&server, "target@example.com", "wrong passphrase!")
                .await
                .status(),
            401
        );
    }
    // Past five failures even the right password waits.
    let throttled = login(&server, "TARGET@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        throttled
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(
        problem_type(throttled).await,
        "urn:mindflow:problem:too-many-attempts"
    );

    // An unknown account is throttled the same way (no enumeration through 429s).
    for _ in 0..5 {
        assert_eq!(
            login(&server, "nobody@example.com", "wrong passphrase!")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        login(&server, "nobody@example.com", "wrong passphrase!")
            .await
            .status(),
        429
    );
}

/// Registers `innocent@example.com`, then fails twenty logins spread over five other
/// accounts (none of them over the per-account limit), each forwarded for `client(i)` when
/// that is an address. Returns the innocent's device token.
async fn spray_failed_logins(server: &Server, client: impl Fn(usize) -> Option<String>) -> String {
    let innocent = register(server, "innocent@example.com")
        .await
        .expect("register");
    for i in 0..20 {
        let email = format!("spray{}@example.com", i % 5);
        let response = match client(i) {
            Some(client) => login_via_proxy(server, &client, &email, "wrong passphrase!").await,
            None => login(server, &email, "wrong passphrase!").await,
        };
        assert_eq!(response.status(), 401, "attempt {i}");
    }
    str_of(&innocent, "device_token").to_owned()
}

/// A sprayer's address waits; so does everyone behind it on a device not yet known (a whole
/// campus or carrier NAT), but not a device that has signed in to its account before.
#[tokio::test]
async fn failed_logins_are_throttled_per_address_but_known_devices_pass() {
    let server = server(Manifest::product(&["hello"])).await;
    let device = spray_failed_logins(&server, |_| None).await;
    let throttled = login(&server, "innocent@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let known = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(
            &json!({"email": "innocent@example.com", "password": PASSWORD, "device_token": device}),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(known.status(), 200);
}

/// Requests a password reset for `email` and checks the (always the same) 202.
async fn request_reset(server: &Server, email: &str) {
    let response = post(
        server,
        "/api/v1/auth/forgot-password",
        json!({"email": email}),
    )
    .await;
    assert_eq!(response.status(), 202);
}

/// A login as if forwarded by a proxy for `client`.
async fn login_via_proxy(
    server: &Server,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    login_from(server, client, email, password, None).await
}

/// `X-Forwarded-For` is ignored unless the operator trusts the proxy: a client cannot
/// escape the per-address throttle by writing a different address in each request.
#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let server = server(Manifest::product(&["hello"])).await;
    spray_failed_logins(&server, |i| Some(format!("203.0.113.{i}"))).await;
    let throttled =
        login_via_proxy(&server, "198.51.100.1", "innocent@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
}

/// A server that trusts the loopback proxy's `X-Forwarded-For`.
async fn behind_a_trusted_proxy() -> Server {
    server_with(
        Manifest::product(&["hello"]),
        &[("MINDFLOW_TRUSTED_PROXIES", "127.0.0.1, ::1")],
    )
    .await
}

/// Behind a trusted proxy (`MINDFLOW_TRUSTED_PROXIES`), failed logins count against the
/// client the proxy reports, not against the proxy that every client comes through.
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own() {
    let server = behind_a_trusted_proxy().await;
    spray_failed_logins(&server, |_| Some("203.0.113.7".into())).await;
    let sprayer = login_via_proxy(&server, "203.0.113.7", "innocent@example.com", PASSWORD).await;
    assert_eq!(sprayer.status(), 429);
    // A client writing its own header in front of the proxy's entry is still the sprayer.
    let spoofed = login_via_proxy(
        &server,
        "198.51.100.1, 203.0.113.7",
        "innocent@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(spoofed.status(), 429);
    let someone_else =
        login_via_proxy(&server, "198.51.100.1", "innocent@example.com", PASSWORD).await;
    assert_eq!(someone_else.status(), 200);
}

/// A login from `client` (forwarded by a trusted proxy), with a device token if given.
async fn login_from(
    server: &Server,
    client: &str,
    email: &str,
    password: &str,
    device_token: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"email": email, "password": password});
    if let Some(token) = device_token {
        body["device_token"] = json!(token);
    }
    server
        .http
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&body)
        .send()
        .await
        .expect("login")
}

fn retry_after_of(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After")
}

/// Nobody else can lock a person out (issue 18, finding 2): wrong guesses from six
/// addresses make attempts at the account from unknown devices wait (exponentially, never
/// past fifteen minutes), but the owner's device (its device token) and the owner's session
/// (its refresh token) still work.
#[tokio::test]
async fn guesses_from_elsewhere_never_lock_out_the_owner_s_device() {
    let server = behind_a_trusted_proxy().await;
    let owner = "198.51.100.1";
    let registered = register(&server, "owner@example.com")
        .await
        .expect("register");
    let signed_in = login_from(&server, owner, "owner@example.com", PASSWORD, None).await;
    assert_eq!(signed_in.status(), 200);
    let signed_in = json_of(signed_in).await;
    let device = str_of(&signed_in, "device_token").to_owned();
    assert_ne!(device, str_of(&registered, "device_token"));

    let mut checked = 0;
    for guesser in 0..6 {
        let address = format!("203.0.113.{guesser}");
        for _ in 0..5 {
            let guess = login_from(
                &server,
                &address,
                "owner@example.com",
                "wrong passphrase!",
                None,
            )
            .await;
            match guess.status().as_u16() {
                401 => checked += 1,
                429 => assert!(retry_after_of(&guess) <= 900),
                other => panic!("{address}: {other}"),
            }
        }
        // The guesser's own address is stopped hard.
        let stopped = login_from(
            &server,
            &address,
            "owner@example.com",
            "wrong passphrase!",
            None,
        )
        .await;
        assert_eq!(stopped.status(), 429, "{address}");
    }
    // Past the first ten, guesses from anywhere wait longer and longer.
    assert!(
        (10..=14).contains(&checked),
        "{checked} guesses were checked"
    );
    // From an unknown device the account now waits, exponentially but capped: never a lock.
    let unknown = login_from(&server, "192.0.2.9", "owner@example.com", PASSWORD, None).await;
    assert_eq!(unknown.status(), 429);
    let wait = retry_after_of(&unknown);
    assert!((1..=900).contains(&wait), "{wait}");
    // The owner's device signs in at once, even from an address a guesser used.
    for address in [owner, "203.0.113.0"] {
        let known = login_from(
            &server,
            address,
            "owner@example.com",
            PASSWORD,
            Some(&device),
        )
        .await;
        assert_eq!(known.status(), 200, "{address}");
    }
    // And the session the owner already has keeps refreshing.
    let refreshed = refresh(&server, str_of(&signed_in, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
}

/// A device token stands only for the account it was issued for: one of another account or a
/// forged one is ignored; and a known device that guesses wrong is itself throttled.
#[tokio::test]
async fn a_device_token_counts_only_for_its_own_account_and_device() {
    let server = server(Manifest::product(&["hello"])).await;
    let ada = register(&server, "ada@example.com").await.expect("ada");
    server.register("bob@example.com").await.expect("bob");
    let ada_device = str_of(&ada, "device_token").to_owned();
    for _ in 0..5 {
        let guess = login(&server, "bob@example.com", "wrong passphrase!").await;
        assert_eq!(guess.status(), 401);
    }
    let forged = format!("{}x", &ada_device[..ada_device.len() - 1]);
    for token in [ada_device.as_str(), forged.as_str(), "not a token"] {
        let response = server
            .http
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": "bob@example.com", "password": PASSWORD, "device_token": token}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 429, "bob with {token:.12}…");
    }
    // Ada's device, guessing wrong five times, waits on its own.
    let with_device = |password: &'static str| {
        let server = &server;
        let device = &ada_device;
        async move {
            server
                .http
                .post(server.url("/api/v1/auth/login"))
                .json(&json!({"email": "ada@example.com", "password": password, "device_token": device}))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(with_device("wrong passphrase!").await, 401);
    }
    assert_eq!(with_device(PASSWORD).await, 429);
}

#[tokio::test]
async fn a_malformed_trusted_proxy_list_stops_start_up() {
    let mut options = ServerOptions::new(Manifest::product(&["hello"]))
        .await
        .expect("options");
    options.env.push((
        "MINDFLOW_TRUSTED_PROXIES".into(),
        "10.0.0.0/8, proxy.internal".into(),
    ));
    let error = Server::start(options)
        .await
        .err()
        .expect("start-up refused");
    let text = format!("{error:#}");
    assert!(
        text.contains("trusted-proxies") && text.contains("proxy.internal"),
        "{text}"
    );
}

#[tokio::test]
async fn tampered_foreign_and_expired_access_tokens_are_refused() {
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(JWT_SECRET);
    let server = server_with(
        Manifest::product(&["hello"]),
        &[("MINDFLOW_JWT_SECRET", &secret_b64)],
    )
    .await;
    let session = register(&server, "jwt@example.com")
        .await
        .expect("register");
    let access = str_of(&session, "access_token").to_owned();
    let user_id = session["user"]["id"].as_str().expect("user id").to_owned();
    assert_eq!(probe(&server, &access).await, 403);

    let kid = test_kid();
    let forge = |secret: &[u8], iat: i64, exp: i64| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &json!({"sub": user_id, "tier": "free", "iss": "mindflow", "aud": "mindflow-api",
                    "iat": iat, "exp": exp, "jti": uuid::Uuid::new_v4()}),
            &EncodingKey::from_secret(secret),
        )
        .expect("encode")
    };
    let now = chrono_now();
    // Control: a token forged with the server's own secret and a future expiry works, so
    // the refusals below are about expiry and tampering, not the forging.
    assert_eq!(
        probe(&server, &forge(JWT_SECRET, now, now + 600)).await,
        403
    );
    // Expired (well past the leeway).
    assert_eq!(
        probe(&server, &forge(JWT_SECRET, now - 3600, now - 600)).await,
        401
    );
    // Signed with another secret under the same kid.
    assert_eq!(
        probe(
            &server,
            &forge(
                b"another secret, thirty-two bytes or more!!",
                now,
                now + 600
            )
        )
        .await,
        401
    );
    // Tampered: the payload of the real token swapped for one claiming premium.
    let parts: Vec<&str> = access.split('.').collect();
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"sub": user_id, "tier": "premium", "iss": "mindflow", "aud": "mindflow-api",
               "iat": now, "exp": now + 600, "jti": uuid::Uuid::new_v4()})
        .to_string(),
    );
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(probe(&server, &tampered).await, 401);
    // Tampered signature.
    let mut signature = parts[2].to_owned();
    let last = signature.pop().expect("signature");
    signature.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        probe(&server, &format!("{}.{}.{}", parts[0], parts[1], signature)).await,
        401
    );
    // alg "none".
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    assert_eq!(
        probe(&server, &format!("{none_header}.{}.", parts[1])).await,
        401
    );
}

fn chrono_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds")
}

// ---------------------------------------------------------------------------------------
// Sign in with Google and Apple.

/// A local JWKS endpoint serving `document` (changeable) and counting fetches.
struct JwksServer {
    url: String,
    document: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

async fn jwks_server(document: String) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/keys", listener.local_addr().expect("addr"));
    let document = Arc::new(Mutex::new(document));
    let hits = Arc::new(AtomicUsize::new(0));
    let (served, counter) = (document.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = served.lock().map(|d| d.clone()).unwrap_or_default();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65536 {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: public, max-age=3600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    JwksServer {
        url,
        document,
        hits,
    }
}

async fn oauth_server(jwks: &JwksServer, apple: bool) -> Server {
    oauth_server_with(jwks, apple, &[]).await
}

/// [`oauth_server`] with more environment.
async fn oauth_server_with(jwks: &JwksServer, apple: bool, env: &[(&str, &str)]) -> Server {
    let mut options = ServerOptions::new(Manifest::product(&["hello"]))
        .await
        .expect("options");
    options
        .env
        .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    options.env.extend([
        (
            "MINDFLOW_GOOGLE_CLIENT_IDS".to_owned(),
            format!("other-client.apps.googleusercontent.com,{GOOGLE_CLIENT}"),
        ),
        ("MINDFLOW_GOOGLE_JWKS_URL".to_owned(), jwks.url.clone()),
        ("MINDFLOW_APPLE_JWKS_URL".to_owned(), jwks.url.clone()),
    ]);
    if apple {
        options
            .env
            .push(("MINDFLOW_APPLE_CLIENT_IDS".into(), APPLE_CLIENT.into()));
    }
    Server::start(options).await.expect("server")
}

#[derive(Clone, Copy)]
enum Key {
    Rs256,
    Es256,
}

fn sign_id_token(key: Key, claims: &Value) -> String {
    let (algorithm, kid, encoding) = match key {
        Key::Rs256 => (
            Algorithm::RS256,
            RS256_KID,
            EncodingKey::from_rsa_der(RS256_PRIVATE),
        ),
        Key::Es256 => (
            Algorithm::ES256,
            ES256_KID,
            EncodingKey::from_ec_der(ES256_PRIVATE),
        ),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &encoding).expect("sign")
}

fn google_claims(sub: &str, email: &str, nonce: &str) -> Value {
    let now = chrono_now();
    json!({
        "iss": "https://accounts.google.com",
        "aud": GOOGLE_CLIENT,
        "azp": GOOGLE_CLIENT,
        "sub": sub,
        "email": email,
        "email_verified": true,
        "nonce": nonce,
        "iat": now,
        "exp": now + 600,
    })
}

fn apple_claims(sub: &str, email: &str, hashed_nonce: &str) -> Value {
    let now = chrono_now();
    json!({
        "iss": "https://appleid.apple.com",
        "aud": APPLE_CLIENT,
        "sub": sub,
        "email": email,
        "email_verified": "true",
        "is_private_email": "false",
        "nonce": hashed_nonce,
        "nonce_supported": true,
        "iat": now,
        "exp": now + 600,
    })
}

async fn sign_in(
    server: &Server,
    provider: &str,
    id_token: &str,
    nonce: &str,
) -> reqwest::Response {
    post(
        server,
        &format!("/api/v1/auth/oauth/{provider}"),
        json!({"id_token": id_token, "nonce": nonce}),
    )
    .await
}

/// A sign-in nonce issued by the server (`POST /auth/oauth/nonce`).
async fn issue_nonce(server: &Server) -> String {
    let issued = json_of(post(server, "/api/v1/auth/oauth/nonce", json!({})).await).await;
    str_of(&issued, "nonce").to_owned()
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn google_rs256_and_apple_es256_sign_in_create_then_find_the_account() {
    let jwks = jwks_server(JWKS.to_owned()).await;
    let server = oauth_server(&jwks, true).await;

    let nonce = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-1", "Grace@Example.com", &nonce),
    );
    let response = sign_in(&server, "google", &token, &nonce).await;
    assert_eq!(response.status(), 200);
    let first = json_of(response).await;
    assert_eq!(first["new_account"], true);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["user"]["email"], "grace@example.com");
    assert_eq!(probe(&server, str_of(&first, "access_token")).await, 403);
    assert_eq!(
        refresh(&server, str_of(&first, "refresh_token"))
            .await
            .status(),
        200
    );

    // The same Google user again: the same account.
    let nonce = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-1", "grace@example.com", &nonce),
    );
    let again = json_of(sign_in(&server, "google", &token, &nonce).await).await;
    assert_eq!(again["new_account"], false);
    assert_eq!(again["user"]["id"], first["user"]["id"]);

    // The account has no password: password login fails like any wrong password.
    assert_eq!(
        login(&server, "grace@example.com", PASSWORD).await.status(),
        401
    );

    // Apple, ES256, with the hashed nonce Apple clients send.
    let nonce = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Es256,
        &apple_claims(
            "001234.apple.sub",
            "hopper@privaterelay.appleid.com",
            &sha256_hex(&nonce),
        ),
    );
    let response = sign_in(&server, "apple", &token, &nonce).await;
    assert_eq!(response.status(), 200);
    let apple = json_of(response).await;
    assert_eq!(apple["new_account"], true);
    assert_ne!(apple["user"]["id"], first["user"]["id"]);

    // One fetch of the JWKS per provider: the second Google sign-in used the cache.
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn provider_sign_in_links_an_existing_account_by_verified_email() {
    let jwks = jwks_server(JWKS.to_owned()).await;
    let server = oauth_server(&jwks, false).await;
    // An account with a password whose address was never proven (registered before
    // registration mailed a code): it could be someone else squatting the owner's address
    // ahead of their first Google sign-in.
    let registered = register(&server, "linus@example.com")
        .await
        .expect("register");
    mindflow_tests::database::Db::open(&server)
        .await
        .exec(
            "UPDATE users SET email_verified = FALSE WHERE email = 'linus@example.com'",
            &[],
        )
        .await;
    let squatter_session = str_of(&registered, "refresh_token").to_owned();

    // An unverified email neither links nor creates.
    let n = issue_nonce(&server).await;
    let mut claims = google_claims("google-sub-unverified", "linus@example.com", &n);
    claims["email_verified"] = json!(false);
    let unverified = sign_in(&server, "google", &sign_id_token(Key::Rs256, &claims), &n).await;
    assert_eq!(unverified.status(), 422);
    assert_eq!(
        problem_type(unverified).await,
        "urn:mindflow:problem:email-not-verified"
    );

    let n = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Es256,
        &google_claims("google-sub-linus", "LINUS@example.com", &n),
    );
    let linked = json_of(sign_in(&server, "google", &token, &n).await).await;
    assert_eq!(linked["new_account"], false);
    assert_eq!(linked["user"]["id"], registered["user"]["id"]);
    // The unproven password and its sessions are gone (no pre-hijacking).
    assert_eq!(
        login(&server, "linus@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(refresh(&server, &squatter_session).await.status(), 401);
    assert_eq!(
        refresh(&server, str_of(&linked, "refresh_token"))
            .await
            .status(),
        200
    );
    // The link holds even if the provider's email changes.
    let m = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-linus", "linus@new.example.org", &m),
    );
    let again = json_of(sign_in(&server, "google", &token, &m).await).await;
    assert_eq!(again["user"]["id"], registered["user"]["id"]);

    // An account whose address was proven keeps its password and sessions: by its
    // registration code (every registration now) ...
    let proven = register(&server, "ada@example.com")
        .await
        .expect("register");
    let o = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-ada", "ada@example.com", &o),
    );
    let linked = json_of(sign_in(&server, "google", &token, &o).await).await;
    assert_eq!(linked["user"]["id"], proven["user"]["id"]);
    assert_eq!(
        login(&server, "ada@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        refresh(&server, str_of(&proven, "refresh_token"))
            .await
            .status(),
        200
    );

    // ... or by a password reset.
    let reset_first = register(&server, "grace@example.com")
        .await
        .expect("register");
    mindflow_tests::database::Db::open(&server)
        .await
        .exec(
            "UPDATE users SET email_verified = FALSE WHERE email = 'grace@example.com'",
            &[],
        )
        .await;
    request_reset(&server, "grace@example.com").await;
    let mail = wait_for_mail(&server, 1).await;
    let code = mail[0]["payload"]["token"].as_str().expect("token");
    let reset = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": code, "new_password": "grace's new passphrase"}),
    )
    .await;
    assert_eq!(reset.status(), 204);
    let o = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-grace", "grace@example.com", &o),
    );
    let linked = json_of(sign_in(&server, "google", &token, &o).await).await;
    assert_eq!(linked["user"]["id"], reset_first["user"]["id"]);
    assert_eq!(
        login(&server, "grace@example.com", "grace's new passphrase")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_id_tokens_are_refused() {
    let jwks = jwks_server(JWKS.to_owned()).await;
    let server = oauth_server(&jwks, true).await;
    let now = chrono_now();
    let the_nonce = issue_nonce(&server).await;
    let base = google_claims("google-sub-x", "x@example.com", &the_nonce);
    let mut cases: Vec<(&str, &str, String, &str)> = Vec::new();

    let mut wrong_audience = base.clone();
    wrong_audience["aud"] = json!("someone-elses-client.apps.googleusercontent.com");
    cases.push((
        "wrong audience",
        "google",
        sign_id_token(Key::Rs256, &wrong_audience),
        &the_nonce,
    ));

    let mut expired = base.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    cases.push((
        "expired",
        "google",
        sign_id_token(Key::Rs256, &expired),
        &the_nonce,
    ));

    cases.push((
        "nonce mismatch",
        "google",
        sign_id_token(Key::Rs256, &base),
        "another-nonce",
    ));

    let mut no_nonce = base.clone();
    no_nonce.as_object_mut().expect("object").remove("nonce");
    cases.push((
        "no nonce claim",
        "google",
        sign_id_token(Key::Rs256, &no_nonce),
        &the_nonce,
    ));

    let mut wrong_issuer = base.clone();
    wrong_issuer["iss"] = json!("https://accounts.example.com");
    cases.push((
        "wrong issuer",
        "google",
        sign_id_token(Key::Rs256, &wrong_issuer),
        &the_nonce,
    ));

    // A Google token presented as Apple's: Apple's issuer and audience do not match.
    cases.push((
        "other provider",
        "apple",
        sign_id_token(Key::Rs256, &base),
        &the_nonce,
    ));

    let good = sign_id_token(Key::Rs256, &base);
    let parts: Vec<&str> = good.split('.').collect();
    let mut tampered_claims = base.clone();
    tampered_claims["sub"] = json!("google-sub-admin");
    let tampered_payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    cases.push((
        "tampered payload",
        "google",
        format!("{}.{tampered_payload}.{}", parts[0], parts[2]),
        &the_nonce,
    ));

    // Signed by a key with a kid the provider does not publish.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("not-published".into());
    let unknown_kid =
        jsonwebtoken::encode(&header, &base, &EncodingKey::from_rsa_der(RS256_PRIVATE))
            .expect("sign");
    cases.push(("unknown kid", "google", unknown_kid, &the_nonce));

    // The RSA key's kid on an ES256 signature.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(RS256_KID.into());
    let confused = jsonwebtoken::encode(&header, &base, &EncodingKey::from_ec_der(ES256_PRIVATE))
        .expect("sign");
    cases.push(("algorithm confusion", "google", confused, &the_nonce));

    // HS256 "signed" with the RSA key id.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(RS256_KID.into());
    let hs =
        jsonwebtoken::encode(&header, &base, &EncodingKey::from_secret(b"guess")).expect("sign");
    cases.push(("hs256", "google", hs, &the_nonce));

    cases.push(("not a jwt", "google", "not.a.jwt".into(), &the_nonce));

    for (name, provider, token, nonce) in cases {
        let response = sign_in(&server, provider, &token, nonce).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            problem_type(response).await,
            "urn:mindflow:problem:invalid-id-token",
            "{name}"
        );
    }

    // Nothing was created: the good token still makes a new account.
    let response = sign_in(&server, "google", &good, &the_nonce).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_of(response).await["new_account"], true);

    // A nonce signs in once: the same token again (a captured one) is refused.
    let replayed = sign_in(&server, "google", &good, &the_nonce).await;
    assert_eq!(replayed.status(), 401, "replay");
    // A nonce this server never issued is refused, even in a well-signed token.
    let invented = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-y", "y@example.com", "a-nonce-of-my-own"),
    );
    let response = sign_in(&server, "google", &invented, "a-nonce-of-my-own").await;
    assert_eq!(response.status(), 401, "nonce not issued here");
    // So is a token issued long before it is presented.
    let fresh = issue_nonce(&server).await;
    let mut old = google_claims("google-sub-z", "z@example.com", &fresh);
    old["iat"] = json!(now - 3600);
    let response = sign_in(&server, "google", &sign_id_token(Key::Rs256, &old), &fresh).await;
    assert_eq!(response.status(), 401, "issued an hour ago");
    assert_eq!(
        problem_type(response).await,
        "urn:mindflow:problem:invalid-id-token"
    );

    let missing = post(
        &server,
        "/api/v1/auth/oauth/google",
        json!({"id_token": good}),
    )
    .await;
    assert_eq!(missing.status(), 422);
}

#[tokio::test]
async fn unknown_and_unconfigured_providers_are_404() {
    let jwks = jwks_server(JWKS.to_owned()).await;
    let server = oauth_server(&jwks, false).await;
    let body = json!({"id_token": "x.y.z", "nonce": "n"});
    let unknown = post(&server, "/api/v1/auth/oauth/facebook", body.clone()).await;
    assert_eq!(unknown.status(), 404);
    let unconfigured = post(&server, "/api/v1/auth/oauth/apple", body).await;
    assert_eq!(unconfigured.status(), 404);
    assert_eq!(
        problem_type(unconfigured).await,
        "urn:mindflow:problem:provider-not-configured"
    );
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_new_signing_key_is_fetched_when_a_token_names_it() {
    let all: Value = serde_json::from_str(JWKS).expect("jwks");
    let rsa_only = json!({"keys": [all["keys"][0].clone()]});
    let jwks = jwks_server(rsa_only.to_string()).await;
    let server = oauth_server(&jwks, false).await;

    let n = issue_nonce(&server).await;
    let rs = sign_id_token(
        Key::Rs256,
        &google_claims("sub-rotation", "rot@example.com", &n),
    );
    assert_eq!(sign_in(&server, "google", &rs, &n).await.status(), 200);
    // Refused before its nonce is used, so the same token can succeed later.
    let n = issue_nonce(&server).await;
    let es = sign_id_token(
        Key::Es256,
        &google_claims("sub-rotation", "rot@example.com", &n),
    );
    assert_eq!(
        sign_in(&server, "google", &es, &n).await.status(),
        401,
        "not published yet"
    );

    // The provider publishes the EC key; a token naming it makes the server fetch again
    // (after the one-second cool-down).
    *jwks.document.lock().expect("lock") = JWKS.to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sign_in(&server, "google", &es, &n).await.status(), 200);
    assert!(jwks.hits.load(Ordering::SeqCst) >= 2);
}

// ---------------------------------------------------------------------------------------
// Password reset through the outbox and the file mailer.

/// Waits for the file mailer to write `count` messages other than registration codes
/// (which every registration gets); returns them.
async fn wait_for_mail(server: &Server, count: usize) -> Vec<Value> {
    let dir = server.data_dir.join("outbox-mail");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut messages: Vec<Value> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .filter(|p| {
                        !p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with('.'))
                    })
                    .filter_map(|p| std::fs::read(p).ok())
                    .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
                    .filter(|m| m["kind"] != "verify_email")
                    .collect()
            })
            .unwrap_or_default();
        if messages.len() >= count {
            messages.sort_by_key(|m| m["queued_at"].as_str().unwrap_or_default().to_owned());
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages arrived in {}:\n{}",
            messages.len(),
            dir.display(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With `--mailer smtp`, a reset mail goes through the relay; a relay that refuses the first
/// attempt (451, try again later) gets the same mail again later, and its code works.
#[tokio::test]
async fn reset_mail_goes_through_an_smtp_relay_even_after_a_refusal() {
    let relay = mindflow_tests::smtp::FakeRelay::start(1)
        .await
        .expect("relay");
    let relay_url = format!("smtp://{}", relay.address);
    let server = server_with(
        Manifest::product(&["hello"]),
        &[
            ("MINDFLOW_MAILER", "smtp"),
            ("MINDFLOW_SMTP_URL", &relay_url),
            ("MINDFLOW_MAIL_FROM", "MindFlow <no-reply@mindflow.test>"),
        ],
    )
    .await;
    // The code is on its own indented line of the plain-text body.
    let code_in = |data: &str| {
        data.lines()
            .find_map(|line| line.strip_prefix("    "))
            .map(str::trim)
            .expect("a code")
            .to_owned()
    };
    mindflow_tests::accounts::start_registration(&server, "relay.me@example.com")
        .await
        .expect("register");
    let mail = relay.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mail.len(), 1, "{}", server.log());
    assert_eq!(relay.refused(), 1, "the first attempt was refused");
    assert!(
        mail[0]
            .data
            .contains("Subject: Finish creating your MindFlow account"),
        "{}",
        mail[0].data
    );
    let registration_code = code_in(&mail[0].data);
    mindflow_tests::accounts::verify_email(&server, &registration_code)
        .await
        .expect("verify");
    request_reset(&server, "relay.me@example.com").await;

    let mail = relay.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(mail.len(), 2, "{}", server.log());
    let mail = &mail[1];
    assert_eq!(mail.from, "<no-reply@mindflow.test>");
    assert_eq!(mail.to, vec!["<relay.me@example.com>".to_owned()]);
    assert!(
        mail.data.contains("Subject: Reset your MindFlow password"),
        "{}",
        mail.data
    );
    let token = code_in(&mail.data);
    let reset = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": "a relayed new passphrase"}),
    )
    .await;
    assert_eq!(reset.status(), 204);
    let log = server.log();
    assert!(!log.contains(&token), "the code is never logged");
    assert!(
        !log.contains(&registration_code),
        "nor the registration code"
    );
    assert!(
        !log.contains("relay.me@example.com"),
        "the address is never logged"
    );
}

#[tokio::test]
async fn the_smtp_mailer_without_a_relay_stops_start_up() {
    let mut options = ServerOptions::new(Manifest::product(&["hello"]))
        .await
        .expect("options");
    options
        .env
        .push(("MINDFLOW_MAILER".to_owned(), "smtp".to_owned()));
    let error = Server::start(options)
        .await
        .err()
        .expect("start-up refused");
    let text = format!("{error:#}");
    assert!(text.contains("MINDFLOW_SMTP_URL"), "{text}");
}

/// A reset is stored before the answer: killed right after its 202, the server delivers the
/// mail when it comes back. Known and unknown addresses take the same minimum time.
#[tokio::test]
async fn a_requested_reset_survives_a_kill_right_after_the_answer() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut options = ServerOptions::new(Manifest::product(&["hello"]))
        .await
        .expect("options");
    options.data_dir = Some(data.path().join("data"));
    let restart = ServerOptions {
        manifest: options.manifest.clone(),
        database_url: options.database_url.clone(),
        env: options.env.clone(),
        flags: options.flags.clone(),
        data_dir: options.data_dir.clone(),
    };
    let server = Server::start(options).await.expect("server");
    register(&server, "durable@example.com")
        .await
        .expect("register");
    for email in ["nobody@example.com", "durable@example.com"] {
        let started = Instant::now();
        let response = post(
            &server,
            "/api/v1/auth/forgot-password",
            json!({"email": email}),
        )
        .await;
        assert_eq!(response.status(), 202);
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{email} answered after {:?}",
            started.elapsed()
        );
    }
    // SIGKILL: no graceful shutdown, no chance to finish anything after the answer.
    drop(server);
    let again = Server::start(restart).await.expect("restart");
    let messages = wait_for_mail(&again, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "durable@example.com");
}

#[tokio::test]
async fn forgot_and_reset_password_through_the_file_mailer() {
    let server = server(Manifest::product(&["hello"])).await;
    let session = register(&server, "Reset.Me@example.com")
        .await
        .expect("register");
    let old_refresh = str_of(&session, "refresh_token").to_owned();
    let old_access = str_of(&session, "access_token").to_owned();
    assert_ne!(
        probe(&server, &old_access).await,
        401,
        "the token works before the reset"
    );

    let known = post(
        &server,
        "/api/v1/auth/forgot-password",
        json!({"email": "reset.me@EXAMPLE.com"}),
    )
    .await;
    assert_eq!(known.status(), 202);
    let known_body = known.text().await.expect("text");
    for email in ["nobody@example.com", "not an email"] {
        let unknown = post(
            &server,
            "/api/v1/auth/forgot-password",
            json!({"email": email}),
        )
        .await;
        assert_eq!(unknown.status(), 202);
        assert_eq!(
            unknown.text().await.expect("text"),
            known_body,
            "no enumeration"
        );
    }

    let messages = wait_for_mail(&server, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let messages_later = wait_for_mail(&server, 1).await;
    assert_eq!(
        messages_later.len(),
        1,
        "only the existing account gets mail"
    );
    let mail = &messages[0];
    assert_eq!(mail["kind"], "password_reset");
    assert_eq!(mail["to"], "reset.me@example.com");
    let token = mail["payload"]["token"].as_str().expect("token").to_owned();
    assert!(mail["text"].as_str().expect("text").contains(&token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = server.data_dir.join("outbox-mail");
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join(format!("{}.json", mail["id"].as_str().expect("id")));
        assert_eq!(mode(&file), 0o600);
    }
    let log = server.log();
    assert!(!log.contains(&token), "the token is never logged");
    assert!(
        !log.contains("reset.me@example.com"),
        "the address is never logged"
    );

    // The policy applies to the new password; a refused attempt does not spend the token.
    let weak = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": "short"}),
    )
    .await;
    assert_eq!(weak.status(), 422);
    let mut tampered = token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let wrong = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": tampered, "new_password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(wrong.status(), 401);

    let reset = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(reset.status(), 204);
    // Single use.
    let again = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": "yet another passphrase"}),
    )
    .await;
    assert_eq!(again.status(), 401);
    assert_eq!(
        problem_type(again).await,
        "urn:mindflow:problem:invalid-reset-token"
    );

    assert_eq!(
        login(&server, "reset.me@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&server, "reset.me@example.com", "a brand new passphrase")
            .await
            .status(),
        200
    );
    // Every session from before the reset is gone, its access token included (not only
    // when it expires).
    assert_eq!(refresh(&server, &old_refresh).await.status(), 401);
    assert_eq!(probe(&server, &old_access).await, 401);
}

/// A refresh racing a password reset cannot mint a token that outlives the reset: whatever
/// tokens the refreshes got, none works afterwards (the session epoch moved on).
#[tokio::test]
async fn refreshes_racing_a_password_reset_mint_nothing_that_survives_it() {
    let server = server(Manifest::product(&["hello"])).await;
    let email = "racing@example.com";
    register(&server, email).await.expect("register");
    let mut sessions = Vec::new();
    for _ in 0..12 {
        let answer = login(&server, email, PASSWORD).await;
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.expect("json");
        sessions.push(str_of(&body, "refresh_token").to_owned());
    }
    post(
        &server,
        "/api/v1/auth/forgot-password",
        json!({"email": email}),
    )
    .await;
    let mail = wait_for_mail(&server, 1).await;
    let token = mail[0]["payload"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Half the refreshes before the reset is sent, half after: they interleave with it.
    let server = Arc::new(server);
    let mut handles = Vec::new();
    for (i, old) in sessions.into_iter().enumerate() {
        let server = server.clone();
        if i == 6 {
            let server = server.clone();
            let token = token.clone();
            handles.push(tokio::spawn(async move {
                let reset = post(
                    &server,
                    "/api/v1/auth/reset-password",
                    json!({"token": token, "new_password": "a brand new passphrase"}),
                )
                .await;
                assert_eq!(reset.status(), 204);
                None
            }));
        }
        handles.push(tokio::spawn(async move {
            let answer = refresh(&server, &old).await;
            if answer.status() != 200 {
                return None;
            }
            let body: Value = answer.json().await.ok()?;
            Some((
                str_of(&body, "access_token").to_owned(),
                str_of(&body, "refresh_token").to_owned(),
            ))
        }));
    }
    let mut minted = Vec::new();
    for handle in handles {
        if let Some(tokens) = handle.await.expect("task") {
            minted.push(tokens);
        }
    }
    for (access, refresh_token) in &minted {
        assert_eq!(
            probe(&server, access).await,
            401,
            "an access token outlived the reset"
        );
        assert_eq!(
            refresh(&server, refresh_token).await.status(),
            401,
            "a refresh token outlived the reset"
        );
    }
    // The owner signs in with the new password as usual.
    assert_eq!(
        login(&server, email, "a brand new passphrase")
            .await
            .status(),
        200
    );
}

// ---------------------------------------------------------------------------------------
// Account deletion.

#[tokio::test]
async fn a_deleted_account_stops_working_at_once_and_is_purged() {
    let server = server(Manifest::product(&["hello"])).await;
    let session = register(&server, "leaving@example.com")
        .await
        .expect("register");
    let access = str_of(&session, "access_token").to_owned();
    let refresh_token = str_of(&session, "refresh_token").to_owned();
    let delete = |body: Option<Value>, token: String| {
        let mut request = server
            .http
            .delete(server.url("/api/v1/auth/account"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };

    assert_eq!(
        server
            .http
            .delete(server.url("/api/v1/auth/account"))
            .send()
            .await
            .expect("delete")
            .status(),
        401,
        "needs an access token"
    );
    assert_eq!(
        delete(None, access.clone()).await.expect("delete").status(),
        422,
        "password required"
    );
    assert_eq!(
        delete(
            Some(json!({"password": "not my passphrase"})),
            access.clone()
        )
        .await
        .expect("delete")
        .status(),
        403
    );
    assert_eq!(
        probe(&server, &access).await,
        403,
        "still alive after a refusal"
    );

    let deleted = delete(Some(json!({"password": PASSWORD})), access.clone())
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);

    // Access and refresh tokens stop working at once; so does the password.
    assert_eq!(probe(&server, &access).await, 401);
    assert_eq!(refresh(&server, &refresh_token).await.status(), 401);
    assert_eq!(
        login(&server, "leaving@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        delete(Some(json!({"password": PASSWORD})), access.clone())
            .await
            .expect("delete")
            .status(),
        401
    );
    // Purged: the address is free again, for a new account with a new id.
    let again = register(&server, "leaving@example.com")
        .await
        .expect("register");
    assert_ne!(again["user"]["id"], session["user"]["id"]);
}

#[tokio::test]
async fn an_account_without_a_password_is_deleted_with_its_token() {
    let jwks = jwks_server(JWKS.to_owned()).await;
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(JWT_SECRET);
    let server = oauth_server_with(&jwks, false, &[("MINDFLOW_JWT_SECRET", &secret_b64)]).await;
    let n = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-del", "del@example.com", &n),
    );
    let session = json_of(sign_in(&server, "google", &token, &n).await).await;
    let access = str_of(&session, "access_token").to_owned();

    // No password to confirm: a token whose sign-in was an hour ago is not enough.
    let stale = signed_in_an_hour_ago(&session["user"]["id"]);
    let refused = server
        .http
        .delete(server.url("/api/v1/auth/account"))
        .bearer_auth(&stale)
        .send()
        .await
        .expect("delete");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        problem_type(refused).await,
        "urn:mindflow:problem:reauthentication-required"
    );
    assert_ne!(probe(&server, &access).await, 401, "nothing was deleted");

    let response = server
        .http
        .delete(server.url("/api/v1/auth/account"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 204);
    assert_eq!(probe(&server, &access).await, 401);
    assert_eq!(
        refresh(&server, str_of(&session, "refresh_token"))
            .await
            .status(),
        401
    );
    // Signing in again with the provider starts a fresh account.
    let m = issue_nonce(&server).await;
    let token = sign_id_token(
        Key::Rs256,
        &google_claims("google-sub-del", "del@example.com", &m),
    );
    let fresh = json_of(sign_in(&server, "google", &token, &m).await).await;
    assert_eq!(fresh["new_account"], true);
    assert_ne!(fresh["user"]["id"], session["user"]["id"]);
}

#[tokio::test]
async fn the_openapi_document_lists_every_auth_endpoint() {
    let server = server(Manifest::product(&["hello"])).await;
    let document: Value = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/oauth/{provider}", "post"),
        ("/api/v1/auth/forgot-password", "post"),
        ("/api/v1/auth/reset-password", "post"),
        ("/api/v1/auth/account", "delete"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    assert!(
        document["components"]["schemas"]["TokenResponse"]["properties"]["refresh_token"]
            .is_object()
    );
}

/// Token answers are never kept by a cache or a browser (RFC 6749 §5.1).
#[tokio::test]
async fn token_responses_are_not_cached() {
    let server = server(Manifest::product(&[])).await;
    let email = mindflow_tests::accounts::email("no-store");
    let no_store = |response: &reqwest::Response| {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(header("pragma").as_deref(), Some("no-cache"));
    };
    mindflow_tests::accounts::start_registration(&server, &email)
        .await
        .expect("register");
    let code = mindflow_tests::accounts::mailed_code(&server, &email, "verify_email")
        .await
        .expect("code");
    let registered = server
        .http
        .post(server.url("/api/v1/auth/verify-email"))
        .json(&json!({"token": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(registered.status(), 201);
    no_store(&registered);
    let logged_in = login(&server, &email, PASSWORD).await;
    assert_eq!(logged_in.status(), 200);
    no_store(&logged_in);
    let tokens: Value = logged_in.json().await.expect("json");
    let refreshed = refresh(&server, str_of(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
    no_store(&refreshed);
}

/// Deleting an account that fails part-way keeps the person's data readable: the data key is
/// destroyed with the account, never before it.
#[tokio::test]
async fn a_failed_account_deletion_keeps_the_data_readable() {
    use mindflow_tests::database::Db;

    let server = server(Manifest::product(&["journal"])).await;
    let session = register(&server, "staying@example.com")
        .await
        .expect("register");
    let access = str_of(&session, "access_token").to_owned();
    let created: Value = server
        .http
        .post(server.url("/api/v1/journal/entries"))
        .bearer_auth(&access)
        .json(&json!({"content": "a page I want to keep"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let entry = str_of(&created, "id").to_owned();

    // The database refuses to delete users from now on.
    let mut db = Db::open(&server).await;
    match mindflow_tests::backend() {
        mindflow_tests::Backend::Sqlite => {
            db.exec(
                "CREATE TRIGGER refuse_user_delete BEFORE DELETE ON users \
                 BEGIN SELECT RAISE(ABORT, 'deletion refused by the test'); END",
                &[],
            )
            .await;
        }
        mindflow_tests::Backend::Postgres => {
            db.exec(
                "CREATE FUNCTION refuse_user_delete() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'deletion refused by the test'; END $$",
                &[],
            )
            .await;
            db.exec(
                "CREATE TRIGGER refuse_user_delete BEFORE DELETE ON users \
                 FOR EACH ROW EXECUTE FUNCTION refuse_user_delete()",
                &[],
            )
            .await;
        }
    }
    let deleted = server
        .http
        .delete(server.url("/api/v1/auth/account"))
        .bearer_auth(&access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert!(deleted.status().is_server_error(), "{}", deleted.status());

    // The account is still there, and so is everything it wrote, readable.
    let read = server
        .http
        .get(server.url(&format!("/api/v1/journal/entries/{entry}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.expect("json");
    assert_eq!(read["content"], "a page I want to keep");
}

/// Account deletion reads its body as JSON only when it says it is JSON.
#[tokio::test]
async fn account_deletion_refuses_a_body_not_sent_as_json() {
    let server = server(Manifest::product(&[])).await;
    let session = register(&server, "plain@example.com")
        .await
        .expect("register");
    let access = str_of(&session, "access_token").to_owned();
    let refused = server
        .http
        .delete(server.url("/api/v1/auth/account"))
        .bearer_auth(&access)
        .header("content-type", "text/plain")
        .body(json!({"password": PASSWORD}).to_string())
        .send()
        .await
        .expect("delete");
    assert_eq!(refused.status(), 415);
    assert_eq!(
        probe(&server, &access).await,
        403,
        "the account is still there"
    );
}

/// A refresh token that names no session is refused without waiting for SQLite's write lock:
/// a flood of garbage tokens cannot serialise every write behind it.
#[tokio::test]
async fn an_unknown_refresh_token_never_waits_for_the_write_lock() {
    if mindflow_tests::backend() != mindflow_tests::Backend::Sqlite {
        // PostgreSQL's transactions take no database-wide write lock.
        return;
    }
    let server = server(Manifest::product(&[])).await;
    // Somebody else holds the write lock for the whole request.
    let mut db = mindflow_tests::database::Db::open(&server).await;
    db.exec("BEGIN IMMEDIATE", &[]).await;
    let started = Instant::now();
    let response = refresh(&server, &"x".repeat(43)).await;
    let elapsed = started.elapsed();
    db.exec("ROLLBACK", &[]).await;
    assert_eq!(response.status(), 401);
    assert!(
        elapsed < Duration::from_secs(2),
        "the refusal waited {elapsed:?} for the write lock"
    );
}

/// A burst of registrations and parallel password guesses does not stall the service:
/// password hashing waits its turn (or is refused with 503 and `Retry-After`), and crisis
/// support keeps answering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hashing_flood_leaves_crisis_support_answering() {
    let server = Arc::new(server(Manifest::product(&[])).await);
    register(&server, "target@example.com")
        .await
        .expect("register");
    let mut flood = Vec::new();
    for i in 0..200 {
        let server = server.clone();
        flood.push(tokio::spawn(async move {
            server
                .http
                .post(server.url("/api/v1/auth/register"))
                .json(&json!({"email": format!("flood-{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    for _ in 0..100 {
        let server = server.clone();
        flood.push(tokio::spawn(async move {
            login(&server, "target@example.com", "not the passphrase at all")
                .await
                .status()
                .as_u16()
        }));
    }
    // Meanwhile, crisis resources, one request at a time.
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let response = server
            .http
            .get(server.url("/api/v1/crisis/resources?country=US&language=en"))
            .send()
            .await
            .expect("resources");
        assert_eq!(response.status(), 200);
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut statuses = Vec::new();
    for task in flood {
        statuses.push(task.await.expect("task"));
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    eprintln!("crisis resources during the flood: median {median:?}, worst {worst:?}");
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(worst < Duration::from_millis(500), "worst {worst:?}");
    // Every flood request got an answer the client can act on: accepted, refused,
    // throttled, or busy (503, retry later) — never a failure of the server.
    for status in &statuses {
        assert!(
            matches!(status, 202 | 401 | 429 | 503),
            "unexpected status {status}"
        );
    }
    // Of the 100 parallel guesses against one account, the throttle (5 failures per account)
    // let only a handful be checked; the rest were refused (429) or told to wait (503).
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    assert!(unauthorized <= 10, "{unauthorized} guesses were checked");
}

/// The key id the server gives [`JWT_SECRET`] (the first 6 bytes of its SHA-256, in hex).
fn test_kid() -> String {
    Sha256::digest(JWT_SECRET)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A valid access token for `user_id` (epoch 0), signed with the server's own key, whose
/// sign-in was an hour ago.
fn signed_in_an_hour_ago(user_id: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(test_kid());
    let now = chrono_now();
    jsonwebtoken::encode(
        &header,
        &json!({"sub": user_id, "tier": "free", "iss": "mindflow", "aud": "mindflow-api",
                "iat": now, "exp": now + 600, "jti": uuid::Uuid::new_v4(),
                "epoch": 0, "auth_time": now - 3600}),
        &EncodingKey::from_secret(JWT_SECRET),
    )
    .expect("encode")
}

/// The JSON claims of a JWT (unverified: the test reads what the server put in).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}

/// The full decrypted export needs a sign-in within the last ten minutes: a bearer token
/// alone (a stolen one, or a session kept alive by refreshes for days) is not enough. A
/// refresh keeps the time of the session's sign-in.
#[tokio::test]
async fn the_export_needs_a_recent_sign_in_and_a_refresh_is_not_one() {
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(JWT_SECRET);
    let server = server_with(
        Manifest::product(&["hello"]),
        &[("MINDFLOW_JWT_SECRET", &secret_b64)],
    )
    .await;
    let session = register(&server, "recent@example.com")
        .await
        .expect("register");
    let access = str_of(&session, "access_token").to_owned();
    let user_id = session["user"]["id"].as_str().expect("user id").to_owned();
    let export = |token: String| {
        server
            .http
            .get(server.url("/api/v1/users/me/export"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(export(access.clone()).await.expect("export").status(), 200);

    // A refreshed token carries the sign-in's time, not the refresh's.
    let signed_in_at = claims_of(&access)["auth_time"].as_i64().expect("auth_time");
    assert!((chrono_now() - signed_in_at).abs() < 60);
    let refreshed: Value = refresh(&server, str_of(&session, "refresh_token"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        claims_of(str_of(&refreshed, "access_token"))["auth_time"].as_i64(),
        Some(signed_in_at)
    );

    // A valid token whose sign-in was an hour ago (signed with the server's own key).
    let stale = signed_in_an_hour_ago(&json!(user_id));
    let refused = export(stale.clone()).await.expect("export");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        problem_type(refused).await,
        "urn:mindflow:problem:reauthentication-required"
    );
    // Everyday endpoints still take it.
    assert_eq!(
        server
            .http
            .get(server.url("/api/v1/users/me"))
            .bearer_auth(&stale)
            .send()
            .await
            .expect("me")
            .status(),
        200
    );
    // Signing in again is the way through.
    let again: Value = login(&server, "recent@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        export(str_of(&again, "access_token").to_owned())
            .await
            .expect("export")
            .status(),
        200
    );
}
