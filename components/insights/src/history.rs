//! A person's history as pattern detection sees it: their mood logs of the last two years on
//! their own wall clock, each with its factor types, and (for premium users) their daily
//! wearable metrics.
//!
//! Reading is paged and bounded: logs newest first, [`MAX_LOG_PAGES`] pages of [`MAX_PAGE`]
//! at most (a person logging five times a day for two years fits), their factors one
//! `children` call per page, metrics [`MAX_METRIC_PAGES`] pages: a two-year history is a
//! handful of storage calls. HRV is left out for Apple Health
//! connections: Apple reports SDNN, every other provider RMSSD, and the two are not pooled.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use mindflow_component_kit::host::User;
use mindflow_component_kit::storage::{
    Comparison, Filter, MAX_CHILDREN_PARENTS, MAX_PAGE, PageRequest, Row, Value, column,
    group_by_parent, int_of, text_of,
};
use mindflow_component_kit::{Platform, Problem};
use mindflow_insights::{DayMetrics, Entry};

/// Mood logs.
pub const LOGS: &str = "mood_logs";
/// Their factors (children of a log through `mood_log_id`).
pub const FACTORS: &str = "mood_factors";
/// The link from a factor to its log.
pub const FACTOR_LOG_FIELD: &str = "mood_log_id";
/// Wearable connections (their provider decides what HRV means).
pub const CONNECTIONS: &str = "wearable_connections";
/// Daily wearable metrics.
pub const METRICS: &str = "wearable_metrics";
/// How far back the history reaches.
pub const HISTORY_DAYS: i64 = 730;
/// The most pages of logs read ([`MAX_PAGE`] each).
pub const MAX_LOG_PAGES: usize = 4;
/// The most pages of metrics read ([`MAX_PAGE`] each).
pub const MAX_METRIC_PAGES: usize = 2;
/// The provider whose HRV is SDNN.
const APPLE_HEALTH: &str = "apple_health";

/// What detection reads.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Mood logs, oldest first, on the user's clock.
    pub entries: Vec<Entry>,
    /// Daily metrics, by date.
    pub metrics: Vec<DayMetrics>,
    /// Whether more logs existed than were read (the oldest were left out).
    pub truncated: bool,
}

