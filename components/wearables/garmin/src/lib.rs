//! MindFlow's **Garmin Health API** adapter. Pure logic over the adapter kit's model, tested
//! natively; the `wasm32` build exports it as the `wearable-adapter` world's `adapter`
//! (`garmin.wasm`).
//!
//! # Connecting
//! Garmin's OAuth 2.0 with PKCE (OAuth 1.0a retires at the end of 2026): authorization
//! [`AUTHORIZATION_ENDPOINT`], token [`TOKEN_ENDPOINT`], client id and secret in the form
//! body, no scopes in the request (a Garmin app's data permissions are set in its developer
//! settings and granted by the user on the consent page), no RFC 7009 revocation (Garmin ends
//! a connection with `DELETE https://apis.garmin.com/wellness-api/rest/user/registration`,
//! which the contract does not declare). **Assumptions to re-check against Garmin's current
//! OAuth 2.0 documentation:** the two endpoint URLs and that the token endpoint accepts the
//! client credentials in the body.
//!
//! # Pushed data ([`read_notification`])
//! Garmin POSTs summaries to the endpoints configured in its developer portal. Garmin signs
//! nothing; our deployment configures a secret header, `x-garmin-webhook-secret`, in Garmin's
//! endpoint settings, and the host compares it (`shared-secret("x-garmin-webhook-secret")`).
//! Since the OAuth 2.0 migration notifications carry no user access token: users are matched
//! by Garmin's `userId`.
//!
//! - **Push**: `{"dailies": [...], "sleeps": [...], "hrv": [...]}` with full summaries (shapes
//!   below) → `data(userId, batch)` per user: Garmin batches the summaries of many users in
//!   one body, so each user named gets one notification of their own summaries.
//! - **Ping**: `{"dailies": [{"userId": "…", "callbackURL":
//!   "https://apis.garmin.com/wellness-api/rest/dailies?uploadStartTimeInSeconds=…&uploadEndTimeInSeconds=…&token=…"}]}`
//!   → `fetch(userId, first day, last day)` per user: the UTC days of their upload windows
//!   widened by a day each side (the summaries' calendar dates are the user's own days, at
//!   most a day from UTC), at most [`BACKFILL_DAYS`] days. A user with both pushed summaries
//!   and pings gets both notifications.
//! - Other keys (`epochs`, `activities`, `deregistrations`, `userPermissionsChange`, …) and
//!   empty bodies ask nothing (an empty list).
//!
//! # Pulling ([`fetch`])
//! `GET https://apis.garmin.com/wellness-api/rest/{dailies,sleeps,hrv}?uploadStartTimeInSeconds=…&uploadEndTimeInSeconds=…`
//! for each UTC day (86,400 s, Garmin's maximum per request) from the day before the window
//! to the day after it; each answer is a JSON array of summaries. Summaries are selected by
//! upload time, so those whose `calendarDate` falls outside the window are dropped; a summary
//! uploaded again (same `summaryId`) replaces the earlier one.
//!
//! # Summaries read
//! - `dailies`: `{userId, summaryId, calendarDate, steps, activeTimeInSeconds,
//!   activeKilocalories, bmrKilocalories, averageHeartRateInBeatsPerMinute,
//!   averageStressLevel}` → steps, active minutes (`activeTimeInSeconds` / 60), calories
//!   burned (active + BMR kilocalories, or active alone when BMR is absent), average heart
//!   rate, stress score (`averageStressLevel` 0–100; Garmin's −1 for "not enough data" is
//!   left empty).
//! - `sleeps`: `{userId, summaryId, calendarDate, startTimeInSeconds,
//!   startTimeOffsetInSeconds, durationInSeconds, deepSleepDurationInSeconds,
//!   lightSleepDurationInSeconds, remSleepInSeconds, awakeDurationInSeconds,
//!   overallSleepScore: {value, qualifierKey}}` → a session on `calendarDate` (Garmin's date of
//!   the morning the sleep ends) and the day's sleep minutes (deep + light + REM when light
//!   is given, else duration − awake), deep, REM and the sleep score.
//! - `hrv`: `{userId, summaryId, calendarDate, lastNightAvg, lastNight5MinHigh, …}` →
//!   `hrv-avg` = `lastNightAvg` (RMSSD, ms).

