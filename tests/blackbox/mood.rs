//! The `mood` component (`/api/v1/mood`, seed-plan §3.2) on the real host: logs with
//! factors (validation, local time of day and weekday, sentiment, crisis assessment, one
//! batch), pagination, other users' logs, statistics and trends in the user's zone, and the
//! premium factor analysis.

use mindflow_tests::accounts::{set_timezone, user};
use mindflow_tests::database::{Db, Param};
use mindflow_tests::http::{get, send};
use mindflow_tests::{Manifest, Server, ServerOptions, server};
use reqwest::Method;
use serde_json::{Value, json};

fn mood_manifest() -> Manifest {
    Manifest::product(&["mood", "crisis-rules"])
}

async fn post_log(server: &Server, token: &str, body: Value) -> Value {
    let answer = send(
        server,
        Method::POST,
        "/api/v1/mood/logs",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

#[tokio::test]
async fn logs_are_created_read_updated_and_deleted() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "crud").await;
    set_timezone(&server, &token, "America/New_York").await;

    // Wednesday 2026-11-04 02:30 UTC is Tuesday 21:30 in New York (EST).
    let created = send(
        &server,
        Method::POST,
        "/api/v1/mood/logs",
        Some(&token),
        Some(json!({
            "mood_score": 6, "energy_level": 4, "anxiety_level": 7,
            "note": "Slept badly but the walk at lunch was great",
            "logged_at": "2026-11-03T21:30:00-05:00", "location_type": "home",
            "factors": [
                {"factor_type": "Sleep", "factor_value": "5h", "impact_score": -3},
                {"factor_type": "exercise", "factor_value": "walk", "impact_score": 2}
            ]
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let log = &created.body;
    let id = log["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/mood/logs/{id}").as_str())
    );
    assert_eq!(log["logged_at"], "2026-11-04T02:30:00.000000Z");
    assert_eq!(log["time_of_day"], "evening");
    assert_eq!(log["day_of_week"], 2);
    assert_eq!(log["mood_score"], 6);
    assert_eq!(log["location_type"], "home");
    assert_eq!(log["crisis_flag_triggered"], false);
    assert_eq!(log["crisis"], Value::Null);
    let sentiment = log["note_sentiment"].as_f64().expect("sentiment");
    assert!((-1.0..=1.0).contains(&sentiment));
    assert!(log["created_at"].is_string());
    assert!(log.get("user_id").is_none());
    let factors = log["factors"].as_array().expect("factors");
    assert_eq!(factors.len(), 2);
    assert_eq!(factors[0]["factor_type"], "exercise");
    assert_eq!(factors[1]["factor_type"], "sleep");
    assert_eq!(factors[1]["impact_score"], -3);
    assert!(factors.iter().all(|f| f["mood_log_id"] == id.as_str()));

    // Read back, by the Location.
    let location = created.header("location").expect("location").to_owned();
    let read = get(&server, &location, &token).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["id"], id.as_str());
    assert_eq!(read.body["factors"], log["factors"]);
    assert!(read.body.get("crisis").is_none());

    // A default logged_at is now.
    let now_log = post_log(&server, &token, json!({"mood_score": 5})).await;
    assert!(now_log["logged_at"].is_string());
    assert_eq!(now_log["factors"], json!([]));
    assert_eq!(now_log["note_sentiment"], Value::Null);

    // PATCH: a new instant re-derives the local parts; factors are replaced; null clears.
    let patched = send(
        &server,
        Method::PATCH,
        &location,
        Some(&token),
        Some(json!({
            "logged_at": "2026-11-08T14:00:00Z",
            "energy_level": null,
            "factors": [{"factor_type": "social", "factor_value": "friends"}]
        })),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    // Sunday 2026-11-08 09:00 EST.
    assert_eq!(patched.body["time_of_day"], "morning");
    assert_eq!(patched.body["day_of_week"], 7);
    assert_eq!(patched.body["energy_level"], Value::Null);
    assert_eq!(patched.body["anxiety_level"], 7);
    assert_eq!(patched.body["note_sentiment"], log["note_sentiment"]);
    let factors = patched.body["factors"].as_array().expect("factors");
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0]["factor_type"], "social");
    let read = get(&server, &location, &token).await;
    assert_eq!(read.body["factors"], patched.body["factors"]);
    assert_eq!(read.body["day_of_week"], 7);

    // A new note is scored again; clearing it clears the sentiment.
    let patched = send(
        &server,
        Method::PATCH,
        &location,
        Some(&token),
        Some(json!({"note": "Terrible, awful, miserable day", "mood_score": 2})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert!(patched.body["note_sentiment"].as_f64().expect("sentiment") < 0.0);
    assert_eq!(patched.body["mood_score"], 2);
    let patched = send(
        &server,
        Method::PATCH,
        &location,
        Some(&token),
        Some(json!({"note": null})),
    )
    .await;
    assert_eq!(patched.body["note"], Value::Null);
    assert_eq!(patched.body["note_sentiment"], Value::Null);

    // DELETE: 204, then gone (its factors with it).
    let deleted = send(&server, Method::DELETE, &location, Some(&token), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(get(&server, &location, &token).await.status, 404);
    let again = send(&server, Method::DELETE, &location, Some(&token), None).await;
    assert_eq!(again.status, 404);
    let export = get(&server, "/api/v1/users/me/export", &token).await;
    if export.status == 200 {
        let logs = export.body["mood_logs"].as_array().expect("mood_logs");
        assert_eq!(logs.len(), 1, "only the second log is left");
        assert!(logs.iter().all(|l| l["id"] != id.as_str()));
    }
}

#[tokio::test]
async fn invalid_requests_are_422_problems_naming_the_field() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "invalid").await;
    let cases = [
        (json!({}), vec!["mood_score"]),
        (json!({"mood_score": 11}), vec!["mood_score"]),
        (json!({"mood_score": 0}), vec!["mood_score"]),
        (json!({"mood_score": "7"}), vec!["mood_score"]),
        (json!({"mood_score": 6.5}), vec!["mood_score"]),
        (
            json!({"mood_score": 5, "energy_level": 12}),
            vec!["energy_level"],
        ),
        (
            json!({"mood_score": 5, "anxiety_level": -1}),
            vec!["anxiety_level"],
        ),
        (
            json!({"mood_score": 5, "note": "x".repeat(5001)}),
            vec!["note"],
        ),
        (
            json!({"mood_score": 5, "logged_at": "2026-11-25 10:00"}),
            vec!["logged_at"],
        ),
        (
            json!({"mood_score": 5, "logged_at": "2026-11-25T10:00:00"}),
            vec!["logged_at"],
        ),
        (
            json!({"mood_score": 5, "logged_at": "2999-01-01T00:00:00Z"}),
            vec!["logged_at"],
        ),
        (
            json!({"mood_score": 5, "location_type": "moon"}),
            vec!["location_type"],
        ),
        (json!({"mood_score": 5, "mood": 3}), vec!["mood"]),
        (
            json!({"mood_score": 5, "crisis_flag_triggered": false}),
            vec!["crisis_flag_triggered"],
        ),
        (
            json!({"mood_score": 5, "factors": {"sleep": 1}}),
            vec!["factors"],
        ),
        (
            json!({"mood_score": 5, "factors": [{"factor_type": "sleep", "impact_score": 6}]}),
            vec!["factors[0].impact_score"],
        ),
        (
            json!({"mood_score": 5, "factors": [{"factor_type": "sleep"}, {"factor_value": "x"}]}),
            vec!["factors[1].factor_type"],
        ),
        (
            json!({"mood_score": 5, "factors": [{"factor_type": "x".repeat(31)}]}),
            vec!["factors[0].factor_type"],
        ),
        (
            json!({"mood_score": 5, "factors": (0..21).map(|i| json!({"factor_type": format!("f{i}")})).collect::<Vec<_>>()}),
            vec!["factors"],
        ),
        (
            json!({"mood_score": 99, "location_type": 3, "unknown": true}),
            vec!["location_type", "mood_score", "unknown"],
        ),
    ];
    for (body, fields) in cases {
        let answer = send(
            &server,
            Method::POST,
            "/api/v1/mood/logs",
            Some(&token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(answer.body["type"], "urn:mindflow:problem:validation");
        assert_eq!(answer.body["status"], 422);
        assert!(answer.body["title"].is_string() && answer.body["detail"].is_string());
        assert_eq!(answer.fields(), fields, "{body}");
    }
    let not_json = server
        .http
        .post(server.url("/api/v1/mood/logs"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{mood_score: 5")
        .send()
        .await
        .expect("post");
    assert_eq!(not_json.status(), 422);

    // Nothing was written.
    let list = get(&server, "/api/v1/mood/logs", &token).await;
    assert_eq!(list.body["items"], json!([]));

    // PATCH validates the same way.
    let log = post_log(&server, &token, json!({"mood_score": 5})).await;
    let path = format!("/api/v1/mood/logs/{}", log["id"].as_str().expect("id"));
    for (body, fields) in [
        (json!({"mood_score": null}), vec!["mood_score"]),
        (json!({"logged_at": null}), vec!["logged_at"]),
        (
            json!({"id": "x", "time_of_day": "night"}),
            vec!["id", "time_of_day"],
        ),
        (
            json!({"factors": [{"factor_type": "sleep", "mood_log_id": "x"}]}),
            vec!["factors[0].mood_log_id"],
        ),
    ] {
        let answer = send(
            &server,
            Method::PATCH,
            &path,
            Some(&token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(answer.fields(), fields, "{body}");
    }

    // Query parameters.
    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("limit=ten", vec!["limit"]),
        ("from=yesterday", vec!["from"]),
        (
            "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
            vec!["to"],
        ),
        ("cursor=not-a-cursor", vec!["cursor"]),
    ] {
        let answer = get(&server, &format!("/api/v1/mood/logs?{query}"), &token).await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.body);
        assert_eq!(answer.fields(), fields, "{query}");
    }
    for (path, fields) in [
        ("/api/v1/mood/stats?to=soon", vec!["to"]),
        ("/api/v1/mood/trends?period=month", vec!["period"]),
        (
            "/api/v1/mood/trends?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            vec!["from"],
        ),
    ] {
        let answer = get(&server, path, &token).await;
        assert_eq!(answer.status, 422, "{path}: {}", answer.body);
        assert_eq!(answer.fields(), fields, "{path}");
    }
}

#[tokio::test]
async fn pages_cover_every_log_once_newest_first() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "pages").await;
    for i in 0..45 {
        let minute = i % 60;
        post_log(
            &server,
            &token,
            json!({
                "mood_score": i % 10 + 1,
                "logged_at": format!("2026-11-{:02}T10:{minute:02}:00Z", 1 + i / 5),
                "factors": [{"factor_type": "sleep", "factor_value": format!("{i}")}]
            }),
        )
        .await;
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let path = match &cursor {
            None => "/api/v1/mood/logs?limit=20".to_owned(),
            Some(c) => format!("/api/v1/mood/logs?limit=20&cursor={c}"),
        };
        let page = get(&server, &path, &token).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().expect("items");
        sizes.push(items.len());
        for item in items {
            assert_eq!(item["factors"].as_array().map(Vec::len), Some(1));
            seen.push((
                item["logged_at"].as_str().expect("logged_at").to_owned(),
                item["id"].as_str().expect("id").to_owned(),
            ));
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(page.body["next_cursor"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(sizes, [20, 20, 5]);
    let mut ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 45, "no duplicates, no gaps");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");

    // The default page is 20; from (inclusive) and to (exclusive) filter logged_at.
    let default = get(&server, "/api/v1/mood/logs", &token).await;
    assert_eq!(default.body["items"].as_array().map(Vec::len), Some(20));
    let day = get(
        &server,
        "/api/v1/mood/logs?from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z",
        &token,
    )
    .await;
    assert_eq!(day.status, 200, "{}", day.body);
    assert_eq!(day.body["items"].as_array().map(Vec::len), Some(5));
    let offset = get(
        &server,
        "/api/v1/mood/logs?from=2026-11-02T11:00:00%2B01:00&to=2026-11-03T00:00:00Z",
        &token,
    )
    .await;
    assert_eq!(offset.body["items"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn another_users_logs_do_not_exist() {
    let server = server(mood_manifest()).await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, _) = user(&server, "bob").await;
    let log = post_log(
        &server,
        &alice,
        json!({"mood_score": 7, "factors": [{"factor_type": "sleep"}]}),
    )
    .await;
    let path = format!("/api/v1/mood/logs/{}", log["id"].as_str().expect("id"));
    let read = get(&server, &path, &bob).await;
    assert_eq!(read.status, 404);
    assert_eq!(read.body["type"], "urn:mindflow:problem:not-found");
    let patched = send(
        &server,
        Method::PATCH,
        &path,
        Some(&bob),
        Some(json!({"mood_score": 1})),
    )
    .await;
    assert_eq!(patched.status, 404);
    let deleted = send(&server, Method::DELETE, &path, Some(&bob), None).await;
    assert_eq!(deleted.status, 404);
    assert_eq!(
        get(&server, "/api/v1/mood/logs", &bob).await.body["items"],
        json!([])
    );
    let stats = get(&server, "/api/v1/mood/stats", &bob).await;
    assert_eq!(stats.body["count"], 0);
    // Alice's log is untouched.
    let read = get(&server, &path, &alice).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["mood_score"], 7);
    assert_eq!(read.body["factors"].as_array().map(Vec::len), Some(1));
    // Malformed ids are simply not found.
    for bad in [
        "not-a-uuid",
        "123",
        "00000000000040008000000000000001",
        "%20",
    ] {
        let answer = get(&server, &format!("/api/v1/mood/logs/{bad}"), &alice).await;
        assert_eq!(answer.status, 404, "{bad}");
    }
}

#[tokio::test]
async fn a_note_at_risk_in_other_words_than_the_rules_is_flagged_by_its_meaning() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "meaning").await;
    // No rule matches these words (`cargo run -p crisis-rules --example assess` says none);
    // the semantic signal, from the real sentence encoder and the classifier trained on the
    // rules' exemplars, raises it.
    let created = post_log(
        &server,
        &token,
        json!({"mood_score": 2, "note": "honestly it would be easier for everyone if I was just removed from the picture"}),
    )
    .await;
    assert_eq!(created["crisis_flag_triggered"], true, "{created}");
    assert!(
        !created["crisis"]["resources"]
            .as_array()
            .expect("resources")
            .is_empty()
    );
    // Ordinary notes that share its words are not.
    for note in [
        "took the old picture frames to the charity shop, easier for everyone",
        "my phone is dying and the bus is late",
    ] {
        let calm = post_log(&server, &token, json!({"mood_score": 6, "note": note})).await;
        assert_eq!(calm["crisis_flag_triggered"], false, "{note}: {calm}");
    }
}

#[tokio::test]
async fn crisis_language_flags_the_log_and_shows_resources() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "crisis").await;
    let created = post_log(
        &server,
        &token,
        json!({"mood_score": 1, "note": "I'm going to kill myself tonight, I have the pills ready"}),
    )
    .await;
    assert_eq!(created["crisis_flag_triggered"], true, "{created}");
    let crisis = &created["crisis"];
    assert!(
        ["high", "imminent"].contains(&crisis["severity"].as_str().unwrap_or_default()),
        "{crisis}"
    );
    assert_eq!(crisis["about_someone_else"], false);
    let resources = crisis["resources"].as_array().expect("resources");
    assert!(!resources.is_empty(), "{crisis}");
    assert!(
        resources
            .iter()
            .any(|r| r["name"] == "988 Suicide & Crisis Lifeline"),
        "{crisis}"
    );
    assert_eq!(crisis["resources_url"], "/api/v1/crisis/resources");
    let path = format!("/api/v1/mood/logs/{}", created["id"].as_str().expect("id"));
    assert_eq!(
        get(&server, &path, &token).await.body["crisis_flag_triggered"],
        true
    );

    // An everyday note does not.
    let calm = post_log(
        &server,
        &token,
        json!({"mood_score": 7, "note": "Nice coffee with a friend this morning"}),
    )
    .await;
    assert_eq!(calm["crisis_flag_triggered"], false);
    assert_eq!(calm["crisis"], Value::Null);

    // Someone else at risk (help-a-friend): the resources are shown all the same.
    let friend = post_log(
        &server,
        &token,
        json!({"mood_score": 4, "note": "I'm scared for my friend, she told me she wants to kill herself"}),
    )
    .await;
    assert_eq!(friend["crisis"]["about_someone_else"], true, "{friend}");
    assert!(
        !friend["crisis"]["resources"]
            .as_array()
            .expect("resources")
            .is_empty()
    );

    // The event is recorded (its content hash, never the note), for this user.
    let export = get(&server, "/api/v1/users/me/export", &token).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let events = export.body["crisis_events"]
        .as_array()
        .expect("crisis_events");
    // One event per flagged log (the help-a-friend note may or may not reach the threshold).
    let flagged = 1 + usize::from(friend["crisis_flag_triggered"] == true);
    assert_eq!(events.len(), flagged, "{events:?}");
    assert!(events.iter().all(|e| e["trigger_source"] == "mood_log"));
    assert!(!export.body["crisis_events"].to_string().contains("pills"));
}

#[tokio::test]
async fn an_unavailable_crisis_assessment_fails_safe() {
    // No crisis-rules component: `crisis.assess` cannot answer.
    let server = server(Manifest::product(&["mood"])).await;
    let (token, _) = user(&server, "failsafe").await;
    let created = post_log(
        &server,
        &token,
        json!({"mood_score": 2, "note": "I don't want to be here anymore"}),
    )
    .await;
    assert_eq!(
        created["crisis"],
        json!({"status": "unavailable", "resources_url": "/api/v1/crisis/resources"})
    );
    // The log itself is kept.
    let path = format!("/api/v1/mood/logs/{}", created["id"].as_str().expect("id"));
    assert_eq!(get(&server, &path, &token).await.status, 200);
}

#[tokio::test]
async fn stats_and_trends_follow_the_users_time_zone() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "stats").await;
    set_timezone(&server, &token, "America/New_York").await;
    // (instant, mood, energy): local times in New York (EST, UTC−5).
    let logs = [
        ("2026-11-02T13:00:00Z", 4, Some(5)), // Mon 08:00, morning
        ("2026-11-02T19:00:00Z", 6, None),    // Mon 14:00, afternoon
        ("2026-11-04T02:00:00Z", 8, Some(9)), // Tue 21:00, evening (Wed in UTC)
        ("2026-11-05T04:30:00Z", 2, None),    // Wed 23:30, night (Thu in UTC)
    ];
    for (at, mood, energy) in logs {
        post_log(
            &server,
            &token,
            json!({"mood_score": mood, "energy_level": energy, "logged_at": at}),
        )
        .await;
    }
    let range = "from=2026-11-01T00:00:00Z&to=2026-11-10T00:00:00Z";
    let stats = get(&server, &format!("/api/v1/mood/stats?{range}"), &token).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let body = &stats.body;
    assert_eq!(body["count"], 4);
    assert_eq!(body["timezone"], "America/New_York");
    assert_eq!(body["mood_score"]["count"], 4);
    assert!(close(&body["mood_score"]["mean"], 5.0));
    assert!(close(&body["mood_score"]["min"], 2.0));
    assert!(close(&body["mood_score"]["max"], 8.0));
    // Sample SD of 4, 6, 8, 2: sqrt(20 / 3).
    assert!(
        close(&body["mood_score"]["stddev"], (20.0_f64 / 3.0).sqrt()),
        "{body}"
    );
    assert_eq!(body["energy_level"]["count"], 2);
    assert!(close(&body["energy_level"]["mean"], 7.0));
    assert_eq!(body["anxiety_level"]["count"], 0);
    assert_eq!(body["anxiety_level"]["mean"], Value::Null);
    let weekdays = body["by_weekday"].as_array().expect("by_weekday");
    let counts: Vec<u64> = weekdays
        .iter()
        .filter_map(|d| d["count"].as_u64())
        .collect();
    assert_eq!(counts, [2, 1, 1, 0, 0, 0, 0], "{body}");
    assert!(close(&weekdays[0]["mood_score"]["mean"], 5.0));
    assert!(close(&weekdays[1]["mood_score"]["mean"], 8.0));
    let parts = body["by_time_of_day"].as_array().expect("by_time_of_day");
    let parts: Vec<(String, u64)> = parts
        .iter()
        .map(|p| {
            (
                p["time_of_day"].as_str().unwrap_or_default().to_owned(),
                p["count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("morning".to_owned(), 1),
            ("afternoon".to_owned(), 1),
            ("evening".to_owned(), 1),
            ("night".to_owned(), 1)
        ]
    );
    // A range without logs.
    let empty = get(
        &server,
        "/api/v1/mood/stats?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
        &token,
    )
    .await;
    assert_eq!(empty.body["count"], 0);

    // Daily trend: local days 11-02 (4, 6), 11-03 (8), 11-04 (2).
    let trends = get(&server, &format!("/api/v1/mood/trends?{range}"), &token).await;
    assert_eq!(trends.status, 200, "{}", trends.body);
    let series = trends.body["series"].as_array().expect("series");
    let days: Vec<&str> = series.iter().filter_map(|p| p["period"].as_str()).collect();
    assert_eq!(
        days,
        ["2026-11-02", "2026-11-03", "2026-11-04"],
        "{}",
        trends.body
    );
    assert!(close(&series[0]["mood_score"], 5.0));
    assert_eq!(series[0]["count"], 2);
    assert!(close(&series[2]["moving_average"], 5.0));
    assert_eq!(trends.body["trend"]["direction"], "declining");
    assert!(close(&trends.body["trend"]["slope_per_period"], -1.5));
    assert_eq!(
        trends.body["moving_average_window"],
        json!({"size": 7, "unit": "day"})
    );
    // Weekly: one ISO week, too few points for a direction.
    let weekly = get(
        &server,
        &format!("/api/v1/mood/trends?period=week&{range}"),
        &token,
    )
    .await;
    assert_eq!(weekly.status, 200, "{}", weekly.body);
    assert_eq!(weekly.body["series"][0]["period"], "2026-W45");
    assert!(close(&weekly.body["series"][0]["mood_score"], 5.0));
    assert_eq!(weekly.body["trend"]["direction"], Value::Null);
    assert_eq!(weekly.body["trend"]["insufficient_data"], true);
}

#[tokio::test]
async fn factor_correlations_are_for_premium_users() {
    let server = server(mood_manifest()).await;
    let (token, id) = user(&server, "factors").await;
    let free = get(&server, "/api/v1/mood/factors", &token).await;
    assert_eq!(free.status, 403, "{}", free.body);
    assert_eq!(free.body["type"], "urn:mindflow:problem:premium-required");
    assert_eq!(free.body["required_tier"], "premium");
    assert_eq!(
        free.header("content-type"),
        Some("application/problem+json")
    );

    // Exercise on six logs (moods 7, 8, 9), not on six (3, 4, 5); sleep on all twelve.
    for i in 0..12 {
        let exercised = i % 2 == 0;
        let mood = if exercised {
            7 + (i / 2) % 3
        } else {
            3 + (i / 2) % 3
        };
        let mut factors = vec![json!({"factor_type": "sleep", "impact_score": 1})];
        if exercised {
            factors.push(json!({"factor_type": "exercise", "impact_score": (i / 2) % 3}));
        }
        post_log(
            &server,
            &token,
            json!({"mood_score": mood, "factors": factors}),
        )
        .await;
    }

    let admin = server.admin_token().await.expect("admin");
    let upgraded = send(
        &server,
        Method::PUT,
        &format!("/api/v1/admin/users/{id}/subscription"),
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": null})),
    )
    .await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);

    let answer = get(&server, "/api/v1/mood/factors", &token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["analyzed_logs"], 12);
    assert_eq!(body["truncated"], false);
    let factors = body["factors"].as_array().expect("factors");
    assert_eq!(factors.len(), 2, "{body}");
    let exercise = &factors[0];
    assert_eq!(exercise["factor_type"], "exercise");
    assert_eq!(exercise["n_with"], 6);
    assert_eq!(exercise["n_without"], 6);
    assert_eq!(exercise["insufficient_data"], false);
    assert!(close(&exercise["mean_with"], 8.0));
    assert!(close(&exercise["mean_without"], 4.0));
    assert!(close(&exercise["mean_difference"], 4.0));
    // Both groups have sample variance 0.8: d = 4 / sqrt(0.8).
    assert!(
        close(&exercise["cohens_d"], 4.0 / 0.8_f64.sqrt()),
        "{exercise}"
    );
    assert!(close(
        &exercise["hedges_g"],
        4.0 / 0.8_f64.sqrt() * (1.0 - 3.0 / 39.0)
    ));
    assert_eq!(exercise["effect_size"], "large");
    assert!(exercise["spearman_presence"].as_f64().expect("rho") > 0.8);
    // Impact 0, 1, 2 goes with mood 7, 8, 9: a perfect rank correlation.
    assert_eq!(exercise["impact"]["n"], 6);
    assert!(close(&exercise["impact"]["spearman"], 1.0), "{exercise}");
    let sleep = &factors[1];
    assert_eq!(sleep["factor_type"], "sleep");
    assert_eq!(sleep["n_without"], 0);
    assert_eq!(sleep["insufficient_data"], true);
    assert!(sleep.get("cohens_d").is_none());
}

#[tokio::test]
async fn unknown_paths_wrong_methods_and_anonymous_callers_get_problems() {
    let server = server(mood_manifest()).await;
    let (token, _) = user(&server, "routes").await;
    for path in [
        "/api/v1/mood",
        "/api/v1/mood/log",
        "/api/v1/mood/logs/a/b",
        "/api/v1/mood/stats/x",
    ] {
        let answer = get(&server, path, &token).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    for (method, path, allow) in [
        (Method::PUT, "/api/v1/mood/logs", "GET, POST"),
        (
            Method::POST,
            "/api/v1/mood/logs/00000000-0000-4000-8000-000000000001",
            "GET, PATCH, DELETE",
        ),
        (Method::POST, "/api/v1/mood/stats", "GET"),
        (Method::DELETE, "/api/v1/mood/trends", "GET"),
        (Method::PATCH, "/api/v1/mood/factors", "GET"),
    ] {
        let answer = send(&server, method.clone(), path, Some(&token), None).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(
            answer.body["type"],
            "urn:mindflow:problem:method-not-allowed"
        );
    }
    let anonymous = send(&server, Method::GET, "/api/v1/mood/logs", None, None).await;
    assert_eq!(anonymous.status, 401);

    // The component's part of the OpenAPI document is served.
    let document: Value = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    for path in [
        "/api/v1/mood/logs",
        "/api/v1/mood/logs/{id}",
        "/api/v1/mood/stats",
        "/api/v1/mood/trends",
        "/api/v1/mood/factors",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path}");
    }
    assert!(document["components"]["schemas"].get("MoodLog").is_some());
}

/// A body that does not say it is JSON is refused with 415, as on the host's own endpoints,
/// and nothing is written.
#[tokio::test]
async fn a_body_not_sent_as_json_is_unsupported() {
    let server = server(Manifest::product(&["mood"])).await;
    let (token, _) = user(&server, "plain-text").await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = server
            .http
            .post(server.url("/api/v1/mood/logs"))
            .bearer_auth(&token)
            .body(r#"{"mood_score": 5}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("post");
        assert_eq!(response.status(), 415, "{content_type:?}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }
    let list = get(&server, "/api/v1/mood/logs", &token).await;
    assert_eq!(list.body["items"], json!([]));
    // Sent as JSON, the same body is a log.
    post_log(&server, &token, json!({"mood_score": 5})).await;
}

/// Whether the raw database holds `phrase` anywhere (files and WAL on SQLite, every row on
/// PostgreSQL).
async fn at_rest(server: &Server, phrase: &str) -> bool {
    mindflow_tests::raw_database_contains(server, phrase)
        .await
        .expect("scan")
}

/// Mood notes are stored only sealed under the user's key (issue 18, finding 8): the API
/// and the export show them, a raw scan of the database never finds them. A note an earlier
/// version stored in plaintext still reads, and the next start seals it and clears the
/// plaintext.
#[tokio::test]
async fn notes_are_stored_only_sealed() {
    let data = tempfile::tempdir().expect("tempdir");
    let secret = (
        "MINDFLOW_JWT_SECRET".to_owned(),
        "c2VhbGVkLW5vdGVzIHRlc3Qgc2VjcmV0OiBuZXZlciB1c2UgaXQ=".to_owned(),
    );
    let mut options = ServerOptions::new(mood_manifest()).await.expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.env.push(secret.clone());
    let database_url = options.database_url.clone();
    let manifest = options.manifest.clone();
    let mut first = Server::start(options).await.expect("start");
    let (token, user_id) = user(&first, "sealed-notes").await;

    let created = post_log(
        &first,
        &token,
        json!({"mood_score": 3, "note": "Quetzal-marmalade evening, felt hollow"}),
    )
    .await;
    assert_eq!(created["note"], "Quetzal-marmalade evening, felt hollow");
    let location = format!("/api/v1/mood/logs/{}", created["id"].as_str().expect("id"));
    let patched = send(
        &first,
        Method::PATCH,
        &location,
        Some(&token),
        Some(json!({"note": "Borealis-pancake morning, a bit lighter"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        get(&first, &location, &token).await.body["note"],
        "Borealis-pancake morning, a bit lighter"
    );
    let listed = get(&first, "/api/v1/mood/logs", &token).await;
    assert_eq!(
        listed.body["items"][0]["note"],
        "Borealis-pancake morning, a bit lighter"
    );
    // The scan sees what is stored in plaintext (the email domain): a miss means something.
    assert!(at_rest(&first, "@example.com").await);
    for phrase in ["Quetzal-marmalade", "Borealis-pancake", "felt hollow"] {
        assert!(!at_rest(&first, phrase).await, "{phrase:?} is at rest");
    }

    // A note as a version before sealing stored it.
    let legacy = uuid::Uuid::new_v4().to_string();
    let mut db = Db::open(&first).await;
    db.exec(
        "INSERT INTO mood_logs (id, user_id, mood_score, note) VALUES ($1, $2, 4, $3)",
        &[
            Param::Uuid(legacy.clone()),
            Param::Uuid(user_id.clone()),
            Param::Text("Ostrich-lantern night from an older version".into()),
        ],
    )
    .await;
    drop(db);
    let legacy_location = format!("/api/v1/mood/logs/{legacy}");
    assert_eq!(
        get(&first, &legacy_location, &token).await.body["note"],
        "Ostrich-lantern night from an older version"
    );
    first.kill().expect("stop");

    let mut options = ServerOptions::new(manifest).await.expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.database_url = database_url;
    options.env.push(secret);
    let second = Server::start(options).await.expect("restart");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while at_rest(&second, "Ostrich-lantern").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the plaintext note is still at rest 20 s after the start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        get(&second, &legacy_location, &token).await.body["note"],
        "Ostrich-lantern night from an older version"
    );
    let mut db = Db::open(&second).await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM mood_logs WHERE note IS NOT NULL OR (id = $1 AND note_encrypted IS NULL)",
            &[Param::Uuid(legacy)],
        )
        .await,
        0
    );
}
