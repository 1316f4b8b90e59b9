//! MindFlow's Oura Ring adapter (the WIT world `mindflow:platform/wearable-adapter`, see
//! `wit/wearable.wit`), over the Oura API v2.
//!
//! - **Connecting**: Oura's OAuth 2.0 authorization-code flow ([`AUTHORIZATION_ENDPOINT`],
//!   [`TOKEN_ENDPOINT`], [`REVOCATION_ENDPOINT`]), client credentials in the form body, the
//!   `daily` scope only (daily sleep, activity and readiness, and sleep periods). Oura's
//!   refresh tokens are single-use: each refresh answers a new one.
//! - **Pulling** ([`fetch`]): `GET /v2/usercollection/{daily_sleep,daily_activity,
//!   daily_readiness,sleep}` with `start_date`/`end_date`, following `next_token` until it
//!   is `null`. Each day gets its sleep score (`daily_sleep.score`), steps, active minutes
//!   (high + medium activity time) and total calories (`daily_activity`), readiness score
//!   (`daily_readiness.score`), and from the night's main sleep period(s) (`long_sleep`, or
//!   `sleep` when the night has no long one) minutes asleep, deep and REM minutes, and the
//!   average HRV (RMSSD, ms) and heart rate. A night belongs to the local date of its
//!   `bedtime_end`. Every period but `rest` and `deleted` ones is also a sleep session.
//! - **Webhooks** ([`read_notification`]): Oura signs each POST with `x-oura-signature`, the
//!   uppercase hex HMAC-SHA256 under the client secret of `x-oura-timestamp` followed by the
//!   raw body (the host checks it); a subscription is confirmed by a `GET` echoing
//!   `challenge` once `verification_token` matches. A `create` or `update` of a data type
//!   this adapter reads asks the host to fetch the days around `event_time`; anything else is
//!   ignored.
//! - **Uploads**: Oura has none; the `upload` resource refuses every file.
//!
//! The logic here is plain Rust over the kit's model and is tested natively against canned
//! answers in Oura's wire format; the `component` module (wasm32 only) binds it to the WIT
//! exports with the `wasi:http` transport.

pub mod conformance;

use mindflow_adapter_kit::model::{Batch, Error, Notification, Sleep};
use mindflow_adapter_kit::transport::{Transport, encode_query_value, pages};
use serde_json::Value;

/// The provider key.
pub const ID: &str = "oura";
/// The name users see.
pub const DISPLAY_NAME: &str = "Oura Ring";
/// The API origin (the host attaches the user's token to requests to it).
pub const API: &str = "https://api.ouraring.com";
/// Where the user authorises MindFlow.
pub const AUTHORIZATION_ENDPOINT: &str = "https://cloud.ouraring.com/oauth/authorize";
/// Where codes and refresh tokens are exchanged (client credentials in the form body).
pub const TOKEN_ENDPOINT: &str = "https://api.ouraring.com/oauth/token";
/// Where a token is revoked. Oura documents it as `…/oauth/revoke?access_token=TOKEN`.
pub const REVOCATION_ENDPOINT: &str = "https://api.ouraring.com/oauth/revoke";
/// The scopes read: `daily` covers daily sleep, activity and readiness and sleep periods;
/// `personal` is asked for `personal_info`'s `id` alone, which webhooks name the user by
/// (its other fields, age, weight, height and sex, are never read).
pub const SCOPES: &[&str] = &["daily", "personal"];
/// The header of a webhook's signature.
pub const SIGNATURE_HEADER: &str = "x-oura-signature";
/// The header of a webhook's timestamp (signed before the body).
pub const TIMESTAMP_HEADER: &str = "x-oura-timestamp";
/// The handshake's challenge parameter, echoed as `{"challenge": …}`.
pub const CHALLENGE_PARAM: &str = "challenge";
/// The handshake's verification-token parameter.
pub const VERIFICATION_PARAM: &str = "verification_token";
/// How far back the first sync reaches, in days.
pub const BACKFILL_DAYS: u32 = 90;
/// `fetch` calls per minute per user. A fetch makes four requests or a few more (a page
/// each, more for long windows); Oura allows an application 5000 requests per 5 minutes
/// over all its users, so a user's share stays small.
pub const REQUESTS_PER_MINUTE: u32 = 10;

