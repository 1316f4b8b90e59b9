//! The recommendation handlers against the kit's in-memory platform: what is made when,
//! what is stored, what is never repeated, and how bad requests are answered. Real storage
//! and ownership across users are covered by the black-box suite.

use mindflow_component_kit::Reply;
use mindflow_component_kit::fake::{Collection, FakePlatform};
use mindflow_component_kit::storage::{Value, text_of};
use serde_json::{Value as Json, json};

use crate::api::{CONTENT, FACTORS, INSIGHTS, LOGS, RECOMMENDATIONS, WORDING, handle};

fn host(premium: bool) -> FakePlatform {
    let host = FakePlatform::new("Europe/Paris", premium)
        .with_collection(LOGS, Collection::default())
        .with_collection(FACTORS, Collection::default().child_of(LOGS, "mood_log_id"))
        .with_collection(
            INSIGHTS,
            Collection::default().stamped_on_insert("created_at"),
        )
        .with_collection(
            RECOMMENDATIONS,
            Collection::default().stamped_on_insert("created_at"),
        )
        .with_collection(CONTENT, Collection::default().shared());
    for (title, kind, moods, premium) in [
        ("Box breathing", "breathing", "[\"anxious\"]", false),
        ("5-4-3-2-1", "grounding", "[\"anxious\"]", false),
        ("A small step", "behavioural_activation", "[\"low\"]", false),
        ("Wind down", "sleep_hygiene", "[\"tired\"]", false),
        ("Body scan", "relaxation", "[\"stressed\"]", true),
        ("Three good things", "journaling_prompt", "[\"low\"]", false),
    ] {
        host.seed(
            CONTENT,
            vec![
                ("content_type".into(), Value::Text(kind.into())),
                ("title".into(), Value::Text(title.into())),
                ("duration_minutes".into(), Value::Int(5)),
                ("target_moods".into(), Value::Json(moods.into())),
                ("target_factors".into(), Value::Json("[]".into())),
                ("is_premium".into(), Value::Bool(premium)),
                ("is_active".into(), Value::Bool(true)),
                (
                    "created_at".into(),
                    Value::Timestamp("2026-01-01T00:00:00Z".into()),
                ),
            ],
        );
    }
    host
}

fn call(host: &FakePlatform, method: &str, path: &str, body: &Json) -> Reply {
    host.send(handle, &WORDING, method, path, "", body)
}

fn log(host: &FakePlatform, mood: i64, anxiety: i64) {
    let at = (host.now - chrono::Duration::hours(1)).to_rfc3339();
    let reply = host.insert(
        LOGS,
        vec![
            ("mood_score".into(), Value::Int(mood)),
            ("anxiety_level".into(), Value::Int(anxiety)),
            ("logged_at".into(), Value::Timestamp(at)),
        ],
    );
    assert!(reply.is_ok(), "{reply:?}");
}

use mindflow_component_kit::Platform;

