//! An Oura API v2 simulator on loopback, speaking Oura's wire format on one port for both of
//! its origins (`https://api.ouraring.com`, and `https://cloud.ouraring.com` whose
//! authorization page the tests skip: they make a code with [`OuraSim::issue_code`] and
//! call the host's callback with it).
//!
//! - `POST /oauth/token`: `grant_type=authorization_code` (client id and secret in the form
//!   body, the code's `redirect_uri`, and the PKCE `code_verifier` against the S256
//!   challenge the code was issued for) and `grant_type=refresh_token` (refresh tokens are
//!   single-use, as Oura's are: each refresh answers a new one, and reusing the old one is
//!   `400 invalid_grant`). Errors are RFC 6749 `{"error", "error_description"}`.
//! - `GET|POST /oauth/revoke?access_token=…` (Oura's form; an RFC 7009 form body `token=…` is
//!   taken too): revokes the whole grant, its access and refresh tokens.
//! - `GET /v2/usercollection/{daily_sleep,daily_activity,daily_readiness,sleep}` with
//!   `start_date`/`end_date` (inclusive, on the documents' `day`) and `next_token`, pages of
//!   [`PAGE_SIZE`] documents; `GET /v2/usercollection/heartrate` with
//!   `start_datetime`/`end_datetime` (5-minute samples); `GET /v2/usercollection/personal_info`.
//!   A bearer token that is unknown, expired ([`OuraSim::expire_tokens`]) or revoked is
//!   `401`; [`OuraSim::rate_limit_next`] makes the next requests `429` with `Retry-After`.
//!   Data is seeded per Oura user ([`OuraSim::seed_days`]), deterministic and realistic.
//! - `POST /v2/webhook/subscription` (with `x-client-id`/`x-client-secret`): checks the
//!   callback by Oura's handshake (a `GET` with `verification_token` and `challenge` that
//!   must answer `{"challenge": …}`) before accepting the subscription.
//! - [`OuraSim::signed_notification`]: a webhook POST's headers and body, signed as Oura
//!   signs them (`x-oura-signature`: uppercase hex HMAC-SHA256 under the client secret of
//!   the `x-oura-timestamp` value followed by the raw body).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mindflow_tests::providers::oura::{OuraSim, challenge};
//! let sim = OuraSim::start().await?;
//! sim.seed_days("oura-user-1", "2026-10-01", 30);
//! let code = sim.issue_code_for("oura-user-1", &challenge("a-verifier-of-43-characters-at-least-000000"), "http://127.0.0.1:1/cb");
//! // MINDFLOW_WEARABLE_ORIGINS = sim.origins_env(); the host's callback gets `code` …
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The simulated application's client id.
pub const CLIENT_ID: &str = "oura-sim-client-id";
/// The simulated application's client secret (also the webhook signing key, as at Oura).
pub const CLIENT_SECRET: &str = "oura-sim-client-secret";
/// The Oura user [`OuraSim::issue_code`] issues codes for.
pub const DEFAULT_USER: &str = "oura-user-1";
/// Documents per page of a daily collection (a 30-day window is four pages).
pub const PAGE_SIZE: usize = 10;
/// Heart-rate samples per page (a day's 5-minute samples).
pub const HEARTRATE_PAGE_SIZE: usize = 288;
/// Seconds an access token is said to last.
pub const ACCESS_TOKEN_SECONDS: i64 = 86_400;
/// The scopes a token is issued for.
pub const SCOPE: &str = "daily personal";
/// The collections of daily documents and sleep periods.
pub const COLLECTIONS: &[&str] = &["daily_sleep", "daily_activity", "daily_readiness", "sleep"];

/// The S256 PKCE challenge of `verifier` (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Oura's webhook signature: uppercase hex HMAC-SHA256 under `secret` of `timestamp`
/// followed by `body`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// One seeded day of an Oura user: the night ending on it, its activity and scores, in
/// Oura's units (seconds, kcal, bpm, ms).
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The user's UTC offset, minutes.
    pub offset_minutes: i32,
    /// The night's `long_sleep` period id.
    pub sleep_id: String,
    /// When the night began (local).
    pub bedtime_start: DateTime<FixedOffset>,
    /// Seconds of deep sleep.
    pub deep: i64,
    /// Seconds of light sleep.
    pub light: i64,
    /// Seconds of REM sleep.
    pub rem: i64,
    /// Seconds awake in bed.
    pub awake: i64,
    /// Average HRV (RMSSD), ms.
    pub average_hrv: i32,
    /// Average heart rate asleep in eighths of a bpm (Oura's averages are multiples of 1/8).
    pub heart_rate_eighths: i32,
    /// The afternoon nap (`late_nap`) of this day, seconds asleep, if any.
    pub nap: Option<i64>,
    /// The sleep score.
    pub sleep_score: i64,
    /// Steps.
    pub steps: i64,
    /// Seconds of high activity.
    pub high_activity_time: i64,
    /// Seconds of medium activity.
    pub medium_activity_time: i64,
    /// Active kcal.
    pub active_calories: i64,
    /// Total kcal.
    pub total_calories: i64,
    /// The readiness score.
    pub readiness_score: i64,
    /// °C from the baseline.
    pub temperature_deviation: f64,
}

/// `seconds` as whole minutes, rounded (half up).
fn minutes(seconds: i64) -> i64 {
    (seconds + 30).div_euclid(60)
}

impl SeedDay {
    /// Average heart rate asleep, bpm.
    pub fn average_heart_rate(&self) -> f64 {
        f64::from(self.heart_rate_eighths) / 8.0
    }

    /// Average heart rate asleep, whole bpm (rounded half up).
    pub fn average_heart_rate_bpm(&self) -> i32 {
        (self.heart_rate_eighths + 4).div_euclid(8)
    }

    /// Seconds asleep in the night's period.
    pub fn total_sleep(&self) -> i64 {
        self.deep + self.light + self.rem
    }

    /// When the night ended (local), the local date of which is [`SeedDay::day`].
    pub fn bedtime_end(&self) -> DateTime<FixedOffset> {
        self.bedtime_start + Duration::seconds(self.total_sleep() + self.awake)
    }

