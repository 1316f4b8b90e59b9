//! One value per day and metric when several providers report the same day.
//!
//! For each metric the user's primary source wins when it has a value that day
//! (`PUT /wearables/preferences`); otherwise the first provider in [`PRIORITY`] with a
//! value, then any other provider by name. The priority follows what each device measures
//! best: sleep from a ring or a watch worn at night before a phone, steps from a watch or a
//! phone before a ring. HRV is never pooled: Apple reports SDNN and the others RMSSD, so the
//! HRV of a day comes from one provider and says which kind it is.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::db::wearables::{DayMetrics, StoredDay};

/// The metrics, as `GET /wearables/metrics` names them.
pub const METRICS: &[&str] = &[
    "sleep_duration_minutes",
    "sleep_quality_score",
    "deep_sleep_minutes",
    "rem_sleep_minutes",
    "steps",
    "active_minutes",
    "calories_burned",
    "avg_heart_rate",
    "hrv_avg",
    "stress_score",
    "readiness_score",
];

/// Default priority by metric family.
pub const PRIORITY: &[(&str, &[&str])] = &[
    (
        "sleep",
        &["oura", "garmin", "google-health", "apple-health"],
    ),
    (
        "activity",
        &["garmin", "google-health", "apple-health", "oura"],
    ),
    (
        "heart",
        &["oura", "garmin", "google-health", "apple-health"],
    ),
    (
        "scores",
        &["oura", "garmin", "google-health", "apple-health"],
    ),
];

/// The family of a metric (what a preference or a priority is set for).
pub fn family(metric: &str) -> &'static str {
    match metric {
        "sleep_duration_minutes"
        | "sleep_quality_score"
        | "deep_sleep_minutes"
        | "rem_sleep_minutes" => "sleep",
        "steps" | "active_minutes" | "calories_burned" => "activity",
        "avg_heart_rate" | "hrv_avg" => "heart",
        _ => "scores",
    }
}

fn value_of(day: &DayMetrics, metric: &str) -> Option<Value> {
    let int = |v: Option<i64>| v.map(Value::from);
    match metric {
        "sleep_duration_minutes" => int(day.sleep_duration_minutes),
        "sleep_quality_score" => int(day.sleep_quality_score),
        "deep_sleep_minutes" => int(day.deep_sleep_minutes),
        "rem_sleep_minutes" => int(day.rem_sleep_minutes),
        "steps" => int(day.steps),
        "active_minutes" => int(day.active_minutes),
        "calories_burned" => int(day.calories_burned),
        "avg_heart_rate" => int(day.avg_heart_rate),
        "hrv_avg" => day.hrv_avg.map(Value::from),
        "stress_score" => int(day.stress_score),
        "readiness_score" => int(day.readiness_score),
        _ => None,
    }
}

/// The rank of `provider` for `metric` (lower first): the user's choice, then the priority
/// list, then the rest.
fn rank(metric: &str, provider: &str, preferred: &BTreeMap<String, String>) -> (u8, usize, String) {
    if preferred.get(family(metric)).is_some_and(|p| p == provider) {
        return (0, 0, String::new());
    }
    let list = PRIORITY
        .iter()
        .find(|(f, _)| *f == family(metric))
        .map_or(&[][..], |(_, list)| *list);
    match list.iter().position(|p| *p == provider) {
        Some(at) => (1, at, String::new()),
        None => (2, 0, provider.to_owned()),
    }
}

/// HRV kinds by provider (what each adapter declares).
pub type HrvKinds = BTreeMap<String, &'static str>;

/// One merged day: each metric's value and source.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedDay {
    /// The day.
    pub date: NaiveDate,
    /// `metric → (value, provider)`.
    pub values: BTreeMap<&'static str, (Value, String)>,
}

/// Merges stored days (any order) into one per date, by preference and priority.
pub fn merge(days: &[StoredDay], preferred: &BTreeMap<String, String>) -> Vec<MergedDay> {
    let mut by_date: BTreeMap<NaiveDate, Vec<&StoredDay>> = BTreeMap::new();
    for day in days {
        by_date
            .entry(day.metrics.metric_date)
            .or_default()
            .push(day);
    }
    by_date
        .into_iter()
        .map(|(date, candidates)| {
            let mut values = BTreeMap::new();
            for metric in METRICS {
                let best = candidates
                    .iter()
                    .filter_map(|d| {
                        let provider = d.provider.clone().unwrap_or_else(|| "unknown".into());
                        value_of(&d.metrics, metric).map(|v| (v, provider))
                    })
                    .min_by_key(|(_, provider)| rank(metric, provider, preferred));
                if let Some(best) = best {
                    values.insert(*metric, best);
                }
            }
            MergedDay { date, values }
        })
        .collect()
}

/// A merged day as JSON: `{"date", "<metric>": value, …, "sources": {"<metric>": provider},
/// "hrv_kind": "rmssd"|"sdnn"}`.
pub fn day_json(day: &MergedDay, kinds: &HrvKinds) -> Value {
    let mut out = Map::new();
    out.insert("date".into(), json!(day.date.to_string()));
    let mut sources = Map::new();
    for (metric, (value, provider)) in &day.values {
        out.insert((*metric).into(), value.clone());
        sources.insert((*metric).into(), json!(provider));
    }
    if let Some((_, provider)) = day.values.get("hrv_avg") {
        out.insert(
            "hrv_kind".into(),
            json!(kinds.get(provider).copied().unwrap_or("unknown")),
        );
    }
    out.insert("sources".into(), Value::Object(sources));
    Value::Object(out)
}

