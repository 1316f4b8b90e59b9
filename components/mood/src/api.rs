//! The HTTP API under `/api/v1/mood` (seed-plan §3.2): routing and one handler per endpoint,
//! written against [`Platform`] so they run natively in tests.
//!
//! | method | path | handler |
//! |---|---|---|
//! | `POST` | `/logs` | [`create`]: validate, derive time of day and weekday in the user's zone, sentiment, crisis assessment, then the log and its factors in one batch |
//! | `GET` | `/logs` | [`list`]: newest first, `limit`/`cursor`, `from`/`to` |
//! | `GET` `PATCH` `DELETE` | `/logs/{id}` | [`read`], [`update`], [`remove`] |
//! | `GET` | `/stats` | [`stats`]: count, mean, min, max, SD overall, by weekday and by time of day |
//! | `GET` | `/trends` | [`trends`]: daily or ISO-weekly means, moving average, direction |
//! | `GET` | `/factors` | [`factors`] (premium): per-factor effect sizes and rank correlations |

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde_json::{Map, Value as Json, json};

use mindflow_component_kit::analysis::{self, CrisisView};
use mindflow_component_kit::handlers;
use mindflow_component_kit::host::User;
use mindflow_component_kit::instant::format_instant;
use mindflow_component_kit::row_object::{Member, RowObject};
use mindflow_component_kit::storage::{
    AggregateFn, AggregateRequest, AggregateRow, Grouping, MAX_CHILDREN_PARENTS, PageRequest, Row,
    StorageError, Value, Write, group_by_parent, int_of, text_of,
};
use mindflow_component_kit::{FieldError, Params, Platform, Problem, Range, Reply, Wording};

use crate::factors::{self, FactorReport, Sample};
use crate::localtime::{TimeOfDay, local_parts};
use crate::note;
use crate::stats::{direction, effect_label, least_squares, trailing_moving_average};
use crate::validate::{self, FactorInput};

/// The mood logs collection.
pub const LOGS: &str = "mood_logs";
/// The factors collection.
pub const FACTORS: &str = "mood_factors";
/// Where the component is mounted (for `Location`).
pub const BASE_PATH: &str = "/api/v1/mood";
/// How the service words a log storage did not find, and its own failures.
pub const WORDING: Wording = Wording::new("mood", "no such mood log");
/// The `source` given to `crisis.assess`.
pub const CRISIS_SOURCE: &str = "mood_log";

/// The smallest change of the fitted trend line over the whole series, in mood points on the
/// 1–10 scale, that counts as `improving` or `declining`.
pub const TREND_THRESHOLD: f64 = 0.5;
/// The fewest points a series needs before a direction is given.
pub const TREND_MIN_POINTS: usize = 3;
/// The longest daily series, in days.
pub const MAX_DAILY_RANGE_DAYS: i64 = 366;
/// The longest weekly series, in weeks.
pub const MAX_WEEKLY_RANGE_WEEKS: i64 = 520;
/// Pages of logs (of 100) the factor analysis reads at most: the newest 1,000 logs.
pub const FACTOR_MAX_LOG_PAGES: usize = 10;
/// The factor column that points at a log.
const FACTOR_LOG_FIELD: &str = "mood_log_id";

use mindflow_component_kit::Request;

/// The resources of this API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource<'a> {
    Logs,
    Log(&'a str),
    Stats,
    Trends,
    Factors,
}

impl Resource<'_> {
    fn allow(self) -> &'static str {
        match self {
            Self::Logs => "GET, POST",
            Self::Log(_) => "GET, PATCH, DELETE",
            Self::Stats | Self::Trends | Self::Factors => "GET",
        }
    }
}

fn resource<'a>(request: &Request<'a>) -> Option<Resource<'a>> {
    match request.segments()? {
        ("logs", None) => Some(Resource::Logs),
        ("logs", Some(id)) if !id.is_empty() => Some(Resource::Log(id)),
        ("stats", None) => Some(Resource::Stats),
        ("trends", None) => Some(Resource::Trends),
        ("factors", None) => Some(Resource::Factors),
        _ => None,
    }
}