    /// What an adapter should make of the day: the host's daily-metrics fields.
    pub fn expected(&self) -> Value {
        json!({
            "metric_date": self.day,
            "sleep_duration_minutes": minutes(self.total_sleep()),
            "sleep_quality_score": self.sleep_score,
            "deep_sleep_minutes": minutes(self.deep),
            "rem_sleep_minutes": minutes(self.rem),
            "steps": self.steps,
            "active_minutes": minutes(self.high_activity_time + self.medium_activity_time),
            "calories_burned": self.total_calories,
            "avg_heart_rate": self.average_heart_rate_bpm(),
            "hrv_avg": f64::from(self.average_hrv),
            "stress_score": null,
            "readiness_score": self.readiness_score,
        })
    }

    fn stamp(&self, time: &str) -> String {
        format!("{}T{time}{}", self.day, offset_text(self.offset_minutes))
    }

    fn daily_sleep(&self) -> Value {
        json!({
            "id": format!("{}-ds", self.sleep_id),
            "contributors": {
                "deep_sleep": (self.deep / 75).min(100), "efficiency": 91, "latency": 80,
                "rem_sleep": (self.rem / 70).min(100), "restfulness": 74, "timing": 83,
                "total_sleep": (self.total_sleep() / 280).min(100)
            },
            "day": self.day,
            "score": self.sleep_score,
            "timestamp": format!("{}T00:00:00+00:00", self.day)
        })
    }

    fn daily_activity(&self) -> Value {
        json!({
            "id": format!("{}-da", self.sleep_id),
            "class_5_min": "1".repeat(288),
            "score": (self.steps / 160).min(100),
            "active_calories": self.active_calories,
            "average_met_minutes": 1.437_5,
            "contributors": {
                "meet_daily_targets": 60, "move_every_hour": 95, "recovery_time": 100,
                "stay_active": 84, "training_frequency": 96, "training_volume": 98
            },
            "equivalent_walking_distance": self.steps * 3 / 4,
            "high_activity_met_minutes": self.high_activity_time / 60 * 8,
            "high_activity_time": self.high_activity_time,
            "inactivity_alerts": 1,
            "low_activity_met_minutes": 180,
            "low_activity_time": 14_400,
            "medium_activity_met_minutes": self.medium_activity_time / 60 * 4,
            "medium_activity_time": self.medium_activity_time,
            "met": { "interval": 60.0, "items": [0.9, 1.1, 1.3], "timestamp": self.stamp("04:00:00.000") },
            "meters_to_target": 1_000,
            "non_wear_time": 600,
            "resting_time": 28_800,
            "sedentary_met_minutes": 10,
            "sedentary_time": 36_000,
            "steps": self.steps,
            "target_calories": 450,
            "target_meters": 9_000,
            "total_calories": self.total_calories,
            "day": self.day,
            "timestamp": self.stamp("04:00:00.000")
        })
    }

    fn daily_readiness(&self) -> Value {
        json!({
            "id": format!("{}-dr", self.sleep_id),
            "contributors": {
                "activity_balance": 82, "body_temperature": 97, "hrv_balance": 78,
                "previous_day_activity": 88, "previous_night": 80, "recovery_index": 95,
                "resting_heart_rate": 90, "sleep_balance": 85
            },
            "day": self.day,
            "score": self.readiness_score,
            "temperature_deviation": self.temperature_deviation,
            "temperature_trend_deviation": 0.08,
            "timestamp": format!("{}T00:00:00+00:00", self.day)
        })
    }

    fn periods(&self) -> Vec<Value> {
        let rfc = |t: DateTime<FixedOffset>| t.to_rfc3339();
        let mut periods = vec![json!({
            "id": self.sleep_id,
            "average_breath": 14.75,
            "average_heart_rate": self.average_heart_rate(),
            "average_hrv": self.average_hrv,
            "awake_time": self.awake,
            "bedtime_end": rfc(self.bedtime_end()),
            "bedtime_start": rfc(self.bedtime_start),
            "day": self.day,
            "deep_sleep_duration": self.deep,
            "efficiency": (100 * self.total_sleep() / (self.total_sleep() + self.awake)),
            "heart_rate": { "interval": 300.0, "items": [null, 58.0, 55.0, 53.0], "timestamp": rfc(self.bedtime_start) },
            "hrv": { "interval": 300.0, "items": [null, 41.0, 52.0, 49.0], "timestamp": rfc(self.bedtime_start) },
            "latency": 600,
            "light_sleep_duration": self.light,
            "low_battery_alert": false,
            "lowest_heart_rate": self.heart_rate_eighths / 8 - 6,
            "movement_30_sec": "1121111111",
            "period": 0,
            "readiness": {
                "contributors": { "activity_balance": 82, "body_temperature": 97, "hrv_balance": 78,
                    "previous_day_activity": 88, "previous_night": 80, "recovery_index": 95,
                    "resting_heart_rate": 90, "sleep_balance": 85 },
                "score": self.readiness_score,
                "temperature_deviation": self.temperature_deviation,
                "temperature_trend_deviation": 0.08
            },
            "readiness_score_delta": 0.0,
            "rem_sleep_duration": self.rem,
            "restless_periods": 190,
            "sleep_phase_5_min": "4222333342",
            "sleep_score_delta": 0.0,
            "sleep_algorithm_version": "v2",
            "time_in_bed": self.total_sleep() + self.awake,
            "total_sleep_duration": self.total_sleep(),
            "type": "long_sleep"
        })];
        if let Some(nap) = self.nap {
            let start = self
                .bedtime_start
                .offset()
                .from_local_datetime(&local_noon(&self.day))
                .single()
                .unwrap_or(self.bedtime_start)
                + Duration::hours(3);
            periods.push(json!({
                "id": format!("{}-nap", self.sleep_id),
                "average_breath": 15.0,
                "average_heart_rate": 62.5,
                "average_hrv": 31,
                "awake_time": 300,
                "bedtime_end": rfc(start + Duration::seconds(nap + 300)),
                "bedtime_start": rfc(start),
                "day": self.day,
                "deep_sleep_duration": 0,
                "efficiency": 85,
                "heart_rate": null,
                "hrv": null,
                "latency": 240,
                "light_sleep_duration": nap,
                "low_battery_alert": false,
                "lowest_heart_rate": 58,
                "movement_30_sec": "1111",
                "period": 1,
                "readiness": null,
                "readiness_score_delta": null,
                "rem_sleep_duration": 0,
                "restless_periods": 12,
                "sleep_phase_5_min": "2222",
                "sleep_score_delta": null,
                "sleep_algorithm_version": "v2",
                "time_in_bed": nap + 300,
                "total_sleep_duration": nap,
                "type": "late_nap"
            }));
        }
        periods
    }
}

