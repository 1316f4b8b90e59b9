//! Crisis support: resources, the self-check, the safety plan, and the clinicians' path
//! (the crisis-rules gate, both ways, under a steady request stream).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mindflow_tests::admin::{activate, upload};
use mindflow_tests::{Manifest, server};
use serde_json::{Value, json};

/// The product's crisis rules, and `hello` (a component the host serves next to them).
fn crisis_manifest() -> Manifest {
    Manifest::product(&["hello", "crisis-rules"])
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn resources_follow_country_and_language() {
    let server = server(crisis_manifest()).await;
    let get = |query: &'static str| {
        let server = &server;
        async move {
            server
                .http
                .get(server.url(&format!("/api/v1/crisis/resources{query}")))
                .send()
                .await
                .expect("get")
        }
    };
    let us: Value = get("?country=US&language=en")
        .await
        .json()
        .await
        .expect("json");
    let us = names(&us);
    assert_eq!(
        us.first().map(String::as_str),
        Some("Emergency services (911)")
    );
    assert!(us.contains(&"988 Suicide & Crisis Lifeline".to_owned()));
    assert!(us.contains(&"Crisis Text Line".to_owned()));
    assert!(us.contains(&"Find A Helpline".to_owned()));
    assert!(!us.contains(&"Samaritans".to_owned()));
    let uk: Value = get("?country=GB").await.json().await.expect("json");
    assert!(names(&uk).contains(&"Samaritans".to_owned()));
    let ie: Value = get("?country=IE").await.json().await.expect("json");
    assert!(names(&ie).contains(&"Samaritans".to_owned()));
    let au: Value = get("?country=AU").await.json().await.expect("json");
    assert!(names(&au).contains(&"Lifeline Australia".to_owned()));
    let nz: Value = get("?country=NZ").await.json().await.expect("json");
    assert!(names(&nz).contains(&"1737, Need to talk?".to_owned()));
    let ca_fr: Value = get("?country=CA&language=fr")
        .await
        .json()
        .await
        .expect("json");
    assert!(names(&ca_fr).contains(&"9-8-8 Suicide Crisis Helpline".to_owned()));
    let jp: Value = get("?country=JP").await.json().await.expect("json");
    assert_eq!(names(&jp), ["Emergency services (119)", "Find A Helpline"]);
    let unknown: Value = get("?country=AQ").await.json().await.expect("json");
    assert_eq!(
        names(&unknown),
        ["Emergency numbers by country", "Find A Helpline"]
    );
    assert_eq!(get("?country=USA").await.status(), 422);
}

