//! A simulator of Acme Ring, the fictional provider of the partner template
//! (`templates/wearable-adapter`), on loopback, speaking the wire format the template's crate
//! doc describes, on one port for both of its origins (`https://api.acme-ring.example`, and
//! `https://acme-ring.example` whose authorization page the tests skip: they make a code with
//! [`AcmeRingSim::issue_code_for`] and call the host's callback with it).
//!
//! - `POST /oauth/token`: `grant_type=authorization_code` (the client in HTTP Basic, the
//!   code's `redirect_uri`, and the PKCE `code_verifier` against the S256 challenge the code
//!   was issued for) and `grant_type=refresh_token`. Errors are RFC 6749 `{"error", …}`.
//! - `POST /oauth/revoke` (RFC 7009, `token=…`).
//! - `GET /v1/daily`, `GET /v1/sleep` with `start_date`/`end_date` (inclusive) and
//!   `page_token`, pages of [`PAGE_SIZE`] items; `GET /v1/me`. A bearer token that is
//!   unknown, expired ([`AcmeRingSim::expire_tokens`]) or revoked is `401`.
//!   Data is seeded per user ([`AcmeRingSim::seed_days`]), deterministic.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::oura::{challenge, form, oauth_error, pick};

/// The client id the simulator accepts.
pub const CLIENT_ID: &str = "acme-sim-client";
/// The client secret the simulator accepts.
pub const CLIENT_SECRET: &str = "acme-sim-secret";
/// Items per page.
pub const PAGE_SIZE: usize = 4;

/// One seeded day of a user: its activity and the night ending on it (offset +01:00).
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Steps.
    pub steps: i64,
    /// Active minutes (sent as seconds).
    pub active_minutes: i64,
    /// Kcal.
    pub calories: i64,
    /// Average heart rate, bpm.
    pub heart_rate: i64,
    /// HRV (RMSSD), tenths of a millisecond.
    pub hrv_tenths: i32,
    /// Readiness score.
    pub readiness: i64,
    /// When the night began: minutes after 22:00 the evening before.
    pub bedtime_after_ten: i64,
    /// Minutes asleep, deep, REM and awake.
    pub asleep: i64,
    /// Deep minutes.
    pub deep: i64,
    /// REM minutes.
    pub rem: i64,
    /// Awake minutes.
    pub awake: i64,
    /// Sleep score.
    pub score: i64,
}

impl SeedDay {
    fn new(user: &str, date: &str) -> Self {
        let p = |what: &str, low: i64, high: i64| pick(user, date, what, low, high);
        let deep = p("deep", 50, 110);
        let rem = p("rem", 70, 130);
        Self {
            date: date.to_owned(),
            steps: p("steps", 2_500, 15_000),
            active_minutes: p("active", 10, 120),
            calories: p("calories", 1_800, 3_200),
            heart_rate: p("hr", 52, 74),
            hrv_tenths: i32::try_from(p("hrv", 220, 880)).unwrap_or(400),
            readiness: p("readiness", 50, 95),
            bedtime_after_ten: p("bedtime", 0, 120),
            asleep: deep + rem + p("light", 180, 260),
            deep,
            rem,
            awake: p("awake", 10, 50),
            score: p("score", 55, 95),
        }
    }

    fn start_end(&self) -> (String, String) {
        let day = NaiveDate::parse_from_str(&self.date, "%Y-%m-%d").unwrap_or_default();
        let evening = (day - Duration::days(1))
            .and_hms_opt(22, 0, 0)
            .unwrap_or_default()
            + Duration::minutes(self.bedtime_after_ten);
        let morning = evening + Duration::minutes(self.asleep + self.awake);
        let stamp = |t: chrono::NaiveDateTime| format!("{}+01:00", t.format("%Y-%m-%dT%H:%M:%S"));
        (stamp(evening), stamp(morning))
    }

    fn daily(&self) -> Value {
        json!({
            "date": self.date,
            "steps": self.steps,
            "active_seconds": self.active_minutes * 60,
            "calories_kcal": self.calories,
            "heart_rate_avg_bpm": self.heart_rate,
            "hrv_rmssd_ms": f64::from(self.hrv_tenths) / 10.0,
            "readiness": self.readiness,
            "distance_m": self.steps * 3 / 4,
        })
    }

    fn night(&self, user: &str) -> Value {
        let (start, end) = self.start_end();
        json!({
            "id": format!("{user}-night-{}", self.date),
            "start": start,
            "end": end,
            "asleep_seconds": self.asleep * 60,
            "deep_seconds": self.deep * 60,
            "rem_seconds": self.rem * 60,
            "awake_seconds": self.awake * 60,
            "score": self.score,
        })
    }

    /// What the host should store for the day (its daily-metrics fields).
    pub fn expected(&self) -> Value {
        json!({
            "steps": self.steps,
            "active_minutes": self.active_minutes,
            "calories_burned": self.calories,
            "avg_heart_rate": self.heart_rate,
            "hrv_avg": f64::from(self.hrv_tenths) / 10.0,
            "readiness_score": self.readiness,
            "sleep_duration_minutes": self.asleep,
            "deep_sleep_minutes": self.deep,
            "rem_sleep_minutes": self.rem,
            "sleep_quality_score": self.score,
        })
    }
}

