//! A Google Health API simulator on loopback, speaking the wire shape the `google-health`
//! adapter implements (see that crate's doc: designed from Google's conventions and partial
//! documentation, to be re-checked against the live API together with the adapter).
//!
//! One port serves every origin in [`ORIGINS`]:
//! - `POST /token` (Google's `oauth2.googleapis.com/token`): `authorization_code` with the
//!   client id and secret in the body, the registered `redirect_uri` and the PKCE
//!   `code_verifier` checked against the S256 challenge given to [`GoogleHealthSim::issue_code`];
//!   `refresh_token` (Google does not rotate refresh tokens: the same one works again and the
//!   answer carries none);
//! - `POST /revoke` (`token=…`, RFC 7009): revoking either token of a grant revokes the grant,
//!   as Google does; [`GoogleHealthSim::revoked`] lists what was revoked;
//! - `GET /v4/users/me/identity` and `GET /v4/users/me/dataTypes/{type}/dataPoints` with
//!   `pageSize`, `pageToken` and the AIP-160 `filter` on the type's time field, answering
//!   `{"dataPoints": [...], "nextPageToken": "…"}` from days seeded with
//!   [`GoogleHealthSim::seed_days`]; 401 for an unknown, expired or revoked bearer token, 429
//!   with `Retry-After` on demand ([`GoogleHealthSim::rate_limit_next`]).
//!
//! Webhooks: [`verification_body`] and [`notification`] build what Google POSTs to the host.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The origins this simulator stands in for (map each to [`GoogleHealthSim::base_url`]).
pub const ORIGINS: [&str; 3] = [
    "https://health.googleapis.com",
    "https://oauth2.googleapis.com",
    "https://accounts.google.com",
];
/// The OAuth client the simulator accepts.
pub const CLIENT_ID: &str = "mindflow-test.apps.googleusercontent.com";
/// Its secret.
pub const CLIENT_SECRET: &str = "GOCSPX-simulated-secret";
/// The user [`GoogleHealthSim::issue_code`] connects.
pub const DEFAULT_USER: &str = "4SIMUSER";
/// The scopes granted.
pub const SCOPES: &str = "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly https://www.googleapis.com/auth/googlehealth.sleep.readonly";
/// Largest page served.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The PKCE S256 challenge of `verifier` (RFC 7636: base64url without padding of SHA-256).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What the adapter should report for one seeded civil day (the day's own totals; sleep is
/// the night ending that day).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Steps.
    pub steps: i32,
    /// MODERATE + VIGOROUS active minutes.
    pub active_minutes: i32,
    /// Total calories, rounded.
    pub calories: i32,
    /// Mean heart rate, rounded.
    pub avg_heart_rate: i32,
    /// Mean RMSSD of the night, ms (rounded to 0.1).
    pub hrv: f64,
    /// Minutes asleep.
    pub asleep_minutes: i32,
    /// Deep minutes.
    pub deep_minutes: i32,
    /// REM minutes.
    pub rem_minutes: i32,
    /// Awake minutes in bed.
    pub awake_minutes: i32,
    /// The night's session id (the data point's `name`).
    pub sleep_id: String,
    /// Its RFC 3339 start with the user's offset.
    pub sleep_start: String,
    /// Its end.
    pub sleep_end: String,
}

#[derive(Debug, Clone)]
struct Grant {
    user: String,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Code {
    user: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Debug, Clone)]
