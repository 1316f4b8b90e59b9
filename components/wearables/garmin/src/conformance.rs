//! Garmin's conformance fixture (exported as `conformance`, replayed by the host on install
//! and by the native tests): the Health API's summary lists for the upload days around one
//! calendar day (`fixture/*.json`: a daily, a sleep and an HRV summary, a summary of a day
//! outside the window, empty lists), the user id answer, a pushed body, and what they must
//! become.

use mindflow_adapter_kit::fixture::Fixture;
use mindflow_adapter_kit::model::{Batch, Day, Notification, Sleep};
use mindflow_adapter_kit::time::parse_date;

use crate::{API_HOST, SUMMARIES, pull_url};

/// The fixture's day.
const DAY: &str = "2026-11-03";
/// The fixture's Garmin user.
const USER: &str = "a1b2c3d4-0000-4e5f-9abc-123456789def";

fn expected() -> Batch {
    Batch {
        days: vec![Day {
            metric_date: DAY.into(),
            steps: Some(8421),
            active_minutes: Some(71),
            calories_burned: Some(2162),
            avg_heart_rate: Some(64),
            stress_score: Some(31),
            hrv_avg: Some(47.0),
            sleep_quality_score: Some(82),
            sleep_duration_minutes: Some(435),
            deep_sleep_minutes: Some(90),
            rem_sleep_minutes: Some(105),
            ..Day::default()
        }],
        sleep: vec![Sleep {
            external_id: "x3a1b2c-sleep-2026-11-03".into(),
            start: "2026-11-02T23:10:00+01:00".into(),
            end: "2026-11-03T06:55:00+01:00".into(),
            metric_date: DAY.into(),
            asleep_minutes: 435,
            deep_minutes: Some(90),
            rem_minutes: Some(105),
            awake_minutes: Some(30),
        }],
    }
}

/// The fixture.
#[must_use]
pub fn fixture() -> Fixture {
    let day = parse_date(DAY).unwrap_or_default();
    let mut fixture = Fixture::default();
    for upload_day in (day - 1)..=(day + 1) {
        let from = upload_day * 86_400;
        for summary in SUMMARIES {
            let body = match (summary, upload_day - day) {
                ("dailies", 0) => include_str!("../fixture/dailies.json"),
                ("sleeps", 0) => include_str!("../fixture/sleeps.json"),
                ("hrv", 1) => include_str!("../fixture/hrv.json"),
                _ => include_str!("../fixture/empty.json"),
            };
            fixture = fixture.get_json(&pull_url(summary, from, from + 86_400), body);
        }
    }
    fixture
        .get_json(
            &format!("{API_HOST}/wellness-api/rest/user/id"),
            include_str!("../fixture/user_id.json"),
        )
        .fetch(DAY, DAY, expected())
        .identify(USER)
        .notification(
            include_str!("../fixture/push.json"),
            vec![Notification::Data(USER.into(), expected())],
        )
}
