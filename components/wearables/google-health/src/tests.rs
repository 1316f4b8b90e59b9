//! Native tests over hand-written fixtures in the wire shape documented in the crate doc.

use super::*;
use mindflow_adapter_kit::transport::{Canned, Response};
use serde_json::json;

fn day(text: &str) -> i64 {
    time::parse_date(text).unwrap()
}

/// The first-page URL of `kind` for the window `start..=end`.
fn url(kind: DataType, start: &str, end: &str, token: Option<&str>) -> String {
    page_url(kind, day(start) - 1, day(end) + 2, token)
}

/// Every data type answering an empty list for the window, unless `except`.
fn empty_except(mut canned: Canned, start: &str, end: &str, except: &[&str]) -> Canned {
    for kind in DATA_TYPES {
        if !except.contains(&kind.path) {
            canned = canned.with(&url(kind, start, end, None), 200, &json!({}));
        }
    }
    canned
}

fn interval(start: &str, end: &str, offset: &str) -> Value {
    json!({"startTime": start, "startUtcOffset": offset, "endTime": end, "endUtcOffset": offset})
}

fn sample_time(at: &str, offset: &str) -> Value {
    json!({"physicalTime": at, "utcOffset": offset})
}

const PACIFIC: &str = "-28800s";

/// A user in UTC-8 on 2026-11-03: every data type, steps over two pages.
fn pacific_day() -> Canned {
    let (start, end) = ("2026-11-03", "2026-11-03");
    let steps_page_1 = json!({
        "dataPoints": [
            // 2026-11-02 23:00 local: the day before, dropped.
            {"name": "users/4XYZ/dataTypes/steps/dataPoints/s0",
             "steps": {"interval": interval("2026-11-03T07:00:00Z", "2026-11-03T08:00:00Z", PACIFIC), "count": "999"}},
            {"name": "users/4XYZ/dataTypes/steps/dataPoints/s1",
             "dataSource": {"platform": "FITBIT", "device": {"formFactor": "WATCH"}},
             "steps": {"interval": interval("2026-11-03T16:00:00Z", "2026-11-03T17:00:00Z", PACIFIC), "count": "500"}}
        ],
        "nextPageToken": "CiQKIgoGCAEQABgA"
    });
    let steps_page_2 = json!({
        "dataPoints": [
            // 20:00 local is 04:00 UTC the next day: still the user's 3 November.
            {"name": "users/4XYZ/dataTypes/steps/dataPoints/s2",
             "steps": {"interval": interval("2026-11-04T04:00:00Z", "2026-11-04T05:00:00Z", PACIFIC), "count": 700}}
        ],
        "nextPageToken": ""
    });
    let sleep = json!({"dataPoints": [
        {"name": "users/4XYZ/dataTypes/sleep/dataPoints/night-1103",
         "sleep": {
            "interval": interval("2026-11-03T07:10:00Z", "2026-11-03T14:40:00Z", PACIFIC),
            "type": "STAGES",
            "summary": {"minutesAsleep": "410", "minutesAwake": "40", "minutesInSleepPeriod": "450",
                        "stagesSummary": [
                            {"type": "AWAKE", "minutes": "40", "count": "12"},
                            {"type": "LIGHT", "minutes": "245", "count": "20"},
                            {"type": "DEEP", "minutes": "70", "count": "4"},
                            {"type": "REM", "minutes": "95", "count": "5"}]}}}
    ]});
    let hrv = json!({"dataPoints": [
        // During the night (UTC 10:00 = 02:00 local): the night's day.
        {"name": "h1", "heartRateVariability": {"sampleTime": sample_time("2026-11-03T10:00:00Z", PACIFIC),
            "rootMeanSquareOfSuccessiveDifferencesMilliseconds": 40.0}},
        {"name": "h2", "heartRateVariability": {"sampleTime": sample_time("2026-11-03T12:00:00Z", PACIFIC),
            "rootMeanSquareOfSuccessiveDifferencesMilliseconds": "44.5"}},
        // Malformed: skipped.
        {"name": "h3", "heartRateVariability": {"sampleTime": {"physicalTime": "yesterday"},
            "rootMeanSquareOfSuccessiveDifferencesMilliseconds": 99.0}}
    ]});
    let active = json!({"dataPoints": [
        {"name": "a1", "activeMinutes": {"interval": interval("2026-11-03T18:00:00Z", "2026-11-03T19:00:00Z", PACIFIC),
            "activeMinutesByActivityLevel": [
                {"activityLevel": "LIGHT", "activeMinutes": "30"},
                {"activityLevel": "MODERATE", "activeMinutes": "20"},
                {"activityLevel": "VIGOROUS", "activeMinutes": "15"}]}}
    ]});
    let calories = json!({"dataPoints": [
        {"name": "c1", "totalCalories": {"interval": interval("2026-11-03T08:00:00Z", "2026-11-03T20:00:00Z", PACIFIC), "kcal": 1000.4}},
        {"name": "c2", "totalCalories": {"interval": interval("2026-11-03T20:00:00Z", "2026-11-04T08:00:00Z", PACIFIC), "kcal": 1200.3}}
    ]});
    let heart = json!({"dataPoints": [
        {"name": "r1", "heartRate": {"sampleTime": sample_time("2026-11-03T17:00:00Z", PACIFIC), "beatsPerMinute": "60"}},
        {"name": "r2", "heartRate": {"sampleTime": sample_time("2026-11-03T18:00:00Z", PACIFIC), "beatsPerMinute": 61}},
        {"name": "r3", "heartRate": {"sampleTime": sample_time("2026-11-03T19:00:00Z", PACIFIC), "beatsPerMinute": "64"}}
    ]});
    Canned::default()
        .with(&url(STEPS, start, end, None), 200, &steps_page_1)
        .with(
            &url(STEPS, start, end, Some("CiQKIgoGCAEQABgA")),
            200,
            &steps_page_2,
        )
        .with(&url(SLEEP, start, end, None), 200, &sleep)
        .with(&url(HRV, start, end, None), 200, &hrv)
        .with(&url(ACTIVE_MINUTES, start, end, None), 200, &active)
        .with(&url(TOTAL_CALORIES, start, end, None), 200, &calories)
        .with(&url(HEART_RATE, start, end, None), 200, &heart)
}

