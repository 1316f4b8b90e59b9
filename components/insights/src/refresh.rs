//! Recomputing a person's insights: detect the patterns in their history and keep the stored
//! insights in step, one row per pattern.
//!
//! A pattern has a stable key (`factor_effect` of `exercise`, the weekday cycle, ...), kept
//! in the insight's `data_points.key`. On each refresh:
//! - a pattern already stored (valid, dismissed or not) has its row **updated in place**:
//!   new figures and wording, validity extended; its `shown_at`, `dismissed_at` and
//!   `helpful_rating` stay, so a dismissed insight does not come back while it still holds;
//! - a new pattern is **inserted**;
//! - a stored insight whose pattern no longer holds **expires** now (`valid_until`), so a
//!   finding that stopped holding stops being shown; it is not deleted (feedback stays).
//!
//! All of it is one atomic `batch` per 100 writes. Premium patterns (factors, wearables) are
//! computed and stored only for premium users.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use mindflow_component_kit::Platform;
use mindflow_component_kit::Problem;
use mindflow_component_kit::host::User;
use mindflow_component_kit::storage::{
    Comparison, Filter, PageRequest, Row, Value, Write, column, text_of,
};
use mindflow_insights::{Input, Pattern, Strength, detect};
use serde_json::{Map, Value as Json, json};

use crate::history;

/// The insights collection.
pub const INSIGHTS: &str = "user_insights";
/// How long a finding stays valid after the refresh that found it.
pub const FINDING_VALID_DAYS: i64 = 30;
/// How long an observation (an early, descriptive pattern) stays valid.
pub const OBSERVATION_VALID_DAYS: i64 = 7;
/// The most patterns kept for one person (strongest first).
pub const MAX_PATTERNS: usize = 40;
/// The most current insights read back to reconcile with (pages of 100).
const MAX_CURRENT_PAGES: usize = 5;
/// Writes per atomic batch (the storage capability's cap).
const BATCH: usize = 100;

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Mood logs analysed.
    pub analyzed_logs: usize,
    /// Patterns that hold now.
    pub patterns: usize,
    /// Insights inserted.
    pub inserted: usize,
    /// Insights updated in place.
    pub updated: usize,
    /// Insights that stopped holding.
    pub expired: usize,
}

/// Recomputes the caller's insights.
///
/// # Errors
/// A storage failure, as a problem; nothing is half-written within a batch.
pub fn refresh(p: &impl Platform, user: &User) -> Result<Outcome, Problem> {
    let now = p.now();
    let history = history::load(p, user, now, user.premium)?;
    let today = now.with_timezone(&history::zone(user)).date_naive();
    let mut patterns = detect(&Input {
        entries: &history.entries,
        metrics: &history.metrics,
        today,
        seed: seed_of(&user.id),
    });
    patterns.retain(|pattern| user.premium || !pattern.premium);
    patterns.truncate(MAX_PATTERNS);
    let mut current = current_by_key(p, now)?;
    let mut writes = Vec::new();
    let mut outcome = Outcome {
        analyzed_logs: history.entries.len(),
        patterns: patterns.len(),
        ..Outcome::default()
    };
    for pattern in &patterns {
        let fields = fields_of(pattern, now);
        match current.remove(&pattern.key) {
            Some(id) => {
                outcome.updated += 1;
                writes.push(Write::Update(INSIGHTS.into(), id, fields));
            }
            None => {
                outcome.inserted += 1;
                let mut row = fields;
                row.push(("valid_from".into(), Value::Timestamp(now.to_rfc3339())));
                writes.push(Write::Insert(INSIGHTS.into(), row));
            }
        }
    }
    for id in current.into_values() {
        outcome.expired += 1;
        writes.push(Write::Update(
            INSIGHTS.into(),
            id,
            vec![("valid_until".into(), Value::Timestamp(now.to_rfc3339()))],
        ));
    }
    for chunk in writes.chunks(BATCH) {
        p.batch(chunk.to_vec())?;
    }
    Ok(outcome)
}

/// A per-user seed, so a person's figures are reproducible from run to run (FNV-1a of the
/// id: no secret, only a fixed stream for the resampling tests).
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The caller's still-valid insights by pattern key: the newest row of each key.
fn current_by_key(
    p: &impl Platform,
    now: DateTime<Utc>,
) -> Result<HashMap<String, String>, Problem> {
    let mut by_key = HashMap::new();
    let mut cursor = None;
    for _ in 0..MAX_CURRENT_PAGES {
        let page = p
            .query(
                INSIGHTS,
                PageRequest {
                    filters: vec![Filter::new(
                        "valid_until",
                        Comparison::Gt,
                        Value::Timestamp(now.to_rfc3339()),
                    )],
                    order_by: "created_at".into(),
                    descending: false,
                    limit: 100,
                    cursor,
                },
            )
            .map_err(Problem::from_query)?;
        for row in &page.rows {
            if let (Some(id), Some(key)) = (text_of(row, "id"), key_of(row)) {
                // Oldest first: a newer row of the same key replaces an older one.
                by_key.insert(key, id);
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(by_key)
}

/// The pattern key a stored insight carries in `data_points.key`.
pub fn key_of(row: &Row) -> Option<String> {
    match column(row, "data_points")? {
        Value::Json(text) => serde_json::from_str::<Json>(text)
            .ok()?
            .get("key")?
            .as_str()
            .map(str::to_owned),
        _ => None,
    }
}

/// The columns a pattern sets (all but `valid_from`, which only an insert sets).
fn fields_of(pattern: &Pattern, now: DateTime<Utc>) -> Row {
    let valid_days = match pattern.strength {
        Strength::Finding => FINDING_VALID_DAYS,
        Strength::Observation => OBSERVATION_VALID_DAYS,
    };
    let mut points = match &pattern.data_points {
        Json::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("figures".into(), other.clone());
            map
        }
    };
    points.insert("key".into(), json!(pattern.key));
    points.insert("subject".into(), json!(pattern.subject));
    points.insert("direction".into(), json!(pattern.direction.as_str()));
    points.insert("strength".into(), json!(pattern.strength.as_str()));
    points.insert("premium".into(), json!(pattern.premium));
    vec![
        (
            "insight_type".into(),
            Value::Text(pattern.insight_type.as_str().into()),
        ),
        ("title".into(), Value::Text(clipped(&pattern.title, 200))),
        (
            "description".into(),
            Value::Text(pattern.description.clone()),
        ),
        (
            "data_points".into(),
            Value::Json(Json::Object(points).to_string()),
        ),
        (
            "confidence_score".into(),
            Value::Float(pattern.confidence.clamp(0.0, 1.0)),
        ),
        (
            "valid_until".into(),
            Value::Timestamp((now + Duration::days(valid_days)).to_rfc3339()),
        ),
    ]
}

fn clipped(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