/// The user's time zone (UTC when the stored name is not one chrono-tz knows).
pub fn zone(user: &User) -> Tz {
    user.timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// Reads the caller's history up to `now`; metrics only when `with_metrics`.
///
/// # Errors
/// A storage failure, as a problem.
pub fn load(
    p: &impl Platform,
    user: &User,
    now: DateTime<Utc>,
    with_metrics: bool,
) -> Result<History, Problem> {
    let zone = zone(user);
    let since = now - Duration::days(HISTORY_DAYS);
    let (logs, truncated) = load_logs(p, since)?;
    let factors = load_factors(p, &logs)?;
    let mut entries: Vec<Entry> = logs
        .iter()
        .filter_map(|row| {
            let id = text_of(row, "id")?;
            let at = timestamp_of(row, "logged_at")?.with_timezone(&zone);
            let mood = int_of(row, "mood_score").and_then(exact_float)?;
            Some(Entry {
                at: at.naive_local(),
                mood,
                factors: factors.get(&id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    entries.reverse();
    let metrics = if with_metrics {
        load_metrics(p, since.with_timezone(&zone).date_naive())?
    } else {
        Vec::new()
    };
    Ok(History {
        entries,
        metrics,
        truncated,
    })
}

fn timestamp_of(row: &Row, name: &str) -> Option<DateTime<Utc>> {
    match column(row, name)? {
        Value::Timestamp(text) | Value::Text(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// The logs since `since`, newest first, and whether the cap cut older ones off.
fn load_logs(p: &impl Platform, since: DateTime<Utc>) -> Result<(Vec<Row>, bool), Problem> {
    let mut rows = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_LOG_PAGES {
        let page = p
            .select(
                LOGS,
                PageRequest {
                    filters: vec![Filter::new(
                        "logged_at",
                        Comparison::Ge,
                        Value::Timestamp(since.to_rfc3339()),
                    )],
                    order_by: "logged_at".into(),
                    descending: true,
                    limit: MAX_PAGE,
                    cursor,
                },
                &["mood_score"],
            )
            .map_err(Problem::from_query)?;
        rows.extend(page.rows);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((rows, false));
        }
    }
    Ok((rows, true))
}

/// Each log's distinct factor types, one storage call per [`MAX_CHILDREN_PARENTS`] logs.
fn load_factors(
    p: &impl Platform,
    logs: &[Row],
) -> Result<std::collections::HashMap<String, Vec<String>>, Problem> {
    let ids: Vec<String> = logs.iter().filter_map(|row| text_of(row, "id")).collect();
    let mut by_log = std::collections::HashMap::new();
    for chunk in ids.chunks(MAX_CHILDREN_PARENTS) {
        let rows = p.children(FACTORS, FACTOR_LOG_FIELD, chunk)?;
        for (log, factors) in group_by_parent(rows, FACTOR_LOG_FIELD) {
            let mut kinds: Vec<String> = factors
                .iter()
                .filter_map(|row| text_of(row, "factor_type"))
                .collect();
            kinds.sort();
            kinds.dedup();
            by_log.insert(log, kinds);
        }
    }
    Ok(by_log)
}

/// Daily metrics from `since`, one per date: where several devices reported a day, the
/// first non-empty value of each metric.
fn load_metrics(p: &impl Platform, since: NaiveDate) -> Result<Vec<DayMetrics>, Problem> {
    let apple = apple_connections(p)?;
    let mut days: BTreeMap<NaiveDate, DayMetrics> = BTreeMap::new();
    let mut cursor = None;
    for _ in 0..MAX_METRIC_PAGES {
        let page = p
            .select(
                METRICS,
                PageRequest {
                    filters: vec![Filter::new(
                        "metric_date",
                        Comparison::Ge,
                        Value::Date(since.to_string()),
                    )],
                    order_by: "metric_date".into(),
                    descending: false,
                    limit: MAX_PAGE,
                    cursor,
                },
                &[
                    "connection_id",
                    "sleep_duration_minutes",
                    "hrv_avg",
                    "steps",
                ],
            )
            .map_err(Problem::from_query)?;
        for row in &page.rows {
            let Some(date) = text_of(row, "metric_date").and_then(|d| d.parse().ok()) else {
                continue;
            };
            let sdnn = text_of(row, "connection_id").is_some_and(|c| apple.contains(&c));
            let day = days.entry(date).or_insert(DayMetrics {
                date,
                sleep_minutes: None,
                hrv_ms: None,
                steps: None,
            });
            day.sleep_minutes = day
                .sleep_minutes
                .or_else(|| int_of(row, "sleep_duration_minutes").and_then(exact_float));
            day.steps = day
                .steps
                .or_else(|| int_of(row, "steps").and_then(exact_float));
            if !sdnn {
                day.hrv_ms = day.hrv_ms.or_else(|| float_of(row, "hrv_avg"));
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(days.into_values().collect())
}

/// An integer column's value as a float: scores, minutes and step counts, which the catalog
/// keeps far inside `i32` (a value outside it is not a reading, and is left out).
fn exact_float(value: i64) -> Option<f64> {
    i32::try_from(value).ok().map(f64::from)
}

fn float_of(row: &Row, name: &str) -> Option<f64> {
    match column(row, name)? {
        Value::Float(f) if f.is_finite() => Some(*f),
        Value::Int(i) => exact_float(*i),
        _ => None,
    }
}

/// The ids of the caller's Apple Health connections.
fn apple_connections(p: &impl Platform) -> Result<HashSet<String>, Problem> {
    let page = p
        .query(
            CONNECTIONS,
            PageRequest {
                filters: vec![Filter::new(
                    "provider",
                    Comparison::Eq,
                    Value::Text(APPLE_HEALTH.into()),
                )],
                order_by: "created_at".into(),
                descending: false,
                limit: 100,
                cursor: None,
            },
        )
        .map_err(Problem::from_query)?;
    Ok(page
        .rows
        .iter()
        .filter_map(|row| text_of(row, "id"))
        .collect())
}
