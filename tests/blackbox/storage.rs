//! The `storage` capability through a real component (`storage-probe`): CRUD, validation,
//! keyset pagination, aggregates in the user's time zone, nearest neighbours, batches, grants,
//! the embedding dimension, and isolation between users doing random operations concurrently.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use mindflow_tests::accounts::user;
use mindflow_tests::{Server, ServerOptions, manifest, server_with};
use serde_json::{Value, json};

/// The probe with most collections, and a second instance granted only `mood_logs`.
fn storage_manifest() -> String {
    manifest(
        r#"
[[trigger.http]]
route = "/api/v1/probe/..."
component = "probe"

[component.probe]
source = "{components}/storage-probe.wasm"
[component.probe.tool.mindflow]
capabilities = ["context", "storage"]
collections = ["mood_logs", "mood_factors", "journal_entries", "chat_sessions", "chat_messages", "user_insights", "recommendations", "wearable_connections", "wearable_metrics", "crisis_events", "content_library"]

[[trigger.http]]
route = "/api/v1/narrow/..."
component = "narrow"

[component.narrow]
source = "{components}/storage-probe.wasm"
[component.narrow.tool.mindflow]
capabilities = ["context", "storage"]
collections = ["mood_logs"]
"#,
    )
}

/// The embedding dimension the tests' vectors have.
const EMBEDDING_DIM: (&str, &str) = ("MINDFLOW_EMBEDDING_DIM", "3");

