//! MindFlow's **Google Health API** adapter (the successor of the Fitbit Web API, which answers
//! 410 since its retirement). Pure logic over the adapter kit's model, tested natively; the
//! `wasm32` build exports it as the `wearable-adapter` world's `adapter` (`google-health.wasm`).
//!
//! # Connecting
//! Google OAuth 2.0, run by the host from [`describe`]-d values: authorization
//! [`AUTHORIZATION_ENDPOINT`], token [`TOKEN_ENDPOINT`], revocation [`REVOCATION_ENDPOINT`],
//! PKCE S256, client id and secret in the form body, `access_type=offline` and
//! `prompt=consent` so that Google issues a refresh token (Google does **not** rotate refresh
//! tokens: the same one is used again). Scopes: [`SCOPES`]. The provider's user id the host
//! stores is the `healthUserId` of `GET https://health.googleapis.com/v4/users/me/identity`
//! (`{"name": "users/me/identity", "healthUserId": "…", "legacyUserId": "…"}`); webhooks name
//! users by it.
//!
//! # Pulling (what [`fetch`] sends and reads)
//! For each data type, `GET https://health.googleapis.com/v4/users/me/dataTypes/{type}/dataPoints`
//! with `pageSize=1000`, an AIP-160 `filter` and, after the first page, `pageToken` (the
//! previous answer's `nextPageToken`, until an answer has none or an empty one). The filter
//! covers the window widened by a day on each side in UTC (every UTC offset fits), e.g.
//! `steps.interval.start_time >= "2026-11-01T00:00:00Z" AND steps.interval.start_time <
//! "2026-11-09T00:00:00Z"` for 2026-11-02..=2026-11-07, percent-encoded; each point is then
//! placed on the user's **civil** day and points outside the window are dropped.
//!
//! `dataPoints:dailyRollUp` would give daily totals computed by Google, but it is a `POST`
//! and the adapter transport only sends `GET`s; so daily totals are summed here from the
//! listed points, by their civil dates.
//!
//! The answer is `{"dataPoints": [...], "nextPageToken": "…"}`. The shape of a data point
//! **implemented here** (Google API conventions: camelCase, proto3 JSON so int64 values may
//! be strings, RFC 3339 UTC instants with `google.protobuf.Duration` UTC offsets such as
//! `"3600s"`, civil times as `{"date": {"year", "month", "day"}, "time": {"hours", …}}`):
//!
//! ```json
//! {"name": "users/4XYZ/dataTypes/steps/dataPoints/8c1e",
//!  "dataSource": {"platform": "FITBIT", "device": {"formFactor": "WATCH"}},
//!  "steps": {"interval": {"startTime": "2026-11-03T07:00:00Z", "startUtcOffset": "3600s",
//!                         "endTime": "2026-11-03T08:00:00Z", "endUtcOffset": "3600s",
//!                         "civilStartTime": {"date": {"year": 2026, "month": 11, "day": 3},
//!                                            "time": {"hours": 8}},
//!                         "civilEndTime": {…}},
//!            "count": "812"}}
//! ```
//!
//! | data type (path) | filter field | value object | becomes |
//! |---|---|---|---|
//! | `steps` | `steps.interval.start_time` | `steps {interval, count}` | `steps`: sum per civil start day |
//! | `active-minutes` | `active_minutes.interval.start_time` | `activeMinutes {interval, activeMinutesByActivityLevel: [{activityLevel: LIGHT\|MODERATE\|VIGOROUS, activeMinutes}]}` | `active-minutes`: MODERATE + VIGOROUS (Fitbit's fairly + very active), summed |
//! | `total-calories` | `total_calories.interval.start_time` | `totalCalories {interval, kcal}` | `calories-burned`: sum, rounded |
//! | `heart-rate` | `heart_rate.sample_time.physical_time` | `heartRate {sampleTime: {physicalTime, utcOffset, civilTime}, beatsPerMinute}` | `avg-heart-rate`: mean, rounded |
//! | `heart-rate-variability` | `heart_rate_variability.sample_time.physical_time` | `heartRateVariability {sampleTime, rootMeanSquareOfSuccessiveDifferencesMilliseconds}` | `hrv-avg` (RMSSD, ms): mean per night — a sample inside a sleep session counts for the day that night belongs to, any other for its civil day |
//! | `sleep` | `sleep.interval.end_time` | `sleep {interval, type, stages: [{startTime, endTime, type}], summary: {minutesAsleep, minutesAwake, stagesSummary: [{type: AWAKE\|LIGHT\|DEEP\|REM, minutes, count}]}}` | a session per point (the point's `name` is its id), on the civil day it **ends**; the day's sleep, deep and REM minutes are the sums over its sessions |
//!
//! A point's civil day is its `civilStartTime`/`civilEndTime`/`civilTime` date when given,
//! otherwise its instant shifted by its UTC offset. Points lacking the value object or its
//! interval or sample time are skipped. Google Health's sleep score is not exposed, so
//! `sleep-quality-score` stays empty, as do stress and readiness.
//!
//! **The exact wire schema was designed from Google's published conventions and partial
//! documentation, not checked against the live API: field names, the filter field paths and
//! the enum values above must be re-checked against the live Google Health API (and the
//! simulator `tests/support/providers/google_health.rs`, which speaks this same shape, with
//! it).** Raw lists can count a phone and a watch twice where both recorded the same steps;
//! the reconciled stream (`dataPoints:reconcile`) or `dailyRollUp` avoid that and are the
//! thing to move to once verified.
//!
//! # Webhooks ([`read_notification`])
//! Google POSTs notifications with the subscriber's configured secret in `Authorization`
//! (declared as `shared-secret("authorization")`; Google also signs bodies with a public key,
//! which the contract cannot check yet). Subscriber verification is two POSTs of
//! `{"type": "verification"}`, one with the secret and one without: the host answers them
//! (201 when the secret matches, 401 otherwise) and the adapter reads them as `ignore`. A
//! data notification
//!
//! ```json
//! {"data": {"healthUserId": "4XYZ", "dataType": "steps", "operation": "UPSERT",
//!           "intervals": [{"physicalTimeInterval": {"startTime": "2026-11-03T07:00:00Z",
//!                                                   "endTime": "2026-11-03T09:00:00Z"}}]}}
//! ```
//!
//! becomes `fetch(healthUserId, first day, last day)`: the UTC days of the intervals widened
//! by a day each side (the instants are UTC; the user's civil days may differ by one), at most
//! [`BACKFILL_DAYS`] days ending at the last. Upserts and deletions both refetch (a deletion
//! lowers a total); a data type the adapter does not read is `ignore`d.
//!
//! # Uploads
//! None: the `upload` resource answers `invalid-input`.