#[test]
fn a_day_is_the_users_civil_day_with_every_metric() {
    let mut canned = pacific_day();
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-03").unwrap();
    assert_eq!(batch.days.len(), 1, "{batch:?}");
    let d = &batch.days[0];
    assert_eq!(d.metric_date, "2026-11-03");
    assert_eq!(d.steps, Some(1200));
    assert_eq!(d.active_minutes, Some(35));
    assert_eq!(d.calories_burned, Some(2201));
    assert_eq!(d.avg_heart_rate, Some(62));
    assert_eq!(d.hrv_avg, Some(42.3));
    assert_eq!(d.sleep_duration_minutes, Some(410));
    assert_eq!(d.deep_sleep_minutes, Some(70));
    assert_eq!(d.rem_sleep_minutes, Some(95));
    assert_eq!(d.sleep_quality_score, None);
    assert_eq!(d.stress_score, None);
    assert_eq!(
        batch.sleep,
        vec![Sleep {
            external_id: "users/4XYZ/dataTypes/sleep/dataPoints/night-1103".into(),
            start: "2026-11-02T23:10:00-08:00".into(),
            end: "2026-11-03T06:40:00-08:00".into(),
            metric_date: "2026-11-03".into(),
            asleep_minutes: 410,
            deep_minutes: Some(70),
            rem_minutes: Some(95),
            awake_minutes: Some(40),
        }]
    );
    // Seven requests: six data types, steps on two pages.
    assert_eq!(canned.requested.len(), 7);
}

#[test]
fn the_filter_is_an_encoded_aip160_interval_widened_a_day_each_side() {
    assert_eq!(
        url(STEPS, "2026-11-02", "2026-11-07", None),
        "https://health.googleapis.com/v4/users/me/dataTypes/steps/dataPoints?pageSize=1000&filter=\
         steps.interval.start_time%20%3E%3D%20%222026-11-01T00%3A00%3A00Z%22%20AND%20\
         steps.interval.start_time%20%3C%20%222026-11-09T00%3A00%3A00Z%22"
    );
    assert!(url(SLEEP, "2026-11-02", "2026-11-02", Some("a/b")).ends_with("&pageToken=a%2Fb"));
    assert!(url(HRV, "2026-11-02", "2026-11-02", None).contains(
        "/dataTypes/heart-rate-variability/dataPoints?pageSize=1000&filter=heart_rate_variability.sample_time.physical_time"
    ));
}

