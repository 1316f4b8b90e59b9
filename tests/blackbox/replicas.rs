//! Two hosts sharing one PostgreSQL converge on the same active version, and on who a caller
//! is (tier, account), through LISTEN/NOTIFY. On SQLite (one host per database file) there
//! is nothing to converge: the tests are no-ops there and say so.

use std::time::{Duration, Instant};

use mindflow_tests::accounts::{PASSWORD, email};
use mindflow_tests::admin::{activate, upload, version_of, versioned_manifest};
use mindflow_tests::{Backend, Manifest, Server, ServerOptions, backend};

/// Two replicas of `manifest` on one PostgreSQL database, sharing the token-signing secret
/// as they would in production; `None` on SQLite.
async fn two_replicas(manifest: Manifest) -> Option<(Server, Server)> {
    if backend() != Backend::Postgres {
        eprintln!("replicas: PostgreSQL only (run with MINDFLOW_TEST_BACKEND=postgres)");
        return None;
    }
    let secret = (
        "MINDFLOW_JWT_SECRET".to_owned(),
        "cmVwbGljYXMgc2hhcmUgdGhpcyAzMi1ieXRlIHNlY3JldCE=".to_owned(),
    );
    let mut options = ServerOptions::new(manifest.clone()).await.expect("options");
    options.env.push(secret.clone());
    let first = Server::start(options).await.expect("first");
    let mut options = ServerOptions::new(manifest).await.expect("options");
    options.database_url = first.database_url.clone();
    options.env.push(secret);
    let second = Server::start(options).await.expect("second");
    Some((first, second))
}

/// Waits (at most two seconds, far less than the caller cache's ten) until a GET of `path`
/// on `server` answers `status`.
async fn until_status(server: &Server, token: &str, path: &str, status: u16, what: &str) {
    let started = Instant::now();
    loop {
        let answer = server
            .http
            .get(server.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("probe")
            .status();
        if answer == status {
            eprintln!("replicas: {what} seen in {:?}", started.elapsed());
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: the second replica still answers {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A replica that has just served a caller sees their tier change, and their account's
/// deletion, made on another replica at once (not after its cache's lifetime).
#[tokio::test]
async fn replicas_converge_on_who_a_caller_is() {
    let Some((first, second)) = two_replicas(Manifest::product(&["mood", "crisis-rules"])).await
    else {
        return;
    };
    let email = email("replica");
    let (token, id) = first.register(&email).await.expect("register");
    let factors = "/api/v1/mood/factors";
    // Served (and remembered) as a free user by the second replica.
    until_status(&second, &token, factors, 403, "free tier").await;
    until_status(&second, &token, factors, 403, "free tier, again").await;

    let admin = first.admin_token().await.expect("admin");
    let set_tier = |tier: &'static str| {
        first
            .http
            .put(first.url(&format!("/api/v1/admin/users/{id}/subscription")))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"tier": tier, "expires_at": null}))
            .send()
    };
    assert_eq!(set_tier("premium").await.expect("upgrade").status(), 200);
    until_status(&second, &token, factors, 200, "upgrade").await;
    assert_eq!(set_tier("free").await.expect("downgrade").status(), 200);
    until_status(&second, &token, factors, 403, "downgrade").await;

    let deleted = first
        .http
        .delete(first.url("/api/v1/auth/account"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    until_status(&second, &token, factors, 401, "account deletion").await;
}

/// A logout on one replica ends the session's access token on another at once, though that
/// replica has just served (and remembered) the caller.
#[tokio::test]
async fn replicas_converge_on_a_logout() {
    let Some((first, second)) = two_replicas(Manifest::product(&["mood", "crisis-rules"])).await
    else {
        return;
    };
    let email = email("replica-logout");
    first.register(&email).await.expect("register");
    let session: serde_json::Value = first
        .http
        .post(first.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("access token");
    let logs = "/api/v1/mood/logs";
    until_status(&second, token, logs, 200, "signed in").await;
    until_status(&second, token, logs, 200, "signed in, again").await;
    let out = first
        .http
        .post(first.url("/api/v1/auth/logout"))
        .json(&serde_json::json!({"refresh_token": session["refresh_token"]}))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);
    until_status(&second, token, logs, 401, "logout").await;
}

#[tokio::test]
async fn replicas_converge_on_the_activated_version() {
    let Some((first, second)) = two_replicas(versioned_manifest()).await else {
        return;
    };
    assert_eq!(version_of(&second).await, "v1");

    let admin = first.admin_token().await.expect("admin");
    assert_eq!(
        upload(&first, &admin, "versioned", "v2", "versioned-v2")
            .await
            .status(),
        201
    );
    let started = Instant::now();
    assert_eq!(
        activate(&first, &admin, "versioned", "v2").await.status(),
        200
    );
    while version_of(&second).await != "v2" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the second replica did not converge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("replicas: converged in {:?}", started.elapsed());
    let rollback = second
        .http
        .post(second.url("/api/v1/admin/components/versioned/rollback"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("rollback");
    assert_eq!(rollback.status(), 200);
    let started = Instant::now();
    while version_of(&first).await != "v1" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the first replica did not converge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
