//! Native tests over canned answers in Oura API v2's wire format (documents written by hand
//! after Oura's documented schemas: field names, units in seconds, `next_token` paging).

use super::*;
use mindflow_adapter_kit::model::Day;
use mindflow_adapter_kit::transport::{Canned, Response};
use serde_json::json;

fn url(collection: &str, start: &str, end: &str, next: Option<&str>) -> String {
    let mut url = format!(
        "https://api.ouraring.com/v2/usercollection/{collection}?start_date={start}&end_date={end}"
    );
    if let Some(token) = next {
        url.push_str("&next_token=");
        url.push_str(&encode_query_value(token));
    }
    url
}

fn page(data: Vec<Value>, next: Option<&str>) -> Value {
    json!({ "data": data, "next_token": next })
}

fn daily_sleep(day: &str, score: Option<i64>) -> Value {
    json!({
        "id": format!("ds-{day}"),
        "contributors": {
            "deep_sleep": 57, "efficiency": 98, "latency": 81, "rem_sleep": 95,
            "restfulness": 73, "timing": 75, "total_sleep": 94
        },
        "day": day,
        "score": score,
        "timestamp": format!("{day}T00:00:00+00:00")
    })
}

fn daily_activity(day: &str, steps: i64, high: i64, medium: i64, total_calories: i64) -> Value {
    json!({
        "id": format!("da-{day}"),
        "class_5_min": "0000000000111122223333222211110000",
        "score": 86,
        "active_calories": 512,
        "average_met_minutes": 1.531_25,
        "contributors": {
            "meet_daily_targets": 60, "move_every_hour": 95, "recovery_time": 100,
            "stay_active": 84, "training_frequency": 96, "training_volume": 98
        },
        "equivalent_walking_distance": 9614,
        "high_activity_met_minutes": 28,
        "high_activity_time": high,
        "inactivity_alerts": 0,
        "low_activity_met_minutes": 211,
        "low_activity_time": 15120,
        "medium_activity_met_minutes": 166,
        "medium_activity_time": medium,
        "met": { "interval": 60.0, "items": [1.2, 0.9, 0.9], "timestamp": format!("{day}T04:00:00.000+01:00") },
        "meters_to_target": 2700,
        "non_wear_time": 840,
        "resting_time": 26760,
        "sedentary_met_minutes": 12,
        "sedentary_time": 41820,
        "steps": steps,
        "target_calories": 500,
        "target_meters": 10000,
        "total_calories": total_calories,
        "day": day,
        "timestamp": format!("{day}T04:00:00.000+01:00")
    })
}

fn daily_readiness(day: &str, score: i64) -> Value {
    json!({
        "id": format!("dr-{day}"),
        "contributors": {
            "activity_balance": 85, "body_temperature": 98, "hrv_balance": 79,
            "previous_day_activity": 92, "previous_night": 80, "recovery_index": 100,
            "resting_heart_rate": 91, "sleep_balance": 87
        },
        "day": day,
        "score": score,
        "temperature_deviation": -0.12,
        "temperature_trend_deviation": 0.05,
        "timestamp": format!("{day}T00:00:00+00:00")
    })
}

/// A sleep period; durations in seconds, as Oura gives them.
#[allow(clippy::too_many_arguments)]
fn period(
    id: &str,
    kind: &str,
    day: &str,
    start: &str,
    end: &str,
    (deep, light, rem, awake): (i64, i64, i64, i64),
    hrv: Option<f64>,
    heart_rate: Option<f64>,
) -> Value {
    json!({
        "id": id,
        "average_breath": 14.875,
        "average_heart_rate": heart_rate,
        "average_hrv": hrv,
        "awake_time": awake,
        "bedtime_end": end,
        "bedtime_start": start,
        "day": day,
        "deep_sleep_duration": deep,
        "efficiency": 90,
        "heart_rate": { "interval": 300.0, "items": [null, 58.0, 55.0], "timestamp": start },
        "hrv": { "interval": 300.0, "items": [null, 41.0, 52.0], "timestamp": start },
        "latency": 540,
        "light_sleep_duration": light,
        "low_battery_alert": false,
        "lowest_heart_rate": 49,
        "movement_30_sec": "1111211111",
        "period": 0,
        "readiness": null,
        "readiness_score_delta": 0.0,
        "rem_sleep_duration": rem,
        "restless_periods": 210,
        "sleep_phase_5_min": "4222233334",
        "sleep_score_delta": 0.0,
        "sleep_algorithm_version": "v2",
        "time_in_bed": deep + light + rem + awake,
        "total_sleep_duration": deep + light + rem,
        "type": kind
    })
}

