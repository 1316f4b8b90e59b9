//! The HTTP API under `/api/v1/recommendations`: routing, one handler per endpoint, and the
//! reading of what the [`engine`](crate::engine) decides from.
//!
//! | method | path | handler |
//! |---|---|---|
//! | `GET` | `/` | [`list`]: today's suggestions (made on the first visit of the person's day), by priority |
//! | `GET` | `/{id}` | [`read`]: one suggestion |
//! | `POST` | `/{id}/click` | [`click`]: the person opened it (`clicked_at`) |
//! | `POST` | `/{id}/complete` | [`complete`]: done (`completed_at`), optionally with `feedback` |
//! | `POST` | `/{id}/feedback` | [`feedback`]: `helpful`, `neutral` or `not_helpful` |
//!
//! Suggestions expire at the end of the person's local day (`expires_at`); showing one
//! records `shown_at` the first time. Each carries the library item it points to.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use mindflow_component_kit::host::User;
use mindflow_component_kit::storage::{
    Comparison, Filter, MAX_CHILDREN_PARENTS, PageRequest, Row, Value, Write, column, int_of,
    row_json, text_of,
};
use mindflow_component_kit::validate::object;
use mindflow_component_kit::{FieldError, Platform, Problem, Reply, Request, Wording};
use serde_json::{Map, Value as Json, json};

use crate::engine::{self, InsightView, Item, Situation, Suggestion};

/// Where the component is mounted.
pub const BASE_PATH: &str = "/api/v1/recommendations";
/// How the service words a suggestion storage did not find, and its own failures.
pub const WORDING: Wording = Wording::new("recommendations", "no such recommendation");
/// The suggestions.
pub const RECOMMENDATIONS: &str = "recommendations";
/// The library (read-only).
pub const CONTENT: &str = "content_library";
/// The person's insights (read-only here).
pub const INSIGHTS: &str = "user_insights";
/// Mood logs.
pub const LOGS: &str = "mood_logs";
/// Their factors.
pub const FACTORS: &str = "mood_factors";
/// Feedback a person may give.
pub const FEEDBACK: [&str; 3] = ["helpful", "neutral", "not_helpful"];
/// Insight types only premium users see (their suggestions too).
const PREMIUM_INSIGHTS: [&str; 2] = ["factor_effect", "wearable_link"];
/// The most library pages read (100 items each).
const MAX_CONTENT_PAGES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource<'a> {
    List,
    One(&'a str),
    Click(&'a str),
    Complete(&'a str),
    Feedback(&'a str),
}

impl Resource<'_> {
    fn allow(self) -> &'static str {
        match self {
            Self::List | Self::One(_) => "GET",
            Self::Click(_) | Self::Complete(_) | Self::Feedback(_) => "POST",
        }
    }
}

fn resource(path: &str) -> Option<Resource<'_>> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Some(Resource::List);
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    match parts.as_slice() {
        [id] => Some(Resource::One(id)),
        [id, "click"] => Some(Resource::Click(id)),
        [id, "complete"] => Some(Resource::Complete(id)),
        [id, "feedback"] => Some(Resource::Feedback(id)),
        _ => None,
    }
}

/// Answers a request, or fails with the problem to answer with.
///
/// # Errors
/// Every failure, as a [`Problem`].
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    let resource = resource(request.path)
        .ok_or_else(|| Problem::not_found("no such recommendations resource"))?;
    let user = p.current_user().ok_or_else(Problem::unauthorized)?;
    match (resource, request.method) {
        (Resource::List, "GET") => list(p, &user),
        (Resource::One(id), "GET") => read(p, id),
        (Resource::Click(id), "POST") => click(p, id),
        (Resource::Complete(id), "POST") => complete(p, id, request.body),
        (Resource::Feedback(id), "POST") => feedback(p, id, request.body),
        (resource, _) => Err(Problem::method_not_allowed(resource.allow())),
    }
}

fn zone(user: &User) -> Tz {
    user.timezone.parse().unwrap_or(chrono_tz::UTC)
}

fn instant(value: DateTime<Utc>) -> Value {
    Value::Timestamp(value.to_rfc3339())
}