/// Answers a request, or fails with the problem to answer with: the kit turns it into a
/// problem document in the service's words ([`WORDING`]).
///
/// # Errors
/// Every failure, as a [`Problem`].
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    let resource = resource(request).ok_or_else(|| Problem::not_found("no such mood resource"))?;
    let params = Params::parse(request.query);
    let user = || p.current_user().ok_or_else(Problem::unauthorized);
    match (resource, request.method) {
        (Resource::Logs, "POST") => create(p, &user()?, request.body),
        (Resource::Logs, "GET") => list(p, &params),
        (Resource::Log(id), "GET") => read(p, id),
        (Resource::Log(id), "PATCH") => update(p, &user()?, id, request.body),
        (Resource::Log(id), "DELETE") => remove(p, id),
        (Resource::Stats, "GET") => stats(p, &user()?, &params),
        (Resource::Trends, "GET") => trends(p, &user()?, &params),
        (Resource::Factors, "GET") => factors(p, &user()?, &params),
        (resource, _) => Err(Problem::method_not_allowed(resource.allow())),
    }
}

// ---------------------------------------------------------------------------------------
// Rows and JSON.

/// Factors sorted by type, value and id, so every read shows them in one order.
fn in_order(factors: &[Row]) -> Vec<&Row> {
    let mut factors: Vec<&Row> = factors.iter().collect();
    factors.sort_by_key(|f| {
        (
            text_of(f, "factor_type"),
            text_of(f, "factor_value"),
            text_of(f, "id"),
        )
    });
    factors
}

/// A log as a client sees it, written straight to JSON: `log` (a row as shown, see
/// [`note::shown_object`]) with its factors (in [`in_order`]).
fn log_object<'a>(log: RowObject<'a>, factors: &'a [Row]) -> RowObject<'a> {
    log.with(
        "factors",
        Member::Rows(in_order(factors).into_iter().map(RowObject::new).collect()),
    )
}

/// [`log_object`] of a row as shown, as a map (for an answer that adds to it).
fn log_json(row: &Row, factors: &[Row]) -> Map<String, Json> {
    log_object(RowObject::new(row), factors).to_map()
}

/// The factors of one log.
fn factors_of(p: &impl Platform, log_id: &str) -> Result<Vec<Row>, StorageError> {
    p.children(FACTORS, FACTOR_LOG_FIELD, &[log_id.to_owned()])
}

fn factor_row(log_id: &str, factor: &FactorInput) -> Row {
    let mut row = vec![
        ("mood_log_id".to_owned(), Value::Uuid(log_id.to_owned())),
        (
            "factor_type".to_owned(),
            Value::Text(factor.factor_type.clone()),
        ),
    ];
    if let Some(v) = &factor.factor_value {
        row.push(("factor_value".into(), Value::Text(v.clone())));
    }
    if let Some(i) = factor.impact_score {
        row.push(("impact_score".into(), Value::Int(i)));
    }
    row
}

fn instant_json(instant: Option<DateTime<Utc>>) -> Json {
    instant.map_or(Json::Null, |t| json!(format_instant(&t)))
}

/// Collects field errors from several checks.
fn checked<T>(result: Result<T, Vec<FieldError>>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.extend(e)).ok()
}

/// Names a batch's field error the way the client sent it: storage prefixes it with the
/// write (`writes[2].factor_type`); `labels[i]` is the client's prefix for write `i` (`""`
/// for the log itself, `factors[1].` for a factor), `None` for writes the client did not
/// spell out (deleting old factors).
fn relabel(error: StorageError, labels: &[Option<String>]) -> StorageError {
    let StorageError::Invalid { field, message } = error else {
        return error;
    };
    let relabelled = field
        .strip_prefix("writes[")
        .and_then(|rest| rest.split_once("]."))
        .and_then(|(index, name)| {
            let label = labels.get(index.parse::<usize>().ok()?)?.as_ref()?;
            Some(format!("{label}{name}"))
        });
    StorageError::Invalid {
        field: relabelled.unwrap_or(field),
        message,
    }
}

