//! The HTTP API under `/api/v1/insights`: routing and one handler per endpoint, written
//! against [`Platform`] so they run natively in tests.
//!
//! | method | path | handler |
//! |---|---|---|
//! | `GET` | `/` | [`list`]: current insights (valid now, not dismissed), newest first, `limit`/`cursor`, `insight_type` |
//! | `GET` | `/{id}` | [`read`]: one insight |
//! | `POST` | `/{id}/feedback` | [`feedback`]: `helpful_rating` 1–5 |
//! | `POST` | `/{id}/dismiss` | [`dismiss`]: never shown again while its pattern holds |
//! | `POST` | `/refresh` | [`run_refresh`]: recompute now (the host also calls it nightly) |
//!
//! Showing an insight records `shown_at` the first time. Factor and wearable insights are
//! premium (seed-plan §3.2): a free user is not shown them, and reading one by id answers
//! 403 `premium-required`.

use mindflow_component_kit::host::User;
use mindflow_component_kit::storage::{
    Comparison, Filter, PageRequest, Row, Value, Write, column, row_json, text_of,
};
use mindflow_component_kit::validate::object;
use mindflow_component_kit::{FieldError, Params, Platform, Problem, Reply, Request, Wording};
use serde_json::{Value as Json, json};

use crate::refresh::{self, INSIGHTS};

/// Where the component is mounted (for `Location`).
pub const BASE_PATH: &str = "/api/v1/insights";
/// How the service words an insight storage did not find, and its own failures.
pub const WORDING: Wording = Wording::new("insights", "no such insight");
/// The insight types only premium users see.
pub const PREMIUM_TYPES: [&str; 2] = ["factor_effect", "wearable_link"];
/// Every insight type.
pub const TYPES: [&str; 5] = [
    "weekday_cycle",
    "time_of_day",
    "factor_effect",
    "wearable_link",
    "trend_change",
];

/// Which resource a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource<'a> {
    Insights,
    Refresh,
    Insight(&'a str),
    Feedback(&'a str),
    Dismiss(&'a str),
}

impl Resource<'_> {
    fn allow(self) -> &'static str {
        match self {
            Self::Insights | Self::Insight(_) => "GET",
            Self::Refresh | Self::Feedback(_) | Self::Dismiss(_) => "POST",
        }
    }
}

fn resource(path: &str) -> Option<Resource<'_>> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Some(Resource::Insights);
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    match parts.as_slice() {
        ["refresh"] => Some(Resource::Refresh),
        [id] => Some(Resource::Insight(id)),
        [id, "feedback"] => Some(Resource::Feedback(id)),
        [id, "dismiss"] => Some(Resource::Dismiss(id)),
        _ => None,
    }
}

/// Answers a request, or fails with the problem to answer with.
///
/// # Errors
/// Every failure, as a [`Problem`].
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    let resource =
        resource(request.path).ok_or_else(|| Problem::not_found("no such insights resource"))?;
    let user = p.current_user().ok_or_else(Problem::unauthorized)?;
    let params = Params::parse(request.query);
    match (resource, request.method) {
        (Resource::Insights, "GET") => list(p, &user, &params),
        (Resource::Insight(id), "GET") => read(p, &user, id),
        (Resource::Refresh, "POST") => run_refresh(p, &user),
        (Resource::Feedback(id), "POST") => feedback(p, &user, id, request),
        (Resource::Dismiss(id), "POST") => dismiss(p, &user, id),
        (resource, _) => Err(Problem::method_not_allowed(resource.allow())),
    }
}

/// Whether a stored insight is one only premium users see.
fn is_premium(row: &Row) -> bool {
    text_of(row, "insight_type").is_some_and(|t| PREMIUM_TYPES.contains(&t.as_str()))
}

/// An insight as a client sees it.
fn insight_json(row: &Row) -> Json {
    Json::Object(row_json(row))
}

/// Records `shown_at` on the rows that were never shown, in one batch; the rows as shown.
fn mark_shown(p: &impl Platform, rows: Vec<Row>) -> Result<Vec<Row>, Problem> {
    let now = Value::Timestamp(p.now().to_rfc3339());
    let mut writes = Vec::new();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|mut row| {
            if matches!(column(&row, "shown_at"), None | Some(Value::Null))
                && let Some(id) = text_of(&row, "id")
            {
                writes.push(Write::Update(
                    INSIGHTS.into(),
                    id,
                    vec![("shown_at".into(), now.clone())],
                ));
                row.retain(|(name, _)| name != "shown_at");
                row.push(("shown_at".into(), now.clone()));
            }
            row
        })
        .collect();
    if !writes.is_empty() {
        p.batch(writes)?;
    }
    Ok(rows)
}

