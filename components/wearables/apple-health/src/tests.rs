//! Whole-upload tests: the hand-written export fixture, chunked every way, and the
//! synthetic export.

use mindflow_adapter_kit::model::{Batch, Error};

use crate::health::Stats;
use crate::{Upload, fetch, read_notification, synthetic};

const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/small-export.xml");

fn upload(name: &str, chunks: &[&[u8]]) -> Result<(Batch, Stats), Error> {
    let mut upload = Upload::new(name);
    for chunk in chunks {
        upload.write(chunk)?;
    }
    let batch = upload.finish()?;
    Ok((batch, upload.stats().expect("finished")))
}

fn whole(bytes: &[u8]) -> (Batch, Stats) {
    upload("export.xml", &[bytes]).expect("reads")
}

#[test]
fn the_fixture_reads_as_expected() {
    let (batch, stats) = whole(FIXTURE);
    assert_eq!(
        stats,
        Stats {
            used: 26,
            malformed: 5,
            ignored: 1
        }
    );
    // The days are the conformance fixture's (`src/conformance.rs`, written out there).
    let expected = crate::conformance::fixture()
        .upload
        .expect("an upload case");
    assert_eq!(batch.days, expected.expected.days);
    assert_eq!(batch.sleep.len(), 2);
    let night = &batch.sleep[0];
    assert_eq!(
        (
            night.start.as_str(),
            night.end.as_str(),
            night.metric_date.as_str()
        ),
        (
            "2026-11-03T22:45:00-08:00",
            "2026-11-04T07:00:00-08:00",
            "2026-11-04"
        )
    );
    assert_eq!(
        (
            night.asleep_minutes,
            night.deep_minutes,
            night.rem_minutes,
            night.awake_minutes
        ),
        (485, Some(60), Some(60), Some(10))
    );
    let flight = &batch.sleep[1];
    assert_eq!(
        (
            flight.start.as_str(),
            flight.end.as_str(),
            flight.metric_date.as_str()
        ),
        (
            "2026-11-04T18:00:00-08:00",
            "2026-11-05T08:00:00+01:00",
            "2026-11-05"
        )
    );
}

#[test]
fn every_split_of_the_fixture_gives_the_same_batch() {
    let expected = whole(FIXTURE);
    for at in 0..=FIXTURE.len() {
        let got = upload("export.xml", &[&FIXTURE[..at], &FIXTURE[at..]]).expect("reads");
        assert_eq!(got, expected, "split at byte {at}");
    }
    for size in [1, 2, 3, 5, 7, 64, 1000] {
        let chunks: Vec<&[u8]> = FIXTURE.chunks(size).collect();
        assert_eq!(
            upload("export.xml", &chunks).expect("reads"),
            expected,
            "chunks of {size}"
        );
    }
    // Three pieces: every first split with a few second ones.
    for a in (0..FIXTURE.len()).step_by(7) {
        for b in [a + 1, a + 13, a + 401] {
            let b = b.min(FIXTURE.len());
            let got = upload(
                "export.xml",
                &[&FIXTURE[..a], &FIXTURE[a..b], &FIXTURE[b..]],
            );
            assert_eq!(got.expect("reads"), expected, "splits at {a} and {b}");
        }
    }
}

#[test]
fn the_carry_over_stays_one_element() {
    let mut upload = Upload::new("export.xml");
    for chunk in FIXTURE.chunks(4096) {
        upload.write(chunk).expect("reads");
    }
    let longest_tag = FIXTURE
        .split(|&b| b == b'<')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    assert!(upload.peak_carry() > 0 && upload.peak_carry() <= longest_tag + 1);
    upload.finish().expect("reads");
}