pub mod conformance;

use mindflow_adapter_kit::time;

use mindflow_adapter_kit::model::{Batch, Error, Notification, Sleep};
use mindflow_adapter_kit::transport::Transport;
use serde_json::Value;

/// The provider key.
pub const ID: &str = "garmin";
/// The name shown to users.
pub const DISPLAY_NAME: &str = "Garmin Connect";
/// Garmin's OAuth 2.0 consent page.
pub const AUTHORIZATION_ENDPOINT: &str = "https://connect.garmin.com/oauth2Confirm";
/// Garmin's OAuth 2.0 token endpoint.
pub const TOKEN_ENDPOINT: &str = "https://diauth.garmin.com/di-oauth2-service/oauth/token";
/// The Health API origin.
pub const API_HOST: &str = "https://apis.garmin.com";
/// The secret header our deployment configures on Garmin's push endpoints.
pub const WEBHOOK_SECRET_HEADER: &str = "x-garmin-webhook-secret";
/// How far back the first sync reaches.
pub const BACKFILL_DAYS: u32 = 30;
/// The host's budget of `fetch` calls per minute for one user (a day costs three requests).
pub const REQUESTS_PER_MINUTE: u32 = 6;
/// The summary lists read.
pub const SUMMARIES: [&str; 3] = ["dailies", "sleeps", "hrv"];

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(round)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[allow(clippy::cast_possible_truncation)]
fn round(x: f64) -> i64 {
    x.round() as i64
}

fn clamp32(x: i64) -> i32 {
    i32::try_from(x).unwrap_or(if x < 0 { i32::MIN } else { i32::MAX })
}

fn clamp16(x: i64) -> i16 {
    i16::try_from(x).unwrap_or(if x < 0 { i16::MIN } else { i16::MAX })
}

/// The URL of one summary list for one upload window.
fn pull_url(summary: &str, from: i64, to: i64) -> String {
    format!(
        "{API_HOST}/wellness-api/rest/{summary}?uploadStartTimeInSeconds={from}&uploadEndTimeInSeconds={to}"
    )
}

/// Adds the summaries of `kind` in `items` to `batch`, keeping those for which `keep`
/// holds of their calendar day; `seen` keeps the latest per `summaryId`.
fn read_summaries<'a>(
    kind: &str,
    items: impl IntoIterator<Item = &'a Value>,
    batch: &mut Batch,
    keep: &dyn Fn(i64) -> bool,
) {
    for item in items {
        let Some(day) = item["calendarDate"].as_str().and_then(time::parse_date) else {
            continue;
        };
        if !keep(day) {
            continue;
        }
        let date = time::date_string(day);
        match kind {
            "dailies" => {
                let out = batch.day(&date);
                if let Some(steps) = int(&item["steps"]) {
                    out.steps = Some(clamp32(steps));
                }
                if let Some(active) = int(&item["activeTimeInSeconds"]) {
                    out.active_minutes = Some(clamp32(active / 60));
                }
                if let Some(active) = int(&item["activeKilocalories"]) {
                    let bmr = int(&item["bmrKilocalories"]).unwrap_or(0);
                    out.calories_burned = Some(clamp32(active + bmr));
                }
                if let Some(bpm) = int(&item["averageHeartRateInBeatsPerMinute"]) {
                    out.avg_heart_rate = Some(clamp32(bpm));
                }
                if let Some(stress) =
                    int(&item["averageStressLevel"]).filter(|s| (0..=100).contains(s))
                {
                    out.stress_score = Some(clamp16(stress));
                }
            }
            "sleeps" => {
                let (Some(start), Some(duration)) = (
                    int(&item["startTimeInSeconds"]),
                    int(&item["durationInSeconds"]),
                ) else {
                    continue;
                };
                let offset = int(&item["startTimeOffsetInSeconds"]).unwrap_or(0);
                let deep = int(&item["deepSleepDurationInSeconds"]);
                let rem = int(&item["remSleepInSeconds"]);
                let awake = int(&item["awakeDurationInSeconds"]);
                let asleep = match int(&item["lightSleepDurationInSeconds"]) {
                    Some(light) => light + deep.unwrap_or(0) + rem.unwrap_or(0),
                    None => duration - awake.unwrap_or(0),
                }
                .max(0);
                let id = item["summaryId"]
                    .as_str()
                    .map_or_else(|| format!("sleep-{start}"), str::to_owned);
                let session = Sleep {
                    external_id: id.clone(),
                    start: time::format_instant(start, offset),
                    end: time::format_instant(start + duration, offset),
                    metric_date: date.clone(),
                    asleep_minutes: clamp32(asleep / 60),
                    deep_minutes: deep.map(|s| clamp32(s / 60)),
                    rem_minutes: rem.map(|s| clamp32(s / 60)),
                    awake_minutes: awake.map(|s| clamp32(s / 60)),
                };
                batch.sleep.retain(|s| s.external_id != id);
                batch.sleep.push(session);
                let score =
                    int(&item["overallSleepScore"]["value"]).filter(|s| (0..=100).contains(s));
                let out = batch.day(&date);
                if score.is_some() {
                    out.sleep_quality_score = score.map(clamp16);
                }
            }
            _ => {
                if let Some(avg) = item["lastNightAvg"].as_f64().filter(|f| f.is_finite()) {
                    batch.day(&date).hrv_avg = Some(avg);
                }
            }
        }
    }
}