/// Sends a request; returns the status, the JSON body (or `null`) and the raw text.
async fn call(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

async fn post(server: &Server, token: &str, path: &str, body: Value) -> (u16, Value, String) {
    call(server, token, reqwest::Method::POST, path, Some(body)).await
}

async fn get(server: &Server, token: &str, path: &str) -> (u16, Value, String) {
    call(server, token, reqwest::Method::GET, path, None).await
}

#[tokio::test]
async fn storage_crud_through_a_component() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, user_id) = user(&server, "crud").await;
    let (status, who, _) = get(&server, &token, "/api/v1/probe/whoami").await;
    assert_eq!(
        (status, who["user"].as_str()),
        (200, Some(user_id.as_str()))
    );

    let (status, created, text) = post(
        &server,
        &token,
        "/api/v1/probe/insert/mood_logs",
        json!({"mood_score": 7, "location_type": "home", "logged_at": "2026-11-25T09:30:00+01:00", "note_sentiment": 0.5}),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let row = &created["row"];
    let id = row["id"].as_str().expect("id").to_owned();
    assert_eq!(row["mood_score"], 7);
    assert_eq!(row["logged_at"], "2026-11-25T08:30:00.000000Z");
    assert_eq!(row["crisis_flag_triggered"], false);
    assert!(row.get("user_id").is_none(), "{row}");

    let (status, fetched, _) = get(
        &server,
        &token,
        &format!("/api/v1/probe/get/mood_logs/{id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&fetched["row"], row);

    let (status, updated, text) = call(
        &server,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/probe/update/mood_logs/{id}"),
        Some(json!({"mood_score": 3, "energy_level": 4})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(updated["row"]["mood_score"], 3);
    assert_eq!(updated["row"]["energy_level"], 4);
    assert_eq!(updated["row"]["location_type"], "home");

    let (status, page, _) = post(
        &server,
        &token,
        "/api/v1/probe/query/mood_logs",
        json!({"order_by": "logged_at", "descending": true, "limit": 10}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["next_cursor"], Value::Null);

    // A journal entry: bytes and JSON round-trip; updated_at is the host's.
    let (status, journal, text) = post(
        &server,
        &token,
        "/api/v1/probe/insert/journal_entries",
        json!({"content_encrypted": {"$hex": "00ff10"}, "content_iv": {"$hex": "0102"}, "term_hashes": {"$json": ["ab12", "cd34"]}}),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(
        journal["row"]["content_encrypted"],
        json!({"$hex": "00ff10"})
    );
    assert_eq!(journal["row"]["term_hashes"], json!(["ab12", "cd34"]));
    assert!(journal["row"]["updated_at"].is_string());

    let (status, _, _) = call(
        &server,
        &token,
        reqwest::Method::DELETE,
        &format!("/api/v1/probe/delete/mood_logs/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, gone, _) = get(
        &server,
        &token,
        &format!("/api/v1/probe/get/mood_logs/{id}"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(gone["type"], "urn:mindflow:problem:not-found");
}

/// `children`: the rows of a child collection for a set of parent ids in one call, scoped to
/// the caller exactly as a query is, and bounded.
#[tokio::test]
async fn storage_children_of_a_page_of_parents_in_one_call() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (alice, _) = user(&server, "kids-a").await;
    let (bob, _) = user(&server, "kids-b").await;
    let mut alice_logs = Vec::new();
    for (i, factors) in [2, 0, 3].into_iter().enumerate() {
        let log = uuid::Uuid::new_v4().to_string();
        let mut writes = vec![json!({"op": "insert", "collection": "mood_logs",
            "row": {"id": {"$uuid": log.clone()}, "mood_score": 5 + i, "logged_at": "2026-11-25T09:30:00Z"}})];
        for f in 0..factors {
            writes.push(json!({"op": "insert", "collection": "mood_factors",
                "row": {"mood_log_id": {"$uuid": log.clone()}, "factor_type": format!("f{f}")}}));
        }
        let (status, body, text) = post(
            &server,
            &alice,
            "/api/v1/probe/batch",
            json!({"writes": writes}),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        // The id the batch chose named the log within it; the log is stored under another.
        let stored = body["results"][0]["id"].as_str().expect("id").to_owned();
        assert_ne!(stored, log);
        alice_logs.push(stored);
    }
    let bob_log = uuid::Uuid::new_v4().to_string();
    let (status, body, text) = post(
        &server,
        &bob,
        "/api/v1/probe/batch",
        json!({"writes": [
            {"op": "insert", "collection": "mood_logs", "row": {"id": {"$uuid": bob_log.clone()}, "mood_score": 2, "logged_at": "2026-11-25T09:30:00Z"}},
            {"op": "insert", "collection": "mood_factors", "row": {"mood_log_id": {"$uuid": bob_log.clone()}, "factor_type": "secret"}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let bob_log = body["results"][0]["id"].as_str().expect("id").to_owned();

    // Alice asks for her three logs and Bob's: she gets her five factors, grouped by log.
    let mut ids = alice_logs.clone();
    ids.push(bob_log.clone());
    let (status, body, text) = post(
        &server,
        &alice,
        "/api/v1/probe/children/mood_factors",
        json!({"field": "mood_log_id", "parent_ids": ids}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let rows = body["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 5, "{body}");
    assert!(rows.iter().all(|r| r["mood_log_id"] != bob_log.as_str()));
    let parents: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["mood_log_id"].as_str())
        .collect();
    let mut sorted = parents.clone();
    sorted.sort_unstable();
    assert_eq!(parents, sorted, "ordered by the parent field");
    // Bob's own call sees only his.
    let (status, body, _) = post(
        &server,
        &bob,
        "/api/v1/probe/children/mood_factors",
        json!({"field": "mood_log_id", "parent_ids": ids}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["rows"][0]["factor_type"], "secret");

    // Nothing asked, nothing read.
    let (status, body, _) = post(
        &server,
        &alice,
        "/api/v1/probe/children/mood_factors",
        json!({"field": "mood_log_id", "parent_ids": []}),
    )
    .await;
    assert_eq!(
        (status, body["rows"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    // Bad requests name the parameter and change nothing.
    let too_many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    for (body, field) in [
        (
            json!({"field": "factor_type", "parent_ids": [alice_logs[0]]}),
            "field",
        ),
        (
            json!({"field": "id", "parent_ids": [alice_logs[0]]}),
            "field",
        ),
        (
            json!({"field": "nope", "parent_ids": [alice_logs[0]]}),
            "field",
        ),
        (
            json!({"field": "mood_log_id", "parent_ids": ["not-a-uuid"]}),
            "parent-ids",
        ),
        (
            json!({"field": "mood_log_id", "parent_ids": too_many}),
            "parent-ids",
        ),
    ] {
        let (status, problem, text) =
            post(&server, &alice, "/api/v1/probe/children/mood_factors", body).await;
        assert_eq!(status, 422, "{text}");
        assert_eq!(problem["errors"][0]["field"], field, "{text}");
    }
}

/// Instances are made ahead of their requests; each learns its caller from the request that
/// takes it, whoever the component's previous caller was.
#[tokio::test]
async fn an_instance_made_ahead_learns_its_caller_from_its_request() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (alice, alice_id) = user(&server, "alice").await;
    let (bob, bob_id) = user(&server, "bob").await;
    let users = [(&alice, &alice_id), (&bob, &bob_id)];
    for round in 0..30_usize {
        // a, b, b, a, a, b, b, a, …: every change of caller, and repeats, in a row.
        let (token, id) = users[round.div_ceil(2) % 2];
        let (status, who, text) = get(&server, token, "/api/v1/probe/whoami").await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(who["user"].as_str(), Some(id.as_str()), "round {round}");
    }
    let concurrent = (0..16).map(|i| {
        let (token, id) = users[i % 2];
        let server = &server;
        async move {
            let (_, who, _) = get(server, token, "/api/v1/probe/whoami").await;
            assert_eq!(who["user"].as_str(), Some(id.as_str()));
        }
    });
    futures::future::join_all(concurrent).await;
}

#[tokio::test]
async fn storage_validation_is_422_naming_the_field() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, _) = user(&server, "invalid").await;
    let cases = [
        (json!({"mood_score": 11}), "mood_score"),
        (json!({"mood_score": "seven"}), "mood_score"),
        (json!({"location_type": "no score"}), "mood_score"),
        // Notes are only ever written sealed: the plaintext column is the host's.
        (json!({"mood_score": 5, "note": "in plaintext"}), "note"),
        (
            json!({"mood_score": 5, "time_of_day": "x".repeat(21)}),
            "time_of_day",
        ),
        (
            json!({"mood_score": 5, "logged_at": "yesterday"}),
            "logged_at",
        ),
        (json!({"mood_score": 5, "id": "not-a-uuid"}), "id"),
        (
            json!({"mood_score": 5, "created_at": "2026-01-01T00:00:00Z"}),
            "created_at",
        ),
        (json!({"mood_score": 5, "mood": 5}), "mood"),
    ];
    for (row, field) in cases {
        let (status, problem, text) = post(
            &server,
            &token,
            "/api/v1/probe/insert/mood_logs",
            row.clone(),
        )
        .await;
        assert_eq!(status, 422, "{row} → {text}");
        assert_eq!(problem["errors"][0]["field"], field, "{row} → {text}");
    }
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/insert/mood_factors",
        json!({"mood_log_id": uuid::Uuid::new_v4().to_string(), "factor_type": "sleep", "impact_score": -6}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("impact_score"))
    );
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/query/mood_logs",
        json!({"order_by": "note"}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("order-by"))
    );
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/query/mood_logs",
        json!({"order_by": "logged_at", "cursor": "not-a-cursor"}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("cursor"))
    );
    // A unique violation is a conflict.
    let (_, connection, _) = post(
        &server,
        &token,
        "/api/v1/probe/insert/wearable_connections",
        json!({"provider": "oura"}),
    )
    .await;
    let metric = json!({"connection_id": connection["row"]["id"], "metric_date": "2026-11-20", "steps": 9000});
    let (status, _, text) = post(
        &server,
        &token,
        "/api/v1/probe/insert/wearable_metrics",
        metric.clone(),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/insert/wearable_metrics",
        metric,
    )
    .await;
    assert_eq!(
        (status, &problem["type"]),
        (409, &json!("urn:mindflow:problem:conflict"))
    );
}

#[tokio::test]
async fn storage_pages_have_no_duplicates_or_gaps() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, _) = user(&server, "pages").await;
    // 31 rows over 5 distinct instants, written in one batch.
    let writes: Vec<Value> = (0..31)
        .map(|i| {
            json!({"op": "insert", "collection": "mood_logs", "row": {
                "mood_score": i % 10 + 1,
                "logged_at": format!("2026-11-0{}T12:00:00Z", i % 5 + 1),
            }})
        })
        .collect();
    let (status, inserted, text) = post(
        &server,
        &token,
        "/api/v1/probe/batch",
        json!({"writes": writes}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let mut expected: Vec<(String, String)> = inserted["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| {
            (
                row["logged_at"].as_str().unwrap_or_default().to_owned(),
                row["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    expected.sort();
    let ascending: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    for descending in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = Value::Null;
        let mut pages = 0;
        loop {
            let (status, page, text) = post(
                &server,
                &token,
                "/api/v1/probe/query/mood_logs",
                json!({"order_by": "logged_at", "descending": descending, "limit": 7, "cursor": cursor}),
            )
            .await;
            assert_eq!(status, 200, "{text}");
            pages += 1;
            let rows = page["rows"].as_array().expect("rows");
            assert!(rows.len() <= 7);
            seen.extend(
                rows.iter()
                    .map(|r| r["id"].as_str().unwrap_or_default().to_owned()),
            );
            cursor = page["next_cursor"].clone();
            if cursor.is_null() {
                break;
            }
            assert!(pages < 20, "runaway pagination");
        }
        assert_eq!(pages, 5);
        let mut wanted = ascending.clone();
        if descending {
            wanted.reverse();
        }
        assert_eq!(seen, wanted, "descending = {descending}");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), 31);
    }
}

#[tokio::test]
async fn storage_aggregates_group_in_the_users_time_zone() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, _) = user(&server, "zone").await;
    let rows = [
        ("2026-11-24T04:30:00Z", 4), // Monday 23:30 in New York
        ("2026-11-24T04:45:00Z", 6), // Monday 23:45
        ("2026-11-24T15:00:00Z", 9), // Tuesday 10:00
    ];
    for (at, score) in rows {
        let (status, _, text) = post(
            &server,
            &token,
            "/api/v1/probe/insert/mood_logs",
            json!({"mood_score": score, "logged_at": at}),
        )
        .await;
        assert_eq!(status, 201, "{text}");
    }
    let aggregate = |grouping: &'static str| json!({"measures": [["*", "count"], ["mood_score", "avg"]], "grouping": grouping, "group_field": "logged_at"});
    // In UTC (the default zone) every row is on Tuesday.
    let (status, utc, _) = post(
        &server,
        &token,
        "/api/v1/probe/aggregate/mood_logs",
        aggregate("weekday"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        utc["groups"],
        json!([{"group": "2", "values": [3.0, 19.0 / 3.0]}])
    );

    let (status, _, text) = call(
        &server,
        &token,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(json!({"timezone": "America/New_York"})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let (status, weekday, _) = post(
        &server,
        &token,
        "/api/v1/probe/aggregate/mood_logs",
        aggregate("weekday"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        weekday["groups"],
        json!([
            {"group": "1", "values": [2.0, 5.0]},
            {"group": "2", "values": [1.0, 9.0]}
        ])
    );
    let (status, hour, _) = post(
        &server,
        &token,
        "/api/v1/probe/aggregate/mood_logs",
        aggregate("hour"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        hour["groups"],
        json!([
            {"group": "10", "values": [1.0, 9.0]},
            {"group": "23", "values": [2.0, 5.0]}
        ])
    );
    let (status, day, _) = post(
        &server,
        &token,
        "/api/v1/probe/aggregate/mood_logs",
        aggregate("day"),
    )
    .await;
    assert_eq!(status, 200);
    let days: Vec<&Value> = day["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| &g["group"])
        .collect();
    assert_eq!(days, vec!["2026-11-23", "2026-11-24"]);
}

#[tokio::test]
async fn storage_ungranted_and_read_only_collections_are_refused() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, _) = user(&server, "grants").await;
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/narrow/insert/journal_entries",
        json!({"content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}}),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(problem["type"], "urn:mindflow:problem:storage-not-granted");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not granted")
    );
    let (status, _, _) = post(
        &server,
        &token,
        "/api/v1/narrow/query/chat_sessions",
        json!({}),
    )
    .await;
    assert_eq!(status, 500);
    let (status, _, _) = post(
        &server,
        &token,
        "/api/v1/narrow/insert/mood_logs",
        json!({"mood_score": 5}),
    )
    .await;
    assert_eq!(status, 201);
    for (collection, row) in [
        (
            "content_library",
            json!({"content_type": "audio", "title": "t"}),
        ),
        (
            "crisis_events",
            json!({"trigger_source": "mood", "severity": "high"}),
        ),
    ] {
        let (status, problem, _) = post(
            &server,
            &token,
            &format!("/api/v1/probe/insert/{collection}"),
            row,
        )
        .await;
        assert_eq!(status, 500, "{collection}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("read-only"),
            "{problem}"
        );
        let (status, page, _) = post(
            &server,
            &token,
            &format!("/api/v1/probe/query/{collection}"),
            json!({"order_by": "created_at"}),
        )
        .await;
        assert_eq!(status, 200, "{collection} is readable");
        assert!(page["rows"].is_array());
    }
}

#[tokio::test]
async fn storage_nearest_and_atomic_batches() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (token, _) = user(&server, "nearest").await;
    let (other, _) = user(&server, "other").await;
    let mut sessions = Vec::new();
    for t in [&token, &other] {
        let (status, session, _) = post(
            &server,
            t,
            "/api/v1/probe/insert/chat_sessions",
            json!({"title": "s"}),
        )
        .await;
        assert_eq!(status, 201);
        sessions.push(session["row"]["id"].as_str().expect("id").to_owned());
    }
    for (content, embedding) in [
        ("east", [1.0, 0.0, 0.0]),
        ("north", [0.0, 1.0, 0.0]),
        ("west", [-1.0, 0.0, 0.0]),
    ] {
        let (status, _, text) = post(
            &server,
            &token,
            "/api/v1/probe/insert/chat_messages",
            json!({"session_id": sessions[0], "role": "user", "model_used": content, "content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}, "embedding": embedding}),
        )
        .await;
        assert_eq!(status, 201, "{text}");
    }
    let (status, _, _) = post(
        &server,
        &other,
        "/api/v1/probe/insert/chat_messages",
        json!({"session_id": sessions[1], "role": "user", "model_used": "other's", "content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}, "embedding": [1.0, 0.0, 0.0]}),
    )
    .await;
    assert_eq!(status, 201);
    // A message in another user's session: not found.
    let (status, _, _) = post(
        &server,
        &token,
        "/api/v1/probe/insert/chat_messages",
        json!({"session_id": sessions[1], "role": "user", "model_used": "intruder", "content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, found, text) = post(
        &server,
        &token,
        "/api/v1/probe/nearest/chat_messages",
        json!({"field": "embedding", "target": [0.9, 0.2, 0.0], "k": 2}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let contents: Vec<&Value> = found["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| &r["row"]["model_used"])
        .collect();
    assert_eq!(contents, vec!["east", "north"]);
    assert!(found["rows"][0]["distance"].as_f64().unwrap_or(1.0) < 0.05);
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/nearest/chat_messages",
        json!({"field": "embedding", "target": [1.0, 0.0], "k": 2}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("target"))
    );

    // A batch whose second write is invalid writes nothing.
    let (status, problem, _) = post(
        &server,
        &token,
        "/api/v1/probe/batch",
        json!({"writes": [
            {"op": "insert", "collection": "mood_logs", "row": {"mood_score": 5}},
            {"op": "insert", "collection": "mood_logs", "row": {"mood_score": 50}},
        ]}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("writes[1].mood_score"))
    );
    // A batch whose second write hits a missing row writes nothing either.
    let (status, _, _) = post(
        &server,
        &token,
        "/api/v1/probe/batch",
        json!({"writes": [
            {"op": "insert", "collection": "mood_logs", "row": {"mood_score": 5}},
            {"op": "delete", "collection": "mood_logs", "id": uuid::Uuid::new_v4().to_string()},
        ]}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, count, _) = post(
        &server,
        &token,
        "/api/v1/probe/aggregate/mood_logs",
        json!({"measures": [["*", "count"]]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(count["groups"], json!([{"group": null, "values": [0.0]}]));
}

#[tokio::test]
async fn storage_embedding_dimension_is_fixed_once_the_column_exists() {
    let mut first = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    assert!(first.terminate().expect("terminate"));
    let mut again = ServerOptions::new(storage_manifest())
        .await
        .expect("options");
    again.database_url = first.database_url.clone();
    again.data_dir = Some(first.data_dir.clone());
    again
        .env
        .push(("MINDFLOW_EMBEDDING_DIM".into(), "4".into()));
    let error = match Server::start(again).await {
        Ok(_) => panic!("a different embedding dimension must stop start-up"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("MINDFLOW_EMBEDDING_DIM"), "{error}");
    assert!(error.contains("3-dimensional"), "{error}");
}

/// A tiny deterministic generator (xorshift64*), so failures can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("a remainder below a usize is a usize")
    }

    /// A whole number below `n`, as a float (one draw, like [`Rng::below`]).
    fn float_below(&mut self, n: u32) -> f64 {
        f64::from(u32::try_from(self.next() % u64::from(n)).expect("below a u32"))
    }
}

/// Every row id any user created, with its owner and collection.
type Registry = Arc<Mutex<Vec<(usize, &'static str, String)>>>;

struct Actor {
    index: usize,
    token: String,
    marker: String,
    others: Vec<String>,
    registry: Registry,
    mood_logs: Vec<String>,
    sessions: Vec<String>,
}

impl Actor {
    /// Fails the test when `text` mentions another user's marker or row id.
    fn check_clean(&self, what: &str, text: &str) {
        for marker in &self.others {
            assert!(
                !text.contains(marker.as_str()),
                "user {} saw {marker} in {what}: {text}",
                self.index
            );
        }
        let foreign: Vec<String> = self
            .registry
            .lock()
            .expect("registry")
            .iter()
            .filter(|(owner, _, _)| *owner != self.index)
            .map(|(_, _, id)| id.clone())
            .collect();
        for id in foreign {
            assert!(
                !text.contains(&id),
                "user {} saw another user's row {id} in {what}",
                self.index
            );
        }
    }

    fn remember(&self, collection: &'static str, id: &str) {
        self.registry
            .lock()
            .expect("registry")
            .push((self.index, collection, id.to_owned()));
    }

    fn foreign_row(&self, rng: &mut Rng) -> Option<(&'static str, String)> {
        let registry = self.registry.lock().expect("registry");
        let foreign: Vec<&(usize, &'static str, String)> = registry
            .iter()
            .filter(|(owner, _, _)| *owner != self.index)
            .collect();
        if foreign.is_empty() {
            return None;
        }
        let (_, collection, id) = foreign[rng.below(foreign.len())];
        Some((collection, id.clone()))
    }
}

/// Runs `steps` random operations; returns how many probed another user's rows.
async fn act(server: Arc<Server>, mut actor: Actor, seed: u64, steps: usize) -> usize {
    let mut rng = Rng(seed | 1);
    let mut own_logs = 0usize;
    let mut foreign_probes = 0usize;
    for step in 0..steps {
        let op = rng.below(11);
        let (what, status, body, text) = match op {
            0 | 1 => {
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/insert/mood_logs",
                    json!({"mood_score": rng.below(10) + 1, "location_type": actor.marker}),
                )
                .await;
                assert_eq!(status, 201, "{text}");
                let id = body["row"]["id"].as_str().expect("id").to_owned();
                actor.remember("mood_logs", &id);
                actor.mood_logs.push(id);
                own_logs += 1;
                ("insert mood log", status, body, text)
            }
            2 => {
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/insert/chat_sessions",
                    json!({"title": actor.marker}),
                )
                .await;
                assert_eq!(status, 201, "{text}");
                let session = body["row"]["id"].as_str().expect("id").to_owned();
                actor.remember("chat_sessions", &session);
                let embedding = [rng.float_below(100) + 1.0, rng.float_below(100), 1.0];
                let (status, message, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/insert/chat_messages",
                    json!({"session_id": session, "role": "user", "model_used": actor.marker, "content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}, "embedding": embedding}),
                )
                .await;
                assert_eq!(status, 201, "{text}");
                actor.remember("chat_messages", message["row"]["id"].as_str().expect("id"));
                actor.sessions.push(session);
                ("insert chat", status, message, text)
            }
            3 if !actor.mood_logs.is_empty() => {
                let log = actor.mood_logs[rng.below(actor.mood_logs.len())].clone();
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/insert/mood_factors",
                    json!({"mood_log_id": log, "factor_type": "sleep", "factor_value": actor.marker, "impact_score": 2}),
                )
                .await;
                assert_eq!(status, 201, "{text}");
                actor.remember("mood_factors", body["row"]["id"].as_str().expect("id"));
                ("insert factor", status, body, text)
            }
            4 => {
                // Another user's row, by id: get, update and delete all answer 404.
                let Some((collection, id)) = actor.foreign_row(&mut rng) else {
                    continue;
                };
                let (status, body, text) = get(
                    &server,
                    &actor.token,
                    &format!("/api/v1/probe/get/{collection}/{id}"),
                )
                .await;
                assert_eq!(
                    status, 404,
                    "user {} got {collection}/{id}: {text}",
                    actor.index
                );
                let changes = match collection {
                    "mood_logs" => json!({"location_type": "hijacked"}),
                    "chat_sessions" => json!({"title": "hijacked"}),
                    "chat_messages" => json!({"model_used": "hijacked"}),
                    _ => json!({"factor_value": "hijacked"}),
                };
                let (status, _, text) = call(
                    &server,
                    &actor.token,
                    reqwest::Method::PATCH,
                    &format!("/api/v1/probe/update/{collection}/{id}"),
                    Some(changes),
                )
                .await;
                assert_eq!(status, 404, "{text}");
                let (status, _, text) = call(
                    &server,
                    &actor.token,
                    reqwest::Method::DELETE,
                    &format!("/api/v1/probe/delete/{collection}/{id}"),
                    None,
                )
                .await;
                assert_eq!(status, 404, "{text}");
                foreign_probes += 1;
                ("foreign id", status, body, text)
            }
            5 => {
                // A child row under another user's parent: 404.
                let Some((collection, id)) = actor.foreign_row(&mut rng) else {
                    continue;
                };
                let (path, row) = match collection {
                    "chat_sessions" => (
                        "/api/v1/probe/insert/chat_messages",
                        json!({"session_id": id, "role": "user", "model_used": actor.marker, "content_encrypted": {"$hex": "00"}, "content_iv": {"$hex": "00"}}),
                    ),
                    _ => (
                        "/api/v1/probe/insert/mood_factors",
                        json!({"mood_log_id": id, "factor_type": "sleep"}),
                    ),
                };
                let (status, body, text) = post(&server, &actor.token, path, row).await;
                assert_eq!(status, 404, "{text}");
                foreign_probes += 1;
                ("foreign parent", status, body, text)
            }
            6 | 7 => {
                let collection = [
                    "mood_logs",
                    "mood_factors",
                    "chat_sessions",
                    "chat_messages",
                ][rng.below(4)];
                let order_by = if collection == "mood_factors" {
                    "id"
                } else {
                    "created_at"
                };
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    &format!("/api/v1/probe/query/{collection}"),
                    json!({"order_by": order_by, "descending": rng.below(2) == 0, "limit": 100}),
                )
                .await;
                assert_eq!(status, 200, "{text}");
                let field = match collection {
                    "mood_logs" => "location_type",
                    "mood_factors" => "factor_value",
                    "chat_sessions" => "title",
                    _ => "model_used",
                };
                for row in body["rows"].as_array().expect("rows") {
                    assert_eq!(
                        row[field],
                        json!(actor.marker),
                        "user {}: {row}",
                        actor.index
                    );
                }
                if collection == "mood_logs" {
                    assert_eq!(body["rows"].as_array().map(Vec::len), Some(own_logs));
                }
                ("query", status, body, text)
            }
            8 => {
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/aggregate/mood_logs",
                    json!({"measures": [["*", "count"], ["mood_score", "max"]], "grouping": "field-value", "group_field": "location_type"}),
                )
                .await;
                assert_eq!(status, 200, "{text}");
                let groups = body["groups"].as_array().expect("groups");
                if own_logs == 0 {
                    assert!(groups.is_empty(), "{text}");
                } else {
                    assert_eq!(groups.len(), 1, "{text}");
                    assert_eq!(groups[0]["group"], json!(actor.marker));
                    assert_eq!(
                        groups[0]["values"][0],
                        json!(f64::from(u32::try_from(own_logs).expect("a count")))
                    );
                }
                ("aggregate", status, body, text)
            }
            9 => {
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/nearest/chat_messages",
                    json!({"field": "embedding", "target": [1.0, 1.0, 1.0], "k": 100}),
                )
                .await;
                assert_eq!(status, 200, "{text}");
                let rows = body["rows"].as_array().expect("rows");
                assert_eq!(rows.len(), actor.sessions.len());
                for row in rows {
                    assert_eq!(row["row"]["model_used"], json!(actor.marker));
                }
                ("nearest", status, body, text)
            }
            _ => {
                if let Some(log) = actor.mood_logs.pop() {
                    let (status, _, text) = call(
                        &server,
                        &actor.token,
                        reqwest::Method::DELETE,
                        &format!("/api/v1/probe/delete/mood_logs/{log}"),
                        None,
                    )
                    .await;
                    assert_eq!(status, 204, "{text}");
                    own_logs -= 1;
                }
                let (status, body, text) = post(
                    &server,
                    &actor.token,
                    "/api/v1/probe/batch",
                    json!({"writes": [
                        {"op": "insert", "collection": "mood_logs", "row": {"mood_score": 3, "location_type": actor.marker}},
                        {"op": "insert", "collection": "chat_sessions", "row": {"title": actor.marker}},
                    ]}),
                )
                .await;
                assert_eq!(status, 200, "{text}");
                let log = body["results"][0]["id"].as_str().expect("id").to_owned();
                let session = body["results"][1]["id"].as_str().expect("id").to_owned();
                actor.remember("mood_logs", &log);
                actor.remember("chat_sessions", &session);
                actor.mood_logs.push(log);
                own_logs += 1;
                ("batch", status, body, text)
            }
        };
        let _ = (status, body);
        actor.check_clean(&format!("step {step} ({what})"), &text);
    }
    foreign_probes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_isolates_users_doing_random_operations_concurrently() {
    let server = Arc::new(server_with(storage_manifest(), &[EMBEDDING_DIM]).await);
    let users = 8;
    let mut tokens = Vec::new();
    let mut markers = Vec::new();
    for i in 0..users {
        let (token, _) = user(&server, &format!("iso{i}")).await;
        tokens.push(token);
        markers.push(format!(
            "owner{i}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
    }
    let registry: Registry = Arc::new(Mutex::new(Vec::new()));
    let seed_base = std::env::var("STORAGE_ISOLATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(uuid::Uuid::new_v4().as_fields().0));
    println!("isolation seed: {seed_base}");
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let actor = Actor {
            index: i,
            token,
            marker: markers[i].clone(),
            others: markers
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, m)| m.clone())
                .collect(),
            registry: registry.clone(),
            mood_logs: Vec::new(),
            sessions: Vec::new(),
        };
        tasks.push(tokio::spawn(act(
            server.clone(),
            actor,
            seed_base.wrapping_add(i as u64 * 7919),
            60,
        )));
    }
    let mut foreign_probes = 0;
    for task in tasks {
        foreign_probes += task.await.expect("actor");
    }
    assert!(
        foreign_probes >= users,
        "only {foreign_probes} cross-user probes ran"
    );
    // Every user created something and the registry saw every owner.
    let owners: BTreeMap<usize, usize> = registry.lock().expect("registry").iter().fold(
        BTreeMap::new(),
        |mut counts, (owner, _, _)| {
            *counts.entry(*owner).or_default() += 1;
            counts
        },
    );
    assert_eq!(owners.len(), users, "{owners:?}");
}

/// A taken id looks exactly like a free one (issue 18, finding 4): an id a component chooses
/// only names the row within its call, so a component serving one user cannot learn, by
/// trying an id, whether a row of another user has it (no covert channel through ids).
#[tokio::test]
async fn a_chosen_id_tells_nothing_about_other_users_rows() {
    let server = server_with(storage_manifest(), &[EMBEDDING_DIM]).await;
    let (alice, _) = user(&server, "ids-a").await;
    let (bob, _) = user(&server, "ids-b").await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let insert = |token: String| {
        let server = &server;
        let chosen = chosen.clone();
        async move {
            post(
                server,
                &token,
                "/api/v1/probe/insert/mood_logs",
                json!({"id": {"$uuid": chosen}, "mood_score": 5}),
            )
            .await
        }
    };
    let (status, first, text) = insert(alice.clone()).await;
    assert_eq!(status, 201, "{text}");
    let stored = first["row"]["id"].as_str().expect("id").to_owned();
    assert_ne!(stored, chosen);
    // Bob, and Alice again, get the answer a free id gets.
    for token in [bob, alice.clone()] {
        let (status, again, text) = insert(token).await;
        assert_eq!(status, 201, "{text}");
        let id = again["row"]["id"].as_str().expect("id");
        assert!(id != chosen && id != stored);
    }
    let (status, _, _) = get(
        &server,
        &alice,
        &format!("/api/v1/probe/get/mood_logs/{chosen}"),
    )
    .await;
    assert_eq!(status, 404);
}