struct Access {
    grant: usize,
    expired: bool,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, usize>,
    revoked: Vec<String>,
    offsets: HashMap<String, i32>,
    days: HashMap<String, BTreeSet<NaiveDate>>,
    rate_limit: u32,
    retry_after: u32,
    requests: usize,
    issued: u64,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator; stopped when dropped.
pub struct GoogleHealthSim {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GoogleHealthSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GoogleHealthSim {
    /// Starts a simulator on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the Google Health simulator")?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/token", axum::routing::post(token))
            .route("/revoke", axum::routing::post(revoke))
            .route("/v4/users/me/identity", axum::routing::get(identity))
            .route(
                "/v4/users/me/dataTypes/{data_type}/dataPoints",
                axum::routing::get(data_points),
            )
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`, standing in for each of [`ORIGINS`].
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `MINDFLOW_WEARABLE_ORIGINS` entries for this simulator (`origin=base,…`).
    pub fn origin_map(&self) -> String {
        ORIGINS
            .iter()
            .map(|o| format!("{o}={}", self.base_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A single-use authorization code for [`DEFAULT_USER`], bound to a PKCE S256
    /// `challenge` and the `redirect_uri` the token request must repeat.
    pub fn issue_code(&self, challenge: &str, redirect_uri: &str) -> String {
        self.issue_code_for(DEFAULT_USER, challenge, redirect_uri)
    }

    /// [`issue_code`](Self::issue_code) for the user whose `healthUserId` is `user`.
    pub fn issue_code_for(&self, user: &str, challenge: &str, redirect_uri: &str) -> String {
        let mut inner = lock(&self.shared);
        inner.issued += 1;
        let code = format!("4/0Asim-code-{}", inner.issued);
        inner.codes.insert(
            code.clone(),
            Code {
                user: user.to_owned(),
                challenge: challenge.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
            },
        );
        code
    }

    /// Sets `user`'s UTC offset in seconds for days seeded afterwards (default +01:00).
    pub fn set_utc_offset(&self, user: &str, seconds: i32) {
        lock(&self.shared).offsets.insert(user.to_owned(), seconds);
    }

    /// Seeds `days` civil days of data from `from` (`YYYY-MM-DD`) for `user`, with
    /// deterministic realistic values ([`expected`](Self::expected) tells them).
    ///
    /// # Panics
    /// When `from` is not a date (a test's mistake).
    pub fn seed_days(&self, user: &str, from: &str, days: u32) {
        let first = date(from).expect("seed_days: from is YYYY-MM-DD");
        let mut inner = lock(&self.shared);
        let seeded = inner.days.entry(user.to_owned()).or_default();
        for i in 0..days {
            seeded.insert(first + Duration::days(i64::from(i)));
        }
    }

    /// What the adapter should report for `user`'s seeded `day`.
    pub fn expected(&self, user: &str, day: &str) -> Option<Expected> {
        let inner = lock(&self.shared);
        let d = date(day)?;
        if !inner.days.get(user)?.contains(&d) {
            return None;
        }
        Some(expected_day(&Seed::new(user, d, offset_of(&inner, user))))
    }

    /// Marks every access token issued so far expired (refreshing gives a working one).
    pub fn expire_tokens(&self) {
        for access in lock(&self.shared).access.values_mut() {
            access.expired = true;
        }
    }

    /// The next `n` data requests answer 429 with `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        let mut inner = lock(&self.shared);
        inner.rate_limit = n;
        inner.retry_after = 1;
    }

    /// Data and identity requests received so far.
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests
    }

    /// The user withdraws access in their Google account: every grant ends (access tokens
    /// answer 401, refreshes `invalid_grant`).
    pub fn withdraw_all(&self) {
        let mut inner = lock(&self.shared);
        for grant in &mut inner.grants {
            grant.revoked = true;
        }
        for access in inner.access.values_mut() {
            access.expired = true;
        }
    }

    /// Tokens revoked through `/revoke`, in order.
    pub fn revoked(&self) -> Vec<String> {
        lock(&self.shared).revoked.clone()
    }
}

/// The body of Google's subscriber verification POST (sent twice: with the secret in
/// `Authorization`, and without).
pub fn verification_body() -> String {
    json!({"type": "verification"}).to_string()
}

/// A data notification as Google POSTs it: headers (`authorization` carrying the
/// subscriber's `secret` as configured, `content-type`) and the body, for
/// `health_user_id`'s `data_type` changed between two RFC 3339 instants.
pub fn notification(
    secret: &str,
    health_user_id: &str,
    data_type: &str,
    start: &str,
    end: &str,
) -> (Vec<(String, String)>, String) {
    let body = json!({
        "data": {
            "healthUserId": health_user_id,
            "dataType": data_type,
            "operation": "UPSERT",
            "intervals": [{"physicalTimeInterval": {"startTime": start, "endTime": end}}]
        }
    });
    (
        vec![
            ("authorization".into(), secret.into()),
            ("content-type".into(), "application/json".into()),
        ],
        body.to_string(),
    )
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn offset_of(inner: &Inner, user: &str) -> i32 {
    inner.offsets.get(user).copied().unwrap_or(3600)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn google_error(status: StatusCode, code: u16, state: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "status": state}})),
    )
        .into_response()
}

