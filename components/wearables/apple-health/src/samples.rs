//! `samples.json`: HealthKit samples the MindFlow app reads on the phone and uploads.
//!
//! ```json
//! {
//!   "samples": [
//!     {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T07:14:02-07:00",
//!      "end": "2026-11-03T07:20:40-07:00", "value": 412, "unit": "count", "source": "iPhone"},
//!     {"type": "HKCategoryTypeIdentifierSleepAnalysis", "start": "2026-11-02T23:10:00-07:00",
//!      "end": "2026-11-03T01:05:00-07:00", "value": "HKCategoryValueSleepAnalysisAsleepCore",
//!      "source": "Apple Watch"}
//!   ]
//! }
//! ```
//!
//! - `type`: a HealthKit type identifier (the same as the export's `Record type`);
//! - `start`, `end`: RFC 3339 with the offset the sample was recorded in (the export's
//!   `2026-11-03 07:14:02 -0700` form is accepted too); `end` may be left out for
//!   quantities;
//! - `value`: a number (quantities; a numeric string is accepted), or for sleep analysis the
//!   `HKCategoryValueSleepAnalysis…` name or HealthKit's raw value (`0`–`5`);
//! - `unit`: HealthKit's unit string (`count`, `count/min`, `ms`, `kcal`, `Cal`, `kJ`,
//!   `min`, …); not needed for sleep;
//! - `source`: the source's name (several sources are de-duplicated as for an export).
//!
//! Samples feed the same accumulator as an export ([`crate::health`]): a sample that cannot
//! be read is skipped and counted, other types are ignored. The file is parsed when it is
//! complete, so it is capped at [`MAX_BYTES`] (16 MiB, about 80,000 samples): the app sends
//! larger histories in several uploads.

use mindflow_adapter_kit::model::{Batch, Error};
use serde_json::Value as Json;

use crate::health::{Health, Sample, Stats, Value};

/// The largest `samples.json`: 16 MiB.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A `samples.json` being received.
#[derive(Debug, Default)]
pub struct Samples {
    bytes: Vec<u8>,
}

impl Samples {
    /// An empty upload.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The next chunk.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file grows beyond [`MAX_BYTES`].
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.bytes.len() + chunk.len() > MAX_BYTES {
            return Err(Error::InvalidInput(format!(
                "samples.json is larger than {MAX_BYTES} bytes: send it in several uploads"
            )));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The end of the file: what it held.
    ///
    /// # Errors
    /// As [`parse`].
    pub fn finish(self) -> Result<(Batch, Stats), Error> {
        parse(&self.bytes)
    }
}

/// Reads a whole `samples.json`.
///
/// # Errors
/// [`Error::InvalidInput`] when it is not JSON, not an object with a `samples` array, or
/// holds too many sleep samples.
pub fn parse(bytes: &[u8]) -> Result<(Batch, Stats), Error> {
    let json: Json = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidInput(format!("samples.json is not JSON: {e}")))?;
    let samples = json
        .get("samples")
        .and_then(Json::as_array)
        .ok_or_else(|| {
            Error::InvalidInput("samples.json must be an object with a `samples` array".into())
        })?;
    let mut health = Health::new();
    for sample in samples {
        let field = |name: &str| sample.get(name).and_then(Json::as_str);
        let value = match sample.get("value") {
            Some(Json::Number(n)) => n.as_f64().map(Value::Number),
            Some(Json::String(s)) => Some(Value::Text(s)),
            _ => None,
        };
        let (Some(type_id), Some(value), Some(start)) = (field("type"), value, field("start"))
        else {
            health.count_malformed();
            continue;
        };
        health
            .sample(&Sample {
                type_id,
                value,
                unit: field("unit").unwrap_or_default(),
                start,
                end: field("end").unwrap_or(start),
                source: field("source").unwrap_or_default(),
            })
            .map_err(|too_much| Error::InvalidInput(too_much.0))?;
    }
    let stats = health.stats();
    Ok((health.finish(), stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_feed_the_same_accumulator() {
        let body = serde_json::json!({"samples": [
            {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T07:14:02-07:00",
             "end": "2026-11-03T07:20:40-07:00", "value": 412, "unit": "count", "source": "iPhone"},
            {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T09:00:00-07:00",
             "value": "88", "unit": "count", "source": "iPhone"},
            {"type": "HKQuantityTypeIdentifierActiveEnergyBurned", "start": "2026-11-03T09:00:00-07:00",
             "value": 836.8, "unit": "kJ", "source": "Apple Watch"},
            {"type": "HKQuantityTypeIdentifierHeartRate", "start": "2026-11-03 09:00:00 -0700",
             "value": 64, "unit": "count/min", "source": "Apple Watch"},
            {"type": "HKCategoryTypeIdentifierSleepAnalysis", "start": "2026-11-02T23:10:00-07:00",
             "end": "2026-11-03T01:05:00-07:00", "value": "HKCategoryValueSleepAnalysisAsleepCore",
             "source": "Apple Watch"},
            {"type": "HKCategoryTypeIdentifierSleepAnalysis", "start": "2026-11-03T01:05:00-07:00",
             "end": "2026-11-03T02:05:00-07:00", "value": 4, "source": "Apple Watch"},
            {"type": "HKQuantityTypeIdentifierBodyMass", "start": "2026-11-03T07:00:00-07:00",
             "value": 70, "unit": "kg"},
            {"type": "HKQuantityTypeIdentifierStepCount", "value": 5},
            {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T07:00:00-07:00", "value": true},
            "not an object",
        ]});
        let mut upload = Samples::new();
        let text = body.to_string();
        for chunk in text.as_bytes().chunks(7) {
            upload.write(chunk).expect("small");
        }
        let (batch, stats) = upload.finish().expect("reads");
        assert_eq!(
            stats,
            Stats {
                used: 6,
                malformed: 3,
                ignored: 1
            }
        );
        assert_eq!(batch.days.len(), 1);
        let day = &batch.days[0];
        assert_eq!(day.metric_date, "2026-11-03");
        assert_eq!(day.steps, Some(500));
        assert_eq!(day.calories_burned, Some(200));
        assert_eq!(day.avg_heart_rate, Some(64));
        assert_eq!(day.sleep_duration_minutes, Some(175));
        assert_eq!(day.deep_sleep_minutes, Some(60));
        assert_eq!(batch.sleep[0].start, "2026-11-02T23:10:00-07:00");
    }

    #[test]
    fn the_wrong_shape_and_oversize_files_are_refused() {
        for bad in [&b"[]"[..], b"{\"samples\": {}}", b"<HealthData/>", b""] {
            assert!(matches!(parse(bad), Err(Error::InvalidInput(_))));
        }
        let mut upload = Samples::new();
        let chunk = vec![b' '; 1024 * 1024];
        for _ in 0..16 {
            upload.write(&chunk).expect("up to the cap");
        }
        assert!(matches!(upload.write(b" "), Err(Error::InvalidInput(_))));
    }
}
