//! The partner template: a MindFlow wearable adapter (the WIT world
//! `mindflow:platform/wearable-adapter`, see `wit/wearable.wit`) for **Acme Ring**, a
//! fictional provider whose API lives at `https://api.acme-ring.example` (a reserved
//! `.example` domain: nothing real answers there; the tests' simulator does,
//! `tests/support/providers/acme_ring.rs`). Copy it to start your own (see `README.md`).
//!
//! Acme Ring's API, as this adapter reads it:
//!
//! - **Connecting**: OAuth 2.0 authorization code with PKCE (S256) at
//!   [`AUTHORIZATION_ENDPOINT`] and [`TOKEN_ENDPOINT`], the client authenticating with HTTP
//!   Basic, scopes [`SCOPES`]; RFC 7009 revocation at [`REVOCATION_ENDPOINT`]. The host runs
//!   all of it: the adapter only declares it.
//! - **Daily data** ([`fetch`]): `GET /v1/daily?start_date=…&end_date=…` (inclusive) answers
//!   `{"items": [{"date", "steps", "active_seconds", "calories_kcal", "heart_rate_avg_bpm",
//!   "hrv_rmssd_ms", "readiness"}], "next_page_token": "…" | null}`; the adapter follows
//!   `page_token` until it is `null`.
//! - **Sleep**: `GET /v1/sleep?start_date=…&end_date=…` pages the same way through
//!   `{"items": [{"id", "start", "end", "asleep_seconds", "deep_seconds", "rem_seconds",
//!   "awake_seconds", "score"}]}`, selected by the local date of `end` (RFC 3339 with the
//!   user's offset). A night belongs to that date; the day's sleep figures add up its
//!   sessions, and its sleep score is the longest session's.
//! - **Identify**: `GET /v1/me` answers `{"user_id": …}`, the id webhooks name users by.
//! - **Webhooks** ([`read_notification`]): a POST signed with `x-acme-signature`, lowercase
//!   hex HMAC-SHA256 under the webhook secret of `x-acme-timestamp` followed by the raw body
//!   (the host checks it and refuses replays). `{"type": "data.updated", "user_id", "date"}`
//!   asks the host to fetch that date; `{"type": "ping"}` is ignored.
//! - 401 answers `unauthorized` (the host refreshes and retries), 429 `rate-limited` with
//!   `Retry-After`.
//!
//! The logic is plain Rust over the kit's model, tested natively against canned answers
//! (`src/tests.rs`); [`conformance`] is the fixture the host replays on install; the
//! `component` module (wasm32 only) binds it all to the WIT exports.

pub mod conformance;

use mindflow_adapter_kit::model::{Batch, Error, Notification, Sleep};
use mindflow_adapter_kit::time;
use mindflow_adapter_kit::transport::{Transport, encode_query_value, pages};
use serde_json::Value;

/// The provider key (`MINDFLOW_WEARABLE_ACME_RING_CLIENT_ID`, `/api/v1/wearables/connect/acme-ring`).
pub const ID: &str = "acme-ring";
/// The name users see.
pub const DISPLAY_NAME: &str = "Acme Ring";
/// The API origin: the host adds the user's token to requests to it, and to nothing else.
pub const API: &str = "https://api.acme-ring.example";
/// Where the user authorises MindFlow.
pub const AUTHORIZATION_ENDPOINT: &str = "https://acme-ring.example/oauth/authorize";
/// Where the host exchanges codes and refresh tokens (client id and secret in HTTP Basic).
pub const TOKEN_ENDPOINT: &str = "https://api.acme-ring.example/oauth/token";
/// Where the host revokes a token on disconnect.
pub const REVOCATION_ENDPOINT: &str = "https://api.acme-ring.example/oauth/revoke";
/// What the adapter reads.
pub const SCOPES: &[&str] = &["daily", "sleep"];
/// The webhook signature's header.
pub const SIGNATURE_HEADER: &str = "x-acme-signature";
/// The webhook timestamp's header (signed before the body).
pub const TIMESTAMP_HEADER: &str = "x-acme-timestamp";
/// How far back the first sync reaches, in days.
pub const BACKFILL_DAYS: u32 = 30;
/// `fetch` calls per minute per user (the host's budget).
pub const REQUESTS_PER_MINUTE: u32 = 20;
/// At most this many pages per list and window (a guard against a paging loop).
const MAX_PAGES: usize = 100;