// ---------------------------------------------------------------------------------------
// Notes: sentiment and crisis assessment.

#[derive(Debug, Clone, Default, PartialEq)]
struct NoteAnalysis {
    sentiment: Option<f64>,
    triggered: bool,
    crisis: CrisisView,
}

/// Sentiment and crisis assessment of a note; a blank note is not analysed.
fn analyse_note(p: &impl Platform, note: &str) -> NoteAnalysis {
    if note.trim().is_empty() {
        return NoteAnalysis::default();
    }
    let sentiment = analysis::sentiment(p, note);
    let crisis = CrisisView::assess(p, note, CRISIS_SOURCE);
    NoteAnalysis {
        sentiment,
        triggered: crisis.triggered(),
        crisis,
    }
}

// ---------------------------------------------------------------------------------------
// Logs.

/// `POST /logs`.
fn create(p: &impl Platform, user: &User, body: &[u8]) -> Result<Reply, Problem> {
    let now = p.now();
    let input = validate::parse_new(body, now)?;
    let logged_at = input.logged_at.unwrap_or(now);
    let (time_of_day, day_of_week) = local_parts(logged_at, &user.timezone);
    let note = input
        .note
        .as_deref()
        .map(|n| analyse_note(p, n))
        .unwrap_or_default();
    let id = p.new_id();
    let mut row: Row = vec![
        ("id".into(), Value::Uuid(id.clone())),
        ("mood_score".into(), Value::Int(input.mood_score)),
        (
            "logged_at".into(),
            Value::Timestamp(format_instant(&logged_at)),
        ),
        (
            "time_of_day".into(),
            Value::Text(time_of_day.as_str().into()),
        ),
        ("day_of_week".into(), Value::Int(i64::from(day_of_week))),
        ("crisis_flag_triggered".into(), Value::Bool(note.triggered)),
    ];
    let optional = [
        ("energy_level", input.energy_level.map(Value::Int)),
        ("anxiety_level", input.anxiety_level.map(Value::Int)),
        ("note_sentiment", note.sentiment.map(Value::Float)),
        (
            "location_type",
            input.location_type.clone().map(Value::Text),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            row.push((name.into(), value));
        }
    }
    row.extend(
        note::columns(p, input.note.as_deref())?
            .into_iter()
            .filter(|(_, value)| !matches!(value, Value::Null)),
    );
    let mut writes = vec![Write::Insert(LOGS.into(), row)];
    let mut labels = vec![Some(String::new())];
    for (i, factor) in input.factors.iter().enumerate() {
        writes.push(Write::Insert(FACTORS.into(), factor_row(&id, factor)));
        labels.push(Some(format!("factors[{i}].")));
    }
    let mut results = p
        .batch(writes)
        .map_err(|e| relabel(e, &labels))?
        .into_iter();
    let stored = results.next().flatten().ok_or_else(Problem::failed)?;
    let factor_rows: Vec<Row> = results.flatten().collect();
    let id = text_of(&stored, "id").unwrap_or(id);
    let stored = note::shown(&stored, input.note);
    let body = note.crisis.added_to(log_json(&stored, &factor_rows));
    Ok(Reply::json(201, &body).with_header("location", format!("{BASE_PATH}/logs/{id}")))
}

