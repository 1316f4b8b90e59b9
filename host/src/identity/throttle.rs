//! Login throttling rules: how many recent failures an account or a client address may have
//! before further attempts are refused, and for how long.
//!
//! Attempts are recorded in `login_attempts` (shared by every replica) under a key:
//! `account:<SHA-256 of the normalised email>` (the address itself is never stored there) and
//! `ip:<address>` (IPv6 grouped by /64, which one client usually holds whole).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// The window failures are counted in.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures an account may have in the window; the next attempt is refused.
pub const ACCOUNT_LIMIT: usize = 5;
/// Failures a client address may have in the window; the next attempt is refused.
pub const IP_LIMIT: usize = 20;
/// Attempts older than this are pruned.
pub const RETENTION_MINUTES: i64 = 60;

/// The start of the counting window for `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(WINDOW_MINUTES)
}

/// The throttling key of an account (by normalised email; hashed).
pub fn account_key(normalised_email: &str) -> String {
    format!(
        "account:{}",
        hex::encode(Sha256::digest(normalised_email.as_bytes()))
    )
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

/// Seconds until one more attempt is allowed, given the failures counted in the window
/// (`failures` in ascending time order, all after [`window_start`]), or `None` if an attempt
/// is allowed now. At least 1.
pub fn retry_after(failures: &[DateTime<Utc>], limit: usize, now: DateTime<Utc>) -> Option<u64> {
    if failures.len() < limit {
        return None;
    }
    // The attempt is allowed once the count drops below `limit`, i.e. when the
    // (len - limit + 1)-th oldest failure leaves the window.
    let freeing = failures[failures.len() - limit];
    let at = freeing + Duration::minutes(WINDOW_MINUTES);
    let seconds = ((at - now).num_milliseconds().max(0) + 999) / 1000;
    Some(u64::try_from(seconds).unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_the_limit_is_allowed() {
        let now = Utc::now();
        let failures: Vec<_> = (0..4).map(|i| now - Duration::minutes(i)).rev().collect();
        assert_eq!(retry_after(&failures, ACCOUNT_LIMIT, now), None);
        assert_eq!(retry_after(&[], ACCOUNT_LIMIT, now), None);
    }

    #[test]
    fn at_the_limit_waits_for_the_oldest_counted_failure() {
        let now = Utc::now();
        // Five failures, the oldest 10 minutes ago: it leaves the window in 5 minutes.
        let failures: Vec<_> = [10, 4, 3, 2, 1]
            .iter()
            .map(|m| now - Duration::minutes(*m))
            .collect();
        assert_eq!(retry_after(&failures, 5, now), Some(300));
        // Seven failures: the third oldest (4 minutes ago) must leave: 11 minutes.
        let failures: Vec<_> = [14, 12, 4, 3, 2, 1, 0]
            .iter()
            .map(|m| now - Duration::minutes(*m))
            .collect();
        assert_eq!(retry_after(&failures, 5, now), Some(660));
    }

    #[test]
    fn never_answers_zero() {
        let now = Utc::now();
        let failures = vec![now - Duration::minutes(WINDOW_MINUTES); 5];
        assert_eq!(retry_after(&failures, 5, now), Some(1));
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