/// `start..=end` as day numbers.
fn window(start: &str, end: &str) -> Result<(i64, i64), Error> {
    let parse = |text: &str| {
        time::parse_date(text)
            .ok_or_else(|| Error::InvalidInput(format!("not a YYYY-MM-DD date: {text:?}")))
    };
    let (first, last) = (parse(start)?, parse(end)?);
    if last < first {
        return Err(Error::InvalidInput(format!("{end} is before {start}")));
    }
    Ok((first, last))
}

/// Every item of list `name` (`daily`, `sleep`) for `start..=end`, following
/// `next_page_token` (the kit's [`pages`] guards against loops and endless lists).
fn list(
    transport: &mut impl Transport,
    name: &str,
    start: &str,
    end: &str,
) -> Result<Vec<Value>, Error> {
    let first = format!(
        "{API}/v1/{name}?start_date={}&end_date={}",
        encode_query_value(start),
        encode_query_value(end)
    );
    let what = format!("Acme's {name} list");
    pages(transport, first.clone(), &what, MAX_PAGES, |page| {
        let items = page["items"]
            .as_array()
            .ok_or_else(|| Error::Provider(format!("{what} has no `items`")))?;
        let next = page["next_page_token"]
            .as_str()
            .filter(|token| !token.is_empty())
            .map(|token| format!("{first}&page_token={}", encode_query_value(token)));
        Ok((items.clone(), next))
    })
}

