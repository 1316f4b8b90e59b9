//! Wearables (issue 15) through the real server and real adapter components: uploads
//! streamed into the Apple Health adapter, metrics merged by day and week, consent and
//! premium gating, bad files refused without a change, disconnect keeping or deleting the
//! data, another user's connection 404.

use mindflow_tests::accounts::user;
use mindflow_tests::http::send;
use mindflow_tests::{Manifest, Server, server, workspace_root};
use reqwest::Method;
use serde_json::{Value, json};

fn manifest() -> Manifest {
    Manifest::product(&["crisis-rules", "apple-health"])
}

/// The hand-written export the adapter's own tests use.
fn small_export() -> Vec<u8> {
    std::fs::read(
        workspace_root().join("components/wearables/apple-health/tests/fixtures/small-export.xml"),
    )
    .expect("fixture")
}

async fn upgrade(server: &Server, user_id: &str) {
    let admin = server.admin_token().await.expect("admin");
    let upgraded = send(
        server,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/subscription"),
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": null})),
    )
    .await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);
}

async fn consent(server: &Server, token: &str) {
    let granted = send(
        server,
        Method::PUT,
        "/api/v1/users/me/consents/wearables",
        Some(token),
        Some(json!({"granted": true})),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
}

/// A premium user who consented to wearables.
async fn wearer(server: &Server, tag: &str) -> (String, String) {
    let (token, id) = user(server, tag).await;
    upgrade(server, &id).await;
    consent(server, &token).await;
    (token, id)
}

async fn upload(server: &Server, token: &str, filename: &str, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .http
        .post(server.url(&format!(
            "/api/v1/wearables/upload/apple-health?filename={filename}"
        )))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn metrics(server: &Server, token: &str, query: &str) -> Value {
    let answer = send(
        server,
        Method::GET,
        &format!("/api/v1/wearables/metrics?{query}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn an_apple_health_export_streams_into_the_adapter_and_becomes_daily_metrics() {
    let server = server(manifest()).await;
    let (token, id) = user(&server, "apple").await;

    let providers = send(
        &server,
        Method::GET,
        "/api/v1/wearables/providers",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(providers.status, 200, "{}", providers.body);
    let apple = providers.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["id"] == "apple-health"))
        .expect("apple-health is installed")
        .clone();
    assert_eq!(apple["connection"], "upload");
    assert_eq!(apple["hrv_kind"], "sdnn");
    assert_eq!(apple["connected"], false);

    // Free and without consent: refused, nothing stored.
    let (status, problem) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 403, "{problem}");
    upgrade(&server, &id).await;
    let (status, problem) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(
        (status, &problem["type"]),
        (403, &json!("urn:mindflow:problem:consent-required"))
    );
    consent(&server, &token).await;

    // Not an export: 422, and still nothing.
    let (status, problem) = upload(
        &server,
        &token,
        "export.xml",
        b"PK\x03\x04 not xml".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(connections.body["items"], json!([]));

    let (status, stored) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200, "{stored}");
    assert!(stored["days"].as_u64().is_some_and(|d| d >= 3), "{stored}");
    assert!(
        stored["sleep_sessions"].as_u64().is_some_and(|s| s >= 1),
        "{stored}"
    );

    let days = metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
    let items = days["items"].as_array().expect("items");
    let third = items
        .iter()
        .find(|d| d["date"] == "2026-11-03")
        .expect("3 November");
    // iPhone and Watch overlap at 07:00: the Watch's larger count, not both.
    assert!(third["steps"].as_i64().is_some_and(|s| s > 0), "{third}");
    assert_eq!(third["sources"]["steps"], "apple-health");
    assert!(
        items.iter().any(|d| d["hrv_kind"] == "sdnn"),
        "HRV from Apple is SDNN: {days}"
    );
    let weeks = metrics(&server, &token, "from=2026-11-01&to=2026-11-10&period=week").await;
    assert!(!weeks["items"].as_array().expect("weeks").is_empty());

    // Uploading the same export again changes nothing (days are replaced, not added).
    let (status, _) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200);
    assert_eq!(
        metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await,
        days
    );

    // Bad ranges are 422.
    for query in [
        "from=2026-11-10&to=2026-11-01",
        "from=2020-01-01&to=2026-11-01",
        "from=yesterday",
        "period=month",
    ] {
        let answer = send(
            &server,
            Method::GET,
            &format!("/api/v1/wearables/metrics?{query}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.body);
    }

    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    let connection = connections.body["items"][0].clone();
    assert_eq!(connection["provider"], "apple-health");
    assert_eq!(connection["sync_status"], "active");
    assert!(connection.get("access_token_encrypted").is_none());
    let connection_id = connection["id"].as_str().expect("id").to_owned();

    // Another user cannot see or delete it.
    let (other, _) = wearer(&server, "apple-other").await;
    let theirs = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{connection_id}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(
        metrics(&server, &other, "from=2026-11-01&to=2026-11-10").await["items"],
        json!([])
    );

    // Disconnecting and keeping the data: the days stay.
    let kept = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{connection_id}?keep_data=true"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(kept.status, 204, "{}", kept.body);
    assert_eq!(
        metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await,
        days
    );
    // A new upload and a disconnect that deletes: the connection's days go.
    let (status, _) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200);
    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    let again = connections.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deleted = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{again}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let after = metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
    // The days kept from the first connection remain (provider-tagged); the second's are gone.
    assert_eq!(after, days);
}

#[tokio::test]
async fn samples_json_uploads_and_a_preference_picks_the_source() {
    let server = server(manifest()).await;
    let (token, _) = wearer(&server, "samples").await;
    let samples = json!({"samples": [
        {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T07:14:02-07:00", "end": "2026-11-03T07:44:02-07:00", "value": 1200, "unit": "count", "source": "iPhone"},
        {"type": "HKCategoryTypeIdentifierSleepAnalysis", "start": "2026-11-02T23:30:00-07:00", "end": "2026-11-03T06:30:00-07:00", "value": "HKCategoryValueSleepAnalysisAsleepCore", "source": "Apple Watch"}
    ]});
    let (status, stored) = upload(
        &server,
        &token,
        "samples.json",
        samples.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    let days = metrics(&server, &token, "from=2026-11-01&to=2026-11-05").await;
    let third = days["items"]
        .as_array()
        .and_then(|items| items.iter().find(|d| d["date"] == "2026-11-03"))
        .expect("3 November")
        .clone();
    assert_eq!(third["steps"], 1200);
    assert_eq!(third["sleep_duration_minutes"], 420);

    let chosen = send(
        &server,
        Method::PUT,
        "/api/v1/wearables/preferences",
        Some(&token),
        Some(json!({"primary_sources": {"sleep": "apple-health"}})),
    )
    .await;
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    assert_eq!(chosen.body["primary_sources"]["sleep"], "apple-health");
    for bad in [
        json!({"primary_sources": {"dreams": "apple-health"}}),
        json!({"primary_sources": {"sleep": "nobody"}}),
        json!({"primary_sources": 3}),
    ] {
        let refused = send(
            &server,
            Method::PUT,
            "/api/v1/wearables/preferences",
            Some(&token),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
    }
    let unchanged = send(
        &server,
        Method::GET,
        "/api/v1/wearables/preferences",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        unchanged.body["primary_sources"],
        json!({"sleep": "apple-health"})
    );
}