/// The countries the seed gives an emergency number (from the migration itself, so a row
/// added later is checked too).
fn seeded_emergency_countries() -> Vec<String> {
    let seed = include_str!("../../migrations/sqlite/0009_emergency_numbers.sql");
    seed.lines()
        .filter(|line| line.contains("'emergency'"))
        .flat_map(|line| {
            let start = line.find("'[\"").map_or(0, |i| i + 2);
            let end = line[start..].find(']').map_or(start, |i| start + i);
            line[start..end]
                .split(',')
                .map(|code| code.trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn every_resource_shown_can_be_acted_on_and_the_emergency_number_comes_first() {
    let server = server(crisis_manifest()).await;
    let countries = seeded_emergency_countries();
    assert!(countries.len() >= 60, "{countries:?}");
    // Every seeded country, plus countries without a number on file.
    for country in countries
        .iter()
        .map(String::as_str)
        .chain(["AQ", "ZW", "PE"])
    {
        let body: Value = server
            .http
            .get(server.url(&format!("/api/v1/crisis/resources?country={country}")))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let items = body["items"].as_array().expect("items");
        for item in items {
            let reachable = ["phone_number", "sms_number", "website_url"]
                .iter()
                .any(|key| item[key].as_str().is_some_and(|v| !v.trim().is_empty()));
            assert!(reachable, "{country}: {item} has no number or address");
        }
        let first = &items[0];
        if countries.iter().any(|c| c == country) {
            assert_eq!(first["resource_type"], "emergency", "{country}: {first}");
            assert!(first["phone_number"].is_string(), "{country}: {first}");
            assert!(
                items
                    .iter()
                    .all(|i| i["resource_type"] != "emergency_directory"),
                "{country}: the directory is only for countries without a number"
            );
        } else {
            assert_eq!(first["resource_type"], "emergency_directory", "{country}");
            assert!(first["website_url"].is_string(), "{country}");
        }
    }
}

#[tokio::test]
async fn self_check_maps_answers_and_records_an_event() {
    let server = server(crisis_manifest()).await;
    let (token, _) = server
        .register("check@example.com")
        .await
        .expect("register");
    let post = |body: Value| {
        let server = &server;
        let token = token.clone();
        async move {
            server
                .http
                .post(server.url("/api/v1/crisis/check"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };
    let none: Value =
        post(json!({"wish_to_be_dead": false, "suicidal_thoughts": false, "behavior": false}))
            .await
            .json()
            .await
            .expect("json");
    assert_eq!(none["severity"], "none");
    assert_eq!(none["triggered"], false);
    let imminent = post(json!({
        "wish_to_be_dead": true, "suicidal_thoughts": true, "method": true, "intent": true, "plan": true,
        "behavior": false
    }))
    .await;
    assert_eq!(imminent.status(), 200);
    let imminent: Value = imminent.json().await.expect("json");
    assert_eq!(imminent["severity"], "imminent");
    assert_eq!(imminent["triggered"], true);
    assert!(imminent["crisis_event_id"].is_string());
    assert!(
        !imminent["resources"]
            .as_array()
            .expect("resources")
            .is_empty()
    );
    assert!(
        imminent["disclaimer"]
            .as_str()
            .expect("disclaimer")
            .contains("not a diagnosis")
    );
    // Skip logic: method/intent/plan only after suicidal_thoughts.
    let inconsistent = post(json!({"wish_to_be_dead": false, "suicidal_thoughts": false, "method": true, "behavior": false})).await;
    assert_eq!(inconsistent.status(), 422);
    let missing = post(json!({"wish_to_be_dead": true})).await;
    assert_eq!(missing.status(), 422);
    let anonymous = server
        .http
        .post(server.url("/api/v1/crisis/check"))
        .json(&json!({"wish_to_be_dead": false, "suicidal_thoughts": false, "behavior": false}))
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn gate_lets_a_better_ruleset_in_and_refuses_a_weaker_one_under_load() {
    let server = Arc::new(server(crisis_manifest()).await);
    let admin = server.admin_token().await.expect("admin");
    let (user, _) = server
        .register("stream@example.com")
        .await
        .expect("register");

    // A steady stream of requests through the whole upgrade.
    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for _ in 0..4 {
        let server = server.clone();
        let stop = stop.clone();
        let user = user.clone();
        streams.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) && ok < 20_000 {
                let response = server
                    .http
                    .post(server.url("/api/v1/crisis/check"))
                    .bearer_auth(&user)
                    .json(&json!({"wish_to_be_dead": false, "suicidal_thoughts": false, "behavior": false}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
                let hello = server.http.get(server.url("/api/v1/hello")).send().await;
                match hello {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        }));
    }

    let improved = upload(
        &server,
        &admin,
        "crisis-rules",
        "improved",
        "crisis-rules-improved",
    )
    .await;
    assert_eq!(improved.status(), 201);
    let improved: Value = improved.json().await.expect("json");
    let report = &improved["gate_report"]["details"];
    assert_eq!(improved["gate_report"]["passed"], true);
    assert_eq!(report["per_severity"]["imminent"]["recall"], 1.0);
    assert!(
        report["per_severity"]["high"]["recall"]
            .as_f64()
            .expect("recall")
            >= 0.95
    );
    assert_eq!(
        report["regressions"].as_array().expect("regressions").len(),
        0
    );
    assert!(
        report["changed"]
            .as_array()
            .expect("changed")
            .iter()
            .any(|c| c["id"] == "high-047"),
        "the improvement shows as a changed case: {report}"
    );
    assert_eq!(
        activate(&server, &admin, "crisis-rules", "improved")
            .await
            .status(),
        200
    );

    let weakened = upload(
        &server,
        &admin,
        "crisis-rules",
        "weakened",
        "crisis-rules-weakened",
    )
    .await;
    assert_eq!(weakened.status(), 422);
    let weakened: Value = weakened.json().await.expect("json");
    assert_eq!(weakened["type"], "urn:mindflow:problem:gate-refused");
    let report = &weakened["gate_report"];
    assert_eq!(report["passed"], false);
    let missed: Vec<&str> = report["details"]["regressions"]
        .as_array()
        .expect("regressions")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    // The weakened variant is the shipped rules without `plan.note-written` (and so without
    // the improved version's extra rule too). The note rule's own case, imm-024 ("I've
    // written my suicide note"), is one of the version's training texts, and its classifier
    // catches it since 2026.12.4's lower threshold; the case the active version catches and
    // this one misses is high-047, caught by the improved version's rule.
    assert!(
        missed.contains(&"high-047"),
        "the report names the missed case: {missed:?}"
    );
    // A refused version is kept with its report but can never be activated.
    assert_eq!(
        activate(&server, &admin, "crisis-rules", "weakened")
            .await
            .status(),
        409
    );
    let list: Value = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let rules = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["name"] == "crisis-rules")
        .expect("crisis-rules listed")
        .clone();
    assert_eq!(rules["active_version"], "improved");
    let rejected = rules["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["version"] == "weakened")
        .expect("weakened kept")
        .clone();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["gate_report"]["passed"], false);

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for stream in streams {
        let (ok, failed) = stream.await.expect("stream");
        assert!(
            failed.is_empty(),
            "failed requests during the upgrade: {failed:?}"
        );
        assert!(ok > 0);
    }
}

#[tokio::test]
async fn safety_plan_round_trips_and_is_never_stored_in_plaintext() {
    let server = server(crisis_manifest()).await;
    let (token, _) = server.register("plan@example.com").await.expect("register");
    let (other, _) = server
        .register("other-plan@example.com")
        .await
        .expect("register");
    let url = server.url("/api/v1/crisis/safety-plan");
    let none = server
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(none.status(), 404);
    let secret = "call my sister Aoife at the blue lighthouse";
    let plan = json!({
        "warning_signs": ["not sleeping", "pulling away from friends"],
        "internal_coping_strategies": ["walk the dog", "cold water on my face"],
        "social_distractions": [{"name": "the climbing gym"}],
        "people_to_ask_for_help": [{"name": secret, "phone": "+353 1 555 0100"}],
        "professionals_and_agencies": [{"name": "Samaritans", "phone": "116 123"}],
        "making_environment_safe": ["give my medication to my partner to hold"],
        "reasons_for_living": ["my niece's first birthday"]
    });
    let put = server
        .http
        .put(&url)
        .bearer_auth(&token)
        .json(&plan)
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 200);
    let got: Value = server
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got["plan"]["people_to_ask_for_help"][0]["name"], secret);
    assert_eq!(
        got["plan"]["reasons_for_living"][0],
        "my niece's first birthday"
    );
    // Another user sees their own (absent) plan, never this one.
    let theirs = server
        .http
        .get(&url)
        .bearer_auth(&other)
        .send()
        .await
        .expect("get");
    assert_eq!(theirs.status(), 404);
    // Validation: unknown sections and oversized items are refused and change nothing.
    let bad = server
        .http
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"warning_signs": ["x".repeat(600)]}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 422);
    let unknown = server
        .http
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"diagnosis": "none"}))
        .send()
        .await
        .expect("put");
    assert_eq!(unknown.status(), 422);
    let still: Value = server
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(still["plan"]["people_to_ask_for_help"][0]["name"], secret);
    // The scan does see what is stored in plaintext (the email), so a miss means something.
    assert!(
        mindflow_tests::raw_database_contains(&server, "plan@example.com")
            .await
            .expect("scan")
    );
    assert!(
        !mindflow_tests::raw_database_contains(&server, secret)
            .await
            .expect("scan"),
        "the safety plan's text is in the raw database"
    );
    assert!(
        !mindflow_tests::raw_database_contains(&server, "blue lighthouse")
            .await
            .expect("scan"),
        "part of the safety plan's text is in the raw database"
    );
}