/// A day's sleep totals from its sessions (re-uploads already replaced).
fn total_sleep(batch: &mut Batch) {
    let sessions = batch.sleep.clone();
    for day in &mut batch.days {
        let nights: Vec<&Sleep> = sessions
            .iter()
            .filter(|s| s.metric_date == day.metric_date)
            .collect();
        if nights.is_empty() {
            continue;
        }
        day.sleep_duration_minutes = Some(nights.iter().map(|s| s.asleep_minutes).sum());
        let sum =
            |f: fn(&Sleep) -> Option<i32>| nights.iter().filter_map(|s| f(s)).reduce(|a, b| a + b);
        day.deep_sleep_minutes = sum(|s| s.deep_minutes);
        day.rem_sleep_minutes = sum(|s| s.rem_minutes);
    }
    batch.days.sort_by(|a, b| a.metric_date.cmp(&b.metric_date));
    batch.sleep.sort_by(|a, b| a.start.cmp(&b.start));
}

fn date_arg(text: &str, what: &str) -> Result<i64, Error> {
    time::parse_date(text)
        .ok_or_else(|| Error::InvalidInput(format!("{what} `{text}` is not a YYYY-MM-DD date")))
}

/// The Garmin user id (what notifications name), from `GET /wellness-api/rest/user/id`
/// (`{"userId": "…"}`).
///
/// # Errors
/// The provider's answer as an [`Error`]; [`Error::Provider`] when it names no user.
pub fn identify(transport: &mut impl Transport) -> Result<String, Error> {
    let answer = transport
        .get(
            &format!("{API_HOST}/wellness-api/rest/user/id"),
            &[("accept", "application/json")],
        )?
        .ok()?
        .json()?;
    answer["userId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Provider("the user id answer names no userId".into()))
}

/// Daily metrics and sleep for the calendar days `start..=end` (`YYYY-MM-DD`), pulled by
/// upload window, one UTC day per request.
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed window; the transport's errors as they come.
pub fn fetch(transport: &mut impl Transport, start: &str, end: &str) -> Result<Batch, Error> {
    let first = date_arg(start, "start")?;
    let last = date_arg(end, "end")?;
    if last < first {
        return Err(Error::InvalidInput(format!(
            "the window {start}..{end} is empty"
        )));
    }
    let keep = |day: i64| (first..=last).contains(&day);
    let mut batch = Batch::default();
    for upload_day in (first - 1)..=(last + 1) {
        let from = upload_day * 86_400;
        for summary in SUMMARIES {
            let answer = transport
                .get(
                    &pull_url(summary, from, from + 86_400),
                    &[("accept", "application/json")],
                )?
                .ok()?
                .json()?;
            let Value::Array(items) = answer else {
                return Err(Error::Provider(format!(
                    "Garmin's {summary} answer is not an array"
                )));
            };
            read_summaries(summary, &items, &mut batch, &keep);
        }
    }
    total_sleep(&mut batch);
    Ok(batch)
}

/// What one user's items in a notification body ask for.
#[derive(Default)]
struct UserItems<'a> {
    /// Upload windows of pings (UTC seconds).
    pings: Vec<(i64, i64)>,
    /// Pushed summaries, by kind.
    pushed: Vec<(&'static str, &'a Value)>,
}

