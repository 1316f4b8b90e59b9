//! Native tests over hand-written fixtures in Garmin's Health API summary format.

use super::*;
use mindflow_adapter_kit::transport::{Canned, Response};
use serde_json::json;

const USER: &str = "a1b2c3d4-0000-4e5f-9abc-123456789def";

fn day_start(date: &str) -> i64 {
    time::parse_date(date).unwrap() * 86_400
}

fn daily(date: &str, steps: i64) -> Value {
    json!({"userId": USER, "summaryId": format!("x3a1b2c-{date}"), "calendarDate": date,
           "startTimeInSeconds": day_start(date) - 3600, "startTimeOffsetInSeconds": 3600,
           "activityType": "WALKING", "durationInSeconds": 86400, "steps": steps,
           "distanceInMeters": 7012.4, "activeTimeInSeconds": 4260, "activeKilocalories": 512,
           "bmrKilocalories": 1650, "averageHeartRateInBeatsPerMinute": 64,
           "restingHeartRateInBeatsPerMinute": 55, "averageStressLevel": 31, "maxStressLevel": 88})
}

fn sleep(date: &str) -> Value {
    // 23:10 local (UTC+1) the evening before to 06:55.
    let start = day_start(date) - 110 * 60;
    json!({"userId": USER, "summaryId": format!("x3a1b2c-sleep-{date}"), "calendarDate": date,
           "startTimeInSeconds": start, "startTimeOffsetInSeconds": 3600, "durationInSeconds": 27900,
           "deepSleepDurationInSeconds": 5400, "lightSleepDurationInSeconds": 14400,
           "remSleepInSeconds": 6300, "awakeDurationInSeconds": 1800, "validation": "ENHANCED_FINAL",
           "overallSleepScore": {"value": 82, "qualifierKey": "GOOD"}})
}

fn hrv(date: &str, avg: f64) -> Value {
    json!({"userId": USER, "summaryId": format!("x3a1b2c-hrv-{date}"), "calendarDate": date,
           "lastNightAvg": avg, "lastNight5MinHigh": 61, "startTimeOffsetInSeconds": 3600})
}

#[test]
fn a_push_body_becomes_data_for_its_user() {
    let body = json!({"dailies": [daily("2026-11-03", 8421)], "sleeps": [sleep("2026-11-03")],
                      "hrv": [hrv("2026-11-03", 47.0)]});
    let notifications = read_notification(body.to_string().as_bytes());
    let Ok([Notification::Data(user, batch)]) = notifications.as_deref() else {
        panic!("not data for one user");
    };
    assert_eq!(user, USER);
    assert_eq!(batch.days.len(), 1);
    let d = &batch.days[0];
    assert_eq!(d.metric_date, "2026-11-03");
    assert_eq!(d.steps, Some(8421));
    assert_eq!(d.active_minutes, Some(71));
    assert_eq!(d.calories_burned, Some(2162));
    assert_eq!(d.avg_heart_rate, Some(64));
    assert_eq!(d.stress_score, Some(31));
    assert_eq!(d.hrv_avg, Some(47.0));
    assert_eq!(d.sleep_quality_score, Some(82));
    assert_eq!(d.sleep_duration_minutes, Some(435));
    assert_eq!(
        (d.deep_sleep_minutes, d.rem_sleep_minutes),
        (Some(90), Some(105))
    );
    assert_eq!(
        batch.sleep,
        vec![Sleep {
            external_id: "x3a1b2c-sleep-2026-11-03".into(),
            start: "2026-11-02T23:10:00+01:00".into(),
            end: "2026-11-03T06:55:00+01:00".into(),
            metric_date: "2026-11-03".into(),
            asleep_minutes: 435,
            deep_minutes: Some(90),
            rem_minutes: Some(105),
            awake_minutes: Some(30),
        }]
    );
}

