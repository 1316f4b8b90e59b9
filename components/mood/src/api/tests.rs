//! The handlers against the kit's in-memory platform: what they write, in which batches,
//! and what they answer. The real storage's semantics (scoping, cursors, aggregates in the
//! user's zone) are covered by the black-box suite.

use mindflow_component_kit::fake::{Collection, FakePlatform as Fake, calm, lifeline};
use mindflow_component_kit::host::{CrisisOutcome, CrisisUnavailable};
use mindflow_component_kit::instant::parse_instant;
use mindflow_component_kit::storage::column;
use serde_json::{Value as Json, json};

use super::*;

/// A fake host with the mood collections: a log is stamped `created_at` on insert, a factor
/// needs its log and goes with it.
fn fake_host(timezone: &str, premium: bool) -> Fake {
    Fake::new(timezone, premium)
        .with_collection(LOGS, Collection::default().stamped_on_insert("created_at"))
        .with_collection(
            FACTORS,
            Collection::default().child_of(LOGS, FACTOR_LOG_FIELD),
        )
}

/// The mood API, called through the fake host.
trait Call {
    fn call(&self, method: &str, path: &str, query: &str, body: &Json) -> Reply;
}

impl Call for Fake {
    fn call(&self, method: &str, path: &str, query: &str, body: &Json) -> Reply {
        self.send(handle, &WORDING, method, path, query, body)
    }
}