struct Code {
    user: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Code>,
    /// Access tokens: user, expired.
    access: HashMap<String, (String, bool)>,
    /// Refresh tokens: user.
    refresh: HashMap<String, String>,
    users: HashMap<String, BTreeMap<String, SeedDay>>,
    requests: Vec<String>,
    token_requests: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running simulator (stopped when dropped).
pub struct AcmeRingSim {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AcmeRingSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AcmeRingSim {
    /// Starts it on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the Acme Ring simulator")?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .route("/oauth/revoke", axum::routing::post(revoke))
            .route("/v1/{list}", axum::routing::get(data))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// Its origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `MINDFLOW_WEARABLE_ORIGINS` for the host: both Acme origins to this simulator.
    pub fn origins_env(&self) -> String {
        format!(
            "https://api.acme-ring.example={0},https://acme-ring.example={0}",
            self.origin()
        )
    }

    /// A code for `user`, as the consent page would issue it, bound to the PKCE `challenge`
    /// and `redirect_uri` of the authorization request.
    pub fn issue_code_for(&self, user: &str, challenge: &str, redirect_uri: &str) -> String {
        let code = format!("acme-code-{}", uuid::Uuid::new_v4().simple());
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

    /// Seeds `days` days of `user` from `from` (`YYYY-MM-DD`).
    ///
    /// # Panics
    /// When `from` is not a date.
    pub fn seed_days(&self, user: &str, from: &str, days: u32) {
        let first = NaiveDate::parse_from_str(from, "%Y-%m-%d").expect("a YYYY-MM-DD date");
        let mut inner = lock(&self.shared);
        let seeded = inner.users.entry(user.to_owned()).or_default();
        for i in 0..days {
            let date = (first + Duration::days(i64::from(i)))
                .format("%Y-%m-%d")
                .to_string();
            seeded.insert(date.clone(), SeedDay::new(user, &date));
        }
    }

    /// The seeded days of `user`.
    pub fn days(&self, user: &str) -> Vec<SeedDay> {
        lock(&self.shared)
            .users
            .get(user)
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes every access token issued so far expired (a 401 until refreshed).
    pub fn expire_tokens(&self) {
        for token in lock(&self.shared).access.values_mut() {
            token.1 = true;
        }
    }

    /// Data requests served (path and query), in order.
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared).requests.clone()
    }

    /// The grant types asked of the token endpoint, in order.
    pub fn token_requests(&self) -> Vec<String> {
        lock(&self.shared).token_requests.clone()
    }
}

fn issue(inner: &mut Inner, user: &str) -> Value {
    let access = format!("acme-at-{}", uuid::Uuid::new_v4().simple());
    let refresh = format!("acme-rt-{}", uuid::Uuid::new_v4().simple());
    inner
        .access
        .insert(access.clone(), (user.to_owned(), false));
    inner.refresh.insert(refresh.clone(), user.to_owned());
    json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": 3600,
        "refresh_token": refresh,
        "scope": "daily sleep",
    })
}

/// The client of HTTP Basic `authorization` (RFC 6749 §2.3.1).
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = lock(&shared);
    inner.token_requests.push(get("grant_type").to_owned());
    if basic_client(&headers) != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the client authenticates with HTTP Basic",
        );
    }
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(get("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            if get("redirect_uri") != code.redirect_uri
                || challenge(get("code_verifier")) != code.challenge
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri or code_verifier does not match",
                );
            }
            Json(issue(&mut inner, &code.user)).into_response()
        }
        "refresh_token" => match inner.refresh.remove(get("refresh_token")) {
            Some(user) => Json(issue(&mut inner, &user)).into_response(),
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown refresh token",
            ),
        },
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code or refresh_token",
        ),
    }
}

async fn revoke(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let token = form(&body).remove("token").unwrap_or_default();
    let mut inner = lock(&shared);
    inner.access.remove(&token);
    inner.refresh.remove(&token);
    StatusCode::OK
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({"error": code}))).into_response()
}

/// One page of `items` from the offset `page_token` names.
fn page(list: &str, items: Vec<Value>, query: &HashMap<String, String>) -> Response {
    let offset = match query.get("page_token") {
        None => 0,
        Some(token) => match token
            .strip_prefix(&format!("{list}-"))
            .and_then(|o| o.parse::<usize>().ok())
        {
            Some(offset) => offset,
            None => return error(StatusCode::BAD_REQUEST, "invalid_page_token"),
        },
    };
    let end = (offset + PAGE_SIZE).min(items.len());
    let next = (end < items.len()).then(|| format!("{list}-{end}"));
    Json(json!({
        "items": items.get(offset..end).unwrap_or_default(),
        "next_page_token": next,
    }))
    .into_response()
}

async fn data(
    State(shared): State<Shared>,
    Path(list): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&shared);
    inner
        .requests
        .push(format!("/v1/{list}?{}", raw.unwrap_or_default()));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = inner
        .access
        .get(bearer)
        .filter(|(_, expired)| !expired)
        .map(|(user, _)| user.clone())
    else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    if list == "me" {
        return Json(json!({"user_id": user, "display_name": "Simulated Wearer"})).into_response();
    }
    let date = |name: &str| {
        query
            .get(name)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let (Some(start), Some(end)) = (date("start_date"), date("end_date")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "start_date and end_date are required",
        );
    };
    let days: Vec<SeedDay> = inner
        .users
        .get(&user)
        .map(|d| {
            d.values()
                .filter(|s| {
                    NaiveDate::parse_from_str(&s.date, "%Y-%m-%d")
                        .is_ok_and(|d| (start..=end).contains(&d))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    drop(inner);
    match list.as_str() {
        "daily" => page(&list, days.iter().map(SeedDay::daily).collect(), &query),
        "sleep" => page(&list, days.iter().map(|d| d.night(&user)).collect(), &query),
        _ => error(StatusCode::NOT_FOUND, "not_found"),
    }
}