#[test]
fn what_is_not_an_export_is_refused() {
    let refused =
        |name: &str, bytes: &[u8]| matches!(upload(name, &[bytes]), Err(Error::InvalidInput(_)));
    assert!(refused("export.xml", b"PK\x03\x04\x14\x00\x00\x00 a zip"));
    assert!(refused(
        "export.xml",
        b"<?xml version=\"1.0\"?><ClinicalDocument/>"
    ));
    assert!(refused(
        "export.xml",
        b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n"
    ));
    assert!(refused("export.xml", b""));
    assert!(refused("export.xml", &FIXTURE[..FIXTURE.len() / 2]));
    assert!(refused("export.zip", FIXTURE));
    assert!(refused("samples.json", FIXTURE));
    // A refused upload stays refused.
    let mut upload = Upload::new("export.xml");
    assert!(upload.write(b"garbage").is_err());
    assert!(upload.write(FIXTURE).is_err());
    assert!(upload.finish().is_err());
    // And a finished one cannot be finished twice.
    let mut upload = Upload::new("apple_health_export/EXPORT.XML");
    upload.write(FIXTURE).expect("reads");
    assert!(upload.finish().is_ok());
    assert!(upload.finish().is_err());
}

#[test]
fn an_oversized_element_is_refused() {
    let mut upload = Upload::new("export.xml");
    upload
        .write(b"<HealthData><Record type=\"x\" value=\"")
        .expect("starts");
    let filler = vec![b'a'; 256 * 1024];
    let refused = (0..8).any(|_| upload.write(&filler).is_err());
    assert!(refused);
    assert!(upload.peak_carry() <= crate::xml::MAX_ITEM);
}

#[test]
fn no_server_api() {
    assert!(
        matches!(fetch("2026-11-01", "2026-11-03"), Err(Error::InvalidInput(m)) if m.contains("no server API"))
    );
    assert!(matches!(
        read_notification(b"{}"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn the_synthetic_export_reads_plausibly_in_any_chunking() {
    let bytes = synthetic::export(20, 7);
    assert_eq!(bytes, synthetic::export(20, 7), "deterministic");
    let expected = whole(&bytes);
    for size in [997, 65_536, 1 << 20] {
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        assert_eq!(
            upload("export.xml", &chunks).expect("reads"),
            expected,
            "chunks of {size}"
        );
    }
    let (batch, stats) = expected;
    #[allow(clippy::cast_precision_loss)]
    let per_day = stats.used as f64 / 20.0;
    assert!(per_day > 1000.0, "{per_day} records used a day");
    assert_eq!(stats.malformed, 0);
    assert!(stats.ignored > 0);
    assert_eq!(batch.days.len(), 20);
    assert_eq!(batch.sleep.len(), 19, "one session a night");
    for day in &batch.days {
        let steps = day.steps.expect("steps");
        assert!((3_000..60_000).contains(&steps), "{day:?}");
        let hr = day.avg_heart_rate.expect("heart rate");
        assert!((50..110).contains(&hr), "{day:?}");
        let hrv = day.hrv_avg.expect("hrv");
        assert!((25.0..75.0).contains(&hrv), "{day:?}");
        let kcal = day.calories_burned.expect("calories");
        // (A travel day is hours shorter.)
        assert!((800..3_500).contains(&kcal), "{day:?}");
        assert!(day.active_minutes.is_some());
    }
    for night in &batch.sleep {
        assert!((300..600).contains(&night.asleep_minutes), "{night:?}");
        let deep = night.deep_minutes.expect("staged");
        assert!(deep > 0 && deep < night.asleep_minutes);
    }
    // Days 10–14 are in Paris: the offsets change mid-file.
    assert!(batch.sleep.iter().any(|s| s.end.ends_with("+01:00")));
    assert!(batch.sleep.iter().any(|s| s.end.ends_with("-08:00")));
}

/// The conformance fixture the host replays on install round-trips natively too.
#[test]
fn the_conformance_fixture_round_trips() {
    let fixture = crate::conformance::fixture();
    assert!(fixture.exchanges.is_empty() && fixture.fetch.is_none());
    let case = fixture.upload.expect("an upload case");
    let (batch, _) = upload(&case.filename, &[&case.content]).expect("reads");
    assert_eq!(batch, case.expected);
}