/// The collections [`fetch`] reads, which are also the webhook data types it acts on.
pub const DATA_TYPES: &[&str] = &["daily_sleep", "daily_activity", "daily_readiness", "sleep"];

/// At most this many pages per collection and window (a guard against a paging loop).
const MAX_PAGES: usize = 60;

/// Calendar dates as days since 1970-01-01 (proleptic Gregorian).
pub mod date {
    /// `YYYY-MM-DD` as days since 1970-01-01; `None` when it is not a real date.
    pub fn parse(text: &str) -> Option<i64> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(era * 146_097 + doe - 719_468)
    }

    /// Days since 1970-01-01 as `YYYY-MM-DD`.
    pub fn format(days: i64) -> String {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}-{day:02}")
    }

    fn days_in_month(year: i64, month: i64) -> i64 {
        match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// The date part of an RFC 3339 date-time (`2026-11-03T07:12:00+01:00` → `2026-11-03`,
    /// the local date at the offset given); `None` when it does not start with a date and `T`.
    pub fn of_datetime(text: &str) -> Option<&str> {
        let day = text.get(..10)?;
        let separator = text.get(10..11)?;
        (parse(day).is_some() && separator.eq_ignore_ascii_case("t")).then_some(day)
    }
}

/// `start..=end` as day numbers.
///
/// # Errors
/// [`Error::InvalidInput`] when a date is malformed or `end` is before `start`.
fn window(start: &str, end: &str) -> Result<(i64, i64), Error> {
    let parse = |text: &str| {
        date::parse(text)
            .ok_or_else(|| Error::InvalidInput(format!("not a YYYY-MM-DD date: {text:?}")))
    };
    let (first, last) = (parse(start)?, parse(end)?);
    if last < first {
        return Err(Error::InvalidInput(format!("{end} is before {start}")));
    }
    Ok((first, last))
}

/// Every document of `collection` from `start_date` to `end_date`, page by page.
///
/// # Errors
/// The transport's errors, the provider's statuses as [`Response::ok`] maps them, and
/// [`Error::Provider`] for an answer without a `data` list or a paging loop.
///
/// [`Response::ok`]: mindflow_adapter_kit::transport::Response::ok
fn collection(
    transport: &mut impl Transport,
    name: &str,
    start_date: &str,
    end_date: &str,
) -> Result<Vec<Value>, Error> {
    let first = format!(
        "{API}/v2/usercollection/{name}?start_date={}&end_date={}",
        encode_query_value(start_date),
        encode_query_value(end_date)
    );
    let what = format!("Oura's {name} answer");
    pages(transport, first.clone(), &what, MAX_PAGES, |page| {
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Provider(format!("{what} has no `data` list")))?;
        let next = page
            .get("next_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .map(|token| format!("{first}&next_token={}", encode_query_value(token)));
        Ok((data.clone(), next))
    })
}

/// A number field (integer or float), `None` when absent, `null` or not finite.
fn number(document: &Value, field: &str) -> Option<f64> {
    document
        .get(field)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite())
}

/// `value` rounded to an `i32`, `None` when out of range.
fn round_i32(value: f64) -> Option<i32> {
    let rounded = value.round();
    if rounded < f64::from(i32::MIN) || rounded > f64::from(i32::MAX) {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "rounded and checked to be within i32's range"
    )]
    Some(rounded as i32)
}

/// Seconds as whole minutes (rounded).
fn minutes(seconds: f64) -> Option<i32> {
    round_i32(seconds / 60.0)
}

/// A 0–100 score field; `None` when absent, `null` or outside 0–100.
fn score(document: &Value, field: &str) -> Option<i16> {
    number(document, field)
        .filter(|s| (0.0..=100.0).contains(s))
        .and_then(round_i32)
        .and_then(|s| i16::try_from(s).ok())
}