/// `GET /logs`.
fn list(p: &impl Platform, params: &Params) -> Result<Reply, Problem> {
    let mut errors = Vec::new();
    let limit = params.limit().map_err(|e| errors.push(e)).ok();
    let range = checked(params.range(), &mut errors);
    let (Some(limit), Some(range), true) = (limit, range, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let (page, factors) = p
        .select_with_children(
            LOGS,
            PageRequest {
                filters: range.filters("logged_at"),
                order_by: "logged_at".into(),
                descending: true,
                limit,
                cursor: params.cursor(),
            },
            &[],
            FACTORS,
            FACTOR_LOG_FIELD,
        )
        .map_err(Problem::from_query)?;
    let mut factors = group_by_parent(factors, FACTOR_LOG_FIELD);
    let notes = page
        .rows
        .iter()
        .map(|row| note::of(p, row))
        .collect::<Result<Vec<_>, Problem>>()?;
    let own: Vec<Vec<Row>> = page
        .rows
        .iter()
        .map(|row| {
            text_of(row, "id")
                .and_then(|id| factors.remove(&id))
                .unwrap_or_default()
        })
        .collect();
    let items = page
        .rows
        .iter()
        .zip(&notes)
        .zip(&own)
        .map(|((row, note), own)| log_object(note::shown_object(row, note.as_deref()), own))
        .collect();
    Ok(Reply::json_of(
        200,
        &RowObject::default()
            .with("items", Member::Rows(items))
            .with("next_cursor", Member::Text(page.next_cursor.as_deref())),
    ))
}

/// `GET /logs/{id}`.
fn read(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(LOGS, &id)?;
    let note = note::of(p, &row)?;
    let factors = factors_of(p, &id)?;
    Ok(Reply::json_of(
        200,
        &log_object(note::shown_object(&row, note.as_deref()), &factors),
    ))
}

/// `PATCH /logs/{id}`: changes the given fields. A changed note is re-analysed (sentiment,
/// crisis); a changed `logged_at` re-derives time of day and weekday in the user's zone;
/// `factors` replaces the whole list. Everything is written in one batch.
///
/// `crisis_flag_triggered` only ever turns on: once a note of this log triggered a crisis
/// event, editing the note does not erase that the event happened.
fn update(p: &impl Platform, user: &User, raw_id: &str, body: &[u8]) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let current = p.get(LOGS, &id)?;
    let patch = validate::parse_patch(body, p.now())?;
    let mut changes: Row = Vec::new();
    let mut set = |name: &str, value: Value| changes.push((name.to_owned(), value));
    if let Some(score) = patch.mood_score {
        set("mood_score", Value::Int(score));
    }
    for (name, change) in [
        ("energy_level", patch.energy_level),
        ("anxiety_level", patch.anxiety_level),
    ] {
        if let Some(level) = change {
            set(name, level.map_or(Value::Null, Value::Int));
        }
    }
    if let Some(location) = &patch.location_type {
        set(
            "location_type",
            location.clone().map_or(Value::Null, Value::Text),
        );
    }
    let mut crisis = CrisisView::Nothing;
    let current_note = note::of(p, &current)?;
    if let Some(note) = &patch.note
        && *note != current_note
    {
        let analysis = note
            .as_deref()
            .map(|n| analyse_note(p, n))
            .unwrap_or_default();
        for (name, value) in note::columns(p, note.as_deref())? {
            set(&name, value);
        }
        set(
            "note_sentiment",
            analysis.sentiment.map_or(Value::Null, Value::Float),
        );
        if analysis.triggered {
            set("crisis_flag_triggered", Value::Bool(true));
        }
        crisis = analysis.crisis;
    }
    if let Some(at) = patch.logged_at {
        let (time_of_day, day_of_week) = local_parts(at, &user.timezone);
        set("logged_at", Value::Timestamp(format_instant(&at)));
        set("time_of_day", Value::Text(time_of_day.as_str().into()));
        set("day_of_week", Value::Int(i64::from(day_of_week)));
    }

    let updates_log = !changes.is_empty();
    let mut writes = Vec::new();
    let mut labels = Vec::new();
    if updates_log {
        writes.push(Write::Update(LOGS.into(), id.clone(), changes));
        labels.push(Some(String::new()));
    }
    let mut inserted = 0;
    let mut kept_factors = None;
    if let Some(new_factors) = &patch.factors {
        for old in factors_of(p, &id)? {
            if let Some(old_id) = text_of(&old, "id") {
                writes.push(Write::Delete(FACTORS.into(), old_id));
                labels.push(None);
            }
        }
        for (i, factor) in new_factors.iter().enumerate() {
            writes.push(Write::Insert(FACTORS.into(), factor_row(&id, factor)));
            labels.push(Some(format!("factors[{i}].")));
        }
        inserted = new_factors.len();
    } else {
        kept_factors = Some(factors_of(p, &id)?);
    }
    let results = if writes.is_empty() {
        Vec::new()
    } else {
        p.batch(writes).map_err(|e| relabel(e, &labels))?
    };
    let stored = if updates_log {
        results
            .first()
            .cloned()
            .flatten()
            .ok_or_else(Problem::failed)?
    } else {
        current
    };
    let factors = kept_factors.unwrap_or_else(|| {
        let start = results.len().saturating_sub(inserted);
        results[start..].iter().flatten().cloned().collect()
    });
    let stored = note::shown(&stored, patch.note.unwrap_or(current_note));
    let body = crisis.added_to(log_json(&stored, &factors));
    Ok(Reply::json(200, &body))
}

