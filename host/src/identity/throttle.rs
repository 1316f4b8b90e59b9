//! Login throttling: which keys an attempt counts under, and how many recent failures each
//! may have before further attempts wait.
//!
//! The rules are built so that nobody else can lock a person out of their account (issue
//! 18, finding 2):
//! - **A known device** (one that presents a valid device token for the account, see
//!   [`super::tokens::TokenKeys::issue_device`]) counts only its own failures: five in
//!   [`WINDOW_MINUTES`], then it waits. Guesses from anywhere else never slow it down, and
//!   neither does a crowded address.
//! - **Any other client** counts under three keys:
//!   - the account *and* its address ([`pair_key`]): five failures, then that pair waits, so
//!     a guesser is stopped hard without stopping the owner somewhere else;
//!   - the account, across addresses ([`account_key`]): the first [`ACCOUNT_FREE`] failures
//!     are free, after that each attempt waits twice as long as the one before (from one
//!     second up to [`BACKOFF_CAP_SECONDS`]) after the newest failure: a guesser with many
//!     addresses is slowed exponentially, but the account is never locked;
//!   - the address, across accounts ([`ip_key`]): [`IP_LIMIT`] failures (password spraying
//!     from one address).
//! - A valid refresh token never goes through the throttle at all.
//!
//! Attempts are recorded in `login_attempts` (shared by every replica) under these keys. An
//! account appears only as the SHA-256 of its normalised email (the address itself is never
//! stored there), and IPv6 addresses are grouped by /64, which one client usually holds whole.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The window fixed-limit failures are counted in.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures a device, or an account at one address, may have in the window.
pub const ATTEMPT_LIMIT: usize = 5;
/// Failures a client address may have in the window, across accounts.
pub const IP_LIMIT: usize = 20;
/// The window an account's failures across addresses are counted in.
pub const BACKOFF_WINDOW_MINUTES: i64 = 60;
/// Failures an account may have across addresses before attempts from unknown devices wait.
pub const ACCOUNT_FREE: usize = 10;
/// The longest wait between two attempts at an account from unknown devices.
pub const BACKOFF_CAP_SECONDS: u64 = 15 * 60;
/// Registrations one client address may start in [`WINDOW_MINUTES`], by default
/// (`--registrations-per-address`): each costs a password hash and a mail.
pub const REGISTRATION_LIMIT: usize = 10;
/// Attempts older than this are pruned.
pub const RETENTION_MINUTES: i64 = 120;

/// How a key's recent failures decide whether the next attempt waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At most `limit` failures in [`WINDOW_MINUTES`].
    Window {
        /// Failures allowed in the window.
        limit: usize,
    },
    /// [`ACCOUNT_FREE`] failures in [`BACKOFF_WINDOW_MINUTES`] are free; after that, the wait
    /// after the newest failure doubles with each failure, up to [`BACKOFF_CAP_SECONDS`].
    Backoff,
}

impl Rule {
    /// The start of the window failures are counted in.
    pub fn window_start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Window { .. } => now - Duration::minutes(WINDOW_MINUTES),
            Self::Backoff => now - Duration::minutes(BACKOFF_WINDOW_MINUTES),
        }
    }

    /// The most failures worth reading to decide (more never changes the answer).
    pub fn failures_needed(self, pending: usize) -> usize {
        pending
            + match self {
                Self::Window { limit } => limit,
                // 2^20 seconds is far past the cap.
                Self::Backoff => ACCOUNT_FREE + 20,
            }
    }

    /// Seconds until one more attempt is allowed, given the failures counted in the window
    /// (ascending time order), of which the newest `pending` are attempts in flight (this
    /// one's own among them); `None` if an attempt is allowed now. At least 1.
    pub fn retry_after(
        self,
        failures: &[DateTime<Utc>],
        pending: usize,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let settled = &failures[..failures.len().saturating_sub(pending)];
        let at = match self {
            Self::Window { limit } => {
                let limit = limit + pending.min(failures.len());
                if failures.len() < limit {
                    return None;
                }
                // Allowed once the count drops below `limit`, i.e. when the
                // (len - limit + 1)-th oldest failure leaves the window.
                failures[failures.len() - limit] + Duration::minutes(WINDOW_MINUTES)
            }
            Self::Backoff => {
                // Failures in flight count towards the wait, so a burst of parallel guesses
                // cannot all pass; the wait runs from the newest settled failure.
                let counted = failures.len().saturating_sub(pending.min(1));
                let newest = settled.last().or(failures.first())?;
                if counted < ACCOUNT_FREE {
                    return None;
                }
                let doublings = u32::try_from(counted - ACCOUNT_FREE).unwrap_or(u32::MAX);
                let wait = 1u64
                    .checked_shl(doublings)
                    .unwrap_or(u64::MAX)
                    .min(BACKOFF_CAP_SECONDS);
                *newest + Duration::seconds(i64::try_from(wait).unwrap_or(i64::MAX))
            }
        };
        let seconds = ((at - now).num_milliseconds() + 999).div_euclid(1000);
        (seconds > 0).then(|| u64::try_from(seconds).unwrap_or(1).max(1))
    }
}