/// Reads a push or ping body the host has verified (see the crate doc): for each user it
/// names, in the order they first appear, their pushed summaries as one
/// [`Notification::Data`] and their pings as one [`Notification::Fetch`].
///
/// # Errors
/// [`Error::InvalidInput`] for a body that is not a JSON object, a summary without a
/// `userId`, or a ping without an upload window.
pub fn read_notification(body: &[u8]) -> Result<Vec<Notification>, Error> {
    let invalid = |why: &str| Error::InvalidInput(format!("a Garmin notification {why}"));
    let document: Value = serde_json::from_slice(body).map_err(|_| invalid("is not JSON"))?;
    let Value::Object(lists) = &document else {
        return Err(invalid("is not a JSON object"));
    };
    let mut users: Vec<(&str, UserItems<'_>)> = Vec::new();
    for kind in SUMMARIES {
        let Some(items) = lists.get(kind).and_then(Value::as_array) else {
            continue;
        };
        for item in items {
            let id = item["userId"]
                .as_str()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("has a summary without a userId"))?;
            let index = match users.iter().position(|(known, _)| *known == id) {
                Some(index) => index,
                None => {
                    users.push((id, UserItems::default()));
                    users.len() - 1
                }
            };
            let user = &mut users[index].1;
            match item["callbackURL"].as_str() {
                Some(url) => user.pings.push(
                    upload_window(url)
                        .ok_or_else(|| invalid("has a callback URL without an upload window"))?,
                ),
                None => user.pushed.push((kind, item)),
            }
        }
    }
    let mut notifications = Vec::new();
    for (user, items) in users {
        if !items.pushed.is_empty() {
            let mut batch = Batch::default();
            for kind in SUMMARIES {
                let of_kind = items
                    .pushed
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, item)| *item);
                read_summaries(kind, of_kind, &mut batch, &|_| true);
            }
            total_sleep(&mut batch);
            notifications.push(Notification::Data(user.to_owned(), batch));
        }
        if let Some((from, to)) = fetch_window(&items.pings) {
            notifications.push(Notification::Fetch(user.to_owned(), from, to));
        }
    }
    Ok(notifications)
}

/// The upload window (UTC seconds) a ping's callback URL names.
fn upload_window(url: &str) -> Option<(i64, i64)> {
    let param = |name: &str| {
        url.split_once('?')?
            .1
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
            .parse::<i64>()
            .ok()
    };
    let from = param("uploadStartTimeInSeconds")?;
    let to = param("uploadEndTimeInSeconds")?;
    Some((from, to.max(from)))
}

/// The days to fetch for a user's pings: the UTC days of their upload windows widened by a
/// day each side, at most [`BACKFILL_DAYS`].
fn fetch_window(pings: &[(i64, i64)]) -> Option<(String, String)> {
    let from = pings.iter().map(|p| p.0).min()?.div_euclid(86_400) - 1;
    let to = pings.iter().map(|p| p.1).max()?.div_euclid(86_400) + 1;
    let from = from.max(to - i64::from(BACKFILL_DAYS) + 1);
    Some((time::date_string(from), time::date_string(to)))
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

    /// Garmin takes no uploads.
    struct NoUpload;

    fn no_uploads() -> wit::AdapterError {
        wit::AdapterError::InvalidInput("Garmin takes no uploads".into())
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
                    revocation_endpoint: None,
                    scopes: Vec::new(),
                    pkce: true,
                    client_auth: wit::ClientAuth::Body,
                    extra_params: Vec::new(),
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