fn local_noon(day: &str) -> chrono::NaiveDateTime {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap_or_default()
        .and_hms_opt(12, 0, 0)
        .unwrap_or_default()
}

fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A deterministic number in `low..=high` for `(user, day, what)` (FNV-1a).
pub(crate) fn pick(user: &str, day: &str, what: &str, low: i64, high: i64) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user
        .bytes()
        .chain([0])
        .chain(day.bytes())
        .chain([0])
        .chain(what.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let span = u64::try_from(high - low + 1).unwrap_or(1).max(1);
    low + i64::try_from(hash % span).unwrap_or(0)
}

/// [`pick`] for an `i32` range.
fn pick_i32(user: &str, day: &str, what: &str, low: i32, high: i32) -> i32 {
    i32::try_from(pick(user, day, what, low.into(), high.into())).unwrap_or(low)
}

fn seed_day(user: &str, day: NaiveDate, offset_minutes: i32) -> SeedDay {
    let date = day.format("%Y-%m-%d").to_string();
    let d = date.as_str();
    let offset = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    let evening = (day - Duration::days(1))
        .and_hms_opt(22, 0, 0)
        .unwrap_or_default();
    let bedtime_start = offset
        .from_local_datetime(&evening)
        .single()
        .unwrap_or_else(|| offset.from_utc_datetime(&evening))
        + Duration::seconds(pick(user, d, "bedtime", 0, 100 * 60));
    let steps = pick(user, d, "steps", 3_000, 16_000);
    SeedDay {
        day: date.clone(),
        offset_minutes,
        sleep_id: format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            pick(user, d, "id1", 0, 0xffff_ffff),
            pick(user, d, "id2", 0, 0xffff),
            pick(user, d, "id3", 0, 0xfff),
            pick(user, d, "id4", 0, 0xfff),
            pick(user, d, "id5", 0, 0xffff_ffff_ffff),
        ),
        bedtime_start,
        deep: pick(user, d, "deep", 3_000, 6_600),
        light: pick(user, d, "light", 11_000, 16_000),
        rem: pick(user, d, "rem", 4_200, 7_800),
        awake: pick(user, d, "awake", 900, 3_300),
        average_hrv: pick_i32(user, d, "hrv", 24, 85),
        heart_rate_eighths: pick_i32(user, d, "hr", 46 * 8, 66 * 8),
        nap: (pick(user, d, "nap?", 0, 3) == 0).then(|| pick(user, d, "nap", 1_200, 2_700)),
        sleep_score: pick(user, d, "sleep score", 58, 96),
        steps,
        high_activity_time: pick(user, d, "high", 0, 2_400),
        medium_activity_time: pick(user, d, "medium", 600, 4_800),
        active_calories: steps / 20,
        total_calories: 1_850 + steps / 20 + pick(user, d, "bmr", 0, 300),
        readiness_score: pick(user, d, "readiness", 55, 95),
        temperature_deviation: f64::from(pick_i32(user, d, "temperature", -40, 40)) / 100.0,
    }
}

struct Code {
    user: String,
    challenge: String,
    redirect_uri: String,
}

struct Grant {
    user: String,
    revoked: bool,
}

struct AccessToken {
    grant: usize,
    expired: bool,
}

struct RefreshToken {
    grant: usize,
    used: bool,
}

/// A webhook subscription the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// Where notifications go.
    pub callback_url: String,
    /// `create`, `update` or `delete`.
    pub event_type: String,
    /// `sleep`, `daily_activity`, …
    pub data_type: String,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    revoked: Vec<String>,
    last_token_user: Option<String>,
    users: HashMap<String, BTreeMap<String, SeedDay>>,
    offsets: HashMap<String, i32>,
    rate_limit: u32,
    retry_after: u32,
    requests: Vec<String>,
    request_times: Vec<DateTime<Utc>>,
    token_requests: Vec<String>,
    subscriptions: Vec<Subscription>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running Oura simulator; stopped when dropped.
pub struct OuraSim {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OuraSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OuraSim {
    /// Starts a simulator on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the Oura simulator")?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        lock(&shared).retry_after = 1;
        let app = axum::Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .route("/oauth/revoke", axum::routing::get(revoke).post(revoke))
            .route(
                "/v2/usercollection/{collection}",
                axum::routing::get(collection),
            )
            .route(
                "/v2/webhook/subscription",
                axum::routing::post(subscribe).get(subscriptions),
            )
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for `MINDFLOW_WEARABLE_ORIGINS`: both Oura origins mapped to this port.
    pub fn origins_env(&self) -> String {
        format!(
            "https://api.ouraring.com={0},https://cloud.ouraring.com={0}",
            self.origin()
        )
    }

    /// A single-use authorization code for [`DEFAULT_USER`], as Oura's authorization page
    /// would redirect with, bound to the PKCE S256 `challenge` and `redirect_uri`.
    pub fn issue_code(&self, challenge: &str, redirect_uri: &str) -> String {
        self.issue_code_for(DEFAULT_USER, challenge, redirect_uri)
    }

    /// [`OuraSim::issue_code`] for the Oura user `user`.
    pub fn issue_code_for(&self, user: &str, challenge: &str, redirect_uri: &str) -> String {
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        lock(&self.shared).codes.insert(
            code.clone(),
            Code {
                user: user.to_owned(),
                challenge: challenge.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
            },
        );
        code
    }