fn create(fake: &Fake, body: &Json) -> Json {
    let reply = fake.call("POST", "/logs", "", body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json_body()
}

fn error_fields(reply: &Reply) -> Vec<String> {
    let body = reply.json_body();
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn create_derives_local_time_and_writes_one_batch() {
    let fake = fake_host("America/New_York", false);
    let reply = fake.call(
        "POST",
        "/logs",
        "",
        &json!({"mood_score": 6, "energy_level": 4, "location_type": "home",
                "factors": [{"factor_type": "Sleep", "factor_value": "6h", "impact_score": -2},
                            {"factor_type": "exercise"}]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json_body();
    let id = body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/mood/logs/{id}").as_str())
    );
    // 17:30 UTC on Wednesday 2026-11-25 is 12:30 in New York.
    assert_eq!(body["logged_at"], "2026-11-25T17:30:00.000000Z");
    assert_eq!(body["time_of_day"], "afternoon");
    assert_eq!(body["day_of_week"], 3);
    assert_eq!(body["crisis_flag_triggered"], false);
    assert_eq!(body["crisis"], Json::Null);
    assert_eq!(body["energy_level"], 4);
    let factors = body["factors"].as_array().expect("factors");
    assert_eq!(factors.len(), 2);
    assert_eq!(factors[0]["factor_type"], "exercise");
    assert_eq!(factors[1]["factor_type"], "sleep");
    assert!(factors.iter().all(|f| f["mood_log_id"] == id.as_str()));
    // One batch: the log with its client-made id, then its factors.
    let batches = fake.batches.borrow();
    assert_eq!(batches.len(), 1);
    let writes = &batches[0];
    assert_eq!(writes.len(), 3);
    let Write::Insert(collection, row) = &writes[0] else {
        panic!("first write is the log insert");
    };
    assert_eq!(collection, LOGS);
    assert_eq!(column(row, "id"), Some(&Value::Uuid(id.clone())));
    assert!(column(row, "note_sentiment").is_none());
    assert!(fake.assessed.borrow().is_empty());
}

#[test]
fn a_note_gets_sentiment_and_a_crisis_assessment() {
    let fake = fake_host("UTC", false);
    let body = create(&fake, &json!({"mood_score": 8, "note": "a great day"}));
    assert_eq!(body["note_sentiment"], 0.6249);
    assert_eq!(body["crisis"], Json::Null);
    assert_eq!(
        fake.assessed.borrow().as_slice(),
        [("a great day".to_owned(), "mood_log".to_owned())]
    );
    // A blank note is stored but not analysed.
    let blank = create(&fake, &json!({"mood_score": 8, "note": "   "}));
    assert_eq!(blank["note_sentiment"], Json::Null);
    assert_eq!(fake.assessed.borrow().len(), 1);
}

#[test]
fn a_triggered_assessment_flags_the_log_and_shows_resources() {
    let fake = fake_host("UTC", false);
    *fake.crisis.borrow_mut() = Ok(CrisisOutcome {
        severity: "imminent",
        triggered: true,
        about_someone_else: false,
        resources: vec![lifeline()],
    });
    let body = create(&fake, &json!({"mood_score": 1, "note": "I can't go on"}));
    assert_eq!(body["crisis_flag_triggered"], true);
    assert_eq!(body["crisis"]["severity"], "imminent");
    assert_eq!(body["crisis"]["about_someone_else"], false);
    assert_eq!(body["crisis"]["resources"][0]["phone_number"], "988");
    assert_eq!(body["crisis"]["resources"][0]["available_24_7"], true);
}

#[test]
fn help_a_friend_shows_resources_without_flagging() {
    let fake = fake_host("UTC", false);
    *fake.crisis.borrow_mut() = Ok(CrisisOutcome {
        severity: "high",
        triggered: false,
        about_someone_else: true,
        resources: vec![lifeline()],
    });
    let body = create(
        &fake,
        &json!({"mood_score": 4, "note": "my friend talks about ending it"}),
    );
    assert_eq!(body["crisis_flag_triggered"], false);
    assert_eq!(body["crisis"]["about_someone_else"], true);
    assert_eq!(
        body["crisis"]["resources"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_failed_assessment_fails_safe() {
    let fake = fake_host("UTC", false);
    *fake.crisis.borrow_mut() = Err(CrisisUnavailable);
    let body = create(&fake, &json!({"mood_score": 3, "note": "bad day"}));
    assert_eq!(
        body["crisis"],
        json!({"status": "unavailable", "resources_url": "/api/v1/crisis/resources"})
    );
    assert_eq!(fake.rows(LOGS).len(), 1);
}

#[test]
fn invalid_bodies_write_nothing() {
    let fake = fake_host("UTC", false);
    let reply = fake.call(
        "POST",
        "/logs",
        "",
        &json!({"mood_score": 0, "location_type": "space", "extra": 1,
                "logged_at": "2026-11-25T17:40:00Z"}),
    );
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let mut fields = error_fields(&reply);
    fields.sort();
    assert_eq!(
        fields,
        ["extra", "location_type", "logged_at", "mood_score"]
    );
    assert!(fake.batches.borrow().is_empty());
    assert!(fake.assessed.borrow().is_empty());
    let not_json = mindflow_component_kit::answer(
        handle(
            &fake,
            &Request {
                method: "POST",
                path: "/logs",
                query: "",
                body: b"{not json",
            },
        ),
        &WORDING,
    );
    assert_eq!(not_json.status, 422);
    assert_eq!(error_fields(&not_json), ["body"]);
}

#[test]
fn storage_failures_become_problems() {
    let fake = fake_host("UTC", false);
    *fake.fail_batch.borrow_mut() = Some(StorageError::Unavailable);
    let reply = fake.call("POST", "/logs", "", &json!({"mood_score": 5}));
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    *fake.fail_batch.borrow_mut() = Some(StorageError::Invalid {
        field: "factor_type".into(),
        message: "at most 30 characters".into(),
    });
    let reply = fake.call("POST", "/logs", "", &json!({"mood_score": 5}));
    assert_eq!(reply.status, 422);
    assert_eq!(error_fields(&reply), ["factor_type"]);
    // Storage names the write; the client hears the field it sent.
    *fake.fail_batch.borrow_mut() = Some(StorageError::Invalid {
        field: "writes[2].factor_value".into(),
        message: "at most 50 characters".into(),
    });
    let reply = fake.call(
        "POST",
        "/logs",
        "",
        &json!({"mood_score": 5, "factors": [{"factor_type": "a"}, {"factor_type": "b"}]}),
    );
    assert_eq!(error_fields(&reply), ["factors[1].factor_value"]);
    *fake.fail_batch.borrow_mut() = Some(StorageError::Invalid {
        field: "writes[0].note".into(),
        message: "must not contain NUL characters".into(),
    });
    let reply = fake.call("POST", "/logs", "", &json!({"mood_score": 5}));
    assert_eq!(error_fields(&reply), ["note"]);
    *fake.fail_batch.borrow_mut() = Some(StorageError::NotGranted("mood_logs".into()));
    assert_eq!(
        fake.call("POST", "/logs", "", &json!({"mood_score": 5}))
            .status,
        500
    );
}

#[test]
fn listing_pages_newest_first_without_gaps_or_duplicates() {
    let mut fake = fake_host("UTC", false);
    let start = parse_instant("2026-11-01T00:00:00Z").expect("start");
    for i in 0..45 {
        fake.now = start + Duration::hours(i);
        create(
            &fake,
            &json!({"mood_score": i % 10 + 1, "factors": [{"factor_type": "sleep"}]}),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = cursor
            .as_ref()
            .map_or("limit=20".to_owned(), |c| format!("limit=20&cursor={c}"));
        let reply = fake.call("GET", "/logs", &query, &Json::Null);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json_body();
        let items = body["items"].as_array().expect("items").clone();
        assert!(
            items
                .iter()
                .all(|i| i["factors"].as_array().map(Vec::len) == Some(1))
        );
        seen.extend(
            items
                .iter()
                .map(|i| i["logged_at"].as_str().unwrap_or_default().to_owned()),
        );
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 45);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first, no duplicates");

    let reply = fake.call("GET", "/logs", "", &Json::Null);
    assert_eq!(
        reply.json_body()["items"].as_array().map(Vec::len),
        Some(20)
    );
    let reply = fake.call(
        "GET",
        "/logs",
        "from=2026-11-01T10:00:00Z&to=2026-11-01T12:00:00Z",
        &Json::Null,
    );
    assert_eq!(reply.json_body()["items"].as_array().map(Vec::len), Some(2));
    let reply = fake.call("GET", "/logs", "limit=101&from=x", &Json::Null);
    assert_eq!(reply.status, 422);
    let mut fields = error_fields(&reply);
    fields.sort();
    assert_eq!(fields, ["from", "limit"]);
    let reply = fake.call("GET", "/logs", "cursor=garbage", &Json::Null);
    assert_eq!(reply.status, 422);
    assert_eq!(error_fields(&reply), ["cursor"]);
}

#[test]
fn reading_a_log_needs_a_well_formed_id_of_ones_own() {
    let fake = fake_host("UTC", false);
    let body = create(&fake, &json!({"mood_score": 5}));
    let id = body["id"].as_str().expect("id").to_owned();
    let reply = fake.call("GET", &format!("/logs/{id}"), "", &Json::Null);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json_body()["id"], id.as_str());
    let upper = fake.call(
        "GET",
        &format!("/logs/{}", id.to_uppercase()),
        "",
        &Json::Null,
    );
    assert_eq!(upper.status, 200);
    let queries = fake.queries.get();
    for bad in ["not-a-uuid", "1", "00000000000040008000000000000001"] {
        let reply = fake.call("GET", &format!("/logs/{bad}"), "", &Json::Null);
        assert_eq!(reply.status, 404, "{bad}");
        assert_eq!(reply.json_body()["type"], "urn:mindflow:problem:not-found");
    }
    assert_eq!(
        fake.queries.get(),
        queries,
        "malformed ids never reach storage"
    );
    let missing = fake.call(
        "GET",
        "/logs/00000000-0000-4000-8000-0000000000ff",
        "",
        &Json::Null,
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn patch_recomputes_what_depends_on_a_changed_field() {
    let fake = fake_host("Europe/Dublin", false);
    let body = create(
        &fake,
        &json!({"mood_score": 5, "note": "a great day", "energy_level": 3,
                "factors": [{"factor_type": "sleep"}, {"factor_type": "work"}]}),
    );
    let id = body["id"].as_str().expect("id").to_owned();
    let path = format!("/logs/{id}");
    assert_eq!(fake.assessed.borrow().len(), 1);

    // The same note again: no new assessment; energy cleared; factors untouched.
    let reply = fake.call(
        "PATCH",
        &path,
        "",
        &json!({"note": "a great day", "energy_level": null}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let patched = reply.json_body();
    assert_eq!(patched["energy_level"], Json::Null);
    assert_eq!(patched["factors"].as_array().map(Vec::len), Some(2));
    assert_eq!(fake.assessed.borrow().len(), 1);

    // A new note: new sentiment, re-assessed, flagged when it triggers.
    *fake.crisis.borrow_mut() = Ok(CrisisOutcome {
        severity: "high",
        triggered: true,
        about_someone_else: false,
        resources: vec![lifeline()],
    });
    let patched = fake
        .call(
            "PATCH",
            &path,
            "",
            &json!({"note": "everything is pointless"}),
        )
        .json_body();
    assert_eq!(patched["note_sentiment"], -0.3);
    assert_eq!(patched["crisis_flag_triggered"], true);
    assert_eq!(patched["crisis"]["severity"], "high");
    // A calmer note later does not clear the flag.
    *fake.crisis.borrow_mut() = Ok(calm());
    let patched = fake
        .call("PATCH", &path, "", &json!({"note": "better now"}))
        .json_body();
    assert_eq!(patched["crisis_flag_triggered"], true);
    assert_eq!(patched["crisis"], Json::Null);

    // A new logged_at: Sunday 2026-11-22 23:30 in Dublin (GMT) is night, weekday 7.
    let patched = fake
        .call(
            "PATCH",
            &path,
            "",
            &json!({"logged_at": "2026-11-22T23:30:00Z"}),
        )
        .json_body();
    assert_eq!(patched["time_of_day"], "night");
    assert_eq!(patched["day_of_week"], 7);

    // Replacing the factors: one batch of deletes and inserts, no log update.
    let before = fake.batches.borrow().len();
    let patched = fake
        .call(
            "PATCH",
            &path,
            "",
            &json!({"factors": [{"factor_type": "weather", "impact_score": -1}]}),
        )
        .json_body();
    let factors = patched["factors"].as_array().expect("factors").clone();
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0]["factor_type"], "weather");
    let batches = fake.batches.borrow();
    assert_eq!(batches.len(), before + 1);
    let kinds: Vec<&str> = batches[before]
        .iter()
        .map(|w| match w {
            Write::Insert(..) => "insert",
            Write::Update(..) => "update",
            Write::Delete(..) => "delete",
        })
        .collect();
    assert_eq!(kinds, ["delete", "delete", "insert"]);
    drop(batches);
    assert_eq!(fake.rows(FACTORS).len(), 1);

    // An empty patch writes nothing; a bad one names its field.
    let before = fake.batches.borrow().len();
    assert_eq!(fake.call("PATCH", &path, "", &json!({})).status, 200);
    assert_eq!(fake.batches.borrow().len(), before);
    let reply = fake.call("PATCH", &path, "", &json!({"anxiety_level": 12}));
    assert_eq!(reply.status, 422);
    assert_eq!(error_fields(&reply), ["anxiety_level"]);
    let reply = fake.call(
        "PATCH",
        "/logs/00000000-0000-4000-8000-0000000000ff",
        "",
        &json!({"mood_score": 3}),
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn delete_removes_the_log_and_its_factors() {
    let fake = fake_host("UTC", false);
    let body = create(
        &fake,
        &json!({"mood_score": 5, "factors": [{"factor_type": "sleep"}]}),
    );
    let path = format!("/logs/{}", body["id"].as_str().expect("id"));
    let reply = fake.call("DELETE", &path, "", &Json::Null);
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    assert!(fake.rows(FACTORS).is_empty());
    assert_eq!(fake.call("GET", &path, "", &Json::Null).status, 404);
    assert_eq!(fake.call("DELETE", &path, "", &Json::Null).status, 404);
    assert_eq!(
        fake.call("DELETE", "/logs/nope", "", &Json::Null).status,
        404
    );
}

fn agg(group: Option<&str>, values: &[Option<f64>]) -> AggregateRow {
    AggregateRow {
        group: group.map(str::to_owned),
        values: values.to_vec(),
    }
}

#[test]
fn stats_reports_every_weekday_and_part_of_the_day() {
    let fake = fake_host("Europe/Dublin", false);
    // mood, energy, anxiety × count, mean, min, max, stddev.
    let full = [
        Some(4.0),
        Some(6.5),
        Some(4.0),
        Some(9.0),
        Some(2.38),
        Some(2.0),
        Some(5.0),
        Some(4.0),
        Some(6.0),
        Some(1.41),
        Some(0.0),
        None,
        None,
        None,
        None,
    ];
    fake.aggregates
        .borrow_mut()
        .insert(Grouping::None, vec![agg(None, &full)]);
    fake.aggregates
        .borrow_mut()
        .insert(Grouping::Weekday, vec![agg(Some("3"), &full)]);
    fake.aggregates.borrow_mut().insert(
        Grouping::FieldValue,
        vec![agg(Some("evening"), &full), agg(None, &full)],
    );
    let reply = fake.call("GET", "/stats", "from=2026-11-01T00:00:00Z", &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json_body();
    assert_eq!(body["count"], 4);
    assert_eq!(body["timezone"], "Europe/Dublin");
    assert_eq!(body["from"], "2026-11-01T00:00:00.000000Z");
    assert_eq!(body["to"], Json::Null);
    assert_eq!(
        body["mood_score"],
        json!({"count": 4, "mean": 6.5, "min": 4.0, "max": 9.0, "stddev": 2.38})
    );
    assert_eq!(
        body["anxiety_level"],
        json!({"count": 0, "mean": null, "min": null, "max": null, "stddev": null})
    );
    let weekdays = body["by_weekday"].as_array().expect("weekdays");
    assert_eq!(weekdays.len(), 7);
    assert_eq!(weekdays[2]["day_of_week"], 3);
    assert_eq!(weekdays[2]["count"], 4);
    assert_eq!(weekdays[0]["count"], 0);
    assert_eq!(weekdays[0]["mood_score"]["mean"], Json::Null);
    let parts = body["by_time_of_day"].as_array().expect("parts");
    let names: Vec<&str> = parts
        .iter()
        .filter_map(|p| p["time_of_day"].as_str())
        .collect();
    assert_eq!(names, ["morning", "afternoon", "evening", "night"]);
    assert_eq!(parts[2]["count"], 4);
    let requests = fake.aggregate_requests.borrow();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].measures.len(), 15);
    assert_eq!(requests[1].group_field.as_deref(), Some("logged_at"));
    assert_eq!(requests[2].group_field.as_deref(), Some("time_of_day"));
    assert_eq!(requests[0].filters.len(), 1);
}

#[test]
fn trends_fit_a_line_and_smooth_the_series() {
    let fake = fake_host("UTC", false);
    // Days 1..=10 of November, mood rising 0.3 a day, day 5 missing.
    let rows: Vec<AggregateRow> = (1..=10)
        .filter(|d| *d != 5)
        .map(|d| {
            let mood = 3.0 + 0.3 * f64::from(d);
            agg(
                Some(&format!("2026-11-{d:02}")),
                &[Some(2.0), Some(mood), Some(5.0), None],
            )
        })
        .rev()
        .collect();
    fake.aggregates.borrow_mut().insert(Grouping::Day, rows);
    let reply = fake.call(
        "GET",
        "/trends",
        "from=2026-11-01T00:00:00Z&to=2026-11-11T00:00:00Z",
        &Json::Null,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json_body();
    let series = body["series"].as_array().expect("series");
    assert_eq!(series.len(), 9);
    assert_eq!(series[0]["period"], "2026-11-01");
    assert_eq!(series[0]["count"], 2);
    assert_eq!(series[0]["anxiety_level"], Json::Null);
    // Day 10's 7-day window is days 4..=10 without day 5: moods 4.2, 4.8..6.0.
    let expected = [4, 6, 7, 8, 9, 10]
        .iter()
        .map(|d| 3.0 + 0.3 * f64::from(*d))
        .sum::<f64>()
        / 6.0;
    let last = series[8]["moving_average"].as_f64().expect("ma");
    assert!((last - expected).abs() < 1e-9, "{last} vs {expected}");
    let trend = &body["trend"];
    assert_eq!(trend["direction"], "improving");
    assert!((trend["slope_per_period"].as_f64().expect("slope") - 0.3).abs() < 1e-9);
    assert!((trend["change_over_range"].as_f64().expect("change") - 2.7).abs() < 1e-9);
    assert_eq!(
        body["moving_average_window"],
        json!({"size": 7, "unit": "day"})
    );

    // Weekly keys parse; two points are not enough for a direction.
    fake.aggregates.borrow_mut().insert(
        Grouping::IsoWeek,
        vec![
            agg(Some("2026-W47"), &[Some(3.0), Some(5.0), None, None]),
            agg(Some("2026-W48"), &[Some(3.0), Some(3.0), None, None]),
        ],
    );
    let body = fake
        .call("GET", "/trends", "period=week", &Json::Null)
        .json_body();
    assert_eq!(body["series"][0]["start_date"], "2026-11-16");
    assert_eq!(body["series"][1]["moving_average"], 4.0);
    assert_eq!(body["trend"]["direction"], Json::Null);
    assert_eq!(body["trend"]["insufficient_data"], true);
    // The default weekly range is 26 weeks back from now.
    let requests = fake.aggregate_requests.borrow();
    let last = requests.last().expect("request");
    assert_eq!(last.grouping, Grouping::IsoWeek);
    assert_eq!(
        last.filters[0].value,
        Value::Timestamp("2026-05-27T17:30:00.000000Z".into())
    );
    drop(requests);

    for (query, field) in [
        ("period=month", "period"),
        ("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("from=2027-01-01T00:00:00Z", "from"),
    ] {
        let reply = fake.call("GET", "/trends", query, &Json::Null);
        assert_eq!(reply.status, 422, "{query}");
        assert_eq!(error_fields(&reply), [field], "{query}");
    }
}

#[test]
fn a_flat_or_falling_series_has_its_direction() {
    let fake = fake_host("UTC", false);
    let series = |step: f64| -> Vec<AggregateRow> {
        (1..=8)
            .map(|d| {
                agg(
                    Some(&format!("2026-11-{d:02}")),
                    &[Some(1.0), Some(6.0 + step * f64::from(d)), None, None],
                )
            })
            .collect()
    };
    for (step, direction) in [(0.05, "stable"), (-0.2, "declining"), (0.0, "stable")] {
        fake.aggregates
            .borrow_mut()
            .insert(Grouping::Day, series(step));
        let body = fake
            .call(
                "GET",
                "/trends",
                "from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z",
                &Json::Null,
            )
            .json_body();
        assert_eq!(body["trend"]["direction"], direction, "step {step}");
    }
}

#[test]
fn factors_are_premium_only() {
    let fake = fake_host("UTC", false);
    let reply = fake.call("GET", "/factors", "", &Json::Null);
    assert_eq!(reply.status, 403);
    let body = reply.json_body();
    assert_eq!(body["type"], "urn:mindflow:problem:premium-required");
    assert_eq!(body["required_tier"], "premium");
}

#[test]
fn factor_analysis_compares_logs_with_and_without_each_factor() {
    let mut fake = fake_host("UTC", true);
    let start = parse_instant("2026-11-01T00:00:00Z").expect("start");
    for i in 0..12_i64 {
        fake.now = start + Duration::hours(i);
        let exercised = i % 2 == 0;
        let mood = if exercised { 7 + i % 3 } else { 3 + i % 3 };
        let mut factors = vec![json!({"factor_type": "weather"})];
        if exercised {
            factors.push(json!({"factor_type": "exercise", "impact_score": i % 5}));
        }
        create(&fake, &json!({"mood_score": mood, "factors": factors}));
    }
    for _ in 0..3 {
        create(
            &fake,
            &json!({"mood_score": 5, "factors": [{"factor_type": "alcohol"}]}),
        );
    }
    let reply = fake.call("GET", "/factors", "", &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json_body();
    assert_eq!(body["analyzed_logs"], 15);
    assert_eq!(body["truncated"], false);
    assert_eq!(body["min_group_size"], 5);
    let factors = body["factors"].as_array().expect("factors");
    let exercise = &factors[0];
    assert_eq!(exercise["factor_type"], "exercise");
    assert_eq!(
        (exercise["n_with"].as_u64(), exercise["n_without"].as_u64()),
        (Some(6), Some(9))
    );
    assert_eq!(exercise["insufficient_data"], false);
    assert!(exercise["mean_difference"].as_f64().expect("difference") > 2.0);
    assert_eq!(exercise["effect_size"], "large");
    assert!(exercise["spearman_presence"].as_f64().expect("rho") > 0.5);
    assert_eq!(exercise["impact"]["n"], 6);
    let alcohol = factors
        .iter()
        .find(|f| f["factor_type"] == "alcohol")
        .expect("alcohol");
    assert_eq!(alcohol["insufficient_data"], true);
    assert!(alcohol.get("cohens_d").is_none());
    // weather: 12 with, 3 without; the "without" logs all have mood 5: still reported.
    let weather = factors
        .iter()
        .find(|f| f["factor_type"] == "weather")
        .expect("weather");
    assert_eq!(weather["insufficient_data"], true);
    assert_eq!(weather["n_without"], 3);
}

#[test]
fn unknown_paths_and_methods_are_problems() {
    let fake = fake_host("UTC", false);
    for path in ["/", "", "/log", "/logs/a/b", "/stats/x", "/logs//"] {
        let reply = fake.call("GET", path, "", &Json::Null);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    for (method, path, allow) in [
        ("PUT", "/logs", "GET, POST"),
        ("DELETE", "/logs", "GET, POST"),
        (
            "POST",
            "/logs/00000000-0000-4000-8000-000000000001",
            "GET, PATCH, DELETE",
        ),
        ("POST", "/stats", "GET"),
        ("DELETE", "/trends", "GET"),
        ("PATCH", "/factors", "GET"),
    ] {
        let reply = fake.call(method, path, "", &Json::Null);
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow));
        assert_eq!(
            reply.json_body()["type"],
            "urn:mindflow:problem:method-not-allowed"
        );
    }
    // A trailing slash is the same resource.
    assert_eq!(fake.call("GET", "/logs/", "", &Json::Null).status, 200);
    let mut anonymous = fake_host("UTC", false);
    anonymous.user = None;
    assert_eq!(
        anonymous
            .call("POST", "/logs", "", &json!({"mood_score": 5}))
            .status,
        401
    );
}

#[test]
fn listing_a_page_costs_one_storage_call_whatever_its_size() {
    let fake = fake_host("UTC", false);
    for i in 0..120 {
        create(
            &fake,
            &json!({"mood_score": 1 + i % 10, "factors": [
                {"factor_type": "sleep", "impact_score": -2},
                {"factor_type": "exercise", "impact_score": 3},
                {"factor_type": "social"},
            ]}),
        );
    }
    for limit in [1, 20, 100] {
        let before = fake.storage_calls.get();
        let reply = fake.call("GET", "/logs", &format!("limit={limit}"), &Json::Null);
        assert_eq!(reply.status, 200);
        let items = reply.json_body()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(items.len(), limit);
        assert!(
            items
                .iter()
                .all(|item| item["factors"].as_array().map(Vec::len) == Some(3)),
            "every log of the page carries its own three factors"
        );
        assert_eq!(
            fake.storage_calls.get() - before,
            1,
            "a page of {limit} logs: the logs and all their factors in one call"
        );
    }
    let before = fake.storage_calls.get();
    let any = fake.rows(LOGS)[0].clone();
    let id = text_of(&any, "id").expect("id");
    let reply = fake.call("GET", &format!("/logs/{id}"), "", &Json::Null);
    assert_eq!(reply.status, 200);
    assert_eq!(
        fake.storage_calls.get() - before,
        2,
        "a log and its factors"
    );
}

#[test]
fn the_factor_analysis_reads_factors_a_thousand_logs_per_call() {
    let fake = fake_host("UTC", true);
    for i in 0..250 {
        create(
            &fake,
            &json!({"mood_score": 1 + i % 10, "factors": [{"factor_type": "sleep"}]}),
        );
    }
    let before = fake.storage_calls.get();
    let reply = fake.call("GET", "/factors", "", &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.json_body());
    assert_eq!(reply.json_body()["analyzed_logs"], 250);
    // Three pages of logs, one call for all their factors.
    assert_eq!(fake.storage_calls.get() - before, 4);
}

#[test]
fn storage_errors_map_to_statuses() {
    let cases = [
        (StorageError::NotFound, 404),
        (
            StorageError::Invalid {
                field: "note".into(),
                message: "too long".into(),
            },
            422,
        ),
        (StorageError::Conflict("x".into()), 409),
        (StorageError::Unavailable, 503),
        (StorageError::NotGranted("mood_logs".into()), 500),
    ];
    for (error, status) in cases {
        assert_eq!(Problem::from(error).status, status);
    }
    let reply = Problem::from(StorageError::Invalid {
        field: "note".into(),
        message: "too long".into(),
    })
    .into_reply();
    let body = reply.json_body();
    assert_eq!(body["errors"][0]["field"], "note");
    assert_eq!(body["type"], "urn:mindflow:problem:validation");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let unavailable = Problem::from(StorageError::Unavailable).into_reply();
    assert_eq!(unavailable.header("retry-after"), Some("1"));
    // In the mood service's words.
    let worded = |error| Problem::from(error).worded(&WORDING).detail;
    assert_eq!(worded(StorageError::NotFound), "no such mood log");
    assert_eq!(
        worded(StorageError::NotGranted("mood_logs".into())),
        "the mood service failed to handle the request"
    );
}

#[test]
fn premium_problem_names_the_tier() {
    let fake = fake_host("UTC", false);
    let reply = fake.call("GET", "/factors", "", &Json::Null);
    let body = reply.json_body();
    assert_eq!(reply.status, 403);
    assert_eq!(body["type"], "urn:mindflow:problem:premium-required");
    assert_eq!(body["required_tier"], "premium");
    assert_eq!(body["title"], "Forbidden");
    assert_eq!(body["status"], 403);
    assert_eq!(
        body["detail"],
        "factor correlations are part of the premium tier"
    );
}

#[test]
fn a_note_is_stored_only_sealed_and_read_back_opened() {
    let fake = fake_host("UTC", false);
    let body = create(
        &fake,
        &json!({"mood_score": 4, "note": "rough night, slept badly"}),
    );
    assert_eq!(body["note"], "rough night, slept badly");
    assert!(body.get("note_encrypted").is_none() && body.get("note_iv").is_none());
    let stored = fake.rows(LOGS)[0].clone();
    assert!(column(&stored, "note").is_none(), "{stored:?}");
    assert!(matches!(column(&stored, "note_encrypted"), Some(Value::Bytes(b)) if !b.is_empty()));
    let id = body["id"].as_str().expect("id").to_owned();
    let read = fake.call("GET", &format!("/logs/{id}"), "", &Json::Null);
    assert_eq!(read.json_body()["note"], "rough night, slept badly");
    let listed = fake.call("GET", "/logs", "", &Json::Null).json_body();
    assert_eq!(listed["items"][0]["note"], "rough night, slept badly");
    // A new note replaces the sealed one; clearing it clears both columns.
    let patched = fake.call(
        "PATCH",
        &format!("/logs/{id}"),
        "",
        &json!({"note": "better now"}),
    );
    assert_eq!(patched.json_body()["note"], "better now");
    let cleared = fake.call("PATCH", &format!("/logs/{id}"), "", &json!({"note": null}));
    assert_eq!(cleared.json_body()["note"], Json::Null);
    let stored = fake.rows(LOGS)[0].clone();
    assert!(matches!(
        column(&stored, "note_encrypted"),
        None | Some(Value::Null)
    ));
}

#[test]
fn a_note_stored_in_plaintext_by_an_earlier_version_still_reads() {
    let fake = fake_host("UTC", false);
    create(&fake, &json!({"mood_score": 6}));
    let mut legacy = fake.rows(LOGS)[0].clone();
    legacy.push(("note".into(), Value::Text("from before sealing".into())));
    assert_eq!(
        note::of(&fake, &legacy).expect("note").as_deref(),
        Some("from before sealing")
    );
    let shown = note::opened(&fake, &legacy).expect("opened");
    assert_eq!(
        text_of(&shown, "note").as_deref(),
        Some("from before sealing")
    );
}

/// The list writes its page straight to JSON (no `serde_json::Map` per row); its text is
/// what a `Map` would write (members in name order, the same numbers and escapes), and each
/// item is the log as `GET /logs/{id}` shows it.
#[test]
fn a_listed_page_is_written_as_the_logs_read_one_by_one() {
    let fake = fake_host("UTC", false);
    for i in 0..3 {
        create(
            &fake,
            &json!({"mood_score": 4 + i, "energy_level": 7, "note": format!("a \"quiet\" day ✓ {i}"),
                    "factors": [{"factor_type": "sleep", "impact_score": -2},
                                {"factor_type": "exercise", "factor_value": "run"}]}),
        );
    }
    create(&fake, &json!({"mood_score": 9}));
    let reply = fake.call("GET", "/logs", "limit=3", &Json::Null);
    assert_eq!(reply.status, 200);
    let body = reply.json_body();
    assert_eq!(
        reply.body,
        serde_json::to_string(&body).expect("json"),
        "members in a Map's order"
    );
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    assert!(body["next_cursor"].is_string());
    for item in items {
        let id = item["id"].as_str().expect("id");
        let one = fake.call("GET", &format!("/logs/{id}"), "", &Json::Null);
        assert_eq!(item, one.json_body());
    }
}