/// `GET /`: the current insights, newest first.
fn list(p: &impl Platform, user: &User, params: &Params) -> Result<Reply, Problem> {
    let mut errors = Vec::new();
    let limit = params.limit().map_err(|e| errors.push(e)).ok();
    let kind = params.get("insight_type");
    if let Some(kind) = kind
        && !TYPES.contains(&kind)
    {
        errors.push(FieldError::new(
            "insight_type",
            format!("must be one of {}", TYPES.join(", ")),
        ));
    }
    let (Some(limit), true) = (limit, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let now = Value::Timestamp(p.now().to_rfc3339());
    let mut filters = vec![
        Filter::new("dismissed_at", Comparison::Eq, Value::Null),
        Filter::new("valid_until", Comparison::Gt, now.clone()),
        Filter::new("valid_from", Comparison::Le, now),
    ];
    if let Some(kind) = kind {
        if !user.premium && PREMIUM_TYPES.contains(&kind) {
            return Err(Problem::premium_required(
                "factor and wearable insights are part of premium",
            ));
        }
        filters.push(Filter::new(
            "insight_type",
            Comparison::Eq,
            Value::Text(kind.into()),
        ));
    } else if !user.premium {
        for premium in PREMIUM_TYPES {
            filters.push(Filter::new(
                "insight_type",
                Comparison::Ne,
                Value::Text(premium.into()),
            ));
        }
    }
    let page = p
        .query(
            INSIGHTS,
            PageRequest {
                filters,
                order_by: "created_at".into(),
                descending: true,
                limit,
                cursor: params.cursor(),
            },
        )
        .map_err(Problem::from_query)?;
    let items: Vec<Json> = mark_shown(p, page.rows)?.iter().map(insight_json).collect();
    Ok(Reply::json(
        200,
        &json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// The caller's insight `raw_id`, premium-gated.
fn owned(p: &impl Platform, user: &User, raw_id: &str) -> Result<(String, Row), Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(INSIGHTS, &id)?;
    if !user.premium && is_premium(&row) {
        return Err(Problem::premium_required(
            "factor and wearable insights are part of premium",
        ));
    }
    Ok((id, row))
}

/// `GET /{id}`.
fn read(p: &impl Platform, user: &User, raw_id: &str) -> Result<Reply, Problem> {
    let (_, row) = owned(p, user, raw_id)?;
    let shown = mark_shown(p, vec![row])?;
    Ok(Reply::json(200, &insight_json(&shown[0])))
}

/// `POST /{id}/feedback`: `{"helpful_rating": 1..=5}`.
fn feedback(
    p: &impl Platform,
    user: &User,
    raw_id: &str,
    request: &Request<'_>,
) -> Result<Reply, Problem> {
    let (id, _) = owned(p, user, raw_id)?;
    let body = object(request.body).map_err(Problem::validation)?;
    let mut errors = Vec::new();
    let mut rating = None;
    for (name, value) in &body {
        match name.as_str() {
            "helpful_rating" => match value.as_i64().filter(|r| (1..=5).contains(r)) {
                Some(r) => rating = Some(r),
                None => errors.push(FieldError::new(
                    "helpful_rating",
                    "must be an integer from 1 (not helpful) to 5 (very helpful)",
                )),
            },
            other => errors.push(FieldError::new(other, "is not a field of feedback")),
        }
    }
    if rating.is_none() && errors.is_empty() {
        errors.push(FieldError::new("helpful_rating", "is required"));
    }
    let (Some(rating), true) = (rating, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let row = p.update(
        INSIGHTS,
        &id,
        vec![("helpful_rating".into(), Value::Int(rating))],
    )?;
    Ok(Reply::json(200, &insight_json(&row)))
}

/// `POST /{id}/dismiss`.
fn dismiss(p: &impl Platform, user: &User, raw_id: &str) -> Result<Reply, Problem> {
    let (id, row) = owned(p, user, raw_id)?;
    if !matches!(column(&row, "dismissed_at"), None | Some(Value::Null)) {
        return Ok(Reply::json(200, &insight_json(&row)));
    }
    let row = p.update(
        INSIGHTS,
        &id,
        vec![(
            "dismissed_at".into(),
            Value::Timestamp(p.now().to_rfc3339()),
        )],
    )?;
    Ok(Reply::json(200, &insight_json(&row)))
}

/// `POST /refresh`: recompute now; answers what changed.
fn run_refresh(p: &impl Platform, user: &User) -> Result<Reply, Problem> {
    let outcome = refresh::refresh(p, user)?;
    Ok(Reply::json(
        200,
        &json!({
            "analyzed_logs": outcome.analyzed_logs,
            "patterns": outcome.patterns,
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "expired": outcome.expired,
        }),
    ))
}