/// `DELETE /logs/{id}`: the log and (by the schema's cascade) its factors.
fn remove(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    handlers::delete_row(p, LOGS, raw_id, &WORDING)
}

// ---------------------------------------------------------------------------------------
// Statistics.

/// The measured columns of a log.
const MEASURED: [&str; 3] = ["mood_score", "energy_level", "anxiety_level"];
/// The functions of `/stats`, in the order of their values.
const SUMMARY_FNS: [(AggregateFn, &str); 5] = [
    (AggregateFn::Count, "count"),
    (AggregateFn::Avg, "mean"),
    (AggregateFn::Min, "min"),
    (AggregateFn::Max, "max"),
    (AggregateFn::Stddev, "stddev"),
];

fn summary_measures() -> Vec<(String, AggregateFn)> {
    MEASURED
        .iter()
        .flat_map(|field| SUMMARY_FNS.iter().map(|(f, _)| ((*field).to_owned(), *f)))
        .collect()
}

/// Counts arrive as floats; they are whole numbers.
fn count_json(value: Option<f64>) -> Json {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = value
        .filter(|c| c.is_finite() && *c >= 0.0)
        .map_or(0, |c| c.round() as u64);
    json!(count)
}

/// `{"mood_score": {count, mean, min, max, stddev}, …}` from one aggregate row (or zeros).
fn summary_json(values: Option<&[Option<f64>]>, into: &mut Map<String, Json>) {
    let width = SUMMARY_FNS.len();
    for (m, field) in MEASURED.iter().enumerate() {
        let mut block = Map::new();
        for (f, (_, name)) in SUMMARY_FNS.iter().enumerate() {
            let value = values.and_then(|v| v.get(m * width + f).copied().flatten());
            let json = if f == 0 {
                count_json(value)
            } else {
                value
                    .filter(|v| v.is_finite())
                    .map_or(Json::Null, |v| json!(v))
            };
            block.insert((*name).into(), json);
        }
        into.insert((*field).into(), Json::Object(block));
    }
}

fn group_count(values: Option<&[Option<f64>]>) -> Json {
    count_json(values.and_then(|v| v.first().copied().flatten()))
}