/// One key an attempt is counted under, with its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    /// The key in `login_attempts`.
    pub key: String,
    /// How its failures are judged.
    pub rule: Rule,
    /// Whether a success under the key clears the failures before it (an address's do not:
    /// a sprayer with one account of its own must not reset its address's count).
    pub cleared_by_success: bool,
}

/// The keys an attempt at the account of `normalised_email` counts under: a known device's
/// own key when `device` (the id of a valid device token for this account) is given,
/// otherwise the account-and-address pair, the account and the address.
pub fn attempt_keys(
    normalised_email: &str,
    ip: Option<IpAddr>,
    device: Option<Uuid>,
) -> Vec<AttemptKey> {
    if let Some(device) = device {
        return vec![AttemptKey {
            key: device_key(device),
            rule: Rule::Window {
                limit: ATTEMPT_LIMIT,
            },
            cleared_by_success: true,
        }];
    }
    let account = account_key(normalised_email);
    let mut keys = Vec::with_capacity(3);
    if let Some(ip) = ip {
        keys.push(AttemptKey {
            key: pair_key(&account, ip),
            rule: Rule::Window {
                limit: ATTEMPT_LIMIT,
            },
            cleared_by_success: true,
        });
    }
    keys.push(AttemptKey {
        key: account,
        rule: Rule::Backoff,
        cleared_by_success: true,
    });
    if let Some(ip) = ip {
        keys.push(AttemptKey {
            key: ip_key(ip),
            rule: Rule::Window { limit: IP_LIMIT },
            cleared_by_success: false,
        });
    }
    keys
}

/// The key a registration from `ip` counts under, allowing `limit` in [`WINDOW_MINUTES`]:
/// every registration counts (a free address and a taken one alike, so the throttle tells
/// nothing about accounts either), and none clears the count.
pub fn registration_key(ip: IpAddr, limit: usize) -> AttemptKey {
    AttemptKey {
        key: format!("register:{}", ip_key(ip)),
        rule: Rule::Window { limit },
        cleared_by_success: false,
    }
}

/// The throttling key of an account (by normalised email; hashed). Every other key of the
/// account starts with it followed by `:`, so deleting the account can find them all.
pub fn account_key(normalised_email: &str) -> String {
    format!(
        "account:{}",
        hex::encode(Sha256::digest(normalised_email.as_bytes()))
    )
}

/// The throttling key of an account at one client address.
pub fn pair_key(account_key: &str, ip: IpAddr) -> String {
    format!("{account_key}:{}", ip_key(ip))
}

/// The throttling key of a known device (by the id of its device token).
pub fn device_key(device: Uuid) -> String {
    format!("device:{device}")
}

