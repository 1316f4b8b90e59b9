//! Subscription tiers: which one is in force for a user, and changing it (admin API and CLI).
//!
//! A premium subscription with an end date in the past counts as free: the stored tier is
//! history, the effective tier is what gates features ([`effective`]).

use chrono::{DateTime, Utc};
use serde_json::json;
use thiserror::Error;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::db::{Database, DbError};

/// A subscription tier (`subscription_tiers.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The free tier.
    Free,
    /// The premium tier.
    Premium,
}

impl Tier {
    /// Its name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Premium => "premium",
        }
    }

    /// The tier with this name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "free" => Some(Self::Free),
            "premium" => Some(Self::Premium),
            _ => None,
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tier in force at `now` for a stored tier and end date.
pub fn effective(stored: &str, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Tier {
    match Tier::parse(stored) {
        Some(Tier::Premium) if expires_at.is_none_or(|end| end > now) => Tier::Premium,
        _ => Tier::Free,
    }
}

/// Why a subscription could not be changed.
#[derive(Debug, Error)]
pub enum TierError {
    /// No live user has this id.
    #[error("no such user")]
    UnknownUser,
    /// A free subscription cannot have an end date.
    #[error("a free subscription has no end date")]
    FreeWithExpiry,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Sets a user's tier and its end (`None`: no end), and audits the change.
///
/// # Errors
/// [`TierError`].
pub async fn set_subscription(
    db: &Database,
    actor: &Actor,
    user_id: Uuid,
    tier: Tier,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), TierError> {
    if tier == Tier::Free && expires_at.is_some() {
        return Err(TierError::FreeWithExpiry);
    }
    if !db
        .set_subscription(user_id, tier.as_str(), expires_at)
        .await?
    {
        return Err(TierError::UnknownUser);
    }
    audit::record(
        db,
        actor,
        "user.set_subscription",
        &user_id.to_string(),
        json!({
            "tier": tier.as_str(),
            "expires_at": expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }),
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_premium_is_free() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(effective("premium", None, now), Tier::Premium);
        assert_eq!(effective("premium", Some(now + hour), now), Tier::Premium);
        assert_eq!(effective("premium", Some(now - hour), now), Tier::Free);
        assert_eq!(effective("free", None, now), Tier::Free);
        assert_eq!(effective("gold", None, now), Tier::Free);
        assert_eq!(Tier::parse("premium"), Some(Tier::Premium));
        assert_eq!(Tier::parse("Premium"), None);
    }
}