pub mod conformance;

use mindflow_adapter_kit::time;

use mindflow_adapter_kit::model::{Batch, Day, Error, Notification, Sleep};
use mindflow_adapter_kit::transport::{Transport, encode_query_value};
use serde_json::Value;

/// The provider key.
pub const ID: &str = "google-health";
/// The name shown to users.
pub const DISPLAY_NAME: &str = "Google Health (Fitbit)";
/// Google's OAuth 2.0 authorization endpoint.
pub const AUTHORIZATION_ENDPOINT: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_ENDPOINT: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint (RFC 7009).
pub const REVOCATION_ENDPOINT: &str = "https://oauth2.googleapis.com/revoke";
/// The read-only scopes: activity, health metrics (heart rate, HRV), sleep.
pub const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
    "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
];
/// Extra authorization parameters: a refresh token, asked for every time.
pub const EXTRA_PARAMS: [(&str, &str); 2] = [("access_type", "offline"), ("prompt", "consent")];
/// The API origin (the only host the adapter calls).
pub const API_HOST: &str = "https://health.googleapis.com";
/// The header carrying the subscriber's shared secret on webhooks.
pub const WEBHOOK_SECRET_HEADER: &str = "authorization";
/// How far back the first sync reaches.
pub const BACKFILL_DAYS: u32 = 30;
/// The host's budget of `fetch` calls per minute for one user (each makes six or more
/// requests).
pub const REQUESTS_PER_MINUTE: u32 = 10;
/// Data points asked for per page.
pub const PAGE_SIZE: u32 = 1000;
/// Pages read per data type and window at most (a guard against a token that never ends).
pub const MAX_PAGES: usize = 100;