/// The throttling key of a client address.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(now: DateTime<Utc>, seconds: &[i64]) -> Vec<DateTime<Utc>> {
        seconds
            .iter()
            .map(|s| now - Duration::seconds(*s))
            .collect()
    }

    const WINDOW: Rule = Rule::Window {
        limit: ATTEMPT_LIMIT,
    };

    #[test]
    fn a_window_allows_up_to_its_limit() {
        let now = Utc::now();
        assert_eq!(
            WINDOW.retry_after(&ago(now, &[240, 180, 120, 60]), 0, now),
            None
        );
        assert_eq!(WINDOW.retry_after(&[], 0, now), None);
    }

    #[test]
    fn at_the_limit_a_window_waits_for_the_oldest_counted_failure() {
        let now = Utc::now();
        // Five failures, the oldest 10 minutes ago: it leaves the window in 5 minutes.
        let failures = ago(now, &[600, 240, 180, 120, 60]);
        assert_eq!(WINDOW.retry_after(&failures, 0, now), Some(300));
        // Seven failures: the third oldest (4 minutes ago) must leave: 11 minutes.
        let failures = ago(now, &[840, 720, 240, 180, 120, 60, 0]);
        assert_eq!(WINDOW.retry_after(&failures, 0, now), Some(660));
        // An attempt's own failure, recorded before the check, is not held against it.
        let failures = ago(now, &[240, 180, 120, 60, 0]);
        assert_eq!(WINDOW.retry_after(&failures, 1, now), None);
    }

    #[test]
    fn a_fraction_of_a_second_rounds_up_and_a_past_wait_is_none() {
        let now = Utc::now();
        let almost = now - Duration::minutes(WINDOW_MINUTES) + Duration::milliseconds(300);
        assert_eq!(WINDOW.retry_after(&[almost; 5], 0, now), Some(1));
        let gone = now - Duration::minutes(WINDOW_MINUTES);
        assert_eq!(WINDOW.retry_after(&[gone; 5], 0, now), None);
    }

    #[test]
    fn an_account_is_slowed_exponentially_and_never_locked() {
        let now = Utc::now();
        let free: Vec<i64> = (0..10).map(|i| 3000 - i).collect();
        assert_eq!(free.len(), ACCOUNT_FREE);
        // The free failures cost nothing.
        assert_eq!(
            Rule::Backoff.retry_after(&ago(now, &free[..ACCOUNT_FREE - 1]), 0, now),
            None
        );
        // Then 1 s, 2 s, 4 s … after the newest failure.
        let mut failures = ago(now, &free);
        failures.push(now);
        assert_eq!(Rule::Backoff.retry_after(&failures, 0, now), Some(2));
        failures.push(now);
        assert_eq!(Rule::Backoff.retry_after(&failures, 0, now), Some(4));
        // Long past the cap the wait stays at the cap, and once it has passed the right
        // password is tried again.
        let many = vec![now; ACCOUNT_FREE + 40];
        assert_eq!(
            Rule::Backoff.retry_after(&many, 0, now),
            Some(BACKOFF_CAP_SECONDS)
        );
        let later = now + Duration::seconds(i64::try_from(BACKOFF_CAP_SECONDS).expect("cap"));
        assert_eq!(Rule::Backoff.retry_after(&many, 0, later), None);
    }

    #[test]
    fn parallel_guesses_count_against_each_other() {
        let now = Utc::now();
        // Twelve attempts in flight at once, each checking with its own among them: every
        // one sees the others and waits.
        let in_flight = vec![now; 12];
        assert!(Rule::Backoff.retry_after(&in_flight, 1, now).is_some());
        assert!(WINDOW.retry_after(&in_flight, 1, now).is_some());
    }

    #[test]
    fn a_known_device_counts_only_under_its_own_key() {
        let device = Uuid::new_v4();
        let keys = attempt_keys(
            "ada@example.com",
            Some("10.1.2.3".parse().expect("ip")),
            Some(device),
        );
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key, device_key(device));
    }

    #[test]
    fn an_unknown_client_counts_under_pair_account_and_address() {
        let keys = attempt_keys(
            "ada@example.com",
            Some("10.1.2.3".parse().expect("ip")),
            None,
        );
        let account = account_key("ada@example.com");
        let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("{account}:ip:10.1.2.3").as_str(),
                &account,
                "ip:10.1.2.3"
            ]
        );
        assert_eq!(keys[1].rule, Rule::Backoff);
        assert!(!keys[2].cleared_by_success);
        assert_eq!(attempt_keys("ada@example.com", None, None).len(), 1);
    }

    #[test]
    fn keys_hide_the_email_and_group_ipv6() {
        let key = account_key("ada@example.com");
        assert!(key.starts_with("account:") && !key.contains("ada"));
        assert_eq!(key, account_key("ada@example.com"));
        assert_eq!(ip_key("127.0.0.1".parse().expect("ip")), "ip:127.0.0.1");
        assert_eq!(
            ip_key("::ffff:10.0.0.1".parse().expect("ip")),
            "ip:10.0.0.1"
        );
        assert_eq!(
            ip_key("2001:db8:1:2:3:4:5:6".parse().expect("ip")),
            ip_key("2001:db8:1:2:ffff::1".parse().expect("ip"))
        );
        assert_eq!(
            ip_key("2001:db8:1:2::9".parse().expect("ip")),
            "ip:2001:db8:1:2::/64"
        );
    }
}
