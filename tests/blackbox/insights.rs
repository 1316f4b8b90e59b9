//! The `insights` and `recommendations` components on the real host, and the host's nightly
//! runs: insights appear after enough data and not before; factor insights are premium;
//! feedback, dismissal and other users' insights; the nightly job recomputes without being
//! asked, once per user and day even with two replicas; suggestions come from the library,
//! are made once a day, complete, take feedback and expire.

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use mindflow_tests::accounts::{set_timezone, user};
use mindflow_tests::http::{Answer, get, send};
use mindflow_tests::{Backend, Manifest, Server, ServerOptions, backend, server};
use reqwest::Method;
use serde_json::{Value, json};

fn insights_manifest() -> Manifest {
    Manifest::product(&[
        "mood",
        "insights",
        "recommendations",
        "content-library",
        "crisis-rules",
    ])
}

async fn post(server: &Server, token: &str, path: &str, body: Value) -> Answer {
    send(server, Method::POST, path, Some(token), Some(body)).await
}

/// `days` days of one log a day at 12:00 UTC, ending yesterday: Mondays 3, other days 7 or
/// 8; with `exercise`, every other day carries the factor and scores two points more.
async fn history(server: &Server, token: &str, days: i64, exercise: bool) {
    let today = Utc::now().date_naive();
    for back in (1..=days).rev() {
        let date = today - chrono::Duration::days(back);
        let monday = date.weekday() == chrono::Weekday::Mon;
        let exercised = exercise && back % 2 == 0;
        let mut mood = if monday {
            3
        } else {
            7 + (back % 3 == 0) as i64
        };
        if exercised {
            mood = (mood + 2).min(10);
        }
        let mut body = json!({
            "mood_score": mood,
            "logged_at": format!("{date}T12:00:00Z"),
        });
        if exercised {
            body["factors"] = json!([{"factor_type": "exercise"}]);
        }
        let answer = post(server, token, "/api/v1/mood/logs", body).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
}

async fn refresh(server: &Server, token: &str) -> Value {
    let answer = post(server, token, "/api/v1/insights/refresh", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn insights(server: &Server, token: &str) -> Vec<Value> {
    let answer = get(server, "/api/v1/insights", token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["items"].as_array().cloned().unwrap_or_default()
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

fn of_type<'a>(items: &'a [Value], kind: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["insight_type"] == kind)
}

#[tokio::test]
async fn insights_appear_after_enough_data_and_factor_ones_for_premium() {
    let server = server(insights_manifest()).await;
    let (token, id) = user(&server, "insights-data").await;

    history(&server, &token, 5, true).await;
    let early = refresh(&server, &token).await;
    assert_eq!(early["analyzed_logs"], 5);
    let shown = insights(&server, &token).await;
    assert!(
        shown
            .iter()
            .all(|i| i["data_points"]["strength"] != "finding"),
        "a finding from five days: {shown:?}"
    );

    history(&server, &token, 84, true).await;
    let found = refresh(&server, &token).await;
    assert!(
        found["analyzed_logs"].as_u64().is_some_and(|n| n >= 84),
        "{found}"
    );
    let shown = insights(&server, &token).await;
    let weekday = of_type(&shown, "weekday_cycle").expect("the Monday dip is found");
    assert_eq!(weekday["data_points"]["strength"], "finding", "{weekday}");
    assert_eq!(weekday["data_points"]["subject"], "monday", "{weekday}");
    assert_eq!(weekday["data_points"]["direction"], "lower");
    assert!(weekday["shown_at"].is_string(), "showing records shown_at");
    assert!(
        weekday["confidence_score"]
            .as_f64()
            .is_some_and(|c| c > 0.0 && c <= 1.0)
    );
    for insight in &shown {
        let text = format!("{} {}", insight["title"], insight["description"]).to_lowercase();
        for causal in [
            "because",
            "causes",
            "improves",
            "makes you",
            "leads to",
            "diagnos",
        ] {
            assert!(!text.contains(causal), "{text}");
        }
    }
    // Factor effects are premium: not computed, not shown, not listable for a free user.
    assert!(of_type(&shown, "factor_effect").is_none(), "{shown:?}");
    let gated = get(
        &server,
        "/api/v1/insights?insight_type=factor_effect",
        &token,
    )
    .await;
    assert_eq!(gated.status, 403, "{}", gated.body);
    assert_eq!(gated.body["type"], "urn:mindflow:problem:premium-required");

    upgrade(&server, &id).await;
    let again = refresh(&server, &token).await;
    assert!(again["updated"].as_u64().is_some_and(|n| n >= 1), "{again}");
    let shown = insights(&server, &token).await;
    let exercise = of_type(&shown, "factor_effect").expect("the exercise effect, for premium");
    assert_eq!(exercise["data_points"]["subject"], "exercise", "{exercise}");
    assert_eq!(exercise["data_points"]["direction"], "higher");
    // The same patterns are updated in place, not stacked.
    let weekdays = shown
        .iter()
        .filter(|i| i["insight_type"] == "weekday_cycle")
        .count();
    assert_eq!(weekdays, 1, "{shown:?}");
}

#[tokio::test]
async fn feedback_dismissal_and_other_users_insights() {
    let server = server(insights_manifest()).await;
    let (token, _) = user(&server, "insights-feedback").await;
    let (stranger, _) = user(&server, "insights-stranger").await;
    history(&server, &token, 70, false).await;
    refresh(&server, &token).await;
    let shown = insights(&server, &token).await;
    let id = shown[0]["id"].as_str().expect("an insight").to_owned();

    let rated = post(
        &server,
        &token,
        &format!("/api/v1/insights/{id}/feedback"),
        json!({"helpful_rating": 4}),
    )
    .await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert_eq!(rated.body["helpful_rating"], 4);
    for bad in [
        json!({"helpful_rating": 9}),
        json!({}),
        json!({"helpful_rating": 3, "x": 1}),
    ] {
        let refused = post(
            &server,
            &token,
            &format!("/api/v1/insights/{id}/feedback"),
            bad.clone(),
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
        assert_eq!(
            refused.header("content-type"),
            Some("application/problem+json")
        );
    }

    // Another user cannot see, rate or dismiss it: 404, as if it did not exist.
    assert_eq!(
        get(&server, &format!("/api/v1/insights/{id}"), &stranger)
            .await
            .status,
        404
    );
    for action in ["feedback", "dismiss"] {
        let answer = post(
            &server,
            &stranger,
            &format!("/api/v1/insights/{id}/{action}"),
            json!({"helpful_rating": 1}),
        )
        .await;
        assert_eq!(answer.status, 404, "{action}: {}", answer.body);
    }
    assert!(insights(&server, &stranger).await.is_empty());

    let dismissed = post(
        &server,
        &token,
        &format!("/api/v1/insights/{id}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(dismissed.status, 200, "{}", dismissed.body);
    assert!(dismissed.body["dismissed_at"].is_string());
    assert!(
        insights(&server, &token)
            .await
            .iter()
            .all(|i| i["id"] != id.as_str())
    );
    // Recomputing keeps it dismissed while its pattern holds.
    refresh(&server, &token).await;
    assert!(
        insights(&server, &token)
            .await
            .iter()
            .all(|i| i["id"] != id.as_str())
    );
    let read = get(&server, &format!("/api/v1/insights/{id}"), &token).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["helpful_rating"], 4, "the rating stays");

    assert_eq!(
        get(&server, "/api/v1/insights/not-a-uuid", &token)
            .await
            .status,
        404
    );
    assert_eq!(
        get(&server, "/api/v1/insights?limit=0", &token)
            .await
            .status,
        422
    );
    assert_eq!(
        get(&server, "/api/v1/insights?insight_type=horoscope", &token)
            .await
            .status,
        422
    );
}

/// Waits until `check` holds, at most `seconds`.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(seconds),
            "{what}: not within {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fixed-offset zone whose local hour now is in `hours`.
fn zone_with_hour(hours: std::ops::RangeInclusive<u32>) -> String {
    use chrono::Timelike;
    (-14..=12)
        .map(|offset: i32| {
            // `Etc/GMT+5` is five hours *behind* UTC (POSIX signs).
            let name = match offset {
                0 => "Etc/GMT".to_owned(),
                o if o > 0 => format!("Etc/GMT+{o}"),
                o => format!("Etc/GMT{o}"),
            };
            let hour = (Utc::now() - chrono::Duration::hours(i64::from(offset))).hour();
            (name, hour)
        })
        .find(|(_, hour)| hours.contains(hour))
        .map(|(name, _)| name)
        .expect("some offset has every hour")
}

/// The host's nightly job runs the insights refresh for each user once their own clock
/// passes the nightly hour, without being asked. The histories are written on a server whose
/// scheduler looks only at start-up (before any user exists); the server then restarts with
/// the nightly hour at noon: the user for whom it is afternoon gets their run, the user for
/// whom it is still morning does not.
#[tokio::test]
async fn the_nightly_run_comes_in_each_users_own_time_zone() {
    let data = tempfile::tempdir().expect("tempdir");
    let secret = (
        "MINDFLOW_JWT_SECRET".to_owned(),
        "bmlnaHRseSBydW5zIHNoYXJlIHRoaXMgMzItYnl0ZSBzZWNyZXQ=".to_owned(),
    );
    let mut options = ServerOptions::new(insights_manifest())
        .await
        .expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.env.push(secret.clone());
    options
        .env
        .push(("MINDFLOW_NIGHTLY_TICK_MS".into(), "3600000".into()));
    let database_url = options.database_url.clone();
    let mut first = Server::start(options).await.expect("first");
    let (afternoon, _) = user(&first, "insights-afternoon").await;
    let (morning, _) = user(&first, "insights-morning").await;
    set_timezone(&first, &afternoon, &zone_with_hour(13..=22)).await;
    set_timezone(&first, &morning, &zone_with_hour(0..=10)).await;
    history(&first, &afternoon, 70, false).await;
    history(&first, &morning, 70, false).await;
    assert!(insights(&first, &afternoon).await.is_empty());
    first.terminate().expect("stop");

    let mut options = ServerOptions::new(insights_manifest())
        .await
        .expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.database_url = database_url;
    options.env.push(secret);
    options
        .env
        .push(("MINDFLOW_NIGHTLY_HOUR".into(), "12".into()));
    options
        .env
        .push(("MINDFLOW_NIGHTLY_TICK_MS".into(), "300".into()));
    let second = Server::start(options).await.expect("second");
    eventually(20, "the afternoon user's nightly run", || async {
        of_type(&insights(&second, &afternoon).await, "weekday_cycle").is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        insights(&second, &morning).await.is_empty(),
        "no run before noon on the user's own clock"
    );
}

/// Two replicas on one PostgreSQL, both running the nightly job every 300 ms: every user's
/// run happens once (one claim row each, finished `ok`), not twice.
#[tokio::test]
async fn two_replicas_run_each_users_night_once() {
    if backend() != Backend::Postgres {
        eprintln!("nightly replicas: PostgreSQL only (run with MINDFLOW_TEST_BACKEND=postgres)");
        return;
    }
    let env = [
        ("MINDFLOW_NIGHTLY_HOUR".to_owned(), "0".to_owned()),
        ("MINDFLOW_NIGHTLY_TICK_MS".to_owned(), "300".to_owned()),
        (
            "MINDFLOW_JWT_SECRET".to_owned(),
            "cmVwbGljYXMgc2hhcmUgdGhpcyAzMi1ieXRlIHNlY3JldCE=".to_owned(),
        ),
    ];
    let mut options = ServerOptions::new(insights_manifest())
        .await
        .expect("options");
    options.env.extend(env.iter().cloned());
    let first = Server::start(options).await.expect("first");
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(user(&first, &format!("insights-replica-{i}")).await);
    }
    let mut options = ServerOptions::new(insights_manifest())
        .await
        .expect("options");
    options.database_url = first.database_url.clone();
    options.env.extend(env.iter().cloned());
    let second = Server::start(options).await.expect("second");
    let url = first.database_url.clone().expect("postgres");
    let counts = || async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&url).await.expect("connect");
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'ok') FROM nightly_runs \
             WHERE component = 'insights' GROUP BY user_id",
        )
        .fetch_all(&mut connection)
        .await
        .expect("nightly runs");
        rows
    };
    eventually(20, "every user's run finished", || async {
        let rows = counts().await;
        rows.len() >= users.len() && rows.iter().all(|(_, ok)| *ok >= 1)
    })
    .await;
    // A few more ticks on both replicas change nothing: one claim per user and day.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let rows = counts().await;
    assert!(rows.len() >= users.len());
    assert!(
        rows.iter().all(|(claims, ok)| *claims == 1 && *ok == 1),
        "{rows:?}"
    );
    drop(second);
}

async fn suggestions(server: &Server, token: &str) -> Vec<Value> {
    let answer = get(server, "/api/v1/recommendations", token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn suggestions_follow_the_day_and_are_made_once() {
    let server = server(insights_manifest()).await;
    let (token, _) = user(&server, "recommend-anxious").await;
    let (stranger, _) = user(&server, "recommend-stranger").await;
    let logged = post(
        &server,
        &token,
        "/api/v1/mood/logs",
        json!({"mood_score": 5, "anxiety_level": 9}),
    )
    .await;
    assert_eq!(logged.status, 201, "{}", logged.body);
    let first = suggestions(&server, &token).await;
    assert!(!first.is_empty() && first.len() <= 3, "{first:?}");
    assert_eq!(first[0]["priority"], 1, "{first:?}");
    assert!(
        ["breathing", "grounding", "relaxation"]
            .contains(&first[0]["content"]["content_type"].as_str().unwrap_or("")),
        "an anxious log is answered with breathing or grounding first: {first:?}"
    );
    for item in &first {
        assert!(item["reason"].as_str().is_some_and(|r| r.len() > 10));
        assert!(item["shown_at"].is_string());
        assert_eq!(item["content"]["is_premium"], false, "free user: {item}");
        assert!(item["expires_at"].is_string());
    }
    // A second visit the same day shows the same suggestions, no new ones.
    let again = suggestions(&server, &token).await;
    let ids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(ids(&again), ids(&first));

    let id = first[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        get(&server, &format!("/api/v1/recommendations/{id}"), &stranger)
            .await
            .status,
        404
    );
    let stolen = post(
        &server,
        &stranger,
        &format!("/api/v1/recommendations/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(stolen.status, 404, "{}", stolen.body);

    let clicked = post(
        &server,
        &token,
        &format!("/api/v1/recommendations/{id}/click"),
        json!({}),
    )
    .await;
    assert_eq!(clicked.status, 200, "{}", clicked.body);
    assert!(clicked.body["clicked_at"].is_string());
    let done = post(
        &server,
        &token,
        &format!("/api/v1/recommendations/{id}/complete"),
        json!({"feedback": "helpful"}),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body["completed_at"].is_string());
    assert_eq!(done.body["feedback"], "helpful");
    assert!(
        suggestions(&server, &token)
            .await
            .iter()
            .all(|i| i["id"] != id.as_str())
    );

    let bad = post(
        &server,
        &token,
        &format!("/api/v1/recommendations/{id}/feedback"),
        json!({"feedback": "meh"}),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
}

/// Runs `sql` on the server's own database (SQLite file or PostgreSQL).
async fn raw_sql(server: &Server, sql: &str) {
    use sqlx::Connection;
    match &server.database_url {
        Some(url) => {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut connection)
                .await
                .expect("sql");
        }
        None => {
            let url = format!("sqlite://{}", server.data_dir.join("mindflow.db").display());
            let mut connection = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut connection)
                .await
                .expect("sql");
        }
    }
}

#[tokio::test]
async fn suggestions_expire_at_the_end_of_the_persons_day() {
    let server = server(insights_manifest()).await;
    let (token, id) = user(&server, "recommend-expiry").await;
    let first = suggestions(&server, &token).await;
    assert!(!first.is_empty());
    // Each suggestion expires at the end of the person's day (UTC here): tomorrow 00:00.
    let tomorrow = Utc::now().date_naive() + chrono::Duration::days(1);
    for item in &first {
        let expires = item["expires_at"].as_str().expect("expires_at");
        assert!(expires.starts_with(&tomorrow.to_string()), "{expires}");
    }
    // Once past it, they are no longer shown (and today's were made: none are remade).
    raw_sql(
        &server,
        &format!(
            "UPDATE recommendations SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE user_id = '{id}'"
        ),
    )
    .await;
    assert!(suggestions(&server, &token).await.is_empty());
    let expired = first[0]["id"].as_str().expect("id");
    let read = get(
        &server,
        &format!("/api/v1/recommendations/{expired}"),
        &token,
    )
    .await;
    assert_eq!(
        read.status, 200,
        "an expired suggestion can still be read by id"
    );
}