/// One data type the adapter lists.
#[derive(Debug, Clone, Copy)]
struct DataType {
    /// The URL path segment (`heart-rate`).
    path: &'static str,
    /// The value object's key in a data point (`heartRate`).
    key: &'static str,
    /// The filtered field (`heart_rate.sample_time.physical_time`).
    filter_field: &'static str,
}

const STEPS: DataType = DataType {
    path: "steps",
    key: "steps",
    filter_field: "steps.interval.start_time",
};
const ACTIVE_MINUTES: DataType = DataType {
    path: "active-minutes",
    key: "activeMinutes",
    filter_field: "active_minutes.interval.start_time",
};
const TOTAL_CALORIES: DataType = DataType {
    path: "total-calories",
    key: "totalCalories",
    filter_field: "total_calories.interval.start_time",
};
const HEART_RATE: DataType = DataType {
    path: "heart-rate",
    key: "heartRate",
    filter_field: "heart_rate.sample_time.physical_time",
};
const HRV: DataType = DataType {
    path: "heart-rate-variability",
    key: "heartRateVariability",
    filter_field: "heart_rate_variability.sample_time.physical_time",
};
const SLEEP: DataType = DataType {
    path: "sleep",
    key: "sleep",
    filter_field: "sleep.interval.end_time",
};

/// Every data type read, in the order fetched.
const DATA_TYPES: [DataType; 6] = [
    SLEEP,
    HRV,
    STEPS,
    ACTIVE_MINUTES,
    TOTAL_CALORIES,
    HEART_RATE,
];

/// An integer that proto3 JSON may give as a number or a string.
fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(round)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number that may come as a string.
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// `x` rounded to the nearest integer (saturating).
#[allow(clippy::cast_possible_truncation)]
fn round(x: f64) -> i64 {
    // `as` saturates for out-of-range floats; NaN has been filtered out by callers.
    x.round() as i64
}

/// An `i64` as an `i32`, saturating.
fn clamp32(x: i64) -> i32 {
    i32::try_from(x).unwrap_or(if x < 0 { i32::MIN } else { i32::MAX })
}

/// A `google.protobuf.Duration` in seconds (`"3600s"`, `"-18000s"`, `"19800.000s"`).
fn duration_seconds(value: &Value) -> Option<i64> {
    let text = value.as_str()?.strip_suffix('s')?;
    match text.split_once('.') {
        Some((whole, _)) => whole.parse().ok(),
        None => text.parse().ok(),
    }
}

/// The day count of a civil date-time's `date` (`{"date": {"year", "month", "day"}}`).
fn civil_day(value: &Value) -> Option<i64> {
    let date = &value["date"];
    let (y, m, d) = (
        int(&date["year"])?,
        int(&date["month"])?,
        int(&date["day"])?,
    );
    let days = time::days_from_civil(y, m, d);
    (time::civil_from_days(days) == (y, m, d)).then_some(days)
}

/// The day of `instant` at `offset` seconds east of UTC.
fn local_day(instant: i64, offset: i64) -> i64 {
    (instant + offset).div_euclid(86_400)
}

/// A parsed `interval`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    end: i64,
    start_offset: i64,
    end_offset: i64,
    start_day: i64,
    end_day: i64,
}

fn span(interval: &Value) -> Option<Span> {
    let start = time::parse_instant(interval["startTime"].as_str()?)?;
    let end = time::parse_instant(interval["endTime"].as_str()?)?;
    let start_offset = duration_seconds(&interval["startUtcOffset"]).unwrap_or(0);
    let end_offset = duration_seconds(&interval["endUtcOffset"]).unwrap_or(start_offset);
    Some(Span {
        start,
        end,
        start_offset,
        end_offset,
        start_day: civil_day(&interval["civilStartTime"])
            .unwrap_or_else(|| local_day(start, start_offset)),
        end_day: civil_day(&interval["civilEndTime"]).unwrap_or_else(|| local_day(end, end_offset)),
    })
}

