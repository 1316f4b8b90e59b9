//! The sync scheduler's request budgets, shared by every replica through the database.
//!
//! - **A connection's budget**: the adapter declares `requests-per-minute`, at most that
//!   many `fetch` calls for one user per UTC minute. The scheduler admits each `fetch`
//!   under the connection's budget first; when the minute's budget is spent the sync stops
//!   and the connection is due again at the next minute (a deferral: not a failure, no
//!   back-off; the sync resumes from the last window stored).
//! - **A provider's budget**: the operator may set `MINDFLOW_WEARABLE_<ID>_REQUESTS_PER_MINUTE`,
//!   at most that many outbound requests to the provider's API per UTC minute over all
//!   users and all replicas (real providers limit an application: Oura per five minutes,
//!   Google per project). Each request a `fetch` makes is admitted first ([`ProviderGate`]);
//!   one beyond the budget never leaves the host: the adapter gets `429` with `Retry-After`
//!   (the seconds to the next minute), answers `rate-limited`, and the connection is
//!   deferred, as for the provider's own 429.
//!
//! A budget is one row per key and minute (`wearable_request_budgets`), admitted by one
//! atomic upsert that counts only while under the limit, so concurrent syncs on several
//! replicas never admit more than the limit in a minute. Rows of past minutes are removed.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::oauth;
use crate::db::{Database, DbError};
use crate::runtime::adapter::RequestGate;

/// The most days an operator's backfill override may reach back (ten years).
pub const MAX_BACKFILL_DAYS: u32 = 3650;

/// The provider setting of the operator's budget (`MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE`).
const PROVIDER_BUDGET: &str = "REQUESTS_PER_MINUTE";
/// The provider setting of the operator's backfill (`MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS`).
const BACKFILL: &str = "BACKFILL_DAYS";

/// The UTC minute of `at` (minutes since 1970-01-01).
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// The start of the UTC minute after `at`'s.
pub fn next_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp((minute_of(at) + 1) * 60, 0)
        .unwrap_or(at + chrono::Duration::seconds(60))
}

/// Whether a unit was admitted, or when the budget has room again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Admitted,
    /// The minute's budget is spent: not before this.
    Until(DateTime<Utc>),
}

/// The budget key of a connection's `fetch` calls.
pub fn connection_key(connection: Uuid) -> String {
    format!("connection:{connection}")
}

/// The budget key of a provider's outbound requests.
pub fn provider_key(provider: &str) -> String {
    format!("provider:{provider}")
}

/// Admits one unit under `key` at `now`, at most `limit` per UTC minute (`0`: no budget).
///
/// # Errors
/// [`DbError`].
pub async fn admit(
    db: &Database,
    key: &str,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Admission, DbError> {
    if limit == 0 {
        return Ok(Admission::Admitted);
    }
    if db
        .admit_wearable_budget(key, minute_of(now), i64::from(limit))
        .await?
    {
        Ok(Admission::Admitted)
    } else {
        Ok(Admission::Until(next_minute(now)))
    }
}

fn parse_budget(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not a whole number from 1")),
    }
}

fn parse_backfill(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_BACKFILL_DAYS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a whole number of days from 1 to {MAX_BACKFILL_DAYS}"
        )),
    }
}

/// The operator's budget of requests per minute to `provider`'s API over all users, if set.
pub fn provider_limit(provider: &str) -> Option<u32> {
    oauth::setting(provider, PROVIDER_BUDGET).and_then(|text| parse_budget(&text).ok())
}

/// How far back a first sync of `provider` reaches: the operator's override if set, else
/// what the adapter declared.
pub fn backfill_days(provider: &str, declared: u32) -> u32 {
    oauth::setting(provider, BACKFILL)
        .and_then(|text| parse_backfill(&text).ok())
        .unwrap_or(declared)
}

/// Checks every `MINDFLOW_WEARABLE_<ID>_REQUESTS_PER_MINUTE` and `…_BACKFILL_DAYS` among
/// `vars`, so a typo stops the server at start rather than being ignored.
///
/// # Errors
/// The first malformed setting, named.
pub fn check_settings(vars: impl IntoIterator<Item = (String, String)>) -> Result<(), String> {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("MINDFLOW_WEARABLE_") else {
            continue;
        };
        let checked = if rest.ends_with(&format!("_{PROVIDER_BUDGET}")) {
            parse_budget(&value).map(drop)
        } else if rest.ends_with(&format!("_{BACKFILL}")) {
            parse_backfill(&value).map(drop)
        } else {
            Ok(())
        };
        checked.map_err(|message| format!("{name}: {message}"))?;
    }
    Ok(())
}

/// Admits a `fetch`'s requests under a provider's budget; remembers a refusal, so the
/// scheduler defers the connection whatever the adapter made of the `429`.
pub struct ProviderGate {
    db: Database,
    key: String,
    limit: u32,
    refused_until: Mutex<Option<DateTime<Utc>>>,
}

/// How long to hold off when the budget cannot be read (the database failed).
const UNREADABLE_BUDGET_SECONDS: u32 = 5;

impl ProviderGate {
    /// A gate for `provider`'s budget of `limit` requests per minute.
    pub fn new(db: Database, provider: &str, limit: u32) -> Self {
        Self {
            db,
            key: provider_key(provider),
            limit,
            refused_until: Mutex::new(None),
        }
    }

