//! Request rate limits per user and per client address, by route class
//! ([`policy::Class`]: `auth`, `writes`, `reads`, `chat`, `uploads`; the health checks are
//! never limited).
//!
//! Each request of a limited class is counted against its *subject*: the user a verified
//! bearer token names, else the client's address (`auth` always by address). The count is
//! GCRA ([`gcra`]): in process by default, in Redis ([`redis`](self::redis)) when
//! `REDIS_URL` is set, so replicas share one budget per key. When Redis fails or is slow
//! (over `MINDFLOW_REDIS_TIMEOUT_MS`), the check is made in process instead, so each
//! replica limits on its own and the service keeps answering; Redis is then left alone for
//! a few seconds (no request waits on a dead server), every check made this way is counted
//! ([`fallbacks`]) and a warning is logged at most once a minute.
//!
//! Login and registration throttling (`identity::throttle`) is separate: it counts failed
//! credentials, not requests.
//!
//! Responses carry the fields of draft-ietf-httpapi-ratelimit-headers-09 (March 2025; the
//! syntax `-10` keeps): `RateLimit-Policy: "writes";q=1200;w=60` (the class's quota and
//! window) and `RateLimit: "writes";r=1199;t=1` (requests left at once, seconds until the
//! whole quota is back), on allowed and refused responses alike. A refused request gets
//! 429, a problem document (`urn:mindflow:problem:rate-limited`) and `Retry-After` (whole
//! seconds until one request is allowed, at least 1).

pub mod gcra;
pub mod policy;
pub mod redis;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use self::gcra::{Decision, LocalLimiter};
use self::policy::{Class, Limit, Policies, Subject};
use self::redis::{SharedError, SharedLimiter};
use super::AppState;
use super::problem::ApiError;

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// How long Redis is left alone after it failed a check.
const BREAKER_OPEN: Duration = Duration::from_secs(3);
/// At most one warning about Redis per this long.
const WARNING_EVERY: Duration = Duration::from_secs(60);

