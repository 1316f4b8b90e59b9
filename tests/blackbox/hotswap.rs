//! Live hot-swap: a steady stream of concurrent requests sees zero failures while a new
//! version is activated and rolled back, and the responses switch from old to new and back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mindflow_tests::admin::{activate, upload, versioned_manifest};
use mindflow_tests::server;
use serde_json::Value;

#[tokio::test]
async fn activation_and_rollback_under_load_fail_no_request() {
    let server = Arc::new(server(versioned_manifest()).await);
    let admin = server.admin_token().await.expect("admin");
    assert_eq!(
        upload(&server, &admin, "versioned", "v2", "versioned-v2")
            .await
            .status(),
        201
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let server = server.clone();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut failures = Vec::new();
            let mut count = 0u32;
            // Bounded: at most 20,000 requests or until told to stop.
            while !stop.load(Ordering::Relaxed) && count < 20_000 {
                count += 1;
                match server
                    .http
                    .get(server.url("/api/v1/versioned"))
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 200 => {
                        let body: Value = response.json().await.unwrap_or_default();
                        let version = body["version"].as_str().unwrap_or("?").to_owned();
                        if seen.last() != Some(&version) {
                            seen.push(version);
                        }
                    }
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(error.to_string()),
                }
            }
            (count, seen, failures)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        activate(&server, &admin, "versioned", "v2").await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rollback = server
        .http
        .post(server.url("/api/v1/admin/components/versioned/rollback"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("rollback");
    assert_eq!(rollback.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        let (count, seen, failures) = client.await.expect("client");
        total += count;
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        assert_eq!(seen, ["v1", "v2", "v1"], "each client saw old, new, old");
    }
    assert!(total > 100, "only {total} requests were made");
}
