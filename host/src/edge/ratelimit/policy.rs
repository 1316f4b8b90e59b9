//! Route classes and their limits: which class a request falls in, whom it is counted
//! against, and how many requests of the class one key may make per window.
//!
//! A limit is written `QUOTA/WINDOW` (`6000/60s`, `60/1m`, `10/1h`; a bare number of
//! seconds is allowed: `30/60`) or `off`.

use std::fmt;
use std::time::Duration;

use axum::http::Method;

/// A class of routes sharing one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `/api/v1/auth/*`: always per client address (nobody is signed in yet).
    Auth,
    /// POST, PUT, PATCH, DELETE elsewhere.
    Writes,
    /// GET, HEAD (and anything else that changes nothing).
    Reads,
    /// Changes under `/api/v1/chat` (a message costs a model call).
    Chat,
    /// `POST /api/v1/admin/components/{name}/versions` (a compile each).
    Uploads,
}

impl Class {
    /// Every class, in a fixed order (the index of [`Policies`]' table).
    pub const ALL: [Class; 5] = [
        Class::Auth,
        Class::Writes,
        Class::Reads,
        Class::Chat,
        Class::Uploads,
    ];

    /// The name the `RateLimit` headers and the shared store use.
    pub fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Writes => "writes",
            Class::Reads => "reads",
            Class::Chat => "chat",
            Class::Uploads => "uploads",
        }
    }

    fn index(self) -> usize {
        match self {
            Class::Auth => 0,
            Class::Writes => 1,
            Class::Reads => 2,
            Class::Chat => 3,
            Class::Uploads => 4,
        }
    }

    /// The class of a request, or `None` for what is never limited (the health checks,
    /// which orchestrators poll and which must answer while everything else is busy).
    pub fn of(method: &Method, path: &str) -> Option<Class> {
        if path == "/healthz" || path == "/readyz" {
            return None;
        }
        let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if path.starts_with("/api/v1/auth/") {
            return Some(Class::Auth);
        }
        if changes && is_upload(path) {
            return Some(Class::Uploads);
        }
        if changes && (path == "/api/v1/chat" || path.starts_with("/api/v1/chat/")) {
            return Some(Class::Chat);
        }
        Some(if changes { Class::Writes } else { Class::Reads })
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `/api/v1/admin/components/{name}/versions` and `/api/v1/wearables/upload/{provider}`.
fn is_upload(path: &str) -> bool {
    let component = path
        .strip_prefix("/api/v1/admin/components/")
        .and_then(|rest| rest.strip_suffix("/versions"));
    let wearable = path.strip_prefix("/api/v1/wearables/upload/");
    component
        .or(wearable)
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// How many requests one key may make per window. The limiter lets a key spend the whole
/// quota at once and then earns it back evenly (one request every `window / quota`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests per window (at least 1).
    pub quota: u32,
    /// The window (at least one second).
    pub window: Duration,
}

impl Limit {
    /// The time one request costs: `window / quota`.
    pub fn interval(&self) -> Duration {
        self.window / self.quota.max(1)
    }

    /// The window in whole seconds, as the `w` parameter says it.
    pub fn window_seconds(&self) -> u64 {
        self.window.as_secs().max(1)
    }
}

/// Why a limit could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit `{text}`: {reason} (expected QUOTA/WINDOW such as `60/1m` or `off`)")]
pub struct LimitError {
    text: String,
    reason: &'static str,
}

/// Reads `QUOTA/WINDOW` (`None` for `off`).
///
/// # Errors
/// [`LimitError`] naming the text.
pub fn parse_limit(text: &str) -> Result<Option<Limit>, LimitError> {
    let fail = |reason| LimitError {
        text: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (quota, window) = trimmed.split_once('/').ok_or_else(|| fail("no `/`"))?;
    let quota: u32 = quota
        .trim()
        .parse()
        .ok()
        .filter(|q| *q > 0)
        .ok_or_else(|| fail("the quota is not a positive whole number"))?;
    let window = window.trim();
    let digits_end = window
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(window.len());
    let (number, unit) = window.split_at(digits_end);
    let number: u64 = if number.is_empty() && !unit.is_empty() {
        1
    } else {
        number
            .parse()
            .map_err(|_| fail("the window is not a whole number"))?
    };
    let seconds = match unit.trim() {
        "" | "s" => number,
        "m" | "min" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        _ => return Err(fail("the window's unit is not s, m or h")),
    };
    if seconds == 0 || seconds > 86_400 {
        return Err(fail("the window must be between 1 s and 24 h"));
    }
    Ok(Some(Limit {
        quota,
        window: Duration::from_secs(seconds),
    }))
}

/// The limit of every class (`None`: that class is not limited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    limits: [Option<Limit>; 5],
}

impl Policies {
    /// No class limited.
    pub fn off() -> Self {
        Self { limits: [None; 5] }
    }

    /// Sets `class`'s limit.
    #[must_use]
    pub fn with(mut self, class: Class, limit: Option<Limit>) -> Self {
        self.limits[class.index()] = limit;
        self
    }

    /// `class`'s limit.
    pub fn limit(&self, class: Class) -> Option<Limit> {
        self.limits[class.index()]
    }

    /// Whether any class is limited.
    pub fn any(&self) -> bool {
        self.limits.iter().any(Option::is_some)
    }
}

/// Whom a request is counted against: the signed-in user, else the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The user a verified access token names.
    User(uuid::Uuid),
    /// The client's address (behind trusted proxies, the one they report).
    Address(std::net::IpAddr),
}