fn new_access(inner: &mut Inner, grant: usize) -> String {
    inner.issued += 1;
    let token = format!("ya29.sim-{}", inner.issued);
    inner.access.insert(
        token.clone(),
        Access {
            grant,
            expired: false,
        },
    );
    token
}

async fn token(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let mut inner = lock(&shared);
    match field("grant_type") {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(field("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            if code.redirect_uri != field("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let verifier = field("code_verifier");
            if verifier.is_empty() || pkce_challenge(verifier) != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            inner.grants.push(Grant {
                user: code.user,
                revoked: false,
            });
            let grant = inner.grants.len() - 1;
            let access = new_access(&mut inner, grant);
            inner.issued += 1;
            let refresh = format!("1//sim-refresh-{}", inner.issued);
            inner.refresh.insert(refresh.clone(), grant);
            Json(json!({
                "access_token": access,
                "expires_in": 3599,
                "refresh_token": refresh,
                "refresh_token_expires_in": 604_799,
                "scope": SCOPES,
                "token_type": "Bearer"
            }))
            .into_response()
        }
        "refresh_token" => {
            let grant = inner.refresh.get(field("refresh_token")).copied();
            match grant.filter(|g| inner.grants.get(*g).is_some_and(|g| !g.revoked)) {
                Some(grant) => {
                    let access = new_access(&mut inner, grant);
                    Json(json!({
                        "access_token": access,
                        "expires_in": 3599,
                        "scope": SCOPES,
                        "token_type": "Bearer"
                    }))
                    .into_response()
                }
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                ),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        ),
    }
}

async fn revoke(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = lock(&shared);
    let grant = inner
        .access
        .get(&token)
        .map(|a| a.grant)
        .or_else(|| inner.refresh.get(&token).copied());
    match grant.and_then(|g| inner.grants.get_mut(g)) {
        Some(grant) => {
            grant.revoked = true;
            inner.revoked.push(token);
            Json(json!({})).into_response()
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Bad Request"),
    }
}

/// Counts the request, then answers 429 or 401 as due; otherwise the caller's user.
fn admit(shared: &Shared, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let mut inner = lock(shared);
    inner.requests += 1;
    if inner.rate_limit > 0 {
        inner.rate_limit -= 1;
        let mut response = google_error(
            StatusCode::TOO_MANY_REQUESTS,
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded.",
        );
        response
            .headers_mut()
            .insert("retry-after", inner.retry_after.into());
        return Err(Box::new(response));
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let user = inner
        .access
        .get(bearer)
        .filter(|a| !a.expired)
        .and_then(|a| inner.grants.get(a.grant))
        .filter(|g| !g.revoked)
        .map(|g| g.user.clone());
    user.ok_or_else(|| {
        Box::new(google_error(
            StatusCode::UNAUTHORIZED,
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ))
    })
}

async fn identity(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match admit(&shared, &headers) {
        Ok(user) => Json(json!({
            "name": "users/me/identity",
            "healthUserId": user,
            "legacyUserId": format!("L{user}")
        }))
        .into_response(),
        Err(refused) => *refused,
    }
}

/// One seeded civil day for one user.
struct Seed {
    user: String,
    day: NaiveDate,
    offset: i64,
    /// 0..7: varies the values by date.
    k: i64,
}

impl Seed {
    fn new(user: &str, day: NaiveDate, offset: i32) -> Self {
        let k = day
            .signed_duration_since(NaiveDate::MIN)
            .num_days()
            .rem_euclid(7);
        Self {
            user: user.to_owned(),
            day,
            offset: i64::from(offset),
            k,
        }
    }

    /// The instant (UTC, naive) of local `minutes` after this day's midnight.
    fn at(&self, minutes: i64) -> NaiveDateTime {
        self.day.and_time(chrono::NaiveTime::MIN) + Duration::minutes(minutes)
            - Duration::seconds(self.offset)
    }

    fn name(&self, data_type: &str, what: &str) -> String {
        format!(
            "users/{}/dataTypes/{data_type}/dataPoints/{}-{what}",
            self.user,
            self.day.format("%Y%m%d")
        )
    }

    fn sleep_bounds(&self) -> (i64, i64) {
        (-60 + self.k * 5, 7 * 60 + self.k * 3)
    }

    fn stages(&self) -> (i64, i64, i64, i64) {
        let (start, end) = self.sleep_bounds();
        let (awake, deep, rem) = (25 + self.k, 60 + 2 * self.k, 90 + self.k);
        (awake, end - start - awake - deep - rem, deep, rem)
    }
}

fn utc(at: NaiveDateTime) -> String {
    at.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn civil(at: NaiveDateTime, offset: i64) -> Value {
    let local = at + Duration::seconds(offset);
    json!({
        "date": {"year": local.year(), "month": local.month(), "day": local.day()},
        "time": {"hours": local.hour(), "minutes": local.minute()}
    })
}

fn interval(seed: &Seed, from: i64, to: i64) -> Value {
    let (start, end) = (seed.at(from), seed.at(to));
    json!({
        "startTime": utc(start), "startUtcOffset": format!("{}s", seed.offset),
        "endTime": utc(end), "endUtcOffset": format!("{}s", seed.offset),
        "civilStartTime": civil(start, seed.offset), "civilEndTime": civil(end, seed.offset)
    })
}

fn sample_time(seed: &Seed, minutes: i64) -> Value {
    let at = seed.at(minutes);
    json!({"physicalTime": utc(at), "utcOffset": format!("{}s", seed.offset), "civilTime": civil(at, seed.offset)})
}

fn with_source(mut point: Value) -> Value {
    point["dataSource"] =
        json!({"platform": "FITBIT", "device": {"formFactor": "WATCH", "displayName": "Charge 6"}});
    point
}

/// The day's data points of `data_type`, each with the instant its filter field compares.
fn points(seed: &Seed, data_type: &str) -> Vec<(NaiveDateTime, Value)> {
    let k = seed.k;
    let mut out = Vec::new();
    match data_type {
        "steps" => {
            for h in 7..=22 {
                let count = 300 + (k * 37 + h * 53) % 400;
                out.push((seed.at(h * 60), json!({
                    "name": seed.name("steps", &format!("h{h}")),
                    "steps": {"interval": interval(seed, h * 60, h * 60 + 60), "count": count.to_string()}
                })));
            }
        }
        "active-minutes" => out.push((seed.at(18 * 60), json!({
            "name": seed.name("active-minutes", "evening"),
            "activeMinutes": {"interval": interval(seed, 18 * 60, 19 * 60), "activeMinutesByActivityLevel": [
                {"activityLevel": "LIGHT", "activeMinutes": (25 + k).to_string()},
                {"activityLevel": "MODERATE", "activeMinutes": (15 + k).to_string()},
                {"activityLevel": "VIGOROUS", "activeMinutes": (10 + (k % 3) * 5).to_string()}]}
        }))),
        "total-calories" => {
            for h in 0..24 {
                out.push((seed.at(h * 60), json!({
                    "name": seed.name("total-calories", &format!("h{h}")),
                    "totalCalories": {"interval": interval(seed, h * 60, h * 60 + 60), "kcal": kcal(k, h)}
                })));
            }
        }
        "heart-rate" => {
            for j in 0..48 {
                out.push((seed.at(j * 30), json!({
                    "name": seed.name("heart-rate", &format!("m{j}")),
                    "heartRate": {"sampleTime": sample_time(seed, j * 30), "beatsPerMinute": (58 + (k * 3 + j) % 20).to_string()}
                })));
            }
        }
        "heart-rate-variability" => {
            for j in 0..6 {
                out.push((seed.at(30 + j * 60), json!({
                    "name": seed.name("heart-rate-variability", &format!("n{j}")),
                    "heartRateVariability": {"sampleTime": sample_time(seed, 30 + j * 60),
                        "rootMeanSquareOfSuccessiveDifferencesMilliseconds": rmssd(k, j)}
                })));
            }
        }
        "sleep" => {
            let (start, end) = seed.sleep_bounds();
            let (awake, light, deep, rem) = seed.stages();
            let summary = |t: &str, m: i64, c: i64| json!({"type": t, "minutes": m.to_string(), "count": c.to_string()});
            out.push((seed.at(end), json!({
                "name": seed.name("sleep", "night"),
                "sleep": {"interval": interval(seed, start, end), "type": "STAGES",
                    "summary": {"minutesAsleep": (light + deep + rem).to_string(), "minutesAwake": awake.to_string(),
                        "minutesInSleepPeriod": (end - start).to_string(),
                        "stagesSummary": [summary("AWAKE", awake, 11), summary("LIGHT", light, 18),
                                          summary("DEEP", deep, 4), summary("REM", rem, 5)]}}
            })));
        }
        _ => {}
    }
    out.into_iter()
        .map(|(at, p)| (at, with_source(p)))
        .collect()
}

fn kcal(k: i64, h: i64) -> f64 {
    80.0 + f64::from(i32::try_from((k + h) % 5).unwrap_or_default()) * 10.25
}

fn rmssd(k: i64, j: i64) -> f64 {
    35.0 + f64::from(i32::try_from(k).unwrap_or_default())
        + f64::from(i32::try_from(j).unwrap_or_default()) * 0.5
}

#[allow(clippy::cast_possible_truncation)]
fn expected_day(seed: &Seed) -> Expected {
    let k = seed.k;
    let steps: i64 = (7..=22).map(|h| 300 + (k * 37 + h * 53) % 400).sum();
    let calories: f64 = (0..24).map(|h| kcal(k, h)).sum();
    let heart: i64 = (0..48).map(|j| 58 + (k * 3 + j) % 20).sum();
    let hrv: f64 = (0..6).map(|j| rmssd(k, j)).sum::<f64>() / 6.0;
    let (start, end) = seed.sleep_bounds();
    let (awake, light, deep, rem) = seed.stages();
    let zone = chrono::FixedOffset::east_opt(i32::try_from(seed.offset).unwrap_or_default())
        .unwrap_or(chrono::FixedOffset::east_opt(0).expect("UTC"));
    let rfc = |minutes: i64| {
        let at: DateTime<chrono::FixedOffset> =
            DateTime::from_naive_utc_and_offset(seed.at(minutes), zone);
        if seed.offset == 0 {
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            at.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
    };
    Expected {
        date: seed.day.format("%Y-%m-%d").to_string(),
        steps: i32::try_from(steps).unwrap_or_default(),
        active_minutes: i32::try_from(15 + k + 10 + (k % 3) * 5).unwrap_or_default(),
        calories: calories.round() as i32,
        avg_heart_rate: (f64::from(i32::try_from(heart).unwrap_or_default()) / 48.0).round() as i32,
        hrv: (hrv * 10.0).round() / 10.0,
        asleep_minutes: i32::try_from(light + deep + rem).unwrap_or_default(),
        deep_minutes: i32::try_from(deep).unwrap_or_default(),
        rem_minutes: i32::try_from(rem).unwrap_or_default(),
        awake_minutes: i32::try_from(awake).unwrap_or_default(),
        sleep_id: seed.name("sleep", "night"),
        sleep_start: rfc(start),
        sleep_end: rfc(end),
    }
}

/// The filter field each data type is filtered on.
fn filter_field(data_type: &str) -> Option<&'static str> {
    Some(match data_type {
        "steps" => "steps.interval.start_time",
        "active-minutes" => "active_minutes.interval.start_time",
        "total-calories" => "total_calories.interval.start_time",
        "heart-rate" => "heart_rate.sample_time.physical_time",
        "heart-rate-variability" => "heart_rate_variability.sample_time.physical_time",
        "sleep" => "sleep.interval.end_time",
        _ => return None,
    })
}

/// `FIELD >= "T" AND FIELD < "T"` (any of `>=`, `>`, `<`, `<=`, clauses joined by `AND`)
/// into a predicate on the field's instant.
fn parse_filter(filter: &str, field: &str) -> Option<Vec<(String, NaiveDateTime)>> {
    let mut clauses = Vec::new();
    for clause in filter.split(" AND ") {
        let mut parts = clause.trim().splitn(3, ' ');
        let (name, op, value) = (parts.next()?, parts.next()?, parts.next()?);
        if name != field || !matches!(op, ">=" | ">" | "<" | "<=") {
            return None;
        }
        let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        let at = DateTime::parse_from_rfc3339(value).ok()?.naive_utc();
        clauses.push((op.to_owned(), at));
    }
    Some(clauses)
}

async fn data_points(
    State(shared): State<Shared>,
    Path(data_type): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let user = match admit(&shared, &headers) {
        Ok(user) => user,
        Err(refused) => return *refused,
    };
    let Some(field) = filter_field(&data_type) else {
        return google_error(
            StatusCode::NOT_FOUND,
            404,
            "NOT_FOUND",
            "Unknown data type.",
        );
    };
    let clauses = match query.get("filter") {
        Some(filter) => match parse_filter(filter, field) {
            Some(clauses) => clauses,
            None => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Invalid filter: {filter}"),
                );
            }
        },
        None => Vec::new(),
    };
    let page_size = query
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
    let offset = match query.get("pageToken") {
        Some(token) => match token
            .strip_prefix("CgRwYWdl")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(offset) => offset,
            None => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "INVALID_ARGUMENT",
                    "Invalid page token.",
                );
            }
        },
        None => 0,
    };
    let all: Vec<Value> = {
        let inner = lock(&shared);
        let offset_secs = offset_of(&inner, &user);
        let days: Vec<NaiveDate> = inner
            .days
            .get(&user)
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default();
        drop(inner);
        let mut all: Vec<(NaiveDateTime, Value)> = days
            .into_iter()
            .flat_map(|day| points(&Seed::new(&user, day, offset_secs), &data_type))
            .filter(|(at, _)| {
                clauses.iter().all(|(op, bound)| match op.as_str() {
                    ">=" => at >= bound,
                    ">" => at > bound,
                    "<" => at < bound,
                    _ => at <= bound,
                })
            })
            .collect();
        all.sort_by_key(|(at, _)| *at);
        all.into_iter().map(|(_, p)| p).collect()
    };
    let page: Vec<Value> = all.iter().skip(offset).take(page_size).cloned().collect();
    let mut body = json!({"dataPoints": page});
    if offset + page_size < all.len() {
        body["nextPageToken"] = json!(format!("CgRwYWdl{}", offset + page_size));
    }
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "https://mindflow.example/v1/wearables/google-health/callback";

    /// `application/x-www-form-urlencoded` of `pairs`.
    fn form_body(pairs: &[(&str, &str)]) -> String {
        let encode = |text: &str| {
            text.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    async fn exchange(sim: &GoogleHealthSim, form: &[(&str, &str)]) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/token", sim.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .expect("token request");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    fn code_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ]
    }

    async fn get(sim: &GoogleHealthSim, path: &str, token: &str) -> (u16, Option<String>, Value) {
        let answer = reqwest::Client::new()
            .get(format!("{}{path}", sim.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("data request");
        let status = answer.status().as_u16();
        let retry = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, retry, answer.json().await.unwrap_or(Value::Null))
    }

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[tokio::test]
    async fn a_code_is_exchanged_once_with_the_right_verifier_and_redirect() {
        let sim = GoogleHealthSim::start().await.unwrap();
        let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);

        let (status, body) = exchange(
            &sim,
            &code_form(&code, "the-wrong-verifier-of-forty-three-characters-000"),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);
        let mut wrong_redirect = code_form(&code, verifier);
        wrong_redirect[2].1 = "https://elsewhere.example/cb";
        assert_eq!(exchange(&sim, &wrong_redirect).await.0, 400);

        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);
        let mut no_secret = code_form(&code, verifier);
        no_secret.pop();
        assert_eq!(exchange(&sim, &no_secret).await.0, 401);

        let (status, body) = exchange(&sim, &code_form(&code, verifier)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["refresh_token"].is_string());
        assert_eq!(
            exchange(&sim, &code_form(&code, verifier)).await.0,
            400,
            "a code works once"
        );

        let access = body["access_token"].as_str().unwrap();
        let (status, _, identity) = get(&sim, "/v4/users/me/identity", access).await;
        assert_eq!(
            (status, identity["healthUserId"].as_str()),
            (200, Some(DEFAULT_USER))
        );
    }

    #[tokio::test]
    async fn refresh_tokens_are_not_rotated_and_revocation_ends_the_grant() {
        let sim = GoogleHealthSim::start().await.unwrap();
        let verifier = "another-verifier-of-at-least-forty-three-characters-xyz";
        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);
        let (_, first) = exchange(&sim, &code_form(&code, verifier)).await;
        let refresh = first["refresh_token"].as_str().unwrap().to_owned();
        let refresh_form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        sim.expire_tokens();
        let old = first["access_token"].as_str().unwrap();
        assert_eq!(get(&sim, "/v4/users/me/identity", old).await.0, 401);
        for _ in 0..2 {
            let (status, body) = exchange(&sim, &refresh_form).await;
            assert_eq!(status, 200, "the same refresh token works again");
            assert!(body.get("refresh_token").is_none());
            let access = body["access_token"].as_str().unwrap();
            assert_eq!(get(&sim, "/v4/users/me/identity", access).await.0, 200);
        }
        let revoked = reqwest::Client::new()
            .post(format!("{}/revoke", sim.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("token", refresh.as_str())]))
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status().as_u16(), 200);
        assert_eq!(sim.revoked(), vec![refresh.clone()]);
        assert_eq!(exchange(&sim, &refresh_form).await.0, 400);
    }

    #[tokio::test]
    async fn data_points_page_filter_and_refuse() {
        let sim = GoogleHealthSim::start().await.unwrap();
        sim.seed_days(DEFAULT_USER, "2026-11-01", 30);
        let verifier = "a-third-verifier-of-at-least-forty-three-characters-abc";
        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);
        let (_, tokens) = exchange(&sim, &code_form(&code, verifier)).await;
        let access = tokens["access_token"].as_str().unwrap();

        let filter = "heart_rate.sample_time.physical_time%20%3E%3D%20%222026-10-31T00%3A00%3A00Z%22%20AND%20heart_rate.sample_time.physical_time%20%3C%20%222026-12-02T00%3A00%3A00Z%22";
        let path =
            format!("/v4/users/me/dataTypes/heart-rate/dataPoints?pageSize=1000&filter={filter}");
        let (status, _, page) = get(&sim, &path, access).await;
        assert_eq!(status, 200);
        assert_eq!(page["dataPoints"].as_array().unwrap().len(), 1000);
        let token = page["nextPageToken"].as_str().unwrap();
        let (_, _, rest) = get(&sim, &format!("{path}&pageToken={token}"), access).await;
        assert_eq!(rest["dataPoints"].as_array().unwrap().len(), 30 * 48 - 1000);
        assert!(rest.get("nextPageToken").is_none());

        let one_day = "steps.interval.start_time%20%3E%3D%20%222026-11-03T00%3A00%3A00Z%22%20AND%20steps.interval.start_time%20%3C%20%222026-11-04T00%3A00%3A00Z%22";
        let (_, _, steps) = get(
            &sim,
            &format!("/v4/users/me/dataTypes/steps/dataPoints?filter={one_day}"),
            access,
        )
        .await;
        assert_eq!(steps["dataPoints"].as_array().unwrap().len(), 16);
        let wrong_field = "sleep.interval.start_time%20%3E%3D%20%222026-11-03T00%3A00%3A00Z%22";
        assert_eq!(
            get(
                &sim,
                &format!("/v4/users/me/dataTypes/steps/dataPoints?filter={wrong_field}"),
                access
            )
            .await
            .0,
            400
        );

        let expected = sim.expected(DEFAULT_USER, "2026-11-03").unwrap();
        assert!(
            expected.sleep_start.starts_with("2026-11-02T23:")
                && expected.sleep_start.ends_with("+01:00")
        );
        assert!(expected.steps > 4000 && expected.avg_heart_rate > 50);

        sim.rate_limit_next(1);
        let (status, retry, _) = get(&sim, &path, access).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        assert_eq!(get(&sim, &path, "ya29.unknown").await.0, 401);
        assert_eq!(sim.requests(), 6);
    }

    #[test]
    fn notifications_carry_the_secret_and_the_interval() {
        let (headers, body) = notification(
            "s3cret",
            "4XYZ",
            "steps",
            "2026-11-03T07:00:00Z",
            "2026-11-03T09:00:00Z",
        );
        assert!(headers.contains(&("authorization".into(), "s3cret".into())));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["data"]["healthUserId"], "4XYZ");
        assert_eq!(
            body["data"]["intervals"][0]["physicalTimeInterval"]["endTime"],
            "2026-11-03T09:00:00Z"
        );
        assert_eq!(verification_body(), r#"{"type":"verification"}"#);
    }

    /// The adapter's native logic over HTTP to the simulator, as the host runs it: each
    /// request's origin mapped to the simulator, the bearer token added.
    struct ToSim<'a> {
        runtime: &'a tokio::runtime::Runtime,
        base: String,
        token: String,
    }

    impl mindflow_adapter_kit::transport::Transport for ToSim<'_> {
        fn get(
            &mut self,
            url: &str,
            headers: &[(&str, &str)],
        ) -> Result<mindflow_adapter_kit::transport::Response, mindflow_adapter_kit::model::Error>
        {
            let url = url.replace("https://health.googleapis.com", &self.base);
            self.runtime.block_on(async {
                let mut request = reqwest::Client::new().get(&url).bearer_auth(&self.token);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let answer = request
                    .send()
                    .await
                    .map_err(|e| mindflow_adapter_kit::model::Error::Provider(e.to_string()))?;
                Ok(mindflow_adapter_kit::transport::Response {
                    status: answer.status().as_u16(),
                    headers: answer
                        .headers()
                        .iter()
                        .map(|(n, v)| {
                            (
                                n.as_str().to_owned(),
                                v.to_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                    body: answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
                })
            })
        }
    }

    #[test]
    fn the_adapter_reads_what_the_simulator_serves() {
        use mindflow_adapter_kit::model::Error;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime.block_on(GoogleHealthSim::start()).unwrap();
        sim.set_utc_offset(DEFAULT_USER, -8 * 3600);
        sim.seed_days(DEFAULT_USER, "2026-10-05", 30);
        let verifier = "the-adapter-verifier-of-at-least-forty-three-characters";
        let code = sim.issue_code(&pkce_challenge(verifier), REDIRECT);
        let (_, tokens) = runtime.block_on(exchange(&sim, &code_form(&code, verifier)));
        let mut transport = ToSim {
            runtime: &runtime,
            base: sim.base_url(),
            token: tokens["access_token"].as_str().unwrap().to_owned(),
        };

        let batch = google_health::fetch(&mut transport, "2026-10-05", "2026-11-03").unwrap();
        assert_eq!(batch.days.len(), 30);
        assert_eq!(batch.sleep.len(), 30);
        for (day, night) in batch.days.iter().zip(&batch.sleep) {
            let want = sim.expected(DEFAULT_USER, &day.metric_date).unwrap();
            assert_eq!(day.steps, Some(want.steps), "{}", want.date);
            assert_eq!(day.active_minutes, Some(want.active_minutes));
            assert_eq!(day.calories_burned, Some(want.calories));
            assert_eq!(day.avg_heart_rate, Some(want.avg_heart_rate));
            assert_eq!(day.hrv_avg, Some(want.hrv));
            assert_eq!(day.sleep_duration_minutes, Some(want.asleep_minutes));
            assert_eq!(day.deep_sleep_minutes, Some(want.deep_minutes));
            assert_eq!(day.rem_sleep_minutes, Some(want.rem_minutes));
            assert_eq!(night.external_id, want.sleep_id);
            assert_eq!(
                (night.start.as_str(), night.end.as_str()),
                (want.sleep_start.as_str(), want.sleep_end.as_str())
            );
            assert_eq!(night.metric_date, want.date);
            assert_eq!(night.awake_minutes, Some(want.awake_minutes));
        }
        // Six data types; heart rate (48 a day, 1,440 points) takes two pages.
        assert_eq!(sim.requests(), 7);

        sim.rate_limit_next(1);
        assert_eq!(
            google_health::fetch(&mut transport, "2026-11-01", "2026-11-03"),
            Err(Error::RateLimited(1))
        );
        sim.expire_tokens();
        assert_eq!(
            google_health::fetch(&mut transport, "2026-11-01", "2026-11-03"),
            Err(Error::Unauthorized)
        );
        drop(sim);
    }
}
