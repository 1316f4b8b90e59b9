//! The HTTP API under `/api/v1/content`: routing and one handler per endpoint, written
//! against [`Platform`] so they run natively in tests.
//!
//! | method | path | handler |
//! |---|---|---|
//! | `GET` | `/` | [`list`]: active items, filters, keyset pages; no bodies; premium items marked `locked` for free users |
//! | `GET` | `/{id}` | [`read`]: one active item, whole; a premium item answers 403 to a free user |
//!
//! Premium gating: a premium item is listed for everyone (so a free user sees what the tier
//! holds), with `locked: true` and without its audio for a free user; its body is given only
//! to the premium tier.

use mindflow_component_kit::storage::{
    Comparison, Filter, PageRequest, Row, Value, column, text_of,
};
use mindflow_component_kit::{FieldError, Params, Platform, Problem, Reply, Request, Wording};
use serde_json::{Map, Value as Json, json};

/// The shared content library (read-only).
pub const CONTENT: &str = "content_library";
/// Where the component is mounted.
pub const BASE_PATH: &str = "/api/v1/content";
/// How the service words an item storage did not find, and its own failures.
pub const WORDING: Wording = Wording::new("content", "no such content item");
/// The most rows one list request reads while filtering by mood or factor; a page may then
/// hold fewer than `limit` items with a `next_cursor` to continue.
pub const MAX_SCANNED: usize = 1_000;
/// The most storage calls one list request makes.
pub const MAX_CALLS: usize = 20;
/// The difficulties the library knows.
pub const DIFFICULTIES: [&str; 3] = ["beginner", "intermediate", "advanced"];
/// The longest item the library holds, in minutes (the host refuses longer ones).
pub const MAX_DURATION: i64 = 240;

/// Columns a list item shows (never the body).
const LISTED: [&str; 14] = [
    "id",
    "content_type",
    "title",
    "description",
    "duration_minutes",
    "difficulty",
    "target_moods",
    "target_factors",
    "audio_url",
    "image_url",
    "is_premium",
    "provider",
    "created_at",
    "updated_at",
];

/// Answers a request, or fails with the problem to answer with.
///
/// # Errors
/// Every failure, as a [`Problem`].
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    let target = match request.segments() {
        Some(("", None)) => None,
        Some((id, None)) => Some(id),
        _ => return Err(Problem::not_found("no such content resource")),
    };
    if request.method != "GET" {
        return Err(Problem::method_not_allowed("GET"));
    }
    let premium = p.current_user().ok_or_else(Problem::unauthorized)?.premium;
    match target {
        None => list(p, &Params::parse(request.query), premium),
        Some(id) => read(p, id, premium),
    }
}

/// The parameters of `GET /`.
struct ListQuery {
    limit: u32,
    filters: Vec<Filter>,
    mood: Option<String>,
    factor: Option<String>,
}