#[test]
fn an_anxious_day_is_answered_with_breathing_first_and_made_once_a_day() {
    let host = host(false);
    log(&host, 5, 9);
    let first = call(&host, "GET", "/", &Json::Null);
    assert_eq!(first.status, 200, "{}", first.body);
    let items = first.json_body()["items"]
        .as_array()
        .cloned()
        .expect("items");
    assert!(!items.is_empty() && items.len() <= crate::engine::PER_DAY);
    assert_eq!(items[0]["content"]["content_type"], "breathing");
    assert_eq!(items[0]["priority"], 1);
    assert!(items.iter().all(|i| i["shown_at"].is_string()));
    assert!(
        items
            .iter()
            .all(|i| i["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    // Expires at the end of the person's day (Paris, UTC+1 in November).
    assert!(
        items[0]["expires_at"]
            .as_str()
            .is_some_and(|e| e.starts_with("2026-11-25T23:00:00"))
    );
    let again = call(&host, "GET", "/", &Json::Null);
    assert_eq!(again.json_body()["items"], first.json_body()["items"]);
    assert_eq!(host.rows(RECOMMENDATIONS).len(), items.len());
}

#[test]
fn the_next_day_brings_other_items_and_premium_stays_premium() {
    let mut host = host(false);
    log(&host, 3, 8);
    let first = call(&host, "GET", "/", &Json::Null);
    let first_ids: Vec<String> = first.json_body()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["content_id"].as_str().map(str::to_owned))
        .collect();
    host.now += chrono::Duration::days(1);
    log(&host, 3, 8);
    let next = call(&host, "GET", "/", &Json::Null);
    let next_items = next.json_body()["items"]
        .as_array()
        .cloned()
        .expect("items");
    assert!(!next_items.is_empty());
    for item in &next_items {
        let id = item["content_id"].as_str().expect("content id");
        assert!(!first_ids.iter().any(|f| f == id), "{id} pushed again");
        assert_eq!(item["content"]["is_premium"], false);
    }
}

#[test]
fn completing_and_rating_a_suggestion() {
    let host = host(true);
    log(&host, 4, 3);
    let listed = call(&host, "GET", "/", &Json::Null);
    let id = listed.json_body()["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let clicked = call(&host, "POST", &format!("/{id}/click"), &Json::Null);
    assert_eq!(clicked.status, 200, "{}", clicked.body);
    assert!(clicked.json_body()["clicked_at"].is_string());
    let done = call(
        &host,
        "POST",
        &format!("/{id}/complete"),
        &json!({"feedback": "helpful"}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.json_body()["completed_at"].is_string());
    assert_eq!(done.json_body()["feedback"], "helpful");
    // A completed suggestion leaves today's list.
    let after = call(&host, "GET", "/", &Json::Null);
    assert!(
        after.json_body()["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["id"] != id.as_str())
    );
    let bad = call(
        &host,
        "POST",
        &format!("/{id}/feedback"),
        &json!({"feedback": "meh", "extra": 1}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let missing = call(&host, "POST", &format!("/{id}/feedback"), &json!({}));
    assert_eq!(missing.status, 422);
    let rated = call(
        &host,
        "POST",
        &format!("/{id}/feedback"),
        &json!({"feedback": "not_helpful"}),
    );
    assert_eq!(rated.json_body()["feedback"], "not_helpful");
    let stored = host.rows(RECOMMENDATIONS);
    assert!(
        stored
            .iter()
            .any(|r| text_of(r, "feedback").as_deref() == Some("not_helpful"))
    );
}

#[test]
fn unknown_ids_paths_and_methods_are_problems() {
    let host = host(false);
    assert_eq!(call(&host, "GET", "/not-a-uuid", &Json::Null).status, 404);
    assert_eq!(
        call(
            &host,
            "GET",
            "/00000000-0000-4000-8000-000000000000",
            &Json::Null
        )
        .status,
        404
    );
    assert_eq!(call(&host, "DELETE", "/", &Json::Null).status, 405);
    assert_eq!(call(&host, "GET", "/a/b/c", &Json::Null).status, 404);
}

#[test]
fn an_insight_becomes_a_suggestion_that_names_it() {
    let host = host(true);
    let insight = host
        .insert(
            INSIGHTS,
            vec![
                ("insight_type".into(), Value::Text("trend_change".into())),
                ("title".into(), Value::Text("A lower fortnight".into())),
                ("description".into(), Value::Text("…".into())),
                (
                    "data_points".into(),
                    Value::Json(
                        json!({"key": "trend", "subject": "mood", "direction": "lower"})
                            .to_string(),
                    ),
                ),
                ("dismissed_at".into(), Value::Null),
                (
                    "valid_until".into(),
                    Value::Timestamp("2026-12-25T00:00:00Z".into()),
                ),
            ],
        )
        .expect("insight");
    let insight_id = text_of(&insight, "id").expect("id");
    let listed = call(&host, "GET", "/", &Json::Null);
    let items = listed.json_body()["items"]
        .as_array()
        .cloned()
        .expect("items");
    assert!(
        items.iter().any(|i| i["insight_id"] == insight_id.as_str()),
        "{items:?}"
    );
}
