//! What an adapter returns, checked before it is stored: dates parse, values fall in
//! plausible ranges (a value out of range is dropped, not clamped: it is a parsing bug or a
//! unit error, not a measurement), sleep sessions end after they start, and a batch is
//! bounded in size.

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::wearables::{DayMetrics, SleepRow};
use crate::runtime::adapter::Batch;

/// The most days one batch may carry (ten years).
pub const MAX_DAYS: usize = 3_660;
/// The most sleep sessions one batch may carry.
pub const MAX_SESSIONS: usize = 20_000;

/// A checked batch, and how many values were dropped.
#[derive(Debug, Default, PartialEq)]
pub struct Checked {
    /// Days with at least one value.
    pub days: Vec<DayMetrics>,
    /// Sessions.
    pub sleep: Vec<SleepRow>,
    /// Values, days or sessions dropped as implausible or malformed.
    pub dropped: usize,
}

fn within(value: Option<i32>, low: i32, high: i32, dropped: &mut usize) -> Option<i64> {
    match value {
        Some(v) if (low..=high).contains(&v) => Some(i64::from(v)),
        Some(_) => {
            *dropped += 1;
            None
        }
        None => None,
    }
}

fn within16(value: Option<i16>, low: i16, high: i16, dropped: &mut usize) -> Option<i64> {
    within(
        value.map(i32::from),
        i32::from(low),
        i32::from(high),
        dropped,
    )
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The first day a person's retention keeps on `today`, when they set one
/// (`data_retention_days`), by the purge's own rule
/// ([`crate::db::retention::first_kept_day`]). A sync neither fetches nor stores an earlier
/// day: it would only be gone again within the hour, and the person asked for it not to be
/// kept.
pub fn retained_from(today: NaiveDate, retention_days: Option<i64>) -> Option<NaiveDate> {
    crate::db::retention::first_kept_day(today, retention_days?)
}

/// Checks `batch`; days outside `earliest..=latest` are dropped (a provider's clock or a
/// parsing error must not write the far past or the future).
pub fn check(batch: &Batch, earliest: NaiveDate, latest: NaiveDate) -> Checked {
    let mut out = Checked::default();
    let mut dropped_count = 0;
    let dropped = &mut dropped_count;
    for day in batch.days.iter().take(MAX_DAYS) {
        let Some(metric_date) = date(&day.metric_date).filter(|d| (earliest..=latest).contains(d))
        else {
            *dropped += 1;
            continue;
        };
        let hrv = match day.hrv_avg {
            Some(v) if v.is_finite() && (1.0..=500.0).contains(&v) => Some(v),
            Some(_) => {
                *dropped += 1;
                None
            }
            None => None,
        };
        let metrics = DayMetrics {
            metric_date,
            sleep_duration_minutes: within(day.sleep_duration_minutes, 0, 1_440, dropped),
            sleep_quality_score: within16(day.sleep_quality_score, 0, 100, dropped),
            deep_sleep_minutes: within(day.deep_sleep_minutes, 0, 1_440, dropped),
            rem_sleep_minutes: within(day.rem_sleep_minutes, 0, 1_440, dropped),
            steps: within(day.steps, 0, 200_000, dropped),
            active_minutes: within(day.active_minutes, 0, 1_440, dropped),
            calories_burned: within(day.calories_burned, 0, 20_000, dropped),
            avg_heart_rate: within(day.avg_heart_rate, 20, 250, dropped),
            hrv_avg: hrv,
            stress_score: within16(day.stress_score, 0, 100, dropped),
            readiness_score: within16(day.readiness_score, 0, 100, dropped),
        };
        let empty = DayMetrics {
            metric_date,
            ..DayMetrics::default()
        };
        if metrics != empty {
            out.days.push(metrics);
        }
    }
    *dropped += batch.days.len().saturating_sub(MAX_DAYS);
    for session in batch.sleep.iter().take(MAX_SESSIONS) {
        let (Some(start_at), Some(end_at), Some(metric_date)) = (
            instant(&session.start),
            instant(&session.end),
            date(&session.metric_date),
        ) else {
            *dropped += 1;
            continue;
        };
        let length = (end_at - start_at).num_minutes();
        if end_at <= start_at
            || length > 24 * 60
            || !(earliest..=latest).contains(&metric_date)
            || session.external_id.is_empty()
            || session.external_id.len() > 255
            || !(0..=1_440).contains(&session.asleep_minutes)
        {
            *dropped += 1;
            continue;
        }
        let mut ignored = 0;
        out.sleep.push(SleepRow {
            external_id: session.external_id.clone(),
            start_at,
            end_at,
            metric_date,
            asleep_minutes: i64::from(session.asleep_minutes),
            deep_minutes: within(session.deep_minutes, 0, 1_440, &mut ignored),
            rem_minutes: within(session.rem_minutes, 0, 1_440, &mut ignored),
            awake_minutes: within(session.awake_minutes, 0, 1_440, &mut ignored),
        });
        *dropped += ignored;
    }
    *dropped += batch.sleep.len().saturating_sub(MAX_SESSIONS);
    out.dropped = dropped_count;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearables::world::exports::mindflow::platform::adapter::{
        DailyMetrics, SleepSession,
    };

    #[test]
    fn a_retention_keeps_its_days_and_none_keeps_everything() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).expect("date");
        assert_eq!(
            retained_from(today, Some(365)),
            NaiveDate::from_ymd_opt(2025, 12, 5)
        );
        assert_eq!(retained_from(today, Some(0)), Some(today));
        assert_eq!(retained_from(today, None), None);
        assert_eq!(retained_from(today, Some(-3)), None);
    }

    fn day(date: &str) -> DailyMetrics {
        DailyMetrics {
            metric_date: date.into(),
            sleep_duration_minutes: None,
            sleep_quality_score: None,
            deep_sleep_minutes: None,
            rem_sleep_minutes: None,
            steps: None,
            active_minutes: None,
            calories_burned: None,
            avg_heart_rate: None,
            hrv_avg: None,
            stress_score: None,
            readiness_score: None,
        }
    }

    #[test]
    fn implausible_values_and_dates_are_dropped() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let mut good = day("2026-11-03");
        good.steps = Some(9_000);
        good.hrv_avg = Some(42.5);
        good.avg_heart_rate = Some(400);
        let mut future = day("2027-01-01");
        future.steps = Some(1);
        let mut garbage = day("yesterday");
        garbage.steps = Some(1);
        let session = SleepSession {
            external_id: "s1".into(),
            start: "2026-11-02T23:10:00-05:00".into(),
            end: "2026-11-03T06:40:00-05:00".into(),
            metric_date: "2026-11-03".into(),
            asleep_minutes: 420,
            deep_minutes: Some(60),
            rem_minutes: Some(90),
            awake_minutes: Some(30),
        };
        let backwards = SleepSession {
            external_id: "s2".into(),
            start: session.end.clone(),
            end: session.start.clone(),
            ..session.clone()
        };
        let batch = Batch {
            days: vec![good, future, garbage, day("2026-11-04")],
            sleep: vec![session, backwards],
        };
        let checked = check(&batch, d("2026-01-01"), d("2026-12-31"));
        assert_eq!(checked.days.len(), 1);
        assert_eq!(checked.days[0].steps, Some(9_000));
        assert_eq!(checked.days[0].hrv_avg, Some(42.5));
        assert_eq!(checked.days[0].avg_heart_rate, None);
        assert_eq!(checked.sleep.len(), 1);
        assert_eq!(checked.sleep[0].asleep_minutes, 420);
        // The heart rate, the future day, the unparseable day and the backwards session.
        assert_eq!(checked.dropped, 4);
    }
}
