//! Two hosts sharing one PostgreSQL converge on the same active version (LISTEN/NOTIFY).
//! On SQLite (one host per database file) there is nothing to converge: the test is a no-op
//! there and says so.

use std::time::{Duration, Instant};

use mindflow_tests::{Backend, Server, ServerOptions, backend};

use crate::admin::{activate, upload, version_of, versioned_manifest};

#[tokio::test]
async fn replicas_converge_on_the_activated_version() {
    if backend() != Backend::Postgres {
        eprintln!("replicas: PostgreSQL only (run with MINDFLOW_TEST_BACKEND=postgres)");
        return;
    }
    // Replicas share the token-signing secret, as they would in production.
    let secret = (
        "MINDFLOW_JWT_SECRET".to_owned(),
        "cmVwbGljYXMgc2hhcmUgdGhpcyAzMi1ieXRlIHNlY3JldCE=".to_owned(),
    );
    let mut options = ServerOptions::new(versioned_manifest())
        .await
        .expect("options");
    options.env.push(secret.clone());
    let first = Server::start(options).await.expect("first");
    let mut options = ServerOptions::new(versioned_manifest())
        .await
        .expect("options");
    options.database_url = first.database_url.clone();
    options.env.push(secret);
    let second = Server::start(options).await.expect("second");
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