#[test]
fn civil_times_when_given_decide_the_day() {
    let (start, end) = ("2026-11-03", "2026-11-04");
    let steps = json!({"dataPoints": [
        {"name": "s", "steps": {"interval": {
            "startTime": "2026-11-03T23:30:00Z", "endTime": "2026-11-03T23:45:00Z",
            "civilStartTime": {"date": {"year": 2026, "month": 11, "day": 4}, "time": {"hours": 0, "minutes": 30}},
            "civilEndTime": {"date": {"year": 2026, "month": 11, "day": 4}, "time": {"hours": 0, "minutes": 45}}},
            "count": "42"}}
    ]});
    let mut canned = empty_except(Canned::default(), start, end, &["steps"]).with(
        &url(STEPS, start, end, None),
        200,
        &steps,
    );
    let batch = fetch(&mut canned, start, end).unwrap();
    assert_eq!(batch.days.len(), 1);
    assert_eq!(batch.days[0].metric_date, "2026-11-04");
    assert_eq!(batch.days[0].steps, Some(42));
}

#[test]
fn a_night_without_a_summary_is_read_from_its_stages_and_naps_add_up() {
    let (start, end) = ("2026-11-05", "2026-11-05");
    let sleep = json!({"dataPoints": [
        {"name": "night", "sleep": {"interval": interval("2026-11-04T22:00:00Z", "2026-11-05T06:00:00Z", "0s"),
            "type": "STAGES",
            "stages": [
                {"startTime": "2026-11-04T22:00:00Z", "endTime": "2026-11-04T22:30:00Z", "type": "AWAKE"},
                {"startTime": "2026-11-04T22:30:00Z", "endTime": "2026-11-05T01:30:00Z", "type": "LIGHT"},
                {"startTime": "2026-11-05T01:30:00Z", "endTime": "2026-11-05T03:00:00Z", "type": "DEEP"},
                {"startTime": "2026-11-05T03:00:00Z", "endTime": "2026-11-05T06:00:00Z", "type": "REM"}]}},
        {"name": "nap", "sleep": {"interval": interval("2026-11-05T13:00:00Z", "2026-11-05T13:40:00Z", "0s"),
            "type": "CLASSIC", "summary": {"minutesAsleep": 35, "minutesAwake": 5}}}
    ]});
    let mut canned = empty_except(Canned::default(), start, end, &["sleep"]).with(
        &url(SLEEP, start, end, None),
        200,
        &sleep,
    );
    let batch = fetch(&mut canned, start, end).unwrap();
    assert_eq!(batch.sleep.len(), 2);
    let night = &batch.sleep[0];
    assert_eq!(night.external_id, "night");
    assert_eq!(night.start, "2026-11-04T22:00:00Z");
    assert_eq!(night.asleep_minutes, 450);
    assert_eq!(
        (night.deep_minutes, night.rem_minutes, night.awake_minutes),
        (Some(90), Some(180), Some(30))
    );
    let nap = &batch.sleep[1];
    assert_eq!(
        (nap.asleep_minutes, nap.deep_minutes, nap.awake_minutes),
        (35, None, Some(5))
    );
    let d = &batch.days[0];
    assert_eq!(d.sleep_duration_minutes, Some(485));
    assert_eq!(d.deep_sleep_minutes, Some(90));
}

#[test]
fn provider_statuses_become_adapter_errors() {
    let (start, end) = ("2026-11-03", "2026-11-03");
    let first = url(SLEEP, start, end, None);
    let answer =
        |status| Canned::default().with(&first, status, &json!({"error": {"code": status}}));
    assert_eq!(
        fetch(&mut answer(401), start, end),
        Err(Error::Unauthorized)
    );
    assert!(matches!(
        fetch(&mut answer(500), start, end),
        Err(Error::Provider(_))
    ));
    let mut limited = Canned::default();
    limited.answers.push((
        first.clone(),
        Response {
            status: 429,
            headers: vec![("retry-after".into(), "30".into())],
            body: br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#.to_vec(),
        },
    ));
    assert_eq!(fetch(&mut limited, start, end), Err(Error::RateLimited(30)));
    let mut garbage = Canned::default();
    garbage.answers.push((
        first.clone(),
        Response {
            status: 200,
            headers: vec![],
            body: b"<html>".to_vec(),
        },
    ));
    assert!(matches!(
        fetch(&mut garbage, start, end),
        Err(Error::Provider(_))
    ));
    let mut wrong = Canned::default().with(&first, 200, &json!({"dataPoints": {"no": "array"}}));
    assert!(matches!(
        fetch(&mut wrong, start, end),
        Err(Error::Provider(_))
    ));
}

#[test]
fn a_page_token_that_repeats_is_an_error_not_a_loop() {
    let (start, end) = ("2026-11-03", "2026-11-03");
    let page = json!({"dataPoints": [], "nextPageToken": "same"});
    let mut canned = Canned::default()
        .with(&url(SLEEP, start, end, None), 200, &page)
        .with(&url(SLEEP, start, end, Some("same")), 200, &page);
    assert!(
        matches!(fetch(&mut canned, start, end), Err(Error::Provider(m)) if m.contains("repeated"))
    );
    assert_eq!(canned.requested.len(), 2);
}