#[test]
fn a_ping_becomes_a_fetch_of_its_upload_days() {
    let from = day_start("2026-11-03") + 3600;
    let body = json!({"dailies": [{"userId": USER, "callbackURL": format!(
        "https://apis.garmin.com/wellness-api/rest/dailies?uploadStartTimeInSeconds={from}&uploadEndTimeInSeconds={}&token=CPT123", from + 600)}],
        "sleeps": [{"userId": USER, "callbackURL": format!(
        "https://apis.garmin.com/wellness-api/rest/sleeps?uploadStartTimeInSeconds={}&uploadEndTimeInSeconds={}&token=CPT124", from + 86_400, from + 86_400 + 60)}]});
    assert_eq!(
        read_notification(body.to_string().as_bytes()),
        Ok(vec![Notification::Fetch(
            USER.into(),
            "2026-11-02".into(),
            "2026-11-05".into()
        )])
    );
}

#[test]
fn a_body_of_several_users_gives_each_their_own_summaries_and_pings() {
    let mut other = daily("2026-11-03", 1234);
    other["userId"] = json!("someone-else");
    other["summaryId"] = json!("someone-else-daily");
    let from = day_start("2026-11-03") + 3600;
    let body = json!({
        "dailies": [daily("2026-11-03", 8421), other, daily("2026-11-04", 9000)],
        "sleeps": [sleep("2026-11-03"), {"userId": "someone-else", "callbackURL": format!(
            "https://apis.garmin.com/wellness-api/rest/sleeps?uploadStartTimeInSeconds={from}&uploadEndTimeInSeconds={}&token=T", from + 60)}],
    });
    let notifications = read_notification(body.to_string().as_bytes()).expect("read");
    let [
        Notification::Data(first, mine),
        Notification::Data(second, theirs),
        Notification::Fetch(third, start, end),
    ] = notifications.as_slice()
    else {
        panic!("not two data and one fetch: {notifications:?}");
    };
    assert_eq!(
        (first.as_str(), second.as_str(), third.as_str()),
        (USER, "someone-else", "someone-else")
    );
    let steps = |batch: &Batch| {
        batch
            .days
            .iter()
            .map(|d| (d.metric_date.clone(), d.steps))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        steps(mine),
        vec![
            ("2026-11-03".into(), Some(8421)),
            ("2026-11-04".into(), Some(9000))
        ]
    );
    assert_eq!(mine.sleep.len(), 1, "my sleep stays mine");
    assert_eq!(steps(theirs), vec![("2026-11-03".into(), Some(1234))]);
    assert!(theirs.sleep.is_empty(), "their sleep was only pinged");
    assert_eq!((start.as_str(), end.as_str()), ("2026-11-02", "2026-11-04"));
}