/// Weekly aggregates (ISO weeks, Monday first) of merged days: per metric the mean of the
/// days that have it (steps, calories and minutes as daily means too), the number of days,
/// and for HRV only days of one kind (the week's most common source kind).
pub fn weeks_json(days: &[MergedDay], kinds: &HrvKinds) -> Vec<Value> {
    use chrono::Datelike;
    let mut weeks: BTreeMap<NaiveDate, Vec<&MergedDay>> = BTreeMap::new();
    for day in days {
        let monday =
            day.date - chrono::Duration::days(i64::from(day.date.weekday().num_days_from_monday()));
        weeks.entry(monday).or_default().push(day);
    }
    weeks
        .into_iter()
        .map(|(monday, days)| {
            let mut out = Map::new();
            out.insert("week_start".into(), json!(monday.to_string()));
            out.insert("days".into(), json!(days.len()));
            // HRV: the kind most of the week's values have; the others are left out.
            let hrv_kind = {
                let mut count: BTreeMap<&str, usize> = BTreeMap::new();
                for day in &days {
                    if let Some((_, provider)) = day.values.get("hrv_avg") {
                        *count
                            .entry(kinds.get(provider).copied().unwrap_or("unknown"))
                            .or_default() += 1;
                    }
                }
                count.into_iter().max_by_key(|(_, n)| *n).map(|(k, _)| k)
            };
            for metric in METRICS {
                let values: Vec<f64> = days
                    .iter()
                    .filter_map(|d| d.values.get(metric))
                    .filter(|(_, provider)| {
                        *metric != "hrv_avg"
                            || hrv_kind == Some(kinds.get(provider).copied().unwrap_or("unknown"))
                    })
                    .filter_map(|(v, _)| v.as_f64())
                    .collect();
                if !values.is_empty() {
                    #[allow(clippy::cast_precision_loss, reason = "at most seven values")]
                    let mean = values.iter().sum::<f64>() / values.len() as f64;
                    out.insert((*metric).into(), json!((mean * 10.0).round() / 10.0));
                }
            }
            if let Some(kind) = hrv_kind {
                out.insert("hrv_kind".into(), json!(kind));
            }
            Value::Object(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(provider: &str, date: &str, f: impl Fn(&mut DayMetrics)) -> StoredDay {
        let mut metrics = DayMetrics {
            metric_date: NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date"),
            ..DayMetrics::default()
        };
        f(&mut metrics);
        StoredDay {
            provider: Some(provider.into()),
            metrics,
        }
    }

    #[test]
    fn two_providers_for_one_night_give_one_value_each_by_priority_or_choice() {
        let days = vec![
            stored("apple-health", "2026-11-03", |m| {
                m.sleep_duration_minutes = Some(450);
                m.steps = Some(8_000);
                m.hrv_avg = Some(55.0);
            }),
            stored("oura", "2026-11-03", |m| {
                m.sleep_duration_minutes = Some(430);
                m.steps = Some(7_000);
                m.hrv_avg = Some(38.0);
            }),
        ];
        let merged = merge(&days, &BTreeMap::new());
        assert_eq!(merged.len(), 1);
        let values = &merged[0].values;
        assert_eq!(
            values["sleep_duration_minutes"],
            (json!(430), "oura".into())
        );
        assert_eq!(values["steps"], (json!(8_000), "apple-health".into()));
        assert_eq!(values["hrv_avg"], (json!(38.0), "oura".into()));
        let kinds: HrvKinds = [("oura".into(), "rmssd"), ("apple-health".into(), "sdnn")].into();
        assert_eq!(day_json(&merged[0], &kinds)["hrv_kind"], "rmssd");

        let preferred: BTreeMap<String, String> = [("sleep".into(), "apple-health".into())].into();
        let chosen = merge(&days, &preferred);
        assert_eq!(
            chosen[0].values["sleep_duration_minutes"],
            (json!(450), "apple-health".into())
        );
    }

    #[test]
    fn weeks_average_and_never_pool_hrv_kinds() {
        let days = vec![
            stored("oura", "2026-11-02", |m| {
                m.steps = Some(1_000);
                m.hrv_avg = Some(40.0);
            }),
            stored("oura", "2026-11-03", |m| {
                m.steps = Some(3_000);
                m.hrv_avg = Some(50.0);
            }),
            stored("apple-health", "2026-11-04", |m| m.hrv_avg = Some(90.0)),
        ];
        let kinds: HrvKinds = [("oura".into(), "rmssd"), ("apple-health".into(), "sdnn")].into();
        let weeks = weeks_json(&merge(&days, &BTreeMap::new()), &kinds);
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0]["week_start"], "2026-11-02");
        assert_eq!(weeks[0]["steps"], 2_000.0);
        assert_eq!(weeks[0]["hrv_avg"], 45.0);
        assert_eq!(weeks[0]["hrv_kind"], "rmssd");
    }
}