fn night(id: &str, end_day: &str, start: &str, end: &str) -> Value {
    period(
        id,
        "long_sleep",
        end_day,
        start,
        end,
        (4860, 13560, 5520, 2340),
        Some(48.0),
        Some(54.625),
    )
}

/// A canned Oura answering one window `start..=end` (so: daily collections to `end + 1`,
/// sleep from `start - 1`), each collection in a single page.
fn oura(
    start: &str,
    end: &str,
    sleep_days: Vec<Value>,
    activity: Vec<Value>,
    readiness: Vec<Value>,
    periods: Vec<Value>,
) -> Canned {
    let (first, last) = (date::parse(start).unwrap(), date::parse(end).unwrap());
    let after = date::format(last + 1);
    let before = date::format(first - 1);
    Canned::default()
        .with(
            &url("daily_sleep", start, &after, None),
            200,
            &page(sleep_days, None),
        )
        .with(
            &url("daily_activity", start, &after, None),
            200,
            &page(activity, None),
        )
        .with(
            &url("daily_readiness", start, &after, None),
            200,
            &page(readiness, None),
        )
        .with(
            &url("sleep", &before, &after, None),
            200,
            &page(periods, None),
        )
}

#[test]
fn a_day_is_read_into_the_normalised_model() {
    let mut oura = oura(
        "2026-11-03",
        "2026-11-03",
        vec![daily_sleep("2026-11-03", Some(82))],
        vec![daily_activity("2026-11-03", 10432, 420, 2340, 2612)],
        vec![daily_readiness("2026-11-03", 84)],
        vec![night(
            "b1c2d3e4-0000-4000-8000-000000000001",
            "2026-11-03",
            "2026-11-02T23:11:04+01:00",
            "2026-11-03T07:02:31+01:00",
        )],
    );
    let batch = fetch(&mut oura, "2026-11-03", "2026-11-03").unwrap();
    assert_eq!(
        batch.days,
        vec![Day {
            metric_date: "2026-11-03".into(),
            // 4860 + 13560 + 5520 seconds asleep.
            sleep_duration_minutes: Some(399),
            sleep_quality_score: Some(82),
            deep_sleep_minutes: Some(81),
            rem_sleep_minutes: Some(92),
            steps: Some(10432),
            // (420 + 2340) s of high and medium activity.
            active_minutes: Some(46),
            calories_burned: Some(2612),
            avg_heart_rate: Some(55),
            hrv_avg: Some(48.0),
            stress_score: None,
            readiness_score: Some(84),
        }]
    );
    assert_eq!(
        batch.sleep,
        vec![Sleep {
            external_id: "b1c2d3e4-0000-4000-8000-000000000001".into(),
            start: "2026-11-02T23:11:04+01:00".into(),
            end: "2026-11-03T07:02:31+01:00".into(),
            metric_date: "2026-11-03".into(),
            asleep_minutes: 399,
            deep_minutes: Some(81),
            rem_minutes: Some(92),
            awake_minutes: Some(39),
        }]
    );
    assert_eq!(
        oura.requested,
        vec![
            url("daily_sleep", "2026-11-03", "2026-11-04", None),
            url("daily_activity", "2026-11-03", "2026-11-04", None),
            url("daily_readiness", "2026-11-03", "2026-11-04", None),
            url("sleep", "2026-11-02", "2026-11-04", None),
        ]
    );
}