#[test]
fn a_malformed_window_is_invalid_input() {
    let mut canned = Canned::default();
    assert!(matches!(
        fetch(&mut canned, "2026-11-3", "2026-11-04"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        fetch(&mut canned, "2026-11-05", "2026-11-04"),
        Err(Error::InvalidInput(_))
    ));
    assert!(canned.requested.is_empty());
}

#[test]
fn an_empty_account_yields_an_empty_batch() {
    let mut canned = empty_except(Canned::default(), "2026-11-01", "2026-11-30", &[]);
    assert_eq!(
        fetch(&mut canned, "2026-11-01", "2026-11-30"),
        Ok(Batch::default())
    );
    assert_eq!(canned.requested.len(), 6);
}

#[test]
fn verification_posts_are_ignored() {
    assert_eq!(
        read_notification(br#"{"type":"verification"}"#),
        Ok(Vec::new())
    );
}

#[test]
fn a_data_notification_asks_for_its_days_widened_by_one() {
    let body = json!({"data": {"healthUserId": "4XYZ", "dataType": "steps", "operation": "UPSERT",
        "intervals": [
            {"physicalTimeInterval": {"startTime": "2026-11-03T07:00:00Z", "endTime": "2026-11-03T09:00:00Z"}},
            {"physicalTimeInterval": {"startTime": "2026-11-04T23:00:00Z", "endTime": "2026-11-05T00:30:00Z"}}]}});
    assert_eq!(
        read_notification(body.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            "4XYZ".into(),
            "2026-11-02".into(),
            "2026-11-06".into()
        )])
    );
    let deleted = json!({"data": {"healthUserId": "4XYZ", "dataType": "sleep", "operation": "DELETE",
        "intervals": [{"physicalTimeInterval": {"startTime": "2026-11-03T07:00:00+01:00", "endTime": "2026-11-03T08:00:00+01:00"}}]}});
    assert_eq!(
        read_notification(deleted.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            "4XYZ".into(),
            "2026-11-02".into(),
            "2026-11-04".into()
        )])
    );
}

#[test]
fn a_long_notification_window_is_capped_at_the_backfill() {
    let body = json!({"data": {"healthUserId": "u", "dataType": "heart-rate",
        "intervals": [{"physicalTimeInterval": {"startTime": "2025-01-01T00:00:00Z", "endTime": "2026-11-03T00:00:00Z"}}]}});
    // The last UTC day plus one, and the 29 days before it.
    assert_eq!(
        read_notification(body.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            "u".into(),
            "2026-10-06".into(),
            "2026-11-04".into()
        )])
    );
}

#[test]
fn other_data_types_are_ignored_and_malformed_bodies_refused() {
    let weight = json!({"data": {"healthUserId": "u", "dataType": "weight",
        "intervals": [{"physicalTimeInterval": {"startTime": "2026-11-03T07:00:00Z", "endTime": "2026-11-03T07:00:01Z"}}]}});
    assert_eq!(
        read_notification(weight.to_string().as_bytes()),
        Ok(Vec::new())
    );
    let refused = |body: &[u8]| matches!(read_notification(body), Err(Error::InvalidInput(_)));
    assert!(refused(b"not json"));
    assert!(refused(br#"{"type":"something"}"#));
    assert!(refused(br#"{"data":{"dataType":"steps","intervals":[]}}"#));
    assert!(refused(
        br#"{"data":{"healthUserId":"u","dataType":"steps","intervals":[]}}"#
    ));
    assert!(refused(
        br#"{"data":{"healthUserId":"u","dataType":"steps","intervals":[{"physicalTimeInterval":{"startTime":"x"}}]}}"#
    ));
}

#[test]
fn the_declared_values_are_googles() {
    assert_eq!(ID, "google-health");
    assert!(SCOPES.iter().all(
        |s| s.starts_with("https://www.googleapis.com/auth/googlehealth.")
            && s.ends_with(".readonly")
    ));
    assert!(EXTRA_PARAMS.contains(&("access_type", "offline")));
    assert!(EXTRA_PARAMS.contains(&("prompt", "consent")));
    assert!(
        DATA_TYPES
            .iter()
            .all(|k| page_url(*k, 0, 1, None).starts_with(API_HOST))
    );
}

/// The conformance fixture the host replays on install round-trips natively too.
#[test]
fn the_conformance_fixture_round_trips() {
    assert_eq!(
        conformance::fixture().replay(fetch, identify, read_notification),
        Ok(())
    );
}
