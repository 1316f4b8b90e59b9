//! The conformance fixture: what the host replays against this adapter when a version is
//! installed (the WIT export `conformance`), and what the native tests replay too
//! (`the_conformance_fixture_round_trips`). The provider's answers are kept as they come
//! over the wire, in `fixture/*.json`; the expected batch is written out by hand from them.
//!
//! Replace the files with real answers of your provider (anonymised), and the batch with
//! what they must become. The host answers only these requests (no network), adds a bearer
//! token to each, and refuses the version if `fetch` asks for anything else, if the host's
//! normalisation would drop a value, or if the batch differs.

use mindflow_adapter_kit::fixture::Fixture;
use mindflow_adapter_kit::model::{Batch, Day, Notification, Sleep};

use crate::API;

/// The fixture's window.
const START: &str = "2026-11-02";
/// Its last day.
const END: &str = "2026-11-03";
/// The fixture's Acme user.
const USER: &str = "acme-user-fixture";

/// What `fixture/*.json` must become.
fn expected() -> Batch {
    Batch {
        days: vec![
            Day {
                steps: Some(8432),
                active_minutes: Some(65),
                calories_burned: Some(2310),
                avg_heart_rate: Some(61),
                hrv_avg: Some(44.5),
                readiness_score: Some(81),
                sleep_duration_minutes: Some(420),
                deep_sleep_minutes: Some(85),
                rem_sleep_minutes: Some(100),
                sleep_quality_score: Some(84),
                ..Day::new(START)
            },
            Day {
                steps: Some(10120),
                active_minutes: Some(91),
                calories_burned: Some(2544),
                avg_heart_rate: Some(63),
                hrv_avg: Some(39.0),
                readiness_score: Some(77),
                // The night and the afternoon nap.
                sleep_duration_minutes: Some(405),
                deep_sleep_minutes: Some(75),
                rem_sleep_minutes: Some(90),
                // The longest session's score.
                sleep_quality_score: Some(79),
                ..Day::new(END)
            },
        ],
        sleep: vec![
            Sleep::ending(
                "night-1102",
                "2026-11-01T23:20:00+01:00",
                "2026-11-02T07:02:00+01:00",
                420,
                [Some(85), Some(100), Some(22)],
            ),
            Sleep::ending(
                "night-1103",
                "2026-11-02T23:45:00+01:00",
                "2026-11-03T06:40:00+01:00",
                380,
                [Some(75), Some(90), Some(35)],
            ),
            Sleep::ending(
                "nap-1103",
                "2026-11-03T14:10:00+01:00",
                "2026-11-03T14:40:00+01:00",
                25,
                [Some(0), Some(0), Some(5)],
            ),
        ],
    }
}

/// The fixture.
#[must_use]
pub fn fixture() -> Fixture {
    let daily = format!("{API}/v1/daily?start_date={START}&end_date={END}");
    Fixture::default()
        .get_json(&daily, include_str!("../fixture/daily-1.json"))
        .get_json(
            &format!("{daily}&page_token=p2"),
            include_str!("../fixture/daily-2.json"),
        )
        .get_json(
            &format!("{API}/v1/sleep?start_date={START}&end_date={END}"),
            include_str!("../fixture/sleep.json"),
        )
        .get_json(&format!("{API}/v1/me"), include_str!("../fixture/me.json"))
        .fetch(START, END, expected())
        .identify(USER)
        .notification(
            include_str!("../fixture/webhook.json"),
            vec![Notification::Fetch(USER.into(), END.into(), END.into())],
        )
}