/// A parsed `sampleTime`: the instant and its civil day.
fn sample(sample_time: &Value) -> Option<(i64, i64)> {
    let at = time::parse_instant(sample_time["physicalTime"].as_str()?)?;
    let offset = duration_seconds(&sample_time["utcOffset"]).unwrap_or(0);
    let day = civil_day(&sample_time["civilTime"]).unwrap_or_else(|| local_day(at, offset));
    Some((at, day))
}

/// The list URL of one page.
fn page_url(kind: DataType, from_utc_day: i64, to_utc_day: i64, token: Option<&str>) -> String {
    let filter = format!(
        "{field} >= \"{from}T00:00:00Z\" AND {field} < \"{to}T00:00:00Z\"",
        field = kind.filter_field,
        from = time::date_string(from_utc_day),
        to = time::date_string(to_utc_day),
    );
    let mut url = format!(
        "{API_HOST}/v4/users/me/dataTypes/{}/dataPoints?pageSize={PAGE_SIZE}&filter={}",
        kind.path,
        encode_query_value(&filter)
    );
    if let Some(token) = token {
        url.push_str("&pageToken=");
        url.push_str(&encode_query_value(token));
    }
    url
}

/// Every data point of `kind` whose filtered time falls in `[from, to)` (UTC days), page by
/// page.
fn list_all(
    transport: &mut impl Transport,
    kind: DataType,
    from_utc_day: i64,
    to_utc_day: i64,
) -> Result<Vec<Value>, Error> {
    let mut points = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = page_url(kind, from_utc_day, to_utc_day, token.as_deref());
        let page = transport
            .get(&url, &[("accept", "application/json")])?
            .ok()?
            .json()?;
        if !page.is_object() {
            return Err(Error::Provider(format!(
                "the {} list is not a JSON object",
                kind.path
            )));
        }
        match &page["dataPoints"] {
            Value::Array(items) => points.extend(items.iter().cloned()),
            Value::Null => {}
            _ => {
                return Err(Error::Provider(format!(
                    "the {} list's dataPoints is not an array",
                    kind.path
                )));
            }
        }
        match page["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
            Some(next) if token.as_deref() == Some(next) => {
                return Err(Error::Provider(format!(
                    "the {} list repeated its page token",
                    kind.path
                )));
            }
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(points),
        }
    }
    Err(Error::Provider(format!(
        "the {} list did not end within {MAX_PAGES} pages",
        kind.path
    )))
}

/// A `YYYY-MM-DD` argument.
fn date_arg(text: &str, what: &str) -> Result<i64, Error> {
    time::parse_date(text)
        .ok_or_else(|| Error::InvalidInput(format!("{what} `{text}` is not a YYYY-MM-DD date")))
}

/// A sleep session's minutes from its summary or stages.
#[derive(Debug, Default, Clone, Copy)]
struct SleepMinutes {
    asleep: Option<i64>,
    awake: Option<i64>,
    deep: Option<i64>,
    rem: Option<i64>,
}

fn sleep_minutes(sleep: &Value, whole: &Span) -> SleepMinutes {
    let summary = &sleep["summary"];
    let mut by_stage = SleepMinutes::default();
    let mut light = None;
    let add = |slot: &mut Option<i64>, minutes: i64| *slot = Some(slot.unwrap_or(0) + minutes);
    if let Some(stages) = summary["stagesSummary"].as_array() {
        for stage in stages {
            let Some(minutes) = int(&stage["minutes"]) else {
                continue;
            };
            match stage["type"].as_str() {
                Some("DEEP") => add(&mut by_stage.deep, minutes),
                Some("REM") => add(&mut by_stage.rem, minutes),
                Some("AWAKE" | "RESTLESS") => add(&mut by_stage.awake, minutes),
                Some("LIGHT" | "ASLEEP") => add(&mut light, minutes),
                _ => {}
            }
        }
    } else if let Some(stages) = sleep["stages"].as_array() {
        for stage in stages {
            let (Some(start), Some(end)) = (
                stage["startTime"].as_str().and_then(time::parse_instant),
                stage["endTime"].as_str().and_then(time::parse_instant),
            ) else {
                continue;
            };
            let minutes = (end - start).max(0) / 60;
            match stage["type"].as_str() {
                Some("DEEP") => add(&mut by_stage.deep, minutes),
                Some("REM") => add(&mut by_stage.rem, minutes),
                Some("AWAKE" | "RESTLESS") => add(&mut by_stage.awake, minutes),
                Some("LIGHT" | "ASLEEP") => add(&mut light, minutes),
                _ => {}
            }
        }
    }
    let staged_asleep = match (light, by_stage.deep, by_stage.rem) {
        (None, None, None) => None,
        (l, d, r) => Some(l.unwrap_or(0) + d.unwrap_or(0) + r.unwrap_or(0)),
    };
    let awake = int(&summary["minutesAwake"]).or(by_stage.awake);
    let asleep = int(&summary["minutesAsleep"])
        .or(staged_asleep)
        .unwrap_or_else(|| ((whole.end - whole.start).max(0) / 60) - awake.unwrap_or(0));
    SleepMinutes {
        asleep: Some(asleep.max(0)),
        awake,
        deep: by_stage.deep,
        rem: by_stage.rem,
    }
}

