//! The insights handlers against the kit's in-memory platform: what a refresh stores and
//! keeps in step, what a free user sees, dismissal and feedback. The statistics themselves
//! are `mindflow-insights`' tests; real storage, users and the nightly run are the black-box
//! suite's.

use chrono::{Datelike, Duration};
use mindflow_component_kit::fake::{Collection, FakePlatform};
use mindflow_component_kit::storage::{Value, text_of};
use mindflow_component_kit::{Platform, Reply};
use serde_json::{Value as Json, json};

use crate::api::{WORDING, handle};
use crate::history::{CONNECTIONS, FACTORS, LOGS, METRICS};
use crate::refresh::INSIGHTS;

fn host(premium: bool) -> FakePlatform {
    FakePlatform::new("America/New_York", premium)
        .with_collection(LOGS, Collection::default())
        .with_collection(FACTORS, Collection::default().child_of(LOGS, "mood_log_id"))
        .with_collection(
            CONNECTIONS,
            Collection::default().stamped_on_insert("created_at"),
        )
        .with_collection(METRICS, Collection::default())
        .with_collection(
            INSIGHTS,
            Collection::default().stamped_on_insert("created_at"),
        )
}

fn call(host: &FakePlatform, method: &str, path: &str, query: &str, body: &Json) -> Reply {
    host.send(handle, &WORDING, method, path, query, body)
}

/// `days` days of logs at 16:00 UTC: Mondays (on the user's clock) 3, other days 7 or 8;
/// exercise every other day, two points more.
fn history(host: &FakePlatform, days: i64) {
    for back in 1..=days {
        let at = host.now - Duration::days(back);
        let local = at.with_timezone(&chrono_tz::America::New_York);
        let exercised = back % 2 == 0;
        let mut mood = if local.weekday() == chrono::Weekday::Mon {
            3
        } else {
            7 + i64::from(back % 3 == 0)
        };
        if exercised {
            mood += 2;
        }
        let log = host
            .insert(
                LOGS,
                vec![
                    ("mood_score".into(), Value::Int(mood)),
                    ("logged_at".into(), Value::Timestamp(at.to_rfc3339())),
                ],
            )
            .expect("log");
        if exercised {
            host.insert(
                FACTORS,
                vec![
                    (
                        "mood_log_id".into(),
                        Value::Uuid(text_of(&log, "id").expect("id")),
                    ),
                    ("factor_type".into(), Value::Text("exercise".into())),
                ],
            )
            .expect("factor");
        }
    }
}

fn listed(host: &FakePlatform, query: &str) -> Vec<Json> {
    let reply = call(host, "GET", "/", query, &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json_body()["items"]
        .as_array()
        .cloned()
        .expect("items")
}

#[test]
fn a_refresh_stores_each_pattern_once_and_updates_it_in_place() {
    let mut host = host(true);
    history(&host, 84);
    let first = call(&host, "POST", "/refresh", "", &Json::Null);
    assert_eq!(first.status, 200, "{}", first.body);
    let inserted = first.json_body()["inserted"].as_u64().expect("inserted");
    assert!(inserted >= 2, "{}", first.body);
    let items = listed(&host, "");
    let kinds: Vec<&str> = items
        .iter()
        .filter_map(|i| i["insight_type"].as_str())
        .collect();
    assert!(kinds.contains(&"weekday_cycle"), "{kinds:?}");
    assert!(kinds.contains(&"factor_effect"), "{kinds:?}");
    assert!(items.iter().all(|i| i["shown_at"].is_string()));

    host.now += Duration::hours(20);
    let second = call(&host, "POST", "/refresh", "", &Json::Null);
    assert_eq!(second.json_body()["inserted"], 0, "{}", second.body);
    assert_eq!(second.json_body()["updated"].as_u64(), Some(inserted));
    assert_eq!(host.rows(INSIGHTS).len() as u64, inserted);
}

#[test]
fn a_free_user_sees_no_factor_insights() {
    let host = host(false);
    history(&host, 84);
    let reply = call(&host, "POST", "/refresh", "", &Json::Null);
    assert_eq!(reply.status, 200);
    let items = listed(&host, "");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["insight_type"] != "factor_effect"));
    let gated = call(&host, "GET", "/", "insight_type=factor_effect", &Json::Null);
    assert_eq!(gated.status, 403);
    let bad = call(&host, "GET", "/", "insight_type=tarot", &Json::Null);
    assert_eq!(bad.status, 422);
}

#[test]
fn dismissal_survives_a_refresh_and_feedback_is_checked() {
    let mut host = host(false);
    history(&host, 84);
    call(&host, "POST", "/refresh", "", &Json::Null);
    let items = listed(&host, "");
    let id = items[0]["id"].as_str().expect("id").to_owned();
    let rated = call(
        &host,
        "POST",
        &format!("/{id}/feedback"),
        "",
        &json!({"helpful_rating": 5}),
    );
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert_eq!(rated.json_body()["helpful_rating"], 5);
    for bad in [
        json!({"helpful_rating": 0}),
        json!({"helpful_rating": "5"}),
        json!({"other": 1}),
    ] {
        let reply = call(&host, "POST", &format!("/{id}/feedback"), "", &bad);
        assert_eq!(reply.status, 422, "{bad}");
    }
    let dismissed = call(&host, "POST", &format!("/{id}/dismiss"), "", &Json::Null);
    assert_eq!(dismissed.status, 200);
    assert!(listed(&host, "").iter().all(|i| i["id"] != id.as_str()));
    host.now += Duration::hours(20);
    call(&host, "POST", "/refresh", "", &Json::Null);
    assert!(listed(&host, "").iter().all(|i| i["id"] != id.as_str()));
}

#[test]
fn a_pattern_that_stops_holding_expires() {
    let mut host = host(false);
    history(&host, 84);
    call(&host, "POST", "/refresh", "", &Json::Null);
    assert!(!listed(&host, "").is_empty());
    // Two years later, with nothing logged since, nothing holds any more.
    host.now += Duration::days(800);
    let reply = call(&host, "POST", "/refresh", "", &Json::Null);
    assert_eq!(reply.json_body()["analyzed_logs"], 0);
    assert!(listed(&host, "").is_empty());
}

#[test]
fn unknown_paths_ids_and_methods_are_problems() {
    let host = host(false);
    assert_eq!(call(&host, "GET", "/nope", "", &Json::Null).status, 404);
    assert_eq!(call(&host, "DELETE", "/", "", &Json::Null).status, 405);
    assert_eq!(call(&host, "GET", "/refresh", "", &Json::Null).status, 405);
    assert_eq!(call(&host, "GET", "/a/b/c", "", &Json::Null).status, 404);
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        call(&host, "GET", &format!("/{missing}"), "", &Json::Null).status,
        404
    );
    assert_eq!(call(&host, "GET", "/", "limit=0", &Json::Null).status, 422);
}