#[test]
fn pages_are_followed_by_next_token_until_it_is_null() {
    let token = "eyJzdGFydCI6IjIwMjYtMTEtMTMifQ==";
    let days: Vec<String> = (0..12)
        .map(|i| date::format(date::parse("2026-11-01").unwrap() + i))
        .collect();
    let first: Vec<Value> = days[..10]
        .iter()
        .map(|d| daily_sleep(d, Some(70)))
        .collect();
    let second: Vec<Value> = days[10..]
        .iter()
        .map(|d| daily_sleep(d, Some(90)))
        .collect();
    let mut canned = oura(
        "2026-11-01",
        "2026-11-12",
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    // Replace daily_sleep's single page by two.
    canned.answers.retain(|(u, _)| !u.contains("daily_sleep"));
    let mut canned = canned
        .with(
            &url("daily_sleep", "2026-11-01", "2026-11-13", None),
            200,
            &page(first, Some(token)),
        )
        .with(
            &url("daily_sleep", "2026-11-01", "2026-11-13", Some(token)),
            200,
            &page(second, None),
        );
    let batch = fetch(&mut canned, "2026-11-01", "2026-11-12").unwrap();
    assert_eq!(batch.days.len(), 12);
    assert_eq!(batch.days[9].sleep_quality_score, Some(70));
    assert_eq!(batch.days[11].sleep_quality_score, Some(90));
    assert_eq!(batch.days[11].metric_date, "2026-11-12");
    // The token is percent-encoded (`=` is not a query value's character).
    assert!(canned.requested.contains(&format!(
        "{}&next_token=eyJzdGFydCI6IjIwMjYtMTEtMTMifQ%3D%3D",
        url("daily_sleep", "2026-11-01", "2026-11-13", None)
    )));
    assert_eq!(canned.requested.len(), 5);
}

#[test]
fn days_outside_the_window_are_dropped() {
    let mut canned = oura(
        "2026-11-03",
        "2026-11-04",
        vec![
            daily_sleep("2026-11-04", Some(75)),
            daily_sleep("2026-11-05", Some(99)),
        ],
        vec![daily_activity("2026-11-05", 1, 0, 0, 1)],
        vec![daily_readiness("2026-11-02", 50)],
        vec![
            // Ended on the 2nd: before the window.
            night(
                "n1",
                "2026-11-02",
                "2026-11-01T23:00:00+01:00",
                "2026-11-02T07:00:00+01:00",
            ),
            // Ends on the 5th: after it.
            night(
                "n2",
                "2026-11-05",
                "2026-11-04T23:00:00+01:00",
                "2026-11-05T07:00:00+01:00",
            ),
        ],
    );
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-04").unwrap();
    assert_eq!(batch.days.len(), 1);
    assert_eq!(batch.days[0].metric_date, "2026-11-04");
    assert_eq!(batch.days[0].sleep_quality_score, Some(75));
    assert!(batch.sleep.is_empty());
}

#[test]
fn a_night_belongs_to_the_local_date_its_sleep_ends() {
    // Oura's `day` says the 3rd, but the period ended on the 4th, local time (a late night
    // in New York): the bedtime_end's local date wins, not the UTC date (the 5th).
    let mut canned = oura(
        "2026-11-03",
        "2026-11-04",
        Vec::new(),
        Vec::new(),
        Vec::new(),
        vec![night(
            "late",
            "2026-11-03",
            "2026-11-04T03:10:00-05:00",
            "2026-11-04T20:30:00-05:00",
        )],
    );
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-04").unwrap();
    assert_eq!(batch.days.len(), 1);
    assert_eq!(batch.days[0].metric_date, "2026-11-04");
    assert_eq!(batch.sleep[0].metric_date, "2026-11-04");
}

#[test]
fn naps_and_rest_do_not_count_toward_the_night_and_split_nights_add_up() {
    let mut canned = oura(
        "2026-11-03",
        "2026-11-03",
        Vec::new(),
        Vec::new(),
        Vec::new(),
        vec![
            // A night in two parts (woke up in the middle for a while).
            period(
                "a",
                "long_sleep",
                "2026-11-03",
                "2026-11-02T22:30:00+01:00",
                "2026-11-03T02:30:00+01:00",
                (3600, 7200, 1800, 1800),
                Some(40.0),
                Some(56.0),
            ),
            period(
                "b",
                "long_sleep",
                "2026-11-03",
                "2026-11-03T03:30:00+01:00",
                "2026-11-03T07:30:00+01:00",
                (1200, 6000, 3600, 1200),
                Some(60.0),
                Some(52.0),
            ),
            // An afternoon nap and a rest-mode period the same day.
            period(
                "nap",
                "late_nap",
                "2026-11-03",
                "2026-11-03T14:00:00+01:00",
                "2026-11-03T14:40:00+01:00",
                (0, 1800, 0, 600),
                Some(30.0),
                Some(70.0),
            ),
            period(
                "rest",
                "rest",
                "2026-11-03",
                "2026-11-03T16:00:00+01:00",
                "2026-11-03T17:00:00+01:00",
                (0, 0, 0, 3600),
                None,
                Some(65.0),
            ),
            // One the user deleted.
            period(
                "gone",
                "deleted",
                "2026-11-03",
                "2026-11-03T18:00:00+01:00",
                "2026-11-03T19:00:00+01:00",
                (0, 3000, 0, 600),
                None,
                None,
            ),
        ],
    );
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-03").unwrap();
    let day = &batch.days[0];
    // (3600 + 7200 + 1800) + (1200 + 6000 + 3600) s = 390 min.
    assert_eq!(day.sleep_duration_minutes, Some(390));
    assert_eq!(day.deep_sleep_minutes, Some(80));
    assert_eq!(day.rem_sleep_minutes, Some(90));
    // Weighted by time asleep: (40 × 12600 + 60 × 10800) / 23400 = 49.23…
    assert_eq!(day.hrv_avg, Some(49.2));
    // (56 × 12600 + 52 × 10800) / 23400 = 54.15… → 54.
    assert_eq!(day.avg_heart_rate, Some(54));
    let ids: Vec<&str> = batch.sleep.iter().map(|s| s.external_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "nap"]);
}

