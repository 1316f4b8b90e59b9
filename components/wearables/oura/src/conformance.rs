//! Oura's conformance fixture (exported as `conformance`, replayed by the host on install and
//! by the native tests): two days of Oura API v2 answers as Oura sends them (`fixture/*.json`,
//! one collection on two pages, a nap and a rest period beside the nights, a day past the
//! window), the user's `personal_info`, a webhook body, and what they must become.

use mindflow_adapter_kit::fixture::Fixture;
use mindflow_adapter_kit::model::{Batch, Day, Notification, Sleep};

use crate::API;

fn collection(name: &str, start: &str, end: &str) -> String {
    format!("{API}/v2/usercollection/{name}?start_date={start}&end_date={end}")
}

/// The batch the fixture's answers make for 2026-11-02..=2026-11-03.
fn expected() -> Batch {
    let day = |date: &str, values: [i32; 8], hrv: f64| Day {
        metric_date: date.into(),
        sleep_quality_score: i16::try_from(values[0]).ok(),
        steps: Some(values[1]),
        active_minutes: Some(values[2]),
        calories_burned: Some(values[3]),
        readiness_score: i16::try_from(values[4]).ok(),
        sleep_duration_minutes: Some(values[5]),
        deep_sleep_minutes: Some(values[6]),
        rem_sleep_minutes: Some(values[7]),
        hrv_avg: Some(hrv),
        avg_heart_rate: None,
        ..Day::default()
    };
    let mut first = day("2026-11-02", [82, 9614, 70, 2507, 85, 420, 90, 105], 41.0);
    first.avg_heart_rate = Some(57);
    let mut second = day("2026-11-03", [77, 5120, 20, 2210, 80, 390, 80, 95], 38.0);
    second.avg_heart_rate = Some(58);
    Batch {
        days: vec![first, second],
        sleep: vec![
            Sleep::ending(
                "s-1",
                "2026-11-01T23:10:00+01:00",
                "2026-11-02T07:05:00+01:00",
                420,
                [Some(90), Some(105), Some(55)],
            ),
            Sleep::ending(
                "s-2",
                "2026-11-02T23:40:00+01:00",
                "2026-11-03T06:50:00+01:00",
                390,
                [Some(80), Some(95), Some(40)],
            ),
            Sleep::ending(
                "s-3",
                "2026-11-03T14:00:00+01:00",
                "2026-11-03T14:30:00+01:00",
                25,
                [None, Some(10), Some(5)],
            ),
        ],
    }
}

/// The fixture.
#[must_use]
pub fn fixture() -> Fixture {
    let (start, after) = ("2026-11-02", "2026-11-04");
    Fixture::default()
        .get_json(
            &collection("daily_sleep", start, after),
            include_str!("../fixture/daily_sleep.json"),
        )
        .get_json(
            &collection("daily_activity", start, after),
            include_str!("../fixture/daily_activity_1.json"),
        )
        .get_json(
            &format!(
                "{}&next_token=da-page-2",
                collection("daily_activity", start, after)
            ),
            include_str!("../fixture/daily_activity_2.json"),
        )
        .get_json(
            &collection("daily_readiness", start, after),
            include_str!("../fixture/daily_readiness.json"),
        )
        .get_json(
            &collection("sleep", "2026-11-01", after),
            include_str!("../fixture/sleep.json"),
        )
        .get_json(
            &format!("{API}/v2/usercollection/personal_info"),
            include_str!("../fixture/personal_info.json"),
        )
        .fetch(start, "2026-11-03", expected())
        .identify("oura-fixture-user")
        .notification(
            include_str!("../fixture/webhook.json"),
            vec![Notification::Fetch(
                "oura-fixture-user".into(),
                "2026-11-02".into(),
                "2026-11-04".into(),
            )],
        )
}