/// Checks made in process because Redis was unreachable, erroring or slow, since start.
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many checks fell back to the in-process limiter since the process started (Redis
/// unreachable, erroring or slower than its timeout, or left alone after such a failure).
pub fn fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// The limiter every request goes through: the policies, the in-process GCRA and, with
/// `REDIS_URL`, the shared one.
pub struct RateLimiter {
    policies: Policies,
    local: LocalLimiter,
    shared: Option<SharedLimiter>,
    origin: Instant,
    /// Milliseconds since `origin` until which Redis is not asked.
    skip_shared_until: AtomicU64,
    /// Milliseconds since `origin` of the last warning (`u64::MAX`: none yet).
    warned_at: AtomicU64,
    degraded: AtomicBool,
}

impl RateLimiter {
    /// A limiter with `policies`, holding at most about `capacity` keys in process, sharing
    /// its counts through `shared` when given.
    pub fn new(policies: Policies, capacity: usize, shared: Option<SharedLimiter>) -> Self {
        Self {
            policies,
            local: LocalLimiter::new(capacity),
            shared,
            origin: Instant::now(),
            skip_shared_until: AtomicU64::new(0),
            warned_at: AtomicU64::new(u64::MAX),
            degraded: AtomicBool::new(false),
        }
    }

    /// A limiter that limits nothing.
    pub fn off() -> Self {
        Self::new(Policies::off(), 1, None)
    }

    /// The policies in force.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Whether counts are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Counts a request of `class` by `subject`: `None` when the class is not limited.
    pub async fn check(&self, class: Class, subject: Subject) -> Option<(Limit, Decision)> {
        let limit = self.policies.limit(class)?;
        if let Some(shared) = &self.shared {
            if self.may_ask_shared() {
                match shared.check(class, subject, &limit).await {
                    Ok(decision) => {
                        self.skip_shared_until.store(0, Ordering::Relaxed);
                        if self.degraded.swap(false, Ordering::Relaxed) {
                            tracing::info!(
                                redis = shared.host(),
                                "rate limits: shared again through Redis"
                            );
                        }
                        return Some((limit, decision));
                    }
                    Err(error) => self.shared_failed(shared, &error),
                }
            }
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
            crate::metrics::global().rate_limit_fallbacks.inc(&[]);
        }
        Some((limit, self.local.check(class, subject, &limit)))
    }

    /// Whether this check may ask Redis: always while it answers; after a failure, nobody
    /// for [`BREAKER_OPEN`], then one check at a time (the one that moves the deadline on)
    /// until one succeeds, so a dead Redis costs one timeout per replica every few
    /// seconds, not one per request.
    fn may_ask_shared(&self) -> bool {
        let until = self.skip_shared_until.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = self.elapsed_ms();
        now >= until
            && self
                .skip_shared_until
                .compare_exchange(
                    until,
                    now.saturating_add(breaker_ms()),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn shared_failed(&self, shared: &SharedLimiter, error: &SharedError) {
        let now = self.elapsed_ms();
        // Never 0, which means "Redis answers".
        let until = now.saturating_add(breaker_ms()).max(1);
        self.skip_shared_until.store(until, Ordering::Relaxed);
        self.degraded.store(true, Ordering::Relaxed);
        let last = self.warned_at.load(Ordering::Relaxed);
        let every = u64::try_from(WARNING_EVERY.as_millis()).unwrap_or(u64::MAX);
        let due = last == u64::MAX || now.saturating_sub(last) >= every;
        if due
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // The host only: the URL may hold a password. The error's kind, not its text.
            let cause = match error {
                SharedError::Timeout(_) => "timed out".to_owned(),
                SharedError::Redis(error) => format!("{:?}", error.kind()),
            };
            tracing::warn!(
                redis = shared.host(),
                cause,
                fallbacks = fallbacks() + 1,
                "rate limits: Redis unavailable, each replica limits on its own until it answers again"
            );
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Checks a request and answers the refusal if it is limited: what the WebSocket relay
    /// calls for each message it dispatches (it bypasses the router's layer).
    pub async fn refusal(&self, method: &Method, path: &str, subject: Subject) -> Option<Response> {
        let class = Class::of(method, path)?;
        let (limit, decision) = self.check(class, subject).await?;
        (!decision.allowed).then(|| refused(class, &limit, &decision))
    }
}

fn breaker_ms() -> u64 {
    u64::try_from(BREAKER_OPEN.as_millis()).unwrap_or(u64::MAX)
}

/// The middleware: counts every request of a limited class, refuses with 429 past the
/// limit, and adds the `RateLimit` fields to every response it counted.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiter = &state.rate_limits;
    let Some(class) = Class::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    if limiter.policies().limit(class).is_none() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let subject = subject_of(&state, class, &parts);
    let request = Request::from_parts(parts, body);
    let Some((limit, decision)) = limiter.check(class, subject).await else {
        return next.run(request).await;
    };
    if !decision.allowed {
        return refused(class, &limit, &decision);
    }
    let mut response = next.run(request).await;
    set_fields(response.headers_mut(), class, &limit, &decision);
    response
}

/// Whom a request counts against: for `auth` the client's address; otherwise the user of a
/// bearer token whose signature and claims verify (not yet whether the account still
/// exists: the route answers that), else the address.
fn subject_of(state: &AppState, class: Class, parts: &axum::http::request::Parts) -> Subject {
    if class != Class::Auth
        && let Some(user) = bearer_subject(state, &parts.headers)
    {
        return Subject::User(user);
    }
    Subject::Address(
        super::client::client_address(parts).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    )
}

/// The `sub` of a verified access token in `Authorization`, if any.
pub fn bearer_subject(state: &AppState, headers: &HeaderMap) -> Option<uuid::Uuid> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    token_subject(state, token)
}

/// The `sub` of `token` if it verifies.
pub fn token_subject(state: &AppState, token: &str) -> Option<uuid::Uuid> {
    state
        .tokens
        .verify(token.trim())
        .ok()
        .map(|claims| claims.sub)
}

/// The 429 for a refused request.
fn refused(class: Class, limit: &Limit, decision: &Decision) -> Response {
    let retry_after = whole_seconds(decision.retry_after).max(1);
    let mut problem = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!(
            "too many {class} requests: at most {} in {} s; retry in {retry_after} s",
            limit.quota,
            limit.window_seconds()
        ),
    );
    problem.retry_after = Some(retry_after);
    crate::metrics::global()
        .rate_limit_rejections
        .inc(&[&class.to_string()]);
    let mut response = problem.into_response();
    set_fields(response.headers_mut(), class, limit, decision);
    response
}

/// Sets `RateLimit-Policy` and `RateLimit` (a component's own fields are replaced).
fn set_fields(headers: &mut HeaderMap, class: Class, limit: &Limit, decision: &Decision) {
    let (policy, current) = fields(class, limit, decision);
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(RATELIMIT_POLICY, value);
    }
    if let Ok(value) = HeaderValue::from_str(&current) {
        headers.insert(RATELIMIT, value);
    }
}