/// Sums and means per civil day, before they become [`Day`]s.
#[derive(Debug, Default, Clone)]
struct Tally {
    steps: Option<i64>,
    active: Option<i64>,
    kcal: Option<f64>,
    heart: (f64, u32),
    hrv: (f64, u32),
    asleep: Option<i64>,
    deep: Option<i64>,
    rem: Option<i64>,
}

fn add_opt(slot: &mut Option<i64>, value: Option<i64>) {
    if let Some(v) = value {
        *slot = Some(slot.unwrap_or(0) + v);
    }
}

fn mean((sum, count): (f64, u32)) -> Option<f64> {
    (count > 0).then(|| sum / f64::from(count))
}

/// The user's `healthUserId` (what webhooks name), from `GET /v4/users/me/identity`.
///
/// # Errors
/// The provider's answer as an [`Error`]; [`Error::Provider`] when it names no user.
pub fn identify(transport: &mut impl Transport) -> Result<String, Error> {
    let answer = transport
        .get(
            &format!("{API_HOST}/v4/users/me/identity"),
            &[("accept", "application/json")],
        )?
        .ok()?
        .json()?;
    answer["healthUserId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Provider("the identity answer names no healthUserId".into()))
}

/// Daily metrics and sleep sessions for the civil days `start..=end` (`YYYY-MM-DD`).
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed window; the transport's errors
/// ([`Error::Unauthorized`] on 401, [`Error::RateLimited`] on 429, [`Error::Provider`]
/// otherwise) as they come.
pub fn fetch(transport: &mut impl Transport, start: &str, end: &str) -> Result<Batch, Error> {
    let first = date_arg(start, "start")?;
    let last = date_arg(end, "end")?;
    if last < first {
        return Err(Error::InvalidInput(format!(
            "the window {start}..{end} is empty"
        )));
    }
    let in_window = |day: i64| (first..=last).contains(&day);
    let mut tallies: std::collections::BTreeMap<i64, Tally> = std::collections::BTreeMap::new();
    let mut sessions: Vec<(Span, Sleep)> = Vec::new();

    for kind in DATA_TYPES {
        let points = list_all(transport, kind, first - 1, last + 2)?;
        for point in &points {
            let value = &point[kind.key];
            if !value.is_object() {
                continue;
            }
            match kind.path {
                "sleep" => {
                    let Some(whole) = span(&value["interval"]) else {
                        continue;
                    };
                    if !in_window(whole.end_day) {
                        continue;
                    }
                    let minutes = sleep_minutes(value, &whole);
                    let external_id = point["name"]
                        .as_str()
                        .map_or_else(|| format!("sleep-{}", whole.start), str::to_owned);
                    let session = Sleep {
                        external_id,
                        start: time::format_instant(whole.start, whole.start_offset),
                        end: time::format_instant(whole.end, whole.end_offset),
                        metric_date: time::date_string(whole.end_day),
                        asleep_minutes: clamp32(minutes.asleep.unwrap_or(0)),
                        deep_minutes: minutes.deep.map(clamp32),
                        rem_minutes: minutes.rem.map(clamp32),
                        awake_minutes: minutes.awake.map(clamp32),
                    };
                    let tally = tallies.entry(whole.end_day).or_default();
                    add_opt(&mut tally.asleep, minutes.asleep);
                    add_opt(&mut tally.deep, minutes.deep);
                    add_opt(&mut tally.rem, minutes.rem);
                    sessions.push((whole, session));
                }
                "heart-rate-variability" => {
                    let (Some((at, own_day)), Some(ms)) = (
                        sample(&value["sampleTime"]),
                        float(&value["rootMeanSquareOfSuccessiveDifferencesMilliseconds"]),
                    ) else {
                        continue;
                    };
                    let day = sessions
                        .iter()
                        .find(|(s, _)| s.start <= at && at <= s.end)
                        .map_or(own_day, |(s, _)| s.end_day);
                    if in_window(day) {
                        let hrv = &mut tallies.entry(day).or_default().hrv;
                        hrv.0 += ms;
                        hrv.1 += 1;
                    }
                }
                "heart-rate" => {
                    let (Some((_, day)), Some(bpm)) = (
                        sample(&value["sampleTime"]),
                        float(&value["beatsPerMinute"]),
                    ) else {
                        continue;
                    };
                    if in_window(day) {
                        let heart = &mut tallies.entry(day).or_default().heart;
                        heart.0 += bpm;
                        heart.1 += 1;
                    }
                }
                path => {
                    let Some(whole) = span(&value["interval"]) else {
                        continue;
                    };
                    if !in_window(whole.start_day) {
                        continue;
                    }
                    let tally = tallies.entry(whole.start_day).or_default();
                    match path {
                        "steps" => add_opt(&mut tally.steps, int(&value["count"])),
                        "active-minutes" => {
                            let levels = value["activeMinutesByActivityLevel"]
                                .as_array()
                                .map(Vec::as_slice)
                                .unwrap_or_default();
                            let active: i64 = levels
                                .iter()
                                .filter(|l| {
                                    matches!(
                                        l["activityLevel"].as_str(),
                                        Some("MODERATE" | "VIGOROUS")
                                    )
                                })
                                .filter_map(|l| int(&l["activeMinutes"]))
                                .sum();
                            add_opt(&mut tally.active, Some(active));
                        }
                        _ => {
                            if let Some(kcal) = float(&value["kcal"]) {
                                tally.kcal = Some(tally.kcal.unwrap_or(0.0) + kcal);
                            }
                        }
                    }
                }
            }
        }
    }

    let mut batch = Batch::default();
    for (day, tally) in tallies {
        let mut out = Day::new(time::date_string(day));
        out.steps = tally.steps.map(clamp32);
        out.active_minutes = tally.active.map(clamp32);
        out.calories_burned = tally.kcal.map(|k| clamp32(round(k)));
        out.avg_heart_rate = mean(tally.heart).map(|b| clamp32(round(b)));
        out.hrv_avg = mean(tally.hrv).map(|h| (h * 10.0).round() / 10.0);
        out.sleep_duration_minutes = tally.asleep.map(clamp32);
        out.deep_sleep_minutes = tally.deep.map(clamp32);
        out.rem_sleep_minutes = tally.rem.map(clamp32);
        batch.days.push(out);
    }
    sessions.sort_by_key(|(s, _)| s.start);
    batch.sleep = sessions.into_iter().map(|(_, s)| s).collect();
    Ok(batch)
}

/// Reads a webhook body the host has verified (see the crate doc for the shapes).
///
/// # Errors
/// [`Error::InvalidInput`] for a body that is not JSON, names no user or no interval.
pub fn read_notification(body: &[u8]) -> Result<Vec<Notification>, Error> {
    let invalid = |why: &str| Error::InvalidInput(format!("a Google Health notification {why}"));
    let document: Value = serde_json::from_slice(body).map_err(|_| invalid("is not JSON"))?;
    if document["type"].as_str() == Some("verification") {
        return Ok(Vec::new());
    }
    let data = &document["data"];
    if !data.is_object() {
        return Err(invalid("has no `data` object"));
    }
    let user = data["healthUserId"]
        .as_str()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("names no healthUserId"))?;
    let read = data["dataType"]
        .as_str()
        .is_some_and(|t| DATA_TYPES.iter().any(|k| k.path == t));
    if !read {
        return Ok(Vec::new());
    }
    let mut window: Option<(i64, i64)> = None;
    for interval in data["intervals"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let physical = &interval["physicalTimeInterval"];
        let (Some(start), Some(end)) = (
            physical["startTime"].as_str().and_then(time::parse_instant),
            physical["endTime"].as_str().and_then(time::parse_instant),
        ) else {
            return Err(invalid(
                "has an interval without RFC 3339 start and end times",
            ));
        };
        let (from, to) = (start.div_euclid(86_400), end.max(start).div_euclid(86_400));
        window = Some(match window {
            Some((a, b)) => (a.min(from), b.max(to)),
            None => (from, to),
        });
    }
    let (from, to) = window.ok_or_else(|| invalid("names no interval"))?;
    let (from, to) = (from - 1, to + 1);
    let from = from.max(to - i64::from(BACKFILL_DAYS) + 1);
    Ok(vec![Notification::Fetch(
        user.to_owned(),
        time::date_string(from),
        time::date_string(to),
    )])
}