impl fmt::Display for Subject {
    /// `u:UUID` or `a:ADDRESS`: the shared store's key part (never written to a log).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(id) => write!(f, "u:{}", id.simple()),
            Subject::Address(address) => write!(f, "a:{address}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limits() {
        let limit = |text| parse_limit(text).expect(text);
        assert_eq!(
            limit("6000/60s"),
            Some(Limit {
                quota: 6000,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(limit("60/1m"), limit("60/60"));
        assert_eq!(limit("60/m"), limit("60/60s"));
        assert_eq!(
            limit("10/1h").map(|l| l.window),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(limit(" OFF "), None);
        for bad in [
            "", "60", "0/60s", "-1/60s", "60/0s", "60/1d", "x/60s", "60/2x", "60/48h",
        ] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(
            limit("1200/60s").map(|l| l.interval()),
            Some(Duration::from_millis(50))
        );
    }

    #[test]
    fn classifies_routes() {
        let of = |method: Method, path| Class::of(&method, path);
        assert_eq!(of(Method::GET, "/healthz"), None);
        assert_eq!(of(Method::GET, "/readyz"), None);
        assert_eq!(of(Method::POST, "/api/v1/auth/login"), Some(Class::Auth));
        assert_eq!(
            of(Method::DELETE, "/api/v1/auth/account"),
            Some(Class::Auth)
        );
        assert_eq!(of(Method::GET, "/api/v1/mood"), Some(Class::Reads));
        assert_eq!(of(Method::HEAD, "/api/v1/mood"), Some(Class::Reads));
        assert_eq!(of(Method::POST, "/api/v1/mood"), Some(Class::Writes));
        assert_eq!(of(Method::PATCH, "/api/v1/users/me"), Some(Class::Writes));
        assert_eq!(
            of(Method::POST, "/api/v1/chat/sessions/x/messages"),
            Some(Class::Chat)
        );
        assert_eq!(of(Method::GET, "/api/v1/chat/sessions"), Some(Class::Reads));
        assert_eq!(of(Method::POST, "/api/v1/chatter"), Some(Class::Writes));
        assert_eq!(
            of(Method::POST, "/api/v1/admin/components/mood/versions"),
            Some(Class::Uploads)
        );
        assert_eq!(
            of(Method::POST, "/api/v1/admin/components/mood/activate"),
            Some(Class::Writes)
        );
        assert_eq!(
            of(Method::GET, "/api/v1/admin/components/mood/versions"),
            Some(Class::Reads)
        );
    }

    #[test]
    fn policies_hold_a_limit_per_class() {
        let limit = parse_limit("5/1s").expect("limit");
        let policies = Policies::off().with(Class::Chat, limit);
        assert!(policies.any());
        assert_eq!(policies.limit(Class::Chat), limit);
        assert_eq!(policies.limit(Class::Reads), None);
        assert!(!Policies::off().any());
    }
}