fn timestamp_of(row: &Row, name: &str) -> Option<DateTime<Utc>> {
    text_of(row, name)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn strings_of(row: &Row, name: &str) -> Vec<String> {
    match column(row, name) {
        Some(Value::Json(text)) => serde_json::from_str::<Vec<String>>(text).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The start of the person's local day, and of the next, as instants.
fn local_day(user: &User, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let zone = zone(user);
    let today = now.with_timezone(&zone).date_naive();
    let start_of = |date: chrono::NaiveDate| {
        zone.from_local_datetime(&date.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let tomorrow = today.succ_opt().unwrap_or(today);
    (start_of(today), start_of(tomorrow))
}

// ---------------------------------------------------------------------------------------
// Reading what the engine decides from.

/// Every active library item.
fn library(p: &impl Platform) -> Result<(Vec<Item>, HashMap<String, Row>), Problem> {
    let mut items = Vec::new();
    let mut rows = HashMap::new();
    let mut cursor = None;
    for _ in 0..MAX_CONTENT_PAGES {
        let page = p
            .query(
                CONTENT,
                PageRequest {
                    filters: vec![Filter::new("is_active", Comparison::Eq, Value::Bool(true))],
                    order_by: "created_at".into(),
                    descending: false,
                    limit: 100,
                    cursor,
                },
            )
            .map_err(Problem::from_query)?;
        for row in page.rows {
            let Some(id) = text_of(&row, "id") else {
                continue;
            };
            items.push(Item {
                id: id.clone(),
                content_type: text_of(&row, "content_type").unwrap_or_default(),
                title: text_of(&row, "title").unwrap_or_default(),
                duration_minutes: int_of(&row, "duration_minutes"),
                target_moods: strings_of(&row, "target_moods"),
                target_factors: strings_of(&row, "target_factors"),
                is_premium: matches!(column(&row, "is_premium"), Some(Value::Bool(true))),
            });
            rows.insert(id, row);
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok((items, rows))
}

/// What the person logged lately.
struct Recent {
    /// Their latest log of the last day: mood and anxiety.
    latest: Option<(i64, Option<i64>)>,
    /// Factor types of the last three days, most often first.
    factors: Vec<String>,
}

/// The person's latest log of the last day and the factor types of the last three days.
fn recent_logs(p: &impl Platform, now: DateTime<Utc>) -> Result<Recent, Problem> {
    let page = p
        .query(
            LOGS,
            PageRequest {
                filters: vec![Filter::new(
                    "logged_at",
                    Comparison::Ge,
                    instant(now - Duration::days(3)),
                )],
                order_by: "logged_at".into(),
                descending: true,
                limit: 50,
                cursor: None,
            },
        )
        .map_err(Problem::from_query)?;
    let latest = page.rows.first().and_then(|row| {
        let recent = timestamp_of(row, "logged_at").is_some_and(|t| now - t <= Duration::days(1));
        recent
            .then(|| int_of(row, "mood_score").map(|m| (m, int_of(row, "anxiety_level"))))
            .flatten()
    });
    let ids: Vec<String> = page.rows.iter().filter_map(|r| text_of(r, "id")).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for chunk in ids.chunks(MAX_CHILDREN_PARENTS) {
        for row in p.children(FACTORS, "mood_log_id", chunk)? {
            if let Some(kind) = text_of(&row, "factor_type") {
                *counts.entry(kind).or_default() += 1;
            }
        }
    }
    let mut factors: Vec<(String, usize)> = counts.into_iter().collect();
    factors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Recent {
        latest,
        factors: factors.into_iter().map(|(f, _)| f).collect(),
    })
}

/// The person's current insights (premium ones only for premium users).
fn insights(
    p: &impl Platform,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Vec<InsightView>, Problem> {
    let page = p
        .query(
            INSIGHTS,
            PageRequest {
                filters: vec![
                    Filter::new("dismissed_at", Comparison::Eq, Value::Null),
                    Filter::new("valid_until", Comparison::Gt, instant(now)),
                ],
                order_by: "created_at".into(),
                descending: true,
                limit: 100,
                cursor: None,
            },
        )
        .map_err(Problem::from_query)?;
    Ok(page
        .rows
        .iter()
        .filter_map(|row| {
            let insight_type = text_of(row, "insight_type")?;
            if !user.premium && PREMIUM_INSIGHTS.contains(&insight_type.as_str()) {
                return None;
            }
            let points: Json = match column(row, "data_points")? {
                Value::Json(text) => serde_json::from_str(text).ok()?,
                _ => return None,
            };
            Some(InsightView {
                id: text_of(row, "id")?,
                insight_type,
                subject: points.get("subject")?.as_str()?.to_owned(),
                direction: points.get("direction")?.as_str()?.to_owned(),
            })
        })
        .collect())
}

/// The person's suggestions of the last [`engine::UNHELPFUL_QUIET_DAYS`], newest first.
fn past(p: &impl Platform, now: DateTime<Utc>) -> Result<Vec<Row>, Problem> {
    let mut rows = Vec::new();
    let mut cursor = None;
    for _ in 0..3 {
        let page = p
            .query(
                RECOMMENDATIONS,
                PageRequest {
                    filters: vec![Filter::new(
                        "created_at",
                        Comparison::Ge,
                        instant(now - Duration::days(engine::UNHELPFUL_QUIET_DAYS)),
                    )],
                    order_by: "created_at".into(),
                    descending: true,
                    limit: 100,
                    cursor,
                },
            )
            .map_err(Problem::from_query)?;
        rows.extend(page.rows);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(rows)
}

/// Items not to suggest now: suggested lately, or called unhelpful.
fn excluded(past: &[Row], now: DateTime<Utc>) -> HashSet<String> {
    past.iter()
        .filter(|row| {
            let recent = timestamp_of(row, "created_at")
                .is_some_and(|t| now - t < Duration::days(engine::REPEAT_AFTER_DAYS));
            recent || text_of(row, "feedback").as_deref() == Some("not_helpful")
        })
        .filter_map(|row| text_of(row, "content_id"))
        .collect()
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// Makes today's suggestions unless some were already made today; stores them in one batch.
fn make_todays(
    p: &impl Platform,
    user: &User,
    now: DateTime<Utc>,
    past: &[Row],
    items: &[Item],
) -> Result<(), Problem> {
    let (start, end) = local_day(user, now);
    if past
        .iter()
        .any(|row| timestamp_of(row, "created_at").is_some_and(|t| t >= start))
    {
        return Ok(());
    }
    let local = now.with_timezone(&zone(user));
    let recent = recent_logs(p, now)?;
    let situation = Situation {
        latest: recent.latest,
        local_hour: local.hour(),
        today: weekday_name(local.weekday()),
        tomorrow: weekday_name(local.weekday().succ()),
        recent_factors: recent.factors,
        insights: insights(p, user, now)?,
    };
    let chosen = engine::choose(
        &engine::signals(&situation),
        items,
        &excluded(past, now),
        user.premium,
        engine::PER_DAY,
    );
    let writes: Vec<Write> = chosen
        .into_iter()
        .map(|s| Write::Insert(RECOMMENDATIONS.into(), suggestion_row(&s, end)))
        .collect();
    if !writes.is_empty() {
        p.batch(writes)?;
    }
    Ok(())
}

fn suggestion_row(suggestion: &Suggestion, expires_at: DateTime<Utc>) -> Row {
    vec![
        (
            "content_id".into(),
            Value::Uuid(suggestion.content_id.clone()),
        ),
        (
            "insight_id".into(),
            suggestion
                .insight_id
                .clone()
                .map_or(Value::Null, Value::Uuid),
        ),
        ("reason".into(), Value::Text(suggestion.reason.clone())),
        ("priority".into(), Value::Int(suggestion.priority)),
        ("expires_at".into(), instant(expires_at)),
    ]
}

// ---------------------------------------------------------------------------------------
// Handlers.

/// A suggestion as a client sees it, with its item's summary.
fn suggestion_json(row: &Row, content: Option<&Row>) -> Json {
    let mut entry = row_json(row);
    if let Some(item) = content {
        let mut summary = Map::new();
        for name in [
            "id",
            "content_type",
            "title",
            "description",
            "duration_minutes",
            "difficulty",
            "is_premium",
        ] {
            if let Some(value) = column(item, name) {
                summary.insert(name.into(), value.to_json());
            }
        }
        entry.insert("content".into(), Json::Object(summary));
    }
    Json::Object(entry)
}

/// `GET /`: today's suggestions, most pressing first (made now if none were made today).
fn list(p: &impl Platform, user: &User) -> Result<Reply, Problem> {
    let now = p.now();
    let (items, content) = library(p)?;
    make_todays(p, user, now, &past(p, now)?, &items)?;
    let page = p
        .query(
            RECOMMENDATIONS,
            PageRequest {
                filters: vec![
                    Filter::new("expires_at", Comparison::Gt, instant(now)),
                    Filter::new("completed_at", Comparison::Eq, Value::Null),
                ],
                order_by: "priority".into(),
                descending: false,
                limit: 100,
                cursor: None,
            },
        )
        .map_err(Problem::from_query)?;
    let shown_at = instant(now);
    let mut writes = Vec::new();
    let mut out = Vec::new();
    for mut row in page.rows {
        let item = text_of(&row, "content_id").and_then(|id| content.get(&id));
        // An item withdrawn from the library, or premium for a person who is no longer.
        let offered = item.is_some_and(|item| {
            user.premium || !matches!(column(item, "is_premium"), Some(Value::Bool(true)))
        });
        if !offered {
            continue;
        }
        if matches!(column(&row, "shown_at"), None | Some(Value::Null))
            && let Some(id) = text_of(&row, "id")
        {
            writes.push(Write::Update(
                RECOMMENDATIONS.into(),
                id,
                vec![("shown_at".into(), shown_at.clone())],
            ));
            row.retain(|(name, _)| name != "shown_at");
            row.push(("shown_at".into(), shown_at.clone()));
        }
        out.push(suggestion_json(&row, item));
    }
    if !writes.is_empty() {
        p.batch(writes)?;
    }
    Ok(Reply::json(200, &json!({ "items": out })))
}

fn item_of(p: &impl Platform, row: &Row) -> Option<Row> {
    text_of(row, "content_id").and_then(|id| p.get(CONTENT, &id).ok())
}

/// `GET /{id}`.
fn read(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(RECOMMENDATIONS, &id)?;
    Ok(Reply::json(
        200,
        &suggestion_json(&row, item_of(p, &row).as_ref()),
    ))
}

/// `POST /{id}/click`: records the first time the person opened it.
fn click(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(RECOMMENDATIONS, &id)?;
    let row = if matches!(column(&row, "clicked_at"), None | Some(Value::Null)) {
        p.update(
            RECOMMENDATIONS,
            &id,
            vec![("clicked_at".into(), instant(p.now()))],
        )?
    } else {
        row
    };
    Ok(Reply::json(
        200,
        &suggestion_json(&row, item_of(p, &row).as_ref()),
    ))
}

/// The `feedback` of a body: required or optional.
fn feedback_of(body: &[u8], required: bool) -> Result<Option<String>, Problem> {
    if !required && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let fields = object(body).map_err(Problem::validation)?;
    let mut errors = Vec::new();
    let mut feedback = None;
    for (name, value) in &fields {
        match (name.as_str(), value.as_str()) {
            ("feedback", Some(text)) if FEEDBACK.contains(&text) => {
                feedback = Some(text.to_owned());
            }
            ("feedback", _) => errors.push(FieldError::new(
                "feedback",
                format!("must be one of {}", FEEDBACK.join(", ")),
            )),
            (other, _) => errors.push(FieldError::new(other, "is not a field of this request")),
        }
    }
    if required && feedback.is_none() && errors.is_empty() {
        errors.push(FieldError::new("feedback", "is required"));
    }
    if errors.is_empty() {
        Ok(feedback)
    } else {
        Err(Problem::validation(errors))
    }
}

/// `POST /{id}/complete`: `{"feedback": …}` optional.
fn complete(p: &impl Platform, raw_id: &str, body: &[u8]) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let feedback = feedback_of(body, false)?;
    let row = p.get(RECOMMENDATIONS, &id)?;
    let mut changes = Vec::new();
    if matches!(column(&row, "completed_at"), None | Some(Value::Null)) {
        changes.push(("completed_at".into(), instant(p.now())));
    }
    if let Some(feedback) = feedback {
        changes.push(("feedback".into(), Value::Text(feedback)));
    }
    let row = if changes.is_empty() {
        row
    } else {
        p.update(RECOMMENDATIONS, &id, changes)?
    };
    Ok(Reply::json(
        200,
        &suggestion_json(&row, item_of(p, &row).as_ref()),
    ))
}

/// `POST /{id}/feedback`: `{"feedback": "helpful" | "neutral" | "not_helpful"}`.
fn feedback(p: &impl Platform, raw_id: &str, body: &[u8]) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let feedback = feedback_of(body, true)?.unwrap_or_default();
    let row = p.update(
        RECOMMENDATIONS,
        &id,
        vec![("feedback".into(), Value::Text(feedback))],
    )?;
    Ok(Reply::json(
        200,
        &suggestion_json(&row, item_of(p, &row).as_ref()),
    ))
}