/// `GET /stats?from=&to=`.
fn stats(p: &impl Platform, user: &User, params: &Params) -> Result<Reply, Problem> {
    let range = params.range()?;
    let request = |grouping, group_field: Option<&str>| AggregateRequest {
        filters: range.filters("logged_at"),
        measures: summary_measures(),
        grouping,
        group_field: group_field.map(str::to_owned),
    };
    let overall = p.aggregate(LOGS, request(Grouping::None, None))?;
    let by_weekday = p.aggregate(LOGS, request(Grouping::Weekday, Some("logged_at")))?;
    let by_time = p.aggregate(LOGS, request(Grouping::FieldValue, Some("time_of_day")))?;

    let find = |rows: &[AggregateRow], key: &str| -> Option<Vec<Option<f64>>> {
        rows.iter()
            .find(|r| r.group.as_deref().map(str::trim) == Some(key))
            .map(|r| r.values.clone())
    };
    let overall_values = overall.first().map(|r| r.values.as_slice());
    let mut body = Map::new();
    body.insert("from".into(), instant_json(range.from));
    body.insert("to".into(), instant_json(range.to));
    body.insert("timezone".into(), json!(user.timezone));
    body.insert("count".into(), group_count(overall_values));
    summary_json(overall_values, &mut body);

    let weekdays: Vec<Json> = (1..=7)
        .map(|day: u32| {
            let values = find(&by_weekday, &day.to_string());
            let mut entry = Map::new();
            entry.insert("day_of_week".into(), json!(day));
            entry.insert("count".into(), group_count(values.as_deref()));
            summary_json(values.as_deref(), &mut entry);
            Json::Object(entry)
        })
        .collect();
    body.insert("by_weekday".into(), Json::Array(weekdays));

    let parts: Vec<Json> = TimeOfDay::ALL
        .iter()
        .map(|part| {
            let values = find(&by_time, part.as_str());
            let mut entry = Map::new();
            entry.insert("time_of_day".into(), json!(part.as_str()));
            entry.insert("count".into(), group_count(values.as_deref()));
            summary_json(values.as_deref(), &mut entry);
            Json::Object(entry)
        })
        .collect();
    body.insert("by_time_of_day".into(), Json::Array(parts));
    Ok(Reply::json(200, &Json::Object(body)))
}

// ---------------------------------------------------------------------------------------
// Trends.

/// The granularity of a trend series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Week,
}

impl Period {
    fn parse(text: Option<&str>) -> Result<Self, FieldError> {
        match text {
            None | Some("day") => Ok(Self::Day),
            Some("week") => Ok(Self::Week),
            Some(_) => Err(FieldError::new("period", "must be `day` or `week`")),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    /// The moving-average window, in periods: 7 days, or 4 weeks (about a month: seven
    /// weeks would smooth away most of a typical few-month weekly series).
    fn window(self) -> i64 {
        match self {
            Self::Day => 7,
            Self::Week => 4,
        }
    }

    /// The default range when `from` is not given: 30 days, or 26 weeks.
    fn default_span(self) -> Duration {
        match self {
            Self::Day => Duration::days(30),
            Self::Week => Duration::weeks(26),
        }
    }

    fn max_span(self) -> Duration {
        match self {
            Self::Day => Duration::days(MAX_DAILY_RANGE_DAYS),
            Self::Week => Duration::weeks(MAX_WEEKLY_RANGE_WEEKS),
        }
    }

    fn grouping(self) -> Grouping {
        match self {
            Self::Day => Grouping::Day,
            Self::Week => Grouping::IsoWeek,
        }
    }

    /// The first day of a group key (`2026-11-25` or `2026-W48`), and the period's index
    /// on a line (days, or weeks, since the common era).
    fn locate(self, key: &str) -> Option<(NaiveDate, i64)> {
        let start = match self {
            Self::Day => NaiveDate::parse_from_str(key.trim(), "%Y-%m-%d").ok()?,
            Self::Week => {
                let (year, week) = key.trim().split_once("-W")?;
                NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, Weekday::Mon)?
            }
        };
        let days = i64::from(start.num_days_from_ce());
        Some((
            start,
            match self {
                Self::Day => days,
                Self::Week => days.div_euclid(7),
            },
        ))
    }
}

/// One point of a trend series.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    key: String,
    start: NaiveDate,
    index: i64,
    count: Json,
    mood: f64,
    energy: Option<f64>,
    anxiety: Option<f64>,
}