#[test]
fn malformed_bodies_are_refused() {
    let refused = |body: Value| {
        matches!(
            read_notification(body.to_string().as_bytes()),
            Err(Error::InvalidInput(_))
        )
    };
    assert!(refused(
        json!({"dailies": [{"userId": USER, "callbackURL": "https://apis.garmin.com/wellness-api/rest/dailies?token=x"}]})
    ));
    assert!(refused(json!({"dailies": [{"summaryId": "no-user"}]})));
    assert!(refused(json!([1, 2])));
    assert!(matches!(
        read_notification(b"{"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn other_notifications_are_ignored() {
    for body in [
        json!({}),
        json!({"deregistrations": [{"userId": USER}]}),
        json!({"epochs": [{"userId": USER}]}),
        json!({"dailies": []}),
    ] {
        assert_eq!(
            read_notification(body.to_string().as_bytes()),
            Ok(Vec::new())
        );
    }
}

/// Every upload day of `start..=end` answering `[]` unless given.
fn canned(start: &str, end: &str, given: &[(&str, i64, Value)]) -> Canned {
    let mut canned = Canned::default();
    for (summary, from, body) in given {
        canned = canned.with(&pull_url(summary, *from, from + 86_400), 200, body);
    }
    let (first, last) = (
        time::parse_date(start).unwrap(),
        time::parse_date(end).unwrap(),
    );
    for day in (first - 1)..=(last + 1) {
        for summary in SUMMARIES {
            canned = canned.with(
                &pull_url(summary, day * 86_400, day * 86_400 + 86_400),
                200,
                &json!([]),
            );
        }
    }
    canned
}

#[test]
fn fetch_pulls_each_upload_day_and_keeps_the_windows_dates() {
    let (start, end) = ("2026-11-03", "2026-11-04");
    let mut replaced = daily("2026-11-03", 5000);
    replaced["steps"] = json!(9100);
    let mut transport = canned(
        start,
        end,
        &[
            (
                "dailies",
                day_start("2026-11-03"),
                json!([daily("2026-11-03", 5000), daily("2026-11-01", 77)]),
            ),
            (
                "dailies",
                day_start("2026-11-04"),
                json!([replaced, daily("2026-11-04", 6000)]),
            ),
            (
                "sleeps",
                day_start("2026-11-03"),
                json!([sleep("2026-11-03")]),
            ),
            (
                "hrv",
                day_start("2026-11-04"),
                json!([hrv("2026-11-03", 45.5), hrv("2026-11-04", 50.25)]),
            ),
        ],
    );
    let batch = fetch(&mut transport, start, end).unwrap();
    assert_eq!(transport.requested.len(), 4 * 3);
    assert!(transport.requested[0].starts_with(
        "https://apis.garmin.com/wellness-api/rest/dailies?uploadStartTimeInSeconds=1793577600&uploadEndTimeInSeconds=1793664000"
    ));
    let dates: Vec<&str> = batch.days.iter().map(|d| d.metric_date.as_str()).collect();
    assert_eq!(dates, ["2026-11-03", "2026-11-04"]);
    assert_eq!(batch.days[0].steps, Some(9100));
    assert_eq!(batch.days[0].hrv_avg, Some(45.5));
    assert_eq!(batch.days[0].sleep_duration_minutes, Some(435));
    assert_eq!(batch.days[1].steps, Some(6000));
    assert_eq!(batch.days[1].sleep_duration_minutes, None);
    assert_eq!(batch.sleep.len(), 1);
}

#[test]
fn fetch_maps_statuses_and_refuses_a_bad_window() {
    let url = pull_url("dailies", day_start("2026-11-02"), day_start("2026-11-03"));
    let mut unauthorized =
        Canned::default().with(&url, 401, &json!({"errorMessage": "Unauthorized"}));
    assert_eq!(
        fetch(&mut unauthorized, "2026-11-03", "2026-11-03"),
        Err(Error::Unauthorized)
    );
    let mut limited = Canned::default();
    limited.answers.push((
        url.clone(),
        Response {
            status: 429,
            headers: vec![("retry-after".into(), "12".into())],
            body: vec![],
        },
    ));
    assert_eq!(
        fetch(&mut limited, "2026-11-03", "2026-11-03"),
        Err(Error::RateLimited(12))
    );
    let mut object = Canned::default().with(&url, 200, &json!({"not": "an array"}));
    assert!(matches!(
        fetch(&mut object, "2026-11-03", "2026-11-03"),
        Err(Error::Provider(_))
    ));
    assert!(matches!(
        fetch(&mut Canned::default(), "2026-11-04", "2026-11-03"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn stress_of_minus_one_and_missing_light_sleep_are_handled() {
    let mut d = daily("2026-11-03", 10);
    d["averageStressLevel"] = json!(-1);
    d.as_object_mut().unwrap().remove("bmrKilocalories");
    let mut s = sleep("2026-11-03");
    s.as_object_mut()
        .unwrap()
        .remove("lightSleepDurationInSeconds");
    let body = json!({"dailies": [d], "sleeps": [s]});
    let notifications = read_notification(body.to_string().as_bytes());
    let Ok([Notification::Data(_, batch)]) = notifications.as_deref() else {
        panic!("not data for one user");
    };
    assert_eq!(batch.days[0].stress_score, None);
    assert_eq!(batch.days[0].calories_burned, Some(512));
    assert_eq!(batch.sleep[0].asleep_minutes, (27_900 - 1800) / 60);
}

/// The conformance fixture the host replays on install round-trips natively too.
#[test]
fn the_conformance_fixture_round_trips() {
    assert_eq!(
        conformance::fixture().replay(fetch, identify, read_notification),
        Ok(())
    );
}
