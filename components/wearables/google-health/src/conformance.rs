//! Google Health's conformance fixture (exported as `conformance`, replayed by the host on
//! install and by the native tests): one civil day of a user in UTC−8 in the Google Health
//! API's wire format (`fixture/*.json`: every data type read, steps on two pages, a sample
//! of the day before), the identity answer, a webhook body, and what they must become.

use mindflow_adapter_kit::fixture::Fixture;
use mindflow_adapter_kit::model::{Batch, Day, Notification, Sleep};
use mindflow_adapter_kit::time::parse_date;

use crate::{
    ACTIVE_MINUTES, API_HOST, DataType, HEART_RATE, HRV, SLEEP, STEPS, TOTAL_CALORIES, page_url,
};

/// The fixture's day.
const DAY: &str = "2026-11-03";

fn url(kind: DataType, token: Option<&str>) -> String {
    let day = parse_date(DAY).unwrap_or_default();
    page_url(kind, day - 1, day + 2, token)
}

fn expected() -> Batch {
    Batch {
        days: vec![Day {
            metric_date: DAY.into(),
            steps: Some(1200),
            active_minutes: Some(35),
            calories_burned: Some(2201),
            avg_heart_rate: Some(62),
            hrv_avg: Some(42.3),
            sleep_duration_minutes: Some(410),
            deep_sleep_minutes: Some(70),
            rem_sleep_minutes: Some(95),
            ..Day::default()
        }],
        sleep: vec![Sleep {
            external_id: "users/4XYZ/dataTypes/sleep/dataPoints/night-1103".into(),
            start: "2026-11-02T23:10:00-08:00".into(),
            end: "2026-11-03T06:40:00-08:00".into(),
            metric_date: DAY.into(),
            asleep_minutes: 410,
            deep_minutes: Some(70),
            rem_minutes: Some(95),
            awake_minutes: Some(40),
        }],
    }
}

/// The fixture.
#[must_use]
pub fn fixture() -> Fixture {
    Fixture::default()
        .get_json(&url(STEPS, None), include_str!("../fixture/steps_1.json"))
        .get_json(
            &url(STEPS, Some("CiQKIgoGCAEQABgA")),
            include_str!("../fixture/steps_2.json"),
        )
        .get_json(&url(SLEEP, None), include_str!("../fixture/sleep.json"))
        .get_json(&url(HRV, None), include_str!("../fixture/hrv.json"))
        .get_json(
            &url(ACTIVE_MINUTES, None),
            include_str!("../fixture/active_minutes.json"),
        )
        .get_json(
            &url(TOTAL_CALORIES, None),
            include_str!("../fixture/total_calories.json"),
        )
        .get_json(
            &url(HEART_RATE, None),
            include_str!("../fixture/heart_rate.json"),
        )
        .get_json(
            &format!("{API_HOST}/v4/users/me/identity"),
            include_str!("../fixture/identity.json"),
        )
        .fetch(DAY, DAY, expected())
        .identify("4XYZ")
        .notification(
            include_str!("../fixture/webhook.json"),
            vec![Notification::Fetch(
                "4XYZ".into(),
                "2026-11-02".into(),
                "2026-11-04".into(),
            )],
        )
}