/// A lowercase word (letters, digits, `_`) of at most `max` characters.
fn word(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn list_query(params: &Params) -> Result<ListQuery, Problem> {
    let mut errors = Vec::new();
    let limit = params.limit().map_err(|e| errors.push(e)).ok();
    let mut filters = vec![Filter::new("is_active", Comparison::Eq, Value::Bool(true))];
    if let Some(kind) = params.get("content_type") {
        if word(kind, 30) {
            filters.push(Filter::new(
                "content_type",
                Comparison::Eq,
                Value::Text(kind.into()),
            ));
        } else {
            errors.push(FieldError::new(
                "content_type",
                "must be a content type such as breathing or journaling_prompt",
            ));
        }
    }
    if let Some(difficulty) = params.get("difficulty") {
        if DIFFICULTIES.contains(&difficulty) {
            filters.push(Filter::new(
                "difficulty",
                Comparison::Eq,
                Value::Text(difficulty.into()),
            ));
        } else {
            errors.push(FieldError::new(
                "difficulty",
                format!("must be one of {}", DIFFICULTIES.join(", ")),
            ));
        }
    }
    if let Some(minutes) = params.get("max_duration") {
        match minutes.parse::<i64>() {
            Ok(m) if (1..=MAX_DURATION).contains(&m) => {
                filters.push(Filter::new(
                    "duration_minutes",
                    Comparison::Le,
                    Value::Int(m),
                ));
            }
            _ => errors.push(FieldError::new(
                "max_duration",
                format!("must be an integer from 1 to {MAX_DURATION} (minutes)"),
            )),
        }
    }
    if let Some(premium) = params.get("premium") {
        match premium {
            "true" | "false" => filters.push(Filter::new(
                "is_premium",
                Comparison::Eq,
                Value::Bool(premium == "true"),
            )),
            _ => errors.push(FieldError::new("premium", "must be true or false")),
        }
    }
    let mood = params.get("mood").map(str::to_owned);
    if mood.as_deref().is_some_and(|m| !word(m, 60)) {
        errors.push(FieldError::new(
            "mood",
            "must be a mood word such as anxious or low",
        ));
    }
    let factor = params.get("factor").map(str::to_owned);
    let factor_ok = |f: &str| match f.split_once(':') {
        Some((kind, name)) => word(kind, 30) && word(name, 60),
        None => word(f, 30),
    };
    if factor.as_deref().is_some_and(|f| !factor_ok(f)) {
        errors.push(FieldError::new(
            "factor",
            "must be a factor type (sleep) or type:value (sleep:poor_quality)",
        ));
    }
    match (limit, errors.is_empty()) {
        (Some(limit), true) => Ok(ListQuery {
            limit,
            filters,
            mood,
            factor,
        }),
        _ => Err(Problem::validation(errors)),
    }
}

/// The strings of a JSON array column (an absent or malformed one holds none).
fn strings(row: &Row, name: &str) -> Vec<String> {
    match column(row, name) {
        Some(Value::Json(text)) => serde_json::from_str::<Vec<Json>>(text)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a row suits the mood and factor asked for. A factor without `:` names a type and
/// matches any of its values.
fn suits(row: &Row, mood: Option<&str>, factor: Option<&str>) -> bool {
    let mood_ok = mood.is_none_or(|m| strings(row, "target_moods").iter().any(|x| x == m));
    let factor_ok = factor.is_none_or(|f| {
        strings(row, "target_factors").iter().any(|x| {
            x == f || (!f.contains(':') && x.split_once(':').is_some_and(|(kind, _)| kind == f))
        })
    });
    mood_ok && factor_ok
}

fn is_premium(row: &Row) -> bool {
    matches!(column(row, "is_premium"), Some(Value::Bool(true)))
}

/// An item as the caller may see it: `columns`, `is_premium` as a boolean, `locked` when it
/// is premium and the caller is not, and no audio then.
fn item_json(row: &Row, columns: &[&str], premium_caller: bool) -> Json {
    let locked = is_premium(row) && !premium_caller;
    let mut item = Map::new();
    for name in columns {
        let value = match *name {
            "target_moods" | "target_factors" => json!(strings(row, name)),
            "is_premium" => json!(is_premium(row)),
            "audio_url" if locked => Json::Null,
            _ => column(row, name).map_or(Json::Null, Value::to_json),
        };
        item.insert((*name).into(), value);
    }
    item.insert("locked".into(), json!(locked));
    Json::Object(item)
}

/// `GET /`: active items in id order, `limit` per page. Filters on the type, difficulty,
/// tier and duration are the storage query's; `mood` and `factor` (JSON lists) are applied
/// here while reading on, at most [`MAX_SCANNED`] rows per request.
fn list(p: &impl Platform, params: &Params, premium: bool) -> Result<Reply, Problem> {
    let query = list_query(params)?;
    let post_filter = query.mood.is_some() || query.factor.is_some();
    let mut rows = Vec::new();
    let mut cursor = params.cursor();
    let mut scanned = 0;
    let mut calls = 0;
    loop {
        let want = query.limit as usize - rows.len();
        let page = p
            .query(
                CONTENT,
                PageRequest {
                    filters: query.filters.clone(),
                    order_by: "id".into(),
                    descending: false,
                    limit: u32::try_from(want).unwrap_or(query.limit),
                    cursor: cursor.clone(),
                },
            )
            .map_err(Problem::from_query)?;
        calls += 1;
        scanned += page.rows.len();
        cursor = page.next_cursor;
        rows.extend(
            page.rows
                .into_iter()
                .filter(|row| suits(row, query.mood.as_deref(), query.factor.as_deref())),
        );
        if !post_filter
            || rows.len() >= query.limit as usize
            || cursor.is_none()
            || scanned >= MAX_SCANNED
            || calls >= MAX_CALLS
        {
            break;
        }
    }
    let items: Vec<Json> = rows
        .iter()
        .map(|row| item_json(row, &LISTED, premium))
        .collect();
    Ok(Reply::json(
        200,
        &json!({"items": items, "next_cursor": cursor}),
    ))
}

/// `GET /{id}`: the whole item. An inactive item is not found; a premium item needs the
/// premium tier.
fn read(p: &impl Platform, raw_id: &str, premium: bool) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(CONTENT, &id)?;
    if !matches!(column(&row, "is_active"), Some(Value::Bool(true))) {
        return Err(Problem::not_found(WORDING.not_found()));
    }
    if is_premium(&row) && !premium {
        let mut problem = Problem::premium_required("this item is part of the premium tier");
        problem
            .extra
            .insert("content_id".into(), json!(text_of(&row, "id")));
        return Err(problem);
    }
    let mut columns = LISTED.to_vec();
    columns.push("content_body");
    columns.push("view_count");
    columns.push("avg_rating");
    Ok(Reply::json(200, &item_json(&row, &columns, premium)))
}

#[cfg(test)]
mod tests;
