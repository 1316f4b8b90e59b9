//! Per-tier daily limits on language-model use, checked before a call, and the usage record
//! written after every call (answered, filtered or failed) into `llm_usage`.
//!
//! A day is a UTC calendar day: the limits reset at midnight UTC, and a refused call is told
//! to retry then. Two calls of one user checked at the same instant may both pass the last
//! free slot (the check and the record are not one transaction): a limit can be exceeded by
//! the calls in flight, never by more.

use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use uuid::Uuid;

use super::error::LlmError;
use crate::db::Database;
use crate::db::llm_usage::{LlmUsage, UsageTotals};
use crate::tiers::Tier;

/// One tier's daily allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLimits {
    /// Calls that answered.
    pub messages_per_day: u64,
    /// Prompt and completion tokens of every call.
    pub tokens_per_day: u64,
}

/// The allowance of each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The free tier's.
    pub free: TierLimits,
    /// The premium tier's.
    pub premium: TierLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            free: TierLimits {
                messages_per_day: 50,
                tokens_per_day: 50_000,
            },
            premium: TierLimits {
                messages_per_day: 500,
                tokens_per_day: 500_000,
            },
        }
    }
}

/// How a recorded call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, and the answer passed screening.
    Ok,
    /// Answered, and the answer was replaced by the guardrails.
    Filtered,
    /// Failed (the provider, the network, the local model).
    Error,
}

impl Outcome {
    /// Its name in `llm_usage.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Filtered => "filtered",
            Self::Error => "error",
        }
    }
}

/// The start of `now`'s UTC day and the time left until the next one.
fn day(now: DateTime<Utc>) -> (DateTime<Utc>, Duration) {
    let start = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |midnight| midnight.and_utc());
    let next = start.checked_add_days(Days::new(1)).unwrap_or(now);
    let left = (next - now).to_std().unwrap_or(Duration::ZERO);
    (start, left)
}

/// Whether `used` leaves room for another call under `limits`; if not, the seconds until
/// the allowance resets.
///
/// # Errors
/// [`LlmError::QuotaExceeded`].
pub fn judge(used: UsageTotals, limits: TierLimits, now: DateTime<Utc>) -> Result<(), LlmError> {
    if used.messages < limits.messages_per_day && used.tokens < limits.tokens_per_day {
        return Ok(());
    }
    let (_, left) = day(now);
    // Round up: retrying a second early would be refused again.
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Err(LlmError::QuotaExceeded {
        retry_after_seconds: u32::try_from(seconds.max(1)).unwrap_or(u32::MAX),
    })
}

impl Limits {
    /// The allowance of `tier`.
    pub fn of(&self, tier: Tier) -> TierLimits {
        match tier {
            Tier::Free => self.free,
            Tier::Premium => self.premium,
        }
    }

    /// Checks that `user` (of `tier`) may make another call today.
    ///
    /// # Errors
    /// [`LlmError::QuotaExceeded`] past the allowance; [`LlmError::Unavailable`] when the usage
    /// cannot be read (the call is refused: limits fail closed).
    pub async fn check(&self, db: &Database, user: Uuid, tier: Tier) -> Result<(), LlmError> {
        let now = Utc::now();
        let (start, _) = day(now);
        let used = db.llm_usage_since(user, start).await.map_err(|error| {
            tracing::error!(%error, "cannot read llm usage");
            LlmError::Unavailable("usage cannot be checked now".into())
        })?;
        judge(used, self.of(tier), now)
    }
}

/// Records one call; a failure to record is logged, never the caller's failure.
pub async fn record(db: &Database, usage: LlmUsage) {
    let metrics = crate::metrics::global();
    let provider = usage.provider.as_str();
    metrics.llm_calls.inc(&[provider, usage.outcome]);
    metrics
        .llm_tokens
        .add(&[provider, "prompt"], u64::from(usage.prompt_tokens));
    metrics.llm_tokens.add(
        &[provider, "completion"],
        u64::from(usage.completion_tokens),
    );
    metrics
        .llm_duration
        .observe(&[provider], f64::from(usage.response_time_ms) / 1000.0);
    if let Err(error) = db.record_llm_usage(&usage).await {
        tracing::error!(%error, user = %usage.user_id, "cannot record llm usage");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn limits_reset_at_midnight_utc() {
        let limits = TierLimits {
            messages_per_day: 2,
            tokens_per_day: 100,
        };
        let now = at("2026-12-05T23:59:58.5Z");
        assert!(
            judge(
                UsageTotals {
                    messages: 1,
                    tokens: 99
                },
                limits,
                now
            )
            .is_ok()
        );
        let refused = judge(
            UsageTotals {
                messages: 2,
                tokens: 0,
            },
            limits,
            now,
        );
        assert!(
            matches!(
                refused,
                Err(LlmError::QuotaExceeded {
                    retry_after_seconds: 2
                })
            ),
            "{refused:?}"
        );
        let refused = judge(
            UsageTotals {
                messages: 0,
                tokens: 100,
            },
            limits,
            at("2026-12-05T00:00:00Z"),
        );
        assert!(matches!(
            refused,
            Err(LlmError::QuotaExceeded {
                retry_after_seconds: 86_400
            })
        ));
    }

    #[tokio::test]
    async fn usage_is_counted_per_user_and_day() {
        let (db, _dir) = crate::db::testing::sqlite().await;
        usage_counts(&db).await;
        // And on PostgreSQL when `MINDFLOW_TEST_DATABASE_URL` names a server.
        if let Some((db, _url)) = crate::db::testing::postgres().await {
            usage_counts(&db).await;
        }
    }

    async fn usage_counts(db: &Database) {
        let user = db
            .create_user(
                "llm-usage@example.com",
                "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
                None,
            )
            .await
            .expect("user")
            .id;
        let limits = Limits {
            free: TierLimits {
                messages_per_day: 2,
                tokens_per_day: 1_000,
            },
            ..Limits::default()
        };
        let row = |outcome: Outcome, at: DateTime<Utc>| LlmUsage {
            user_id: user,
            at,
            provider: "openai".into(),
            model: "m".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            response_time_ms: 7,
            outcome: outcome.as_str(),
        };
        let now = Utc::now();
        record(db, row(Outcome::Ok, now - chrono::Duration::days(1))).await;
        record(db, row(Outcome::Error, now)).await;
        record(db, row(Outcome::Filtered, now)).await;
        assert!(
            limits.check(db, user, Tier::Free).await.is_ok(),
            "yesterday's and failed calls do not count as messages"
        );
        let (start, _) = day(now);
        assert_eq!(
            db.llm_usage_since(user, start).await.unwrap(),
            UsageTotals {
                messages: 1,
                tokens: 30
            }
        );
        record(db, row(Outcome::Ok, now)).await;
        assert!(matches!(
            limits.check(db, user, Tier::Free).await,
            Err(LlmError::QuotaExceeded { .. })
        ));
        assert!(limits.check(db, user, Tier::Premium).await.is_ok());
    }
}