    /// When the budget has room again, if a request was refused.
    pub fn refused_until(&self) -> Option<DateTime<Utc>> {
        *self
            .refused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits one request at `now`.
    ///
    /// # Errors
    /// The seconds to wait when the budget is spent (or cannot be read).
    pub async fn admit_at(&self, now: DateTime<Utc>) -> Result<(), u32> {
        let until = match admit(&self.db, &self.key, self.limit, now).await {
            Ok(Admission::Admitted) => return Ok(()),
            Ok(Admission::Until(at)) => at,
            Err(error) => {
                // Unknown room: hold off rather than overrun the provider.
                tracing::warn!(%error, "wearable sync: cannot read the provider's budget");
                now + chrono::Duration::seconds(i64::from(UNREADABLE_BUDGET_SECONDS))
            }
        };
        *self
            .refused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(until);
        let millis = (until - now).num_milliseconds().max(1);
        Err(u32::try_from((millis + 999) / 1000).unwrap_or(u32::MAX))
    }
}

impl RequestGate for ProviderGate {
    fn admit(self: Arc<Self>) -> std::pin::Pin<Box<dyn Future<Output = Result<(), u32>> + Send>> {
        Box::pin(async move { self.admit_at(Utc::now()).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn minutes_are_utc_minutes() {
        let t = at("2026-12-05T14:03:59.900Z");
        assert_eq!(minute_of(t), minute_of(at("2026-12-05T14:03:00Z")));
        assert_eq!(minute_of(t) + 1, minute_of(at("2026-12-05T14:04:00Z")));
        assert_eq!(next_minute(t), at("2026-12-05T14:04:00Z"));
        assert_eq!(
            next_minute(at("2026-12-05T14:04:00Z")),
            at("2026-12-05T14:05:00Z")
        );
    }

    #[test]
    fn settings_are_checked() {
        let vars = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
        for (name, value) in [
            ("MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE", "1000"),
            ("MINDFLOW_WEARABLE_GOOGLE_HEALTH_BACKFILL_DAYS", "365"),
            ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "3650"),
            (
                "MINDFLOW_WEARABLE_SYNC_TICK_MS",
                "nonsense-for-clap-to-judge",
            ),
            ("PATH", "/bin"),
        ] {
            assert_eq!(check_settings(vars(name, value)), Ok(()), "{name}={value}");
        }
        for (name, value) in [
            ("MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE", "0"),
            ("MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE", "ten"),
            ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "3651"),
            ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "0"),
            ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "-3"),
        ] {
            let refused = check_settings(vars(name, value)).expect_err(value);
            assert!(refused.starts_with(name), "{refused}");
        }
    }

    /// The budget's rules on one database, on an injected clock.
    async fn budgets_hold(db: &Database) {
        let key = connection_key(Uuid::new_v4());
        let other = provider_key("oura");
        let t0 = at("2026-12-05T14:03:10Z");
        // Three per minute: three admitted, the fourth deferred to the next minute.
        for second in [0, 20, 40] {
            let now = t0 + chrono::Duration::seconds(second);
            assert_eq!(
                admit(db, &key, 3, now).await.expect("admit"),
                Admission::Admitted
            );
        }
        let late = at("2026-12-05T14:03:59Z");
        assert_eq!(
            admit(db, &key, 3, late).await.expect("admit"),
            Admission::Until(at("2026-12-05T14:04:00Z"))
        );
        // A refusal counts nothing.
        assert_eq!(
            db.wearable_budget_used(&key, minute_of(late))
                .await
                .expect("used"),
            3
        );
        // Another key has its own budget; no budget admits everything.
        assert_eq!(
            admit(db, &other, 1, late).await.expect("admit"),
            Admission::Admitted
        );
        for _ in 0..10 {
            assert_eq!(
                admit(db, &key, 0, late).await.expect("admit"),
                Admission::Admitted
            );
        }
        // The next minute has the whole budget again.
        let next = at("2026-12-05T14:04:00Z");
        for _ in 0..3 {
            assert_eq!(
                admit(db, &key, 3, next).await.expect("admit"),
                Admission::Admitted
            );
        }
        assert!(matches!(
            admit(db, &key, 3, next).await.expect("admit"),
            Admission::Until(_)
        ));
        // Concurrent admissions never pass the limit.
        let burst = at("2026-12-05T14:10:00Z");
        let tries = (0..40).map(|_| admit(db, &other, 7, burst));
        let admitted = futures::future::join_all(tries)
            .await
            .into_iter()
            .filter(|a| matches!(a, Ok(Admission::Admitted)))
            .count();
        assert_eq!(admitted, 7);
        // Past minutes are forgotten; the current one is kept.
        db.forget_wearable_budgets(minute_of(burst))
            .await
            .expect("forget");
        assert_eq!(
            db.wearable_budget_used(&key, minute_of(next))
                .await
                .expect("used"),
            0
        );
        assert_eq!(
            db.wearable_budget_used(&other, minute_of(burst))
                .await
                .expect("used"),
            7
        );
        // The provider gate answers the seconds to the next minute and remembers it.
        let gate = ProviderGate::new(db.clone(), "garmin", 2);
        let t = at("2026-12-05T14:20:45.500Z");
        assert_eq!(gate.admit_at(t).await, Ok(()));
        assert_eq!(gate.admit_at(t).await, Ok(()));
        assert_eq!(gate.refused_until(), None);
        assert_eq!(gate.admit_at(t).await, Err(15));
        assert_eq!(gate.refused_until(), Some(at("2026-12-05T14:21:00Z")));
    }

    #[tokio::test]
    async fn budgets_are_per_key_and_minute_and_shared() {
        let (db, _dir) = crate::db::testing::sqlite().await;
        budgets_hold(&db).await;
        // And on PostgreSQL when `MINDFLOW_TEST_DATABASE_URL` names a server.
        if let Some((db, _url)) = crate::db::testing::postgres().await {
            budgets_hold(&db).await;
        }
    }
}