    /// The Oura user of the access token issued last.
    pub fn user_of_last_token(&self) -> Option<String> {
        lock(&self.shared).last_token_user.clone()
    }

    /// The user `access_token` belongs to, while it is valid.
    pub fn user_of_token(&self, access_token: &str) -> Option<String> {
        user_of(&lock(&self.shared), access_token)
    }

    /// From now on every access token issued so far is expired (401); refresh tokens stay
    /// good.
    pub fn expire_tokens(&self) {
        for token in lock(&self.shared).access.values_mut() {
            token.expired = true;
        }
    }

    /// The tokens revoked so far, as sent to `/oauth/revoke`.
    pub fn revoked(&self) -> Vec<String> {
        lock(&self.shared).revoked.clone()
    }

    /// The next `n` data requests answer 429 with `Retry-After` (1 s unless
    /// [`OuraSim::set_retry_after`]).
    pub fn rate_limit_next(&self, n: u32) {
        lock(&self.shared).rate_limit = n;
    }

    /// The `Retry-After` seconds of a 429.
    pub fn set_retry_after(&self, seconds: u32) {
        lock(&self.shared).retry_after = seconds;
    }

    /// The user's UTC offset for days seeded from now on, minutes (default +60).
    pub fn set_utc_offset(&self, user: &str, minutes: i32) {
        lock(&self.shared).offsets.insert(user.to_owned(), minutes);
    }

    /// Seeds `days` days of `user` from `from` (`YYYY-MM-DD`): each day its night (a
    /// `long_sleep` ending that morning), some days an afternoon nap, activity, scores.
    /// Values are deterministic per user and day.
    ///
    /// # Panics
    /// When `from` is not a date.
    pub fn seed_days(&self, user: &str, from: &str, days: u32) {
        let first = NaiveDate::parse_from_str(from, "%Y-%m-%d").expect("a YYYY-MM-DD date");
        let mut inner = lock(&self.shared);
        let offset = inner.offsets.get(user).copied().unwrap_or(60);
        let seeded = inner.users.entry(user.to_owned()).or_default();
        for i in 0..days {
            let day = seed_day(user, first + Duration::days(i64::from(i)), offset);
            seeded.insert(day.day.clone(), day);
        }
    }

    /// The seeded day `day` of `user`.
    pub fn day(&self, user: &str, day: &str) -> Option<SeedDay> {
        lock(&self.shared).users.get(user)?.get(day).cloned()
    }

    /// Changes the seeded day `day` of `user` (as a later sync of the ring would).
    pub fn update_day(&self, user: &str, day: &str, change: impl FnOnce(&mut SeedDay)) {
        if let Some(seeded) = lock(&self.shared)
            .users
            .get_mut(user)
            .and_then(|days| days.get_mut(day))
        {
            change(seeded);
        }
    }

    /// What an adapter should make of `user`'s `day` ([`SeedDay::expected`]).
    pub fn expected(&self, user: &str, day: &str) -> Option<Value> {
        self.day(user, day).map(|d| d.expected())
    }

    /// Data requests so far (`/v2/usercollection/…`, 401s and 429s included).
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests.len()
    }

    /// Every data request's path and query, in order.
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared).requests.clone()
    }

    /// When each data request arrived, in order (as [`OuraSim::request_log`]).
    pub fn request_times(&self) -> Vec<DateTime<Utc>> {
        lock(&self.shared).request_times.clone()
    }

    /// Every token request's `grant_type`, in order (including refused ones).
    pub fn token_requests(&self) -> Vec<String> {
        lock(&self.shared).token_requests.clone()
    }

    /// The webhook subscriptions accepted so far.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        lock(&self.shared).subscriptions.clone()
    }

    /// An `update` notification of `data_type` for `user`'s `day`, signed now: the headers
    /// (`content-type`, `x-oura-timestamp`, `x-oura-signature`) and the raw body.
    pub fn signed_notification(
        &self,
        data_type: &str,
        user: &str,
        day: &str,
    ) -> (Vec<(String, String)>, String) {
        self.signed_event("update", data_type, user, day)
    }

    /// A notification of `event_type` (`create`, `update`, `delete`), signed now.
    pub fn signed_event(
        &self,
        event_type: &str,
        data_type: &str,
        user: &str,
        day: &str,
    ) -> (Vec<(String, String)>, String) {
        let object_id = self
            .day(user, day)
            .map(|d| match data_type {
                "sleep" => d.sleep_id,
                "daily_sleep" => format!("{}-ds", d.sleep_id),
                "daily_activity" => format!("{}-da", d.sleep_id),
                "daily_readiness" => format!("{}-dr", d.sleep_id),
                _ => uuid::Uuid::new_v4().to_string(),
            })
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let body = json!({
            "event_type": event_type,
            "data_type": data_type,
            "object_id": object_id,
            "event_time": format!("{day}T09:15:27.811000+00:00"),
            "user_id": user,
        })
        .to_string();
        let timestamp = Utc::now().timestamp().to_string();
        let signed = signature(CLIENT_SECRET, &timestamp, body.as_bytes());
        (
            vec![
                ("content-type".into(), "application/json".into()),
                ("x-oura-timestamp".into(), timestamp),
                ("x-oura-signature".into(), signed),
            ],
            body,
        )
    }
}

fn user_of(inner: &Inner, access_token: &str) -> Option<String> {
    let token = inner.access.get(access_token)?;
    let grant = inner.grants.get(token.grant)?;
    (!token.expired && !grant.revoked).then(|| grant.user.clone())
}