/// The two fields' values: `"class";q=Q;w=W` and `"class";r=R;t=T`.
fn fields(class: Class, limit: &Limit, decision: &Decision) -> (String, String) {
    (
        format!("\"{class}\";q={};w={}", limit.quota, limit.window_seconds()),
        format!(
            "\"{class}\";r={};t={}",
            decision.remaining,
            whole_seconds(decision.reset)
        ),
    )
}

/// Whole seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_fields() {
        let limit = Limit {
            quota: 1200,
            window: Duration::from_secs(60),
        };
        let decision = Decision {
            allowed: true,
            remaining: 1199,
            reset: Duration::from_millis(50),
            retry_after: Duration::ZERO,
        };
        assert_eq!(
            fields(Class::Writes, &limit, &decision),
            (
                "\"writes\";q=1200;w=60".to_owned(),
                "\"writes\";r=1199;t=1".to_owned()
            )
        );
    }

    #[tokio::test]
    async fn refuses_with_a_problem_and_retry_after() {
        let limit = Limit {
            quota: 2,
            window: Duration::from_secs(10),
        };
        let limiter = RateLimiter::new(Policies::off().with(Class::Chat, Some(limit)), 100, None);
        let subject = Subject::User(uuid::Uuid::nil());
        let path = "/api/v1/chat/sessions/x/messages";
        assert!(
            limiter
                .refusal(&Method::POST, path, subject)
                .await
                .is_none()
        );
        assert!(
            limiter
                .refusal(&Method::POST, path, subject)
                .await
                .is_none()
        );
        let refused = limiter
            .refusal(&Method::POST, path, subject)
            .await
            .expect("refused");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = refused.headers();
        assert_eq!(headers["retry-after"], "5");
        assert_eq!(headers["ratelimit-policy"], "\"chat\";q=2;w=10");
        assert_eq!(headers["ratelimit"], "\"chat\";r=0;t=10");
        assert_eq!(headers["content-type"], "application/problem+json");
        // Reads are not limited here; nor are the health checks ever.
        assert!(limiter.refusal(&Method::GET, path, subject).await.is_none());
        assert!(Class::of(&Method::GET, "/healthz").is_none());
    }

    #[tokio::test]
    async fn falls_back_when_redis_is_unreachable() {
        // Nothing listens on port 1: every shared check fails at once and is made locally.
        let shared = SharedLimiter::new("redis://:secret@127.0.0.1:1", Duration::from_millis(50))
            .expect("url");
        assert_eq!(shared.host(), "127.0.0.1:1");
        let limit = Limit {
            quota: 1,
            window: Duration::from_secs(60),
        };
        let limiter = RateLimiter::new(
            Policies::off().with(Class::Reads, Some(limit)),
            100,
            Some(shared),
        );
        let subject = Subject::Address(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let before = fallbacks();
        let started = Instant::now();
        let (_, first) = limiter.check(Class::Reads, subject).await.expect("limited");
        let (_, second) = limiter.check(Class::Reads, subject).await.expect("limited");
        assert!(first.allowed && !second.allowed);
        assert!(fallbacks() >= before + 2);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