/// `GET /trends?from=&to=&period=day|week`: the mean mood (and energy, anxiety) per day or
/// ISO week in the user's zone, a trailing moving average, and the direction of the
/// least-squares line through the means: `improving` / `declining` when the line moves by
/// at least [`TREND_THRESHOLD`] points from the first period to the last, else `stable`;
/// `null` with fewer than [`TREND_MIN_POINTS`] periods.
fn trends(p: &impl Platform, user: &User, params: &Params) -> Result<Reply, Problem> {
    let mut errors = Vec::new();
    let period = Period::parse(params.get("period"))
        .map_err(|e| errors.push(e))
        .ok();
    let range = checked(params.range(), &mut errors);
    let (Some(period), Some(range), true) = (period, range, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let to = range.to.unwrap_or_else(|| p.now());
    let from = range.from.unwrap_or(to - period.default_span());
    if from >= to {
        return Err(Problem::invalid(
            "from",
            "must be earlier than `to` (default: now)",
        ));
    }
    if to - from > period.max_span() {
        let limit = match period {
            Period::Day => format!("{MAX_DAILY_RANGE_DAYS} days"),
            Period::Week => format!("{MAX_WEEKLY_RANGE_WEEKS} weeks"),
        };
        return Err(Problem::invalid(
            "from",
            format!("a {} series spans at most {limit}", period.as_str()),
        ));
    }
    let rows = p.aggregate(
        LOGS,
        AggregateRequest {
            filters: Range {
                from: Some(from),
                to: Some(to),
            }
            .filters("logged_at"),
            measures: vec![
                ("mood_score".into(), AggregateFn::Count),
                ("mood_score".into(), AggregateFn::Avg),
                ("energy_level".into(), AggregateFn::Avg),
                ("anxiety_level".into(), AggregateFn::Avg),
            ],
            grouping: period.grouping(),
            group_field: Some("logged_at".into()),
        },
    )?;
    let mut points: Vec<Point> = rows
        .iter()
        .filter_map(|row| {
            let key = row.group.as_deref()?;
            let (start, index) = period.locate(key)?;
            let value = |i: usize| {
                row.values
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|v| v.is_finite())
            };
            Some(Point {
                key: key.trim().to_owned(),
                start,
                index,
                count: count_json(value(0)),
                mood: value(1)?,
                energy: value(2),
                anxiety: value(3),
            })
        })
        .collect();
    points.sort_by_key(|pt| pt.index);

    let moving = trailing_moving_average(
        &points
            .iter()
            .map(|pt| (pt.index, pt.mood))
            .collect::<Vec<_>>(),
        period.window(),
    );
    let series: Vec<Json> = points
        .iter()
        .zip(&moving)
        .map(|(pt, ma)| {
            json!({
                "period": pt.key,
                "start_date": pt.start.format("%Y-%m-%d").to_string(),
                "count": pt.count,
                "mood_score": pt.mood,
                "energy_level": pt.energy,
                "anxiety_level": pt.anxiety,
                "moving_average": ma,
            })
        })
        .collect();

    #[allow(clippy::cast_precision_loss)]
    let line: Vec<(f64, f64)> = points.iter().map(|pt| (pt.index as f64, pt.mood)).collect();
    let fit = (points.len() >= TREND_MIN_POINTS)
        .then(|| least_squares(&line))
        .flatten();
    let trend = match (fit, points.first(), points.last()) {
        (Some((slope, _)), Some(first), Some(last)) => {
            #[allow(clippy::cast_precision_loss)]
            let change = slope * (last.index - first.index) as f64;
            json!({
                "direction": direction(change, TREND_THRESHOLD).as_str(),
                "slope_per_period": slope,
                "change_over_range": change,
                "threshold": TREND_THRESHOLD,
                "points": points.len(),
                "insufficient_data": false,
            })
        }
        _ => json!({
            "direction": null,
            "slope_per_period": null,
            "change_over_range": null,
            "threshold": TREND_THRESHOLD,
            "points": points.len(),
            "insufficient_data": true,
        }),
    };
    Ok(Reply::json(
        200,
        &json!({
            "period": period.as_str(),
            "from": format_instant(&from),
            "to": format_instant(&to),
            "timezone": user.timezone,
            "moving_average_window": {"size": period.window(), "unit": period.as_str()},
            "series": series,
            "trend": trend,
        }),
    ))
}