/// A whole-number field as an `i32`; `None` when absent, `null`, fractional or out of range.
fn int(item: &Value, field: &str) -> Option<i32> {
    item.get(field)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

/// Seconds as whole minutes (rounded half up); `None` when negative.
fn minutes(seconds: Option<i32>) -> Option<i32> {
    seconds.filter(|s| *s >= 0).map(|s| (s + 30) / 60)
}

/// A 0–100 score.
fn score(item: &Value, field: &str) -> Option<i16> {
    int(item, field)
        .filter(|s| (0..=100).contains(s))
        .and_then(|s| i16::try_from(s).ok())
}

/// One sleep item as a session; `None` when it lacks an id, its times, or time asleep.
fn session(item: &Value) -> Option<Sleep> {
    let text = |field: &str| item.get(field).and_then(Value::as_str);
    let (start, end) = (text("start")?, text("end")?);
    time::parse_instant(start)?;
    time::parse_instant(end)?;
    let date = end.get(..10).filter(|d| time::parse_date(d).is_some())?;
    Some(Sleep {
        external_id: text("id").filter(|id| !id.is_empty())?.to_owned(),
        start: start.to_owned(),
        end: end.to_owned(),
        metric_date: date.to_owned(),
        asleep_minutes: minutes(int(item, "asleep_seconds"))?,
        deep_minutes: minutes(int(item, "deep_seconds")),
        rem_minutes: minutes(int(item, "rem_seconds")),
        awake_minutes: minutes(int(item, "awake_seconds")),
    })
}

/// Daily metrics and sleep sessions for `start..=end` (inclusive, `YYYY-MM-DD`), read from
/// Acme Ring through `transport` (which adds the user's token).
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed window; [`Error::Unauthorized`] on 401/403,
/// [`Error::RateLimited`] on 429, [`Error::Provider`] for anything else unexpected.
pub fn fetch(transport: &mut impl Transport, start: &str, end: &str) -> Result<Batch, Error> {
    let (first, last) = window(start, end)?;
    let within = |date: &str| time::parse_date(date).is_some_and(|d| (first..=last).contains(&d));
    let mut batch = Batch::default();

    for item in list(transport, "daily", start, end)? {
        let Some(date) = item["date"].as_str().filter(|d| within(d)) else {
            continue;
        };
        let day = batch.day(date);
        day.steps = int(&item, "steps");
        day.active_minutes = minutes(int(&item, "active_seconds"));
        day.calories_burned = int(&item, "calories_kcal");
        day.avg_heart_rate = int(&item, "heart_rate_avg_bpm");
        day.hrv_avg = item["hrv_rmssd_ms"].as_f64().filter(|v| v.is_finite());
        day.readiness_score = score(&item, "readiness");
    }

    let mut nights: Vec<(Sleep, Option<i16>)> = Vec::new();
    for item in list(transport, "sleep", start, end)? {
        if let Some(night) = session(&item).filter(|s| within(&s.metric_date))
            && !nights
                .iter()
                .any(|(n, _)| n.external_id == night.external_id)
        {
            nights.push((night, score(&item, "score")));
        }
    }
    nights.sort_by(|(a, _), (b, _)| a.end.cmp(&b.end));
    for (night, night_score) in &nights {
        let longest = nights
            .iter()
            .filter(|(n, _)| n.metric_date == night.metric_date)
            .all(|(n, _)| n.asleep_minutes <= night.asleep_minutes);
        let day = batch.day(&night.metric_date);
        let add = |total: Option<i32>, value: Option<i32>| match (total, value) {
            (None, None) => None,
            (t, v) => Some(t.unwrap_or(0) + v.unwrap_or(0)),
        };
        day.sleep_duration_minutes = add(day.sleep_duration_minutes, Some(night.asleep_minutes));
        day.deep_sleep_minutes = add(day.deep_sleep_minutes, night.deep_minutes);
        day.rem_sleep_minutes = add(day.rem_sleep_minutes, night.rem_minutes);
        if longest && night_score.is_some() {
            day.sleep_quality_score = *night_score;
        }
    }
    batch.sleep = nights.into_iter().map(|(n, _)| n).collect();
    batch.days.sort_by(|a, b| a.metric_date.cmp(&b.metric_date));
    Ok(batch)
}

/// The Acme user id of the token's owner (what webhooks name), from `GET /v1/me`.
///
/// # Errors
/// The provider's answer as an [`Error`]; [`Error::Provider`] when it names no user.
pub fn identify(transport: &mut impl Transport) -> Result<String, Error> {
    let me = transport
        .get(&format!("{API}/v1/me"), &[("accept", "application/json")])?
        .ok()?
        .json()?;
    me["user_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Provider("Acme's /v1/me names no user_id".into()))
}

/// Reads a webhook body the host has verified: one notification per user it names (an Acme
/// event names one; a provider that batches users answers several), none for an event
/// that asks nothing.
///
/// # Errors
/// [`Error::InvalidInput`] when it is not an Acme event.
pub fn read_notification(body: &[u8]) -> Result<Vec<Notification>, Error> {
    let invalid = |what: &str| Error::InvalidInput(format!("an Acme event {what}"));
    let event: Value = serde_json::from_slice(body).map_err(|_| invalid("that is not JSON"))?;
    match event["type"].as_str() {
        Some("data.updated") => {
            let user = event["user_id"]
                .as_str()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("without user_id"))?;
            let date = event["date"]
                .as_str()
                .filter(|d| time::parse_date(d).is_some())
                .ok_or_else(|| invalid("without a YYYY-MM-DD date"))?;
            Ok(vec![Notification::Fetch(
                user.to_owned(),
                date.to_owned(),
                date.to_owned(),
            )])
        }
        Some(_) => Ok(Vec::new()),
        None => Err(invalid("without a type")),
    }
}

/// What an upload answers: Acme Ring takes none.
#[must_use]
pub fn no_uploads() -> Error {
    Error::InvalidInput("Acme Ring takes no uploads: connect the account instead".into())
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The WIT exports, over the logic above and `wasi:http`.

    use mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter as wit;
    use mindflow_adapter_kit::wasi_http::WasiHttp;

    struct Adapter;

    /// The `upload` resource: Acme Ring takes none.
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
            wit::ProviderInfo {
                id: super::ID.into(),
                display_name: super::DISPLAY_NAME.into(),
                connection: wit::ConnectionKind::Oauth(wit::Oauth {
                    authorization_endpoint: super::AUTHORIZATION_ENDPOINT.into(),
                    token_endpoint: super::TOKEN_ENDPOINT.into(),
                    revocation_endpoint: Some(super::REVOCATION_ENDPOINT.into()),
                    scopes: super::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                    pkce: true,
                    client_auth: wit::ClientAuth::Basic,
                    extra_params: Vec::new(),
                }),
                api_hosts: vec![super::API.into()],
                webhooks: Some(wit::Webhooks {
                    auth: wit::WebhookAuth::HmacSha256(wit::Hmac {
                        signature_header: super::SIGNATURE_HEADER.into(),
                        timestamp_header: Some(super::TIMESTAMP_HEADER.into()),
                    }),
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

#[cfg(test)]
mod tests;
