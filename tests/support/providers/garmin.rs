//! A Garmin Health API simulator on loopback, in Garmin's summary format (see the `garmin`
//! adapter's crate doc). One port serves every origin in [`ORIGINS`]:
//! - `POST /di-oauth2-service/oauth/token`: `authorization_code` (client id and secret in
//!   the body, the registered `redirect_uri`, the PKCE `code_verifier` against the S256
//!   challenge given to [`GarminSim::issue_code`]) and `refresh_token`. **Assumed:** Garmin
//!   rotates refresh tokens, so a used one answers 400 `invalid_grant`;
//! - `GET /wellness-api/rest/{dailies,sleeps,hrv}?uploadStartTimeInSeconds=…&uploadEndTimeInSeconds=…`
//!   (at most 86,400 s, else 400): the summaries of seeded days uploaded in the window (a
//!   day's sleep and HRV at 08:00 local, its dailies at 22:00 local), as a JSON array; 401 for
//!   an unknown or expired bearer token, 429 with `Retry-After` on demand.
//!
//! Webhooks: [`push`] and [`ping`] build the bodies Garmin POSTs, with the secret header our
//! deployment configures (`x-garmin-webhook-secret`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use chrono::NaiveDate;
use serde_json::{Value, json};

pub use super::google_health::pkce_challenge;

/// The origins this simulator stands in for.
pub const ORIGINS: [&str; 3] = [
    "https://apis.garmin.com",
    "https://diauth.garmin.com",
    "https://connect.garmin.com",
];
/// The OAuth client the simulator accepts.
pub const CLIENT_ID: &str = "sim-garmin-consumer-key";
/// Its secret.
pub const CLIENT_SECRET: &str = "sim-garmin-consumer-secret";
/// The user [`GarminSim::issue_code`] connects.
pub const DEFAULT_USER: &str = "a1b2c3d4-0000-4e5f-9abc-123456789def";
/// The header carrying the webhook secret.
pub const SECRET_HEADER: &str = "x-garmin-webhook-secret";

/// What the adapter should report for a seeded calendar day.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Steps.
    pub steps: i32,
    /// `activeTimeInSeconds` / 60.
    pub active_minutes: i32,
    /// Active + BMR kilocalories.
    pub calories: i32,
    /// Average heart rate.
    pub avg_heart_rate: i32,
    /// Average stress level.
    pub stress: i16,
    /// Sleep score.
    pub sleep_score: i16,
    /// Minutes asleep (deep + light + REM).
    pub asleep_minutes: i32,
    /// Deep minutes.
    pub deep_minutes: i32,
    /// REM minutes.
    pub rem_minutes: i32,
    /// `lastNightAvg`.
    pub hrv: f64,
}

#[derive(Debug, Clone)]
struct Code {
    user: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, Code>,
    access: HashMap<String, (String, bool)>,
    refresh: HashMap<String, String>,
    offsets: HashMap<String, i64>,
    days: HashMap<String, BTreeSet<NaiveDate>>,
    rate_limit: u32,
    requests: usize,
    issued: u64,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator; stopped when dropped.
pub struct GarminSim {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GarminSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GarminSim {
    /// Starts a simulator on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the Garmin simulator")?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/di-oauth2-service/oauth/token", axum::routing::post(token))
            .route("/wellness-api/rest/user/id", axum::routing::get(user_id))
            .route("/wellness-api/rest/{summary}", axum::routing::get(pull))
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