/// A daily document's `day`, when it is a date within `first..=last`.
fn day_within(document: &Value, first: i64, last: i64) -> Option<&str> {
    let day = document.get("day").and_then(Value::as_str)?;
    date::parse(day)
        .filter(|d| (first..=last).contains(d))
        .map(|_| day)
}

/// One Oura sleep period (`/v2/usercollection/sleep`), read.
#[derive(Debug, Clone, PartialEq)]
struct Period {
    id: String,
    kind: String,
    start: String,
    end: String,
    /// The local date of `bedtime_end`.
    day: String,
    asleep: Option<f64>,
    deep: Option<f64>,
    rem: Option<f64>,
    awake: Option<f64>,
    hrv: Option<f64>,
    heart_rate: Option<f64>,
}

impl Period {
    /// A sleep document read; `None` when it lacks an id or a well-formed `bedtime_end`.
    fn read(document: &Value) -> Option<Self> {
        let text = |field: &str| document.get(field).and_then(Value::as_str);
        let end = text("bedtime_end")?;
        Some(Self {
            id: text("id")?.to_owned(),
            kind: text("type").unwrap_or("sleep").to_owned(),
            start: text("bedtime_start").unwrap_or_default().to_owned(),
            end: end.to_owned(),
            day: date::of_datetime(end)?.to_owned(),
            asleep: number(document, "total_sleep_duration"),
            deep: number(document, "deep_sleep_duration"),
            rem: number(document, "rem_sleep_duration"),
            awake: number(document, "awake_time"),
            hrv: number(document, "average_hrv"),
            heart_rate: number(document, "average_heart_rate"),
        })
    }

    /// Whether it is a sleep session at all (`rest` is a rest-mode period, `deleted` one the
    /// user removed).
    fn is_sleep(&self) -> bool {
        !matches!(self.kind.as_str(), "rest" | "deleted")
    }

    fn session(&self) -> Option<Sleep> {
        Some(Sleep {
            external_id: self.id.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            metric_date: self.day.clone(),
            asleep_minutes: minutes(self.asleep?)?,
            deep_minutes: self.deep.and_then(minutes),
            rem_minutes: self.rem.and_then(minutes),
            awake_minutes: self.awake.and_then(minutes),
        })
    }
}

/// The sum of a field over periods; `None` when no period has it.
fn sum(periods: &[&Period], field: impl Fn(&Period) -> Option<f64>) -> Option<f64> {
    periods
        .iter()
        .filter_map(|p| field(p))
        .fold(None, |total, v| Some(total.unwrap_or(0.0) + v))
}

/// The average of a field over periods, weighted by time asleep; `None` when no period has it.
fn weighted(periods: &[&Period], field: impl Fn(&Period) -> Option<f64>) -> Option<f64> {
    let (total, weights) = periods
        .iter()
        .filter_map(|p| Some((field(p)?, p.asleep.unwrap_or(0.0).max(1.0))))
        .fold((0.0, 0.0), |(t, w), (v, weight)| {
            (t + v * weight, w + weight)
        });
    (weights > 0.0).then(|| total / weights)
}