/// `text` percent-encoded for a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An `application/x-www-form-urlencoded` body (or query) as pairs.
pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(byte) => {
                            out.push(byte);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                byte => out.push(byte),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn issue(inner: &mut Inner, grant: usize) -> Value {
    let access = format!("oura-at-{}", uuid::Uuid::new_v4().simple());
    let refresh = format!("oura-rt-{}", uuid::Uuid::new_v4().simple());
    inner.access.insert(
        access.clone(),
        AccessToken {
            grant,
            expired: false,
        },
    );
    inner
        .refresh
        .insert(refresh.clone(), RefreshToken { grant, used: false });
    inner.last_token_user = inner.grants.get(grant).map(|g| g.user.clone());
    json!({
        "token_type": "bearer",
        "access_token": access,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_token": refresh,
        "scope": SCOPE,
    })
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = lock(&shared);
    inner.token_requests.push(get("grant_type").to_owned());
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    // Oura documents the client's credentials in the form body.
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret must be in the form body and right",
        );
    }
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            if get("redirect_uri") != code.redirect_uri {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request's",
                );
            }
            let verifier = get("code_verifier");
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed || challenge(verifier) != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier does not match the S256 code_challenge",
                );
            }
            inner.grants.push(Grant {
                user: code.user,
                revoked: false,
            });
            let grant = inner.grants.len() - 1;
            Json(issue(&mut inner, grant)).into_response()
        }
        "refresh_token" => {
            let grant = match inner.refresh.get_mut(get("refresh_token")) {
                Some(token) if !token.used => {
                    token.used = true;
                    token.grant
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "unknown, used or revoked refresh token",
                    );
                }
            };
            if inner.grants.get(grant).is_none_or(|g| g.revoked) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, used or revoked refresh token",
                );
            }
            Json(issue(&mut inner, grant)).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code or refresh_token",
        ),
    }
}

async fn revoke(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = form(&body);
    let token = query
        .get("access_token")
        .or_else(|| body.get("access_token"))
        .or_else(|| body.get("token"))
        .cloned()
        .unwrap_or_default();
    let mut inner = lock(&shared);
    let grant = inner
        .access
        .get(&token)
        .map(|t| t.grant)
        .or_else(|| inner.refresh.get(&token).map(|t| t.grant));
    let Some(grant) = grant else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "detail": "unknown token" })),
        )
            .into_response();
    };
    if let Some(grant) = inner.grants.get_mut(grant) {
        grant.revoked = true;
    }
    inner.revoked.push(token);
    StatusCode::OK.into_response()
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "detail": message }))).into_response()
}

/// The bearer token's user, while the token is valid.
fn authorise(inner: &Inner, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    user_of(inner, token)
}

fn page_token(collection: &str, start: &str, end: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{collection}|{start}|{end}|{offset}"))
}

fn page_offset(token: &str, collection: &str, start: &str, end: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.split('|');
    let same = parts.next()? == collection && parts.next()? == start && parts.next()? == end;
    same.then(|| parts.next()?.parse().ok()).flatten()
}

async fn collection(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&shared);
    inner.requests.push(match &raw {
        Some(q) => format!("/v2/usercollection/{name}?{q}"),
        None => format!("/v2/usercollection/{name}"),
    });
    inner.request_times.push(Utc::now());
    if inner.rate_limit > 0 {
        inner.rate_limit -= 1;
        let mut response = detail(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        if let Ok(value) = HeaderValue::from_str(&inner.retry_after.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let Some(user) = authorise(&inner, &headers) else {
        return detail(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    // A daily collection's days only (keys are `YYYY-MM-DD`, in date order), so a year of
    // seeded days costs a request nothing more than its window's.
    let range = match (query.get("start_date"), query.get("end_date")) {
        (Some(start), Some(end)) if COLLECTIONS.contains(&name.as_str()) && start <= end => {
            Some((start.clone(), end.clone()))
        }
        _ => None,
    };
    let seeded: Vec<SeedDay> = inner
        .users
        .get(&user)
        .map(|days| match &range {
            Some((start, end)) => days
                .range(start.clone()..=end.clone())
                .map(|(_, d)| d.clone())
                .collect(),
            None => days.values().cloned().collect(),
        })
        .unwrap_or_default();
    drop(inner);
    match name.as_str() {
        "personal_info" => Json(json!({
            "id": user,
            "age": 34,
            "weight": 68.5,
            "height": 1.72,
            "biological_sex": "female",
            "email": null
        }))
        .into_response(),
        "heartrate" => heartrate(&seeded, &query),
        name if COLLECTIONS.contains(&name) => documents(name, &seeded, &query),
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn documents(name: &str, seeded: &[SeedDay], query: &HashMap<String, String>) -> Response {
    let parse = |field: &str| -> Result<Option<NaiveDate>, String> {
        query
            .get(field)
            .map(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d"))
            .transpose()
            .map_err(|_| format!("{field} must be a date, YYYY-MM-DD"))
    };
    let (start, end) = match (parse("start_date"), parse("end_date")) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(message), _) | (_, Err(message)) => {
            return detail(StatusCode::BAD_REQUEST, &message);
        }
    };
    // Oura's defaults: the end is today, the start the day before the end.
    let end = end.unwrap_or_else(|| Utc::now().date_naive());
    let start = start.unwrap_or(end - Duration::days(1));
    let (start_text, end_text) = (start.to_string(), end.to_string());
    let offset = match query.get("next_token") {
        None => 0,
        Some(token) => match page_offset(token, name, &start_text, &end_text) {
            Some(offset) => offset,
            None => return detail(StatusCode::BAD_REQUEST, "Invalid next_token"),
        },
    };
    let all: Vec<Value> = seeded
        .iter()
        .filter(|d| {
            NaiveDate::parse_from_str(&d.day, "%Y-%m-%d").is_ok_and(|d| d >= start && d <= end)
        })
        .flat_map(|d| match name {
            "daily_sleep" => vec![d.daily_sleep()],
            "daily_activity" => vec![d.daily_activity()],
            "daily_readiness" => vec![d.daily_readiness()],
            _ => d.periods(),
        })
        .collect();
    let page: Vec<Value> = all.iter().skip(offset).take(PAGE_SIZE).cloned().collect();
    let next = (offset + PAGE_SIZE < all.len())
        .then(|| page_token(name, &start_text, &end_text, offset + PAGE_SIZE));
    Json(json!({ "data": page, "next_token": next })).into_response()
}

fn heartrate(seeded: &[SeedDay], query: &HashMap<String, String>) -> Response {
    let parse = |field: &str| {
        query
            .get(field)
            .map(|v| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)))
            .transpose()
    };
    let (Ok(start), Ok(end)) = (parse("start_datetime"), parse("end_datetime")) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "start_datetime and end_datetime must be RFC 3339 date-times",
        );
    };
    let end = end.unwrap_or_else(Utc::now);
    let start = start.unwrap_or(end - Duration::days(1));
    let (start_text, end_text) = (start.to_rfc3339(), end.to_rfc3339());
    let offset = match query.get("next_token") {
        None => 0,
        Some(token) => match page_offset(token, "heartrate", &start_text, &end_text) {
            Some(offset) => offset,
            None => return detail(StatusCode::BAD_REQUEST, "Invalid next_token"),
        },
    };
    let mut samples = Vec::new();
    for day in seeded {
        let Ok(date) = NaiveDate::parse_from_str(&day.day, "%Y-%m-%d") else {
            continue;
        };
        let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
        for i in 0..288 {
            let at = midnight + Duration::minutes(5 * i);
            if at < start || at >= end {
                continue;
            }
            let asleep = at >= day.bedtime_start && at < day.bedtime_end();
            let bpm = if asleep {
                i64::from(day.average_heart_rate_bpm()) + (i % 5) - 2
            } else {
                62 + pick(&day.sleep_id, &day.day, &i.to_string(), 0, 40)
            };
            samples.push(json!({
                "bpm": bpm,
                "source": if asleep { "sleep" } else { "awake" },
                "timestamp": at.to_rfc3339(),
            }));
        }
    }
    let page: Vec<Value> = samples
        .iter()
        .skip(offset)
        .take(HEARTRATE_PAGE_SIZE)
        .cloned()
        .collect();
    let next = (offset + HEARTRATE_PAGE_SIZE < samples.len()).then(|| {
        page_token(
            "heartrate",
            &start_text,
            &end_text,
            offset + HEARTRATE_PAGE_SIZE,
        )
    });
    Json(json!({ "data": page, "next_token": next })).into_response()
}

async fn subscribe(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-client-id") != Some(CLIENT_ID) || header("x-client-secret") != Some(CLIENT_SECRET)
    {
        return detail(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "a JSON body");
    };
    let field = |name: &str| request[name].as_str().unwrap_or_default().to_owned();
    let (callback_url, token) = (field("callback_url"), field("verification_token"));
    let (event_type, data_type) = (field("event_type"), field("data_type"));
    if callback_url.is_empty() || token.is_empty() || event_type.is_empty() || data_type.is_empty()
    {
        return detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "callback_url, verification_token, event_type and data_type",
        );
    }
    // Oura checks the callback before it subscribes it.
    let challenge = uuid::Uuid::new_v4().simple().to_string();
    let verified = async {
        let separator = if callback_url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{callback_url}{separator}verification_token={}&challenge={}",
            encode(&token),
            encode(&challenge)
        );
        let answer = reqwest::Client::new()
            .get(url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let echoed: Value = answer.json().await.ok()?;
        (echoed["challenge"] == challenge.as_str()).then_some(())
    }
    .await;
    if verified.is_none() {
        return detail(
            StatusCode::BAD_REQUEST,
            "the callback did not answer the verification challenge",
        );
    }
    let subscription = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        callback_url,
        event_type,
        data_type,
    };
    lock(&shared).subscriptions.push(subscription.clone());
    (StatusCode::CREATED, Json(subscription_json(&subscription))).into_response()
}

fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "callback_url": s.callback_url,
        "event_type": s.event_type,
        "data_type": s.data_type,
        "expiration_time": (Utc::now() + Duration::days(90)).to_rfc3339(),
    })
}

async fn subscriptions(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-client-id") != Some(CLIENT_ID) || header("x-client-secret") != Some(CLIENT_SECRET)
    {
        return detail(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let list: Vec<Value> = lock(&shared)
        .subscriptions
        .iter()
        .map(subscription_json)
        .collect();
    Json(Value::Array(list)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const REDIRECT: &str = "http://127.0.0.1:9/v1/wearables/oura/callback";

    async fn post_form(sim: &OuraSim, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", sim.origin()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await
            .expect("the simulator answers");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    async fn exchange(sim: &OuraSim, code: &str, verifier: &str) -> (u16, Value) {
        post_form(
            sim,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn refresh(sim: &OuraSim, refresh_token: &str) -> (u16, Value) {
        post_form(
            sim,
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await
    }

    async fn get(sim: &OuraSim, path_and_query: &str, token: &str) -> (u16, HeaderMap, Value) {
        let answer = reqwest::Client::new()
            .get(format!("{}{path_and_query}", sim.origin()))
            .bearer_auth(token)
            .send()
            .await
            .expect("the simulator answers");
        let status = answer.status().as_u16();
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            headers.insert(name.clone(), value.clone());
        }
        (status, headers, answer.json().await.unwrap_or(Value::Null))
    }

    async fn connected(sim: &OuraSim, user: &str) -> Value {
        let code = sim.issue_code_for(user, &challenge(VERIFIER), REDIRECT);
        let (status, tokens) = exchange(sim, &code, VERIFIER).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    #[test]
    fn the_s256_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn signatures_are_uppercase_hex_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2, the data split between the timestamp and the body.
        assert_eq!(
            signature("Jefe", "what do ya want ", b"for nothing?"),
            "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
        );
    }

    #[tokio::test]
    async fn a_code_is_exchanged_only_with_its_pkce_verifier_and_redirect_uri() {
        let sim = OuraSim::start().await.expect("start");
        let wrong = sim.issue_code(&challenge(VERIFIER), REDIRECT);
        let (status, body) = exchange(
            &sim,
            &wrong,
            "another-verifier-of-more-than-43-characters-00",
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // A code is single-use, even after a failed attempt.
        assert_eq!(exchange(&sim, &wrong, VERIFIER).await.0, 400);

        let code = sim.issue_code(&challenge(VERIFIER), "http://elsewhere.example/cb");
        assert_eq!(exchange(&sim, &code, VERIFIER).await.0, 400);

        let code = sim.issue_code(&challenge(VERIFIER), REDIRECT);
        let (status, tokens) = exchange(&sim, &code, VERIFIER).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["token_type"], "bearer");
        assert_eq!(tokens["expires_in"], ACCESS_TOKEN_SECONDS);
        assert!(tokens["refresh_token"].as_str().is_some());
        assert_eq!(sim.user_of_last_token().as_deref(), Some(DEFAULT_USER));
        assert_eq!(exchange(&sim, &code, VERIFIER).await.0, 400, "reused code");
    }

    #[tokio::test]
    async fn the_client_authenticates_in_the_form_body() {
        let sim = OuraSim::start().await.expect("start");
        let code = sim.issue_code(&challenge(VERIFIER), REDIRECT);
        let answer = reqwest::Client::new()
            .post(format!("{}/oauth/token", sim.origin()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
                encode(REDIRECT)
            ))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 401);
        let code = sim.issue_code(&challenge(VERIFIER), REDIRECT);
        let (status, body) = post_form(
            &sim,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT_ID),
                ("client_secret", "not-the-secret"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }

    #[tokio::test]
    async fn refresh_tokens_are_single_use_and_revocation_ends_the_grant() {
        let sim = OuraSim::start().await.expect("start");
        sim.seed_days("u2", "2026-11-01", 3);
        let first = connected(&sim, "u2").await;
        let old = first["refresh_token"].as_str().unwrap_or_default();
        let (status, second) = refresh(&sim, old).await;
        assert_eq!(status, 200, "{second}");
        assert_ne!(second["refresh_token"], first["refresh_token"]);
        let (status, body) = refresh(&sim, old).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let access = second["access_token"].as_str().unwrap_or_default();
        let query = "/v2/usercollection/daily_sleep?start_date=2026-11-01&end_date=2026-11-03";
        assert_eq!(get(&sim, query, access).await.0, 200);
        let revoked = reqwest::Client::new()
            .get(format!(
                "{}/oauth/revoke?access_token={access}",
                sim.origin()
            ))
            .send()
            .await
            .expect("answer");
        assert_eq!(revoked.status(), 200);
        assert_eq!(sim.revoked(), vec![access.to_owned()]);
        assert_eq!(get(&sim, query, access).await.0, 401);
        let newest = second["refresh_token"].as_str().unwrap_or_default();
        assert_eq!(refresh(&sim, newest).await.0, 400);
    }

    #[tokio::test]
    async fn data_is_paged_by_next_token_and_guarded_by_the_token() {
        let sim = OuraSim::start().await.expect("start");
        sim.seed_days("u3", "2026-10-01", 30);
        let tokens = connected(&sim, "u3").await;
        let access = tokens["access_token"].as_str().unwrap_or_default();

        let base = "/v2/usercollection/daily_activity?start_date=2026-10-01&end_date=2026-10-30";
        let mut days = Vec::new();
        let mut query = base.to_owned();
        loop {
            let (status, _, page) = get(&sim, &query, access).await;
            assert_eq!(status, 200, "{page}");
            for doc in page["data"].as_array().into_iter().flatten() {
                days.push(doc["day"].as_str().unwrap_or_default().to_owned());
            }
            match page["next_token"].as_str() {
                Some(next) => query = format!("{base}&next_token={}", encode(next)),
                None => break,
            }
        }
        assert_eq!(days.len(), 30);
        assert_eq!(days.first().map(String::as_str), Some("2026-10-01"));
        assert_eq!(days.last().map(String::as_str), Some("2026-10-30"));
        assert_eq!(sim.requests(), 3);

        // A night's period ends on its day, in the user's offset.
        let (_, _, sleep) = get(
            &sim,
            "/v2/usercollection/sleep?start_date=2026-10-05&end_date=2026-10-05",
            access,
        )
        .await;
        let night = &sleep["data"][0];
        assert_eq!(night["type"], "long_sleep");
        assert!(
            night["bedtime_end"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-10-05T") && t.ends_with("+01:00")),
            "{night}"
        );
        let seeded = sim.day("u3", "2026-10-05").expect("seeded");
        assert_eq!(night["total_sleep_duration"], seeded.total_sleep());
        assert_eq!(
            sim.expected("u3", "2026-10-05").expect("expected")["steps"],
            seeded.steps
        );

        // A next_token of another query is refused.
        let (_, _, first) = get(&sim, base, access).await;
        let next = first["next_token"].as_str().unwrap_or_default();
        let other = format!(
            "/v2/usercollection/daily_sleep?start_date=2026-10-01&end_date=2026-10-30&next_token={}",
            encode(next)
        );
        assert_eq!(get(&sim, &other, access).await.0, 400);

        assert_eq!(get(&sim, base, "not-a-token").await.0, 401);
        sim.rate_limit_next(1);
        let (status, headers, _) = get(&sim, base, access).await;
        assert_eq!(status, 429);
        assert_eq!(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(get(&sim, base, access).await.0, 200);
        sim.expire_tokens();
        assert_eq!(get(&sim, base, access).await.0, 401);
        let (status, renewed) =
            refresh(&sim, tokens["refresh_token"].as_str().unwrap_or_default()).await;
        assert_eq!(status, 200);
        let renewed = renewed["access_token"].as_str().unwrap_or_default();
        assert_eq!(get(&sim, base, renewed).await.0, 200);
        let heartrate = format!(
            "/v2/usercollection/heartrate?start_datetime={}&end_datetime={}",
            encode("2026-10-02T00:00:00+00:00"),
            encode("2026-10-03T00:00:00+00:00")
        );
        let (status, _, samples) = get(&sim, &heartrate, renewed).await;
        assert_eq!(status, 200, "{samples}");
        assert_eq!(
            samples["data"].as_array().map(Vec::len),
            Some(HEARTRATE_PAGE_SIZE)
        );
        assert!(samples["data"][0]["bpm"].is_i64());
        assert_eq!(samples["next_token"], Value::Null);
        let (status, _, me) = get(&sim, "/v2/usercollection/personal_info", renewed).await;
        assert_eq!((status, me["id"].as_str()), (200, Some("u3")));
    }

    #[tokio::test]
    async fn notifications_are_signed_as_oura_signs_them() {
        let sim = OuraSim::start().await.expect("start");
        sim.seed_days("u4", "2026-11-01", 2);
        let (headers, body) = sim.signed_notification("sleep", "u4", "2026-11-02");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let timestamp = header("x-oura-timestamp");
        assert_eq!(
            header("x-oura-signature"),
            signature(CLIENT_SECRET, &timestamp, body.as_bytes())
        );
        let event: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(event["data_type"], "sleep");
        assert_eq!(event["user_id"], "u4");
        assert_eq!(
            event["object_id"].as_str(),
            sim.day("u4", "2026-11-02").map(|d| d.sleep_id).as_deref()
        );
    }

    #[tokio::test]
    async fn a_subscription_is_accepted_once_its_callback_echoes_the_challenge() {
        async fn echo(Query(query): Query<HashMap<String, String>>) -> Response {
            if query.get("verification_token").map(String::as_str) != Some("vt-1") {
                return StatusCode::FORBIDDEN.into_response();
            }
            Json(json!({ "challenge": query.get("challenge") })).into_response()
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let callback = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let app = axum::Router::new().route("/hook", axum::routing::get(echo));
            let _ = axum::serve(listener, app).await;
        });
        let sim = OuraSim::start().await.expect("start");
        let subscribe = |token: &'static str| {
            reqwest::Client::new()
                .post(format!("{}/v2/webhook/subscription", sim.origin()))
                .header("x-client-id", CLIENT_ID)
                .header("x-client-secret", CLIENT_SECRET)
                .json(&json!({
                    "callback_url": callback,
                    "verification_token": token,
                    "event_type": "update",
                    "data_type": "sleep"
                }))
                .send()
        };
        assert_eq!(subscribe("wrong").await.expect("answer").status(), 400);
        assert_eq!(subscribe("vt-1").await.expect("answer").status(), 201);
        assert_eq!(sim.subscriptions().len(), 1);
        server.abort();
    }

    /// The adapter's transport, natively: `https://api.ouraring.com` is the simulator, and
    /// the bearer token is added as the host adds it.
    struct ToSim {
        handle: tokio::runtime::Handle,
        origin: String,
        token: String,
    }

    impl mindflow_adapter_kit::transport::Transport for ToSim {
        fn get(
            &mut self,
            url: &str,
            _headers: &[(&str, &str)],
        ) -> Result<mindflow_adapter_kit::transport::Response, mindflow_adapter_kit::model::Error>
        {
            let url = url.replacen("https://api.ouraring.com", &self.origin, 1);
            self.handle.block_on(async {
                let answer = reqwest::Client::new()
                    .get(url)
                    .bearer_auth(&self.token)
                    .send()
                    .await
                    .map_err(|e| mindflow_adapter_kit::model::Error::Provider(e.to_string()))?;
                let status = answer.status().as_u16();
                let headers = answer
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let body = answer.bytes().await.unwrap_or_default().to_vec();
                Ok(mindflow_adapter_kit::transport::Response {
                    status,
                    headers,
                    body,
                })
            })
        }
    }

    async fn adapter_fetch(
        sim: &OuraSim,
        token: &str,
        start: &'static str,
        end: &'static str,
    ) -> Result<mindflow_adapter_kit::model::Batch, mindflow_adapter_kit::model::Error> {
        let mut transport = ToSim {
            handle: tokio::runtime::Handle::current(),
            origin: sim.origin(),
            token: token.to_owned(),
        };
        tokio::task::spawn_blocking(move || oura::fetch(&mut transport, start, end))
            .await
            .expect("the fetch finishes")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_oura_adapter_reads_the_simulator_into_the_expected_days() {
        let sim = OuraSim::start().await.expect("start");
        sim.set_utc_offset("u5", -300);
        sim.seed_days("u5", "2026-09-30", 32);
        let tokens = connected(&sim, "u5").await;
        let access = tokens["access_token"].as_str().unwrap_or_default();

        let batch = adapter_fetch(&sim, access, "2026-10-01", "2026-10-30")
            .await
            .expect("fetch");
        assert_eq!(batch.days.len(), 30);
        for day in &batch.days {
            let got = json!({
                "metric_date": day.metric_date,
                "sleep_duration_minutes": day.sleep_duration_minutes,
                "sleep_quality_score": day.sleep_quality_score,
                "deep_sleep_minutes": day.deep_sleep_minutes,
                "rem_sleep_minutes": day.rem_sleep_minutes,
                "steps": day.steps,
                "active_minutes": day.active_minutes,
                "calories_burned": day.calories_burned,
                "avg_heart_rate": day.avg_heart_rate,
                "hrv_avg": day.hrv_avg,
                "stress_score": day.stress_score,
                "readiness_score": day.readiness_score,
            });
            assert_eq!(Some(got), sim.expected("u5", &day.metric_date));
        }
        let naps = (1..=30)
            .filter_map(|d| sim.day("u5", &format!("2026-10-{d:02}")))
            .filter(|d| d.nap.is_some())
            .count();
        assert_eq!(batch.sleep.len(), 30 + naps);
        assert!(batch.sleep.iter().all(|s| s.end.ends_with("-05:00")));
        // Pages of 10: four for each daily collection (31 days asked), four or five for
        // the sleep periods (32 nights and the naps).
        assert!(
            (16..=20).contains(&sim.requests()),
            "{:?}",
            sim.request_log()
        );

        sim.rate_limit_next(1);
        assert_eq!(
            adapter_fetch(&sim, access, "2026-10-01", "2026-10-02").await,
            Err(mindflow_adapter_kit::model::Error::RateLimited(1))
        );
        sim.expire_tokens();
        assert_eq!(
            adapter_fetch(&sim, access, "2026-10-01", "2026-10-02").await,
            Err(mindflow_adapter_kit::model::Error::Unauthorized)
        );

        let (_, body) = sim.signed_notification("daily_activity", "u5", "2026-10-12");
        assert_eq!(
            oura::read_notification(body.as_bytes()),
            Ok(vec![mindflow_adapter_kit::model::Notification::Fetch(
                "u5".into(),
                "2026-10-11".into(),
                "2026-10-13".into()
            )])
        );
    }
}