// ---------------------------------------------------------------------------------------
// Factor analysis.

/// `GET /factors?from=&to=` (premium): see [`crate::factors`]. Reads the newest
/// [`FACTOR_MAX_LOG_PAGES`] × 100 logs of the range (`truncated` says when there were more).
fn factors(p: &impl Platform, user: &User, params: &Params) -> Result<Reply, Problem> {
    if !user.premium {
        return Err(Problem::premium_required(
            "factor correlations are part of the premium tier",
        ));
    }
    let range = params.range()?;
    let mut logs: Vec<(String, f64)> = Vec::new();
    let mut cursor = None;
    let mut truncated = false;
    for page_number in 0..FACTOR_MAX_LOG_PAGES {
        let page = p.query(
            LOGS,
            PageRequest {
                filters: range.filters("logged_at"),
                order_by: "logged_at".into(),
                descending: true,
                limit: 100,
                cursor,
            },
        )?;
        #[allow(clippy::cast_precision_loss)]
        logs.extend(
            page.rows
                .iter()
                .filter_map(|row| Some((text_of(row, "id")?, int_of(row, "mood_score")? as f64))),
        );
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
        truncated = page_number + 1 == FACTOR_MAX_LOG_PAGES;
    }
    let by_log = load_factors(p, &logs)?;
    let samples: Vec<Sample> = logs
        .iter()
        .map(|(id, mood)| Sample {
            mood: *mood,
            factors: by_log.get(id).cloned().unwrap_or_default(),
        })
        .collect();
    let reports: Vec<Json> = factors::analyze(&samples).iter().map(report_json).collect();
    Ok(Reply::json(
        200,
        &json!({
            "from": instant_json(range.from),
            "to": instant_json(range.to),
            "analyzed_logs": samples.len(),
            "truncated": truncated,
            "min_group_size": factors::MIN_GROUP,
            "factors": reports,
        }),
    ))
}

type FactorsByLog = HashMap<String, Vec<(String, Option<i64>)>>;

/// The factors of the given logs, a storage call per [`MAX_CHILDREN_PARENTS`] logs.
fn load_factors(p: &impl Platform, logs: &[(String, f64)]) -> Result<FactorsByLog, Problem> {
    let mut by_log: FactorsByLog = HashMap::new();
    for chunk in logs.chunks(MAX_CHILDREN_PARENTS) {
        let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
        for row in p.children(FACTORS, FACTOR_LOG_FIELD, &ids)? {
            if let (Some(log), Some(kind)) = (
                text_of(&row, FACTOR_LOG_FIELD),
                text_of(&row, "factor_type"),
            ) {
                by_log
                    .entry(log)
                    .or_default()
                    .push((kind, int_of(&row, "impact_score")));
            }
        }
    }
    Ok(by_log)
}

fn report_json(report: &FactorReport) -> Json {
    let mut entry = Map::new();
    entry.insert("factor_type".into(), json!(report.factor_type));
    entry.insert("n_with".into(), json!(report.n_with));
    entry.insert("n_without".into(), json!(report.n_without));
    entry.insert("insufficient_data".into(), json!(report.effect.is_none()));
    if let Some(e) = &report.effect {
        entry.insert("mean_with".into(), json!(e.mean_with));
        entry.insert("mean_without".into(), json!(e.mean_without));
        entry.insert("mean_difference".into(), json!(e.mean_difference));
        entry.insert("cohens_d".into(), json!(e.cohens_d));
        entry.insert("hedges_g".into(), json!(e.hedges_g));
        entry.insert("effect_size".into(), json!(e.cohens_d.map(effect_label)));
        entry.insert("spearman_presence".into(), json!(e.spearman_presence));
        entry.insert(
            "impact".into(),
            json!({"n": e.impact_n, "spearman": e.spearman_impact}),
        );
    }
    Json::Object(entry)
}

#[cfg(test)]
mod tests;