#[test]
fn a_short_night_without_a_long_sleep_still_counts() {
    let mut canned = oura(
        "2026-11-03",
        "2026-11-03",
        Vec::new(),
        Vec::new(),
        Vec::new(),
        vec![period(
            "short",
            "sleep",
            "2026-11-03",
            "2026-11-03T03:00:00+01:00",
            "2026-11-03T05:30:00+01:00",
            (1800, 5400, 1200, 600),
            Some(35.5),
            Some(60.0),
        )],
    );
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-03").unwrap();
    assert_eq!(batch.days[0].sleep_duration_minutes, Some(140));
    assert_eq!(batch.days[0].hrv_avg, Some(35.5));
}

#[test]
fn null_fields_make_no_values_and_no_empty_days() {
    let mut activity = daily_activity("2026-11-04", 0, 0, 0, 0);
    activity["steps"] = Value::Null;
    activity["total_calories"] = Value::Null;
    activity["high_activity_time"] = Value::Null;
    activity["medium_activity_time"] = Value::Null;
    let mut canned = oura(
        "2026-11-03",
        "2026-11-04",
        vec![daily_sleep("2026-11-03", None)],
        vec![activity],
        vec![daily_readiness("2026-11-04", 101)],
        vec![period(
            "x",
            "long_sleep",
            "2026-11-03",
            "2026-11-02T23:00:00+01:00",
            "2026-11-03T06:00:00+01:00",
            (3000, 9000, 3000, 600),
            None,
            None,
        )],
    );
    let batch = fetch(&mut canned, "2026-11-03", "2026-11-04").unwrap();
    assert_eq!(batch.days.len(), 1);
    let day = &batch.days[0];
    assert_eq!(day.metric_date, "2026-11-03");
    assert_eq!(day.sleep_quality_score, None);
    assert_eq!(day.sleep_duration_minutes, Some(250));
    assert_eq!(day.hrv_avg, None);
    assert_eq!(day.avg_heart_rate, None);
}

#[test]
fn provider_statuses_become_adapter_errors() {
    let first = url("daily_sleep", "2026-11-03", "2026-11-04", None);
    let mut refused = Canned::default().with(&first, 401, &json!({"detail": "Unauthorized"}));
    assert_eq!(
        fetch(&mut refused, "2026-11-03", "2026-11-03"),
        Err(Error::Unauthorized)
    );

    let mut limited = Canned::default();
    limited.answers.push((
        first.clone(),
        Response {
            status: 429,
            headers: vec![("retry-after".into(), "17".into())],
            body: br#"{"detail": "Too Many Requests"}"#.to_vec(),
        },
    ));
    assert_eq!(
        fetch(&mut limited, "2026-11-03", "2026-11-03"),
        Err(Error::RateLimited(17))
    );

    let mut failing = Canned::default().with(&first, 502, &json!({}));
    assert!(matches!(
        fetch(&mut failing, "2026-11-03", "2026-11-03"),
        Err(Error::Provider(_))
    ));

    let mut odd = Canned::default().with(&first, 200, &json!({"items": []}));
    assert!(matches!(
        fetch(&mut odd, "2026-11-03", "2026-11-03"),
        Err(Error::Provider(_))
    ));
}

#[test]
fn a_repeating_next_token_is_a_provider_error_not_a_loop() {
    let first = url("daily_sleep", "2026-11-03", "2026-11-04", None);
    let mut looping = Canned::default()
        .with(&first, 200, &page(Vec::new(), Some("again")))
        .with(
            &url("daily_sleep", "2026-11-03", "2026-11-04", Some("again")),
            200,
            &page(Vec::new(), Some("again")),
        );
    assert!(matches!(
        fetch(&mut looping, "2026-11-03", "2026-11-03"),
        Err(Error::Provider(_))
    ));
    assert_eq!(looping.requested.len(), 2);
}