    /// `MINDFLOW_WEARABLE_ORIGINS` entries for this simulator.
    pub fn origin_map(&self) -> String {
        ORIGINS
            .iter()
            .map(|o| format!("{o}={}", self.base_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A single-use code for [`DEFAULT_USER`] bound to a PKCE S256 `challenge` and
    /// `redirect_uri`.
    pub fn issue_code(&self, challenge: &str, redirect_uri: &str) -> String {
        self.issue_code_for(DEFAULT_USER, challenge, redirect_uri)
    }

    /// [`issue_code`](Self::issue_code) for Garmin user `user`.
    pub fn issue_code_for(&self, user: &str, challenge: &str, redirect_uri: &str) -> String {
        let mut inner = lock(&self.shared);
        inner.issued += 1;
        let code = format!("sim-garmin-code-{}", inner.issued);
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

    /// Sets `user`'s UTC offset in seconds (default +01:00).
    pub fn set_utc_offset(&self, user: &str, seconds: i64) {
        lock(&self.shared).offsets.insert(user.to_owned(), seconds);
    }

    /// Seeds `days` calendar days from `from` (`YYYY-MM-DD`) for `user`.
    ///
    /// # Panics
    /// When `from` is not a date (a test's mistake).
    pub fn seed_days(&self, user: &str, from: &str, days: u32) {
        let first = NaiveDate::parse_from_str(from, "%Y-%m-%d").expect("seed_days: YYYY-MM-DD");
        let mut inner = lock(&self.shared);
        let seeded = inner.days.entry(user.to_owned()).or_default();
        for i in 0..days {
            seeded.insert(first + chrono::Duration::days(i64::from(i)));
        }
    }

    /// What the adapter should report for `user`'s seeded `day`.
    pub fn expected(&self, day: &str) -> Option<Expected> {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        let v = values(d);
        Some(Expected {
            date: day.to_owned(),
            steps: i32::try_from(v.steps).ok()?,
            active_minutes: i32::try_from(v.active / 60).ok()?,
            calories: i32::try_from(v.active_kcal + v.bmr_kcal).ok()?,
            avg_heart_rate: i32::try_from(v.bpm).ok()?,
            stress: i16::try_from(v.stress).ok()?,
            sleep_score: i16::try_from(v.score).ok()?,
            asleep_minutes: i32::try_from((v.deep + v.light + v.rem) / 60).ok()?,
            deep_minutes: i32::try_from(v.deep / 60).ok()?,
            rem_minutes: i32::try_from(v.rem / 60).ok()?,
            hrv: v.hrv,
        })
    }

    /// Marks every access token issued so far expired.
    pub fn expire_tokens(&self) {
        for access in lock(&self.shared).access.values_mut() {
            access.1 = true;
        }
    }

    /// The next `n` pull requests answer 429 with `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        lock(&self.shared).rate_limit = n;
    }

    /// Pull requests received so far.
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests
    }

    /// The push body Garmin POSTs for `user`'s seeded `day` (dailies, sleeps and HRV), with
    /// the secret header.
    pub fn push(&self, secret: &str, user: &str, day: &str) -> (Vec<(String, String)>, String) {
        self.push_many(secret, &[(user, day)])
    }

    /// One push body for several users' days, as Garmin batches them: each kind's list holds
    /// the summaries of every `(user, day)` in order.
    pub fn push_many(
        &self,
        secret: &str,
        days: &[(&str, &str)],
    ) -> (Vec<(String, String)>, String) {
        let offsets = lock(&self.shared).offsets.clone();
        let mut body = json!({"dailies": [], "sleeps": [], "hrv": []});
        for (user, day) in days {
            let offset = offsets.get(*user).copied().unwrap_or(3600);
            let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap_or_default();
            for kind in ["dailies", "sleeps", "hrv"] {
                if let Some(list) = body[kind].as_array_mut() {
                    list.push(summary(kind, user, d, offset));
                }
            }
        }
        (headers(secret), body.to_string())
    }
}

/// A ping body: `summary`'s callback URL for `user` over an upload window, with the secret
/// header.
pub fn ping(
    secret: &str,
    user: &str,
    summary: &str,
    from: i64,
    to: i64,
) -> (Vec<(String, String)>, String) {
    let body = json!({summary: [{"userId": user, "callbackURL": format!(
        "https://apis.garmin.com/wellness-api/rest/{summary}?uploadStartTimeInSeconds={from}&uploadEndTimeInSeconds={to}&token=CPT-sim"
    )}]});
    (headers(secret), body.to_string())
}

fn headers(secret: &str) -> Vec<(String, String)> {
    vec![
        (SECRET_HEADER.into(), secret.into()),
        ("content-type".into(), "application/json".into()),
    ]
}

struct Values {
    steps: i64,
    active: i64,
    active_kcal: i64,
    bmr_kcal: i64,
    bpm: i64,
    stress: i64,
    score: i64,
    deep: i64,
    light: i64,
    rem: i64,
    awake: i64,
    hrv: f64,
}

fn values(day: NaiveDate) -> Values {
    let k = day
        .signed_duration_since(NaiveDate::MIN)
        .num_days()
        .rem_euclid(7);
    Values {
        steps: 6000 + k * 811,
        active: 3600 + k * 420,
        active_kcal: 400 + k * 37,
        bmr_kcal: 1650,
        bpm: 62 + k,
        stress: 25 + k * 3,
        score: 70 + k * 3,
        deep: 4800 + k * 300,
        light: 14_400 + k * 120,
        rem: 5400 + k * 180,
        awake: 1200 + k * 60,
        hrv: 42.0 + f64::from(i32::try_from(k).unwrap_or_default()) * 1.5,
    }
}

/// Midnight UTC of `day`, in seconds.
fn midnight(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()
}

/// When `kind` for `day` is uploaded (UTC seconds).
fn uploaded(kind: &str, day: NaiveDate, offset: i64) -> i64 {
    let local = if kind == "dailies" {
        22 * 3600
    } else {
        8 * 3600
    };
    midnight(day) + local - offset
}

fn summary(kind: &str, user: &str, day: NaiveDate, offset: i64) -> Value {
    let v = values(day);
    let date = day.format("%Y-%m-%d").to_string();
    let id = format!(
        "x{}-{kind}-{}",
        &user[..user.len().min(6)],
        day.format("%Y%m%d")
    );
    match kind {
        "dailies" => json!({"userId": user, "summaryId": id, "calendarDate": date,
            "startTimeInSeconds": midnight(day) - offset, "startTimeOffsetInSeconds": offset,
            "durationInSeconds": 86_400, "steps": v.steps, "activeTimeInSeconds": v.active,
            "activeKilocalories": v.active_kcal, "bmrKilocalories": v.bmr_kcal,
            "averageHeartRateInBeatsPerMinute": v.bpm, "averageStressLevel": v.stress}),
        "sleeps" => {
            let duration = v.deep + v.light + v.rem + v.awake;
            json!({"userId": user, "summaryId": id, "calendarDate": date,
                "startTimeInSeconds": midnight(day) + 7 * 3600 - offset - duration,
                "startTimeOffsetInSeconds": offset, "durationInSeconds": duration,
                "deepSleepDurationInSeconds": v.deep, "lightSleepDurationInSeconds": v.light,
                "remSleepInSeconds": v.rem, "awakeDurationInSeconds": v.awake,
                "overallSleepScore": {"value": v.score, "qualifierKey": "GOOD"}})
        }
        _ => json!({"userId": user, "summaryId": id, "calendarDate": date,
            "lastNightAvg": v.hrv, "lastNight5MinHigh": v.hrv + 15.0,
            "startTimeOffsetInSeconds": offset}),
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn token(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut inner = lock(&shared);
    let user = match field("grant_type") {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = field("code_verifier");
            if code.redirect_uri != field("redirect_uri")
                || verifier.is_empty()
                || pkce_challenge(verifier) != code.challenge
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            code.user
        }
        "refresh_token" => match inner.refresh.remove(field("refresh_token")) {
            Some(user) => user,
            None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        },
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    inner.issued += 1;
    let n = inner.issued;
    let (access, refresh) = (
        format!("sim-garmin-access-{n}"),
        format!("sim-garmin-refresh-{n}"),
    );
    inner.access.insert(access.clone(), (user.clone(), false));
    inner.refresh.insert(refresh.clone(), user);
    Json(
        json!({"access_token": access, "token_type": "bearer", "expires_in": 86_399,
        "refresh_token": refresh, "refresh_token_expires_in": 7_775_999, "scope": "HEALTH_EXPORT"}),
    )
    .into_response()
}

/// `GET /wellness-api/rest/user/id`: `{"userId": …}` of the bearer token's user.
async fn user_id(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&shared);
    inner.requests += 1;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match inner.access.get(bearer).filter(|a| !a.1) {
        Some((user, _)) => Json(json!({"userId": user})).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errorMessage": "Unauthorized"})),
        )
            .into_response(),
    }
}

async fn pull(
    State(shared): State<Shared>,
    Path(kind): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&shared);
    inner.requests += 1;
    if inner.rate_limit > 0 {
        inner.rate_limit -= 1;
        let mut refused = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"errorMessage": "Rate limit exceeded"})),
        )
            .into_response();
        refused.headers_mut().insert("retry-after", 1.into());
        return refused;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = inner
        .access
        .get(bearer)
        .filter(|a| !a.1)
        .map(|a| a.0.clone())
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errorMessage": "Unauthorized"})),
        )
            .into_response();
    };
    if !["dailies", "sleeps", "hrv"].contains(&kind.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"errorMessage": "Not found"})),
        )
            .into_response();
    }
    let time = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
    let (Some(from), Some(to)) = (
        time("uploadStartTimeInSeconds"),
        time("uploadEndTimeInSeconds"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errorMessage": "upload window required"})),
        )
            .into_response();
    };
    if to <= from || to - from > 86_400 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errorMessage": "InvalidPullTokenException: window over 86400 seconds"})),
        )
            .into_response();
    }
    let offset = inner.offsets.get(&user).copied().unwrap_or(3600);
    let items: Vec<Value> = inner
        .days
        .get(&user)
        .map(|days| {
            days.iter()
                .filter(|d| (from..to).contains(&uploaded(&kind, **d, offset)))
                .map(|d| summary(&kind, &user, *d, offset))
                .collect()
        })
        .unwrap_or_default();
    Json(Value::Array(items)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mindflow_adapter_kit::model::{Error, Notification};
    use mindflow_adapter_kit::transport::{Response as Answer, Transport};

    const REDIRECT: &str = "https://mindflow.example/v1/wearables/garmin/callback";
    const VERIFIER: &str = "garmin-verifier-of-at-least-forty-three-characters-0123";

    fn form_body(pairs: &[(&str, &str)]) -> String {
        let encode = |t: &str| {
            t.bytes()
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

    async fn exchange(sim: &GarminSim, form: &[(&str, &str)]) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/di-oauth2-service/oauth/token", sim.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .expect("token request");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 6] {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ]
    }

    #[tokio::test]
    async fn pkce_is_checked_and_refresh_tokens_are_single_use() {
        let sim = GarminSim::start().await.unwrap();
        let code = sim.issue_code(&pkce_challenge(VERIFIER), REDIRECT);
        assert_eq!(
            exchange(
                &sim,
                &code_form(&code, "wrong-verifier-wrong-verifier-wrong-verifier-00")
            )
            .await
            .0,
            400
        );
        let code = sim.issue_code(&pkce_challenge(VERIFIER), REDIRECT);
        let (status, tokens) = exchange(&sim, &code_form(&code, VERIFIER)).await;
        assert_eq!(status, 200, "{tokens}");
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let (status, rotated) = exchange(&sim, &form).await;
        assert_eq!(status, 200);
        assert_ne!(rotated["refresh_token"].as_str(), Some(refresh.as_str()));
        assert_eq!(
            exchange(&sim, &form).await.0,
            400,
            "a used refresh token is refused"
        );
    }

    struct ToSim<'a> {
        runtime: &'a tokio::runtime::Runtime,
        base: String,
        token: String,
    }

    impl Transport for ToSim<'_> {
        fn get(&mut self, url: &str, _headers: &[(&str, &str)]) -> Result<Answer, Error> {
            let url = url.replace("https://apis.garmin.com", &self.base);
            self.runtime.block_on(async {
                let answer = reqwest::Client::new()
                    .get(&url)
                    .bearer_auth(&self.token)
                    .send()
                    .await
                    .map_err(|e| Error::Provider(e.to_string()))?;
                Ok(Answer {
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
    fn the_adapter_pulls_and_reads_pushes_as_the_simulator_serves_them() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime.block_on(GarminSim::start()).unwrap();
        sim.seed_days(DEFAULT_USER, "2026-10-20", 15);
        let code = sim.issue_code(&pkce_challenge(VERIFIER), REDIRECT);
        let (_, tokens) = runtime.block_on(exchange(&sim, &code_form(&code, VERIFIER)));
        let mut transport = ToSim {
            runtime: &runtime,
            base: sim.base_url(),
            token: tokens["access_token"].as_str().unwrap().to_owned(),
        };

        let batch = garmin::fetch(&mut transport, "2026-10-25", "2026-11-03").unwrap();
        assert_eq!(batch.days.len(), 10);
        assert_eq!(batch.sleep.len(), 10);
        assert_eq!(sim.requests(), 12 * 3);
        for day in &batch.days {
            let want = sim.expected(&day.metric_date).unwrap();
            assert_eq!(day.steps, Some(want.steps), "{}", want.date);
            assert_eq!(day.active_minutes, Some(want.active_minutes));
            assert_eq!(day.calories_burned, Some(want.calories));
            assert_eq!(day.avg_heart_rate, Some(want.avg_heart_rate));
            assert_eq!(day.stress_score, Some(want.stress));
            assert_eq!(day.sleep_quality_score, Some(want.sleep_score));
            assert_eq!(day.sleep_duration_minutes, Some(want.asleep_minutes));
            assert_eq!(day.deep_sleep_minutes, Some(want.deep_minutes));
            assert_eq!(day.rem_sleep_minutes, Some(want.rem_minutes));
            assert_eq!(day.hrv_avg, Some(want.hrv));
        }

        let (headers, body) = sim.push("s3cret", DEFAULT_USER, "2026-11-01");
        assert!(headers.contains(&(SECRET_HEADER.into(), "s3cret".into())));
        let notifications = garmin::read_notification(body.as_bytes());
        let Ok([Notification::Data(user, pushed)]) = notifications.as_deref() else {
            panic!("not data for one user");
        };
        assert_eq!(user, DEFAULT_USER);
        assert_eq!(
            pushed.days[0].steps,
            Some(sim.expected("2026-11-01").unwrap().steps)
        );

        let (_, body) = ping(
            "s3cret",
            DEFAULT_USER,
            "sleeps",
            1_793_577_600,
            1_793_577_600 + 3600,
        );
        assert_eq!(
            garmin::read_notification(body.as_bytes()),
            Ok(vec![Notification::Fetch(
                DEFAULT_USER.into(),
                "2026-11-01".into(),
                "2026-11-03".into()
            )])
        );

        sim.rate_limit_next(1);
        assert_eq!(
            garmin::fetch(&mut transport, "2026-11-01", "2026-11-01"),
            Err(Error::RateLimited(1))
        );
        sim.expire_tokens();
        assert_eq!(
            garmin::fetch(&mut transport, "2026-11-01", "2026-11-01"),
            Err(Error::Unauthorized)
        );
        drop(sim);
    }

    #[tokio::test]
    async fn a_pull_window_over_a_day_is_refused() {
        let sim = GarminSim::start().await.unwrap();
        let code = sim.issue_code(&pkce_challenge(VERIFIER), REDIRECT);
        let (_, tokens) = exchange(&sim, &code_form(&code, VERIFIER)).await;
        let status = |to: i64| {
            let url = format!(
                "{}/wellness-api/rest/dailies?uploadStartTimeInSeconds=0&uploadEndTimeInSeconds={to}",
                sim.base_url()
            );
            let token = tokens["access_token"].as_str().unwrap().to_owned();
            async move {
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(status(86_400).await, 200);
        assert_eq!(status(86_401).await, 400);
    }
}
