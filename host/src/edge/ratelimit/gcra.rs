//! The in-process limiter: GCRA (the generic cell rate algorithm) per (class, subject), in
//! bounded memory.
//!
//! GCRA keeps one number per key, its *theoretical arrival time* (TAT): when the key's
//! bucket will be full again. A request costs `interval = window / quota`; it is allowed
//! when `max(TAT, now) + interval - window <= now`, and then moves the TAT on by
//! `interval`. A key may so spend its whole quota at once and earns it back evenly.
//! [`step`] is that rule, shared with the Redis script (`redis.rs`), which runs the same
//! arithmetic on the Redis server's clock.
//!
//! Memory: a key whose TAT has passed is indistinguishable from one never seen, so it can be
//! dropped. The table is split in shards (one lock each); a shard that reaches its share of
//! the capacity first drops its idle keys, then, if still full, the key that is closest to
//! idle. A flood of new addresses therefore costs bounded memory and, at worst, forgets the
//! keys least in debt.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::policy::{Class, Limit, Subject};

/// What a check decided, and what the `RateLimit` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests the key may still make at once.
    pub remaining: u32,
    /// How long until the key's whole quota is available again.
    pub reset: Duration,
    /// How long a refused request should wait (zero when allowed).
    pub retry_after: Duration,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// One GCRA step for a key whose TAT is `tat` at time `now` (nanoseconds on any one clock):
/// the decision and, when allowed, the TAT to store.
pub fn step(limit: &Limit, tat: u64, now: u64) -> (Decision, Option<u64>) {
    let interval = nanos(limit.interval()).max(1);
    let window = nanos(limit.window);
    let tat = tat.max(now);
    let next = tat.saturating_add(interval);
    let allowed_from = next.saturating_sub(window);
    if now < allowed_from {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            reset: Duration::from_nanos(tat - now),
            retry_after: Duration::from_nanos(allowed_from - now),
        };
        return (decision, None);
    }
    let ahead = next - now;
    let remaining = window.saturating_sub(ahead) / interval;
    let decision = Decision {
        allowed: true,
        remaining: u32::try_from(remaining)
            .unwrap_or(u32::MAX)
            .min(limit.quota.saturating_sub(1)),
        reset: Duration::from_nanos(ahead),
        retry_after: Duration::ZERO,
    };
    (decision, Some(next))
}

type Key = (Class, Subject);

/// GCRA state of every key, in memory, bounded.
pub struct LocalLimiter {
    origin: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<Key, u64>>]>,
    per_shard: usize,
}

const SHARDS: usize = 16;

impl LocalLimiter {
    /// A limiter holding at most about `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            origin: Instant::now(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Counts a request of `class` by `subject` under `limit`, now.
    pub fn check(&self, class: Class, subject: Subject, limit: &Limit) -> Decision {
        self.check_at(class, subject, limit, Instant::now())
    }

    /// [`check`](Self::check) at `at` (tests move the clock).
    pub fn check_at(&self, class: Class, subject: Subject, limit: &Limit, at: Instant) -> Decision {
        let now = nanos(at.saturating_duration_since(self.origin));
        let key = (class, subject);
        let shard = &self.shards[self.shard_of(&key)];
        // A poisoned lock only means another check panicked midway: the map is still sound.
        let mut map = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = map.get(&key).copied();
        let (decision, next) = step(limit, known.unwrap_or(0), now);
        if let Some(next) = next {
            if known.is_none() && map.len() >= self.per_shard {
                evict(&mut map, now);
            }
            map.insert(key, next);
        }
        decision
    }

    /// Keys held now (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_of(&self, key: &Key) -> usize {
        let hash = self.hasher.hash_one(key);
        usize::try_from(hash % SHARDS as u64).unwrap_or(0)
    }
}

/// Makes room in a full shard: drops idle keys (TAT passed), else the one nearest idle.
fn evict(map: &mut HashMap<Key, u64>, now: u64) {
    let before = map.len();
    map.retain(|_, tat| *tat > now);
    if map.len() < before {
        return;
    }
    if let Some(key) = map.iter().min_by_key(|(_, tat)| **tat).map(|(k, _)| *k) {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn limit(quota: u32, seconds: u64) -> Limit {
        Limit {
            quota,
            window: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn spends_the_quota_then_waits_one_interval() {
        let limit = limit(3, 60);
        let mut tat = 0;
        let now = 1_000_000_000_000;
        for expected in [2, 1, 0] {
            let (decision, next) = step(&limit, tat, now);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected);
            tat = next.expect("stored");
        }
        assert_eq!(Duration::from_nanos(tat - now), Duration::from_secs(60));
        let (refused, next) = step(&limit, tat, now);
        assert!(!refused.allowed);
        assert_eq!(next, None);
        assert_eq!(refused.retry_after, Duration::from_secs(20));
        assert_eq!(refused.reset, Duration::from_secs(60));
        // One interval later, one request again.
        let later = now + nanos(Duration::from_secs(20));
        let (decision, _) = step(&limit, tat, later);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 0);
        // A key idle for a window is fresh.
        let (decision, _) = step(&limit, tat, now + nanos(Duration::from_secs(60)));
        assert_eq!(decision.remaining, 2);
    }

    #[test]
    fn keys_and_classes_are_counted_apart() {
        let limiter = LocalLimiter::new(1000);
        let one = Subject::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let two = Subject::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        let limit = limit(1, 60);
        let at = Instant::now();
        assert!(limiter.check_at(Class::Reads, one, &limit, at).allowed);
        assert!(!limiter.check_at(Class::Reads, one, &limit, at).allowed);
        assert!(limiter.check_at(Class::Writes, one, &limit, at).allowed);
        assert!(limiter.check_at(Class::Reads, two, &limit, at).allowed);
        let later = at + Duration::from_secs(61);
        assert!(limiter.check_at(Class::Reads, one, &limit, later).allowed);
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = LocalLimiter::new(64);
        let limit = limit(10, 60);
        let at = Instant::now();
        for i in 0..10_000u32 {
            let subject = Subject::Address(IpAddr::V4(Ipv4Addr::from(i)));
            assert!(limiter.check_at(Class::Reads, subject, &limit, at).allowed);
        }
        assert!(limiter.len() <= 64, "{}", limiter.len());
        // Idle keys go first: after a window, every new key finds room without a scan.
        let later = at + Duration::from_secs(61);
        let subject = Subject::Address(IpAddr::V4(Ipv4Addr::from(99_999)));
        assert!(
            limiter
                .check_at(Class::Reads, subject, &limit, later)
                .allowed
        );
        assert!(limiter.len() <= 64);
    }
}
