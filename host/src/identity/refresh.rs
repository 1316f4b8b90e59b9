//! Refresh-token rotation rules.
//!
//! A login starts a *family*. Each refresh marks the presented token rotated (pointing at its
//! replacement) and issues a new token in the same family. A token that was already rotated
//! and is presented again was copied: the thief or the owner holds a newer one, and the server
//! cannot tell which is which, so the whole family is revoked (reuse detection).

use chrono::{DateTime, Duration, Utc};

use crate::db::auth::RefreshTokenRecord;

/// How long a refresh token lives (each rotation issues a token with a fresh lifetime).
pub const REFRESH_TTL_DAYS: i64 = 30;

/// The expiry of a token issued at `now`.
pub fn expiry_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(REFRESH_TTL_DAYS)
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: rotate it and issue a new one in the same family.
    Rotate,
    /// Already rotated: a copy is in use; revoke the whole family and refuse.
    Reused,
    /// Revoked (logout, password reset, reuse detected earlier): refuse.
    Revoked,
    /// Past its expiry: refuse.
    Expired,
}

/// Judges a stored token presented at `now`. Revocation wins over everything (a revoked
/// family stays revoked and needs no further action); then reuse; then expiry.
pub fn assess(token: &RefreshTokenRecord, now: DateTime<Utc>) -> Verdict {
    if token.revoked_at.is_some() {
        Verdict::Revoked
    } else if token.rotated_at.is_some() {
        Verdict::Reused
    } else if token.expires_at <= now {
        Verdict::Expired
    } else {
        Verdict::Rotate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn record(now: DateTime<Utc>) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            family_id: Uuid::new_v4(),
            expires_at: expiry_from(now),
            rotated_at: None,
            revoked_at: None,
            session_epoch: 0,
            authenticated_at: None,
        }
    }

    #[test]
    fn a_fresh_token_rotates() {
        let now = Utc::now();
        assert_eq!(assess(&record(now), now), Verdict::Rotate);
        assert_eq!(
            assess(&record(now), now + Duration::days(REFRESH_TTL_DAYS - 1)),
            Verdict::Rotate
        );
    }

    #[test]
    fn a_rotated_token_presented_again_is_reuse() {
        let now = Utc::now();
        let token = RefreshTokenRecord {
            rotated_at: Some(now),
            ..record(now)
        };
        assert_eq!(assess(&token, now + Duration::seconds(1)), Verdict::Reused);
        // Even after expiry, presenting a rotated token is still reuse.
        assert_eq!(
            assess(&token, now + Duration::days(REFRESH_TTL_DAYS + 1)),
            Verdict::Reused
        );
    }

    #[test]
    fn revoked_beats_rotated_and_expired() {
        let now = Utc::now();
        let token = RefreshTokenRecord {
            rotated_at: Some(now),
            revoked_at: Some(now),
            expires_at: now - Duration::days(1),
            ..record(now)
        };
        assert_eq!(assess(&token, now), Verdict::Revoked);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let now = Utc::now();
        let token = record(now - Duration::days(REFRESH_TTL_DAYS));
        assert_eq!(assess(&token, now), Verdict::Expired);
        assert_eq!(assess(&token, token.expires_at), Verdict::Expired);
    }
}