/// Adds the nights of `periods` (all ending within the window) to `batch`: each day's main
/// period(s) (`long_sleep`, else `sleep`; never naps) make its sleep figures, and every
/// sleep period is a session.
fn add_nights(batch: &mut Batch, periods: &[Period]) {
    let mut days: Vec<&str> = periods.iter().map(|p| p.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    for day in days {
        let of_kind = |kind: &str| -> Vec<&Period> {
            periods
                .iter()
                .filter(|p| p.day == day && p.kind == kind)
                .collect()
        };
        let mut main = of_kind("long_sleep");
        if main.is_empty() {
            main = of_kind("sleep");
        }
        if main.is_empty() {
            continue;
        }
        let asleep = sum(&main, |p| p.asleep).and_then(minutes);
        let deep = sum(&main, |p| p.deep).and_then(minutes);
        let rem = sum(&main, |p| p.rem).and_then(minutes);
        let hrv = weighted(&main, |p| p.hrv).map(|v| (v * 10.0).round() / 10.0);
        let heart_rate = weighted(&main, |p| p.heart_rate).and_then(round_i32);
        if asleep.is_none()
            && deep.is_none()
            && rem.is_none()
            && hrv.is_none()
            && heart_rate.is_none()
        {
            continue;
        }
        let entry = batch.day(day);
        entry.sleep_duration_minutes = asleep;
        entry.deep_sleep_minutes = deep;
        entry.rem_sleep_minutes = rem;
        entry.hrv_avg = hrv;
        entry.avg_heart_rate = heart_rate;
    }
    let mut sessions: Vec<Sleep> = periods
        .iter()
        .filter(|p| p.is_sleep())
        .filter_map(Period::session)
        .collect();
    sessions.sort_by(|a, b| a.end.cmp(&b.end).then(a.external_id.cmp(&b.external_id)));
    sessions.dedup_by(|a, b| a.external_id == b.external_id);
    batch.sleep.extend(sessions);
}

/// The Oura user id (what webhooks name), from `GET /v2/usercollection/personal_info`.
///
/// # Errors
/// The provider's answer as an [`Error`]; [`Error::Provider`] when it names no user.
pub fn identify(transport: &mut impl Transport) -> Result<String, Error> {
    let answer = transport
        .get(
            &format!("{API}/v2/usercollection/personal_info"),
            &[("accept", "application/json")],
        )?
        .ok()?
        .json()?;
    answer["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Provider("personal_info names no id".into()))
}

/// Daily metrics and sleep sessions from `start` to `end` (inclusive, `YYYY-MM-DD`), read
/// from Oura through `transport` (which adds the user's token).
///
/// Daily collections are asked for one day past `end` and sleep periods one day either side
/// (Oura's `end_date` has been exclusive on some collections, and a period's `day` need not
/// be its `bedtime_end` date); what falls outside the window is dropped, so the answer is
/// exactly the window's days.
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed window; [`Error::Unauthorized`] on Oura's
/// 401/403 (the host refreshes the token and asks again), [`Error::RateLimited`] on 429,
/// [`Error::Provider`] for anything else unexpected.
pub fn fetch(transport: &mut impl Transport, start: &str, end: &str) -> Result<Batch, Error> {
    let (first, last) = window(start, end)?;
    let day_after = date::format(last + 1);
    let mut batch = Batch::default();

    for document in collection(transport, "daily_sleep", start, &day_after)? {
        if let Some(day) = day_within(&document, first, last)
            && let Some(value) = score(&document, "score")
        {
            batch.day(day).sleep_quality_score = Some(value);
        }
    }

    for document in collection(transport, "daily_activity", start, &day_after)? {
        let Some(day) = day_within(&document, first, last) else {
            continue;
        };
        let steps = number(&document, "steps").and_then(round_i32);
        let calories = number(&document, "total_calories").and_then(round_i32);
        let active = match (
            number(&document, "high_activity_time"),
            number(&document, "medium_activity_time"),
        ) {
            (None, None) => None,
            (high, medium) => minutes(high.unwrap_or(0.0) + medium.unwrap_or(0.0)),
        };
        if steps.is_none() && calories.is_none() && active.is_none() {
            continue;
        }
        let entry = batch.day(day);
        entry.steps = steps;
        entry.calories_burned = calories;
        entry.active_minutes = active;
    }

    for document in collection(transport, "daily_readiness", start, &day_after)? {
        if let Some(day) = day_within(&document, first, last)
            && let Some(value) = score(&document, "score")
        {
            batch.day(day).readiness_score = Some(value);
        }
    }

    let mut periods: Vec<Period> = Vec::new();
    for document in collection(transport, "sleep", &date::format(first - 1), &day_after)? {
        if let Some(period) = Period::read(&document)
            && date::parse(&period.day).is_some_and(|d| (first..=last).contains(&d))
            && !periods.iter().any(|p| p.id == period.id)
        {
            periods.push(period);
        }
    }
    add_nights(&mut batch, &periods);

    batch.days.sort_by(|a, b| a.metric_date.cmp(&b.metric_date));
    Ok(batch)
}

/// Reads a webhook body the host has verified (Oura's `{"event_type", "data_type",
/// "object_id", "event_time", "user_id"}`).
///
/// A `create` or `update` of a collection [`fetch`] reads answers
/// one [`Notification::Fetch`] of the day before `event_time`'s date to the day after:
/// `event_time` is UTC and the document's day is the user's own, which may differ by a day
/// either way. A `delete`, and any other data type (workouts, tags, sessions, …), asks
/// nothing (an empty list): the next sync rewrites the days it covers.
///
/// # Errors
/// [`Error::InvalidInput`] when the body is not such a JSON object.
pub fn read_notification(body: &[u8]) -> Result<Vec<Notification>, Error> {
    let invalid = |what: &str| Error::InvalidInput(format!("an Oura notification {what}"));
    let event: Value = serde_json::from_slice(body).map_err(|_| invalid("that is not JSON"))?;
    let text = |field: &str| event.get(field).and_then(Value::as_str);
    let event_type = text("event_type").ok_or_else(|| invalid("without event_type"))?;
    let data_type = text("data_type").ok_or_else(|| invalid("without data_type"))?;
    let user = text("user_id")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("without user_id"))?;
    if !matches!(event_type, "create" | "update") || !DATA_TYPES.contains(&data_type) {
        return Ok(Vec::new());
    }
    let day = text("event_time")
        .and_then(date::of_datetime)
        .and_then(date::parse)
        .ok_or_else(|| invalid("without an RFC 3339 event_time"))?;
    Ok(vec![Notification::Fetch(
        user.to_owned(),
        date::format(day - 1),
        date::format(day + 1),
    )])
}

/// What an upload answers: Oura takes none.
#[must_use]
pub fn no_uploads() -> Error {
    Error::InvalidInput("Oura takes no uploads: connect the account instead".into())
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The WIT exports, over the logic above and `wasi:http`.

    use mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter as wit;
    use mindflow_adapter_kit::wasi_http::WasiHttp;

    struct Adapter;

    /// The `upload` resource: Oura takes none.
    struct Upload;

    impl wit::GuestUpload for Upload {
        fn new(_filename: String) -> Self {
            Self
        }

        fn write(&self, _chunk: Vec<u8>) -> Result<(), wit::AdapterError> {
            Err(super::no_uploads().into())
        }

        fn finish(&self) -> Result<wit::Batch, wit::AdapterError> {
            Err(super::no_uploads().into())
        }
    }

    impl wit::Guest for Adapter {
        type Upload = Upload;

        fn describe() -> wit::ProviderInfo {
            let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
            wit::ProviderInfo {
                id: super::ID.into(),
                display_name: super::DISPLAY_NAME.into(),
                connection: wit::ConnectionKind::Oauth(wit::Oauth {
                    authorization_endpoint: super::AUTHORIZATION_ENDPOINT.into(),
                    token_endpoint: super::TOKEN_ENDPOINT.into(),
                    revocation_endpoint: Some(super::REVOCATION_ENDPOINT.into()),
                    scopes: strings(super::SCOPES),
                    pkce: true,
                    client_auth: wit::ClientAuth::Body,
                    extra_params: Vec::new(),
                }),
                api_hosts: vec![super::API.into()],
                webhooks: Some(wit::Webhooks {
                    auth: wit::WebhookAuth::HmacSha256(wit::Hmac {
                        signature_header: super::SIGNATURE_HEADER.into(),
                        timestamp_header: Some(super::TIMESTAMP_HEADER.into()),
                    }),
                    challenge_param: Some(super::CHALLENGE_PARAM.into()),
                    verification_param: Some(super::VERIFICATION_PARAM.into()),
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

#[cfg(test)]
mod tests;
