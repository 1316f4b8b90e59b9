//! Apple Health's conformance fixture (exported as `conformance`, replayed by the host on
//! install and by the native tests): Apple Health has no server API, so the fixture is an
//! upload, the hand-written `export.xml` the tests read (`tests/fixtures/small-export.xml`:
//! three days, a night across a time-zone change, malformed and ignored records), and the
//! batch it must become.

use mindflow_adapter_kit::fixture::Fixture;
use mindflow_adapter_kit::model::{Batch, Day, Sleep};

fn expected() -> Batch {
    Batch {
        days: vec![
            Day {
                steps: Some(3600),
                avg_heart_rate: Some(66),
                hrv_avg: Some(45.5),
                calories_burned: Some(1800),
                active_minutes: Some(40),
                ..Day::new("2026-11-03")
            },
            Day {
                sleep_duration_minutes: Some(485),
                deep_sleep_minutes: Some(60),
                rem_sleep_minutes: Some(60),
                avg_heart_rate: Some(55),
                calories_burned: Some(1500),
                active_minutes: Some(25),
                ..Day::new("2026-11-04")
            },
            Day {
                steps: Some(2500),
                sleep_duration_minutes: Some(300),
                deep_sleep_minutes: Some(0),
                rem_sleep_minutes: Some(0),
                ..Day::new("2026-11-05")
            },
        ],
        sleep: vec![
            Sleep::ending(
                "apple-5c9ff394a40f4614",
                "2026-11-03T22:45:00-08:00",
                "2026-11-04T07:00:00-08:00",
                485,
                [Some(60), Some(60), Some(10)],
            ),
            Sleep::ending(
                "apple-127ff8a0445b9987",
                "2026-11-04T18:00:00-08:00",
                "2026-11-05T08:00:00+01:00",
                300,
                [Some(0), Some(0), Some(0)],
            ),
        ],
    }
}

/// The fixture.
#[must_use]
pub fn fixture() -> Fixture {
    Fixture::default().upload(
        "export.xml",
        include_bytes!("../tests/fixtures/small-export.xml").as_slice(),
        expected(),
    )
}