#[cfg(test)]
mod tests;

#[cfg(target_arch = "wasm32")]
mod component {
    use mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter::{
        self as wit, Guest, GuestUpload,
    };
    use mindflow_adapter_kit::wasi_http::WasiHttp;

    struct Adapter;

    /// Google Health takes no uploads.
    struct NoUpload;

    fn no_uploads() -> wit::AdapterError {
        wit::AdapterError::InvalidInput("Google Health takes no uploads".into())
    }

    impl GuestUpload for NoUpload {
        fn new(_filename: String) -> Self {
            Self
        }

        fn write(&self, _chunk: Vec<u8>) -> Result<(), wit::AdapterError> {
            Err(no_uploads())
        }

        fn finish(&self) -> Result<wit::Batch, wit::AdapterError> {
            Err(no_uploads())
        }
    }

    impl Guest for Adapter {
        type Upload = NoUpload;

        fn describe() -> wit::ProviderInfo {
            wit::ProviderInfo {
                id: super::ID.into(),
                display_name: super::DISPLAY_NAME.into(),
                connection: wit::ConnectionKind::Oauth(wit::Oauth {
                    authorization_endpoint: super::AUTHORIZATION_ENDPOINT.into(),
                    token_endpoint: super::TOKEN_ENDPOINT.into(),
                    revocation_endpoint: Some(super::REVOCATION_ENDPOINT.into()),
                    scopes: super::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                    pkce: true,
                    client_auth: wit::ClientAuth::Body,
                    extra_params: super::EXTRA_PARAMS
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                }),
                api_hosts: vec![super::API_HOST.into()],
                webhooks: Some(wit::Webhooks {
                    auth: wit::WebhookAuth::SharedSecret(super::WEBHOOK_SECRET_HEADER.into()),
                    challenge_param: None,
                    verification_param: None,
                }),
                hrv_kind: wit::HrvKind::Rmssd,
                backfill_days: super::BACKFILL_DAYS,
                requests_per_minute: super::REQUESTS_PER_MINUTE,
            }
        }

        fn conformance() -> wit::Fixture {
            super::conformance::fixture().into()
        }

        fn fetch(start: String, end: String) -> Result<wit::Batch, wit::AdapterError> {
            super::fetch(&mut WasiHttp, &start, &end)
                .map(Into::into)
                .map_err(Into::into)
        }

        fn read_notification(body: Vec<u8>) -> Result<Vec<wit::Notification>, wit::AdapterError> {
            super::read_notification(&body)
                .map(|list| list.into_iter().map(Into::into).collect())
                .map_err(Into::into)
        }

        fn identify() -> Result<String, wit::AdapterError> {
            super::identify(&mut WasiHttp).map_err(Into::into)
        }
    }

    mindflow_adapter_kit::bindings::export_adapter!(Adapter with_types_in mindflow_adapter_kit::bindings);
}