#[test]
fn a_malformed_window_is_invalid_input() {
    let mut nothing = Canned::default();
    for (start, end) in [
        ("2026-11-04", "2026-11-03"),
        ("2026-13-01", "2026-13-02"),
        ("yesterday", "today"),
        ("2026-02-29", "2026-03-01"),
    ] {
        assert!(
            matches!(fetch(&mut nothing, start, end), Err(Error::InvalidInput(_))),
            "{start}..{end}"
        );
    }
    assert!(nothing.requested.is_empty());
}

#[test]
fn notifications_ask_for_the_days_around_the_event() {
    let body = json!({
        "event_type": "update",
        "data_type": "sleep",
        "object_id": "b1c2d3e4-0000-4000-8000-000000000001",
        "event_time": "2026-11-03T06:12:44.123456+00:00",
        "user_id": "2a1b7c3d9e"
    });
    assert_eq!(
        read_notification(body.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            "2a1b7c3d9e".into(),
            "2026-11-02".into(),
            "2026-11-04".into()
        )])
    );
    for data_type in DATA_TYPES {
        let mut created = body.clone();
        created["event_type"] = json!("create");
        created["data_type"] = json!(data_type);
        assert!(matches!(
            read_notification(created.to_string().as_bytes()).as_deref(),
            Ok([Notification::Fetch(..)])
        ));
    }
    // Month and year ends.
    let mut new_year = body.clone();
    new_year["event_time"] = json!("2026-12-31T23:59:59+00:00");
    assert_eq!(
        read_notification(new_year.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            "2a1b7c3d9e".into(),
            "2026-12-30".into(),
            "2027-01-01".into()
        )])
    );
}

#[test]
fn deletions_and_other_data_types_are_ignored() {
    let event = |event_type: &str, data_type: &str| {
        json!({
            "event_type": event_type,
            "data_type": data_type,
            "object_id": "x",
            "event_time": "2026-11-03T06:12:44+00:00",
            "user_id": "u"
        })
        .to_string()
    };
    for (event_type, data_type) in [
        ("delete", "sleep"),
        ("create", "workout"),
        ("update", "tag"),
        ("create", "session"),
        ("create", "daily_spo2"),
    ] {
        assert_eq!(
            read_notification(event(event_type, data_type).as_bytes()),
            Ok(Vec::new())
        );
    }
}

#[test]
fn malformed_notifications_are_invalid_input() {
    for body in [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"event_type": "create", "data_type": "sleep", "event_time": "2026-11-03T06:12:44+00:00"}).to_string(),
        json!({"event_type": "create", "data_type": "sleep", "user_id": "u"}).to_string(),
        json!({"event_type": "create", "data_type": "sleep", "user_id": "u", "event_time": "3 Nov"}).to_string(),
        json!({"data_type": "sleep", "user_id": "u", "event_time": "2026-11-03T06:12:44+00:00"}).to_string(),
    ] {
        assert!(matches!(read_notification(body.as_bytes()), Err(Error::InvalidInput(_))), "{body}");
    }
}

#[test]
fn dates_round_trip() {
    for text in [
        "1970-01-01",
        "2000-02-29",
        "2024-02-29",
        "2026-12-31",
        "2027-01-01",
        "1969-12-31",
    ] {
        assert_eq!(date::format(date::parse(text).unwrap()), text);
    }
    assert_eq!(date::parse("1970-01-02"), Some(1));
    assert_eq!(date::parse("2026-11-03"), Some(20_760));
    assert_eq!(date::parse("1900-02-29"), None);
    assert_eq!(date::parse("2026-1-03"), None);
    assert_eq!(date::parse("2026-11-3x"), None);
    assert_eq!(
        date::of_datetime("2026-11-03T07:02:31+01:00"),
        Some("2026-11-03")
    );
    assert_eq!(date::of_datetime("2026-11-03"), None);
}

#[test]
fn the_declaration_is_oauth_on_oura_hosts() {
    assert!(TOKEN_ENDPOINT.starts_with(API));
    assert!(REVOCATION_ENDPOINT.starts_with(API));
    assert!(AUTHORIZATION_ENDPOINT.starts_with("https://cloud.ouraring.com/"));
    assert_eq!(SCOPES, &["daily", "personal"]);
    assert!(matches!(no_uploads(), Error::InvalidInput(_)));
}

/// The conformance fixture the host replays on install round-trips natively too.
#[test]
fn the_conformance_fixture_round_trips() {
    assert_eq!(
        conformance::fixture().replay(fetch, identify, read_notification),
        Ok(())
    );
}
