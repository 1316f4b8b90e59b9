//! The shared limiter: the same GCRA as [`gcra`](super::gcra), kept in Redis so that every
//! replica counts against one budget per key.
//!
//! One check is one call of one Lua script (`EVALSHA`, loaded on first use), so reading and
//! moving a key's TAT is atomic however many replicas ask at once. The script reads the
//! time from the Redis server (`redis.call('TIME')`), so replicas' clocks need not agree;
//! it stores the TAT in microseconds with a TTL of the time until the key is idle again,
//! so Redis holds only keys in debt.
//!
//! A check that Redis does not answer within its timeout is an error; the caller
//! ([`RateLimiter`](super::RateLimiter)) then counts it in-process and stops asking Redis
//! for a while.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::gcra::{Decision, step};
use super::policy::{Class, Limit, Subject};

/// The check, atomically: `KEYS[1]` the key, `ARGV[1]` the interval and `ARGV[2]` the window,
/// both in microseconds. Answers `{allowed (0|1), ahead}`: how far the key's TAT was ahead
/// of the server's clock before this request (microseconds, at least 0).
const SCRIPT: &str = r"
-- Redis before 5 replicates scripts verbatim unless told to replicate their effects (the
-- write after TIME); from 7 this is a no-op.
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next = tat + interval
if now < next - window then
  return {0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000) + 1)
return {1, tat - now}
";

/// Prefix of every key the limiter writes.
const KEY_PREFIX: &str = "mindflow:ratelimit:";

/// Why a shared check failed.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// Redis answered an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer in time.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// The limiter's connection to Redis.
#[derive(Clone)]
pub struct SharedLimiter {
    connection: ConnectionManager,
    script: std::sync::Arc<redis::Script>,
    timeout: Duration,
    host: String,
}

impl SharedLimiter {
    /// A limiter for the Redis at `url` (`redis://[user:password@]host[:port][/db]`); the
    /// connection is made on first use and remade in the background when lost.
    ///
    /// # Errors
    /// When the URL cannot be read.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, SharedError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            connection,
            script: std::sync::Arc::new(redis::Script::new(SCRIPT)),
            timeout,
            host: host_of(url),
        })
    }

    /// The server's host and port, without credentials: what a log line may name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Counts a request of `class` by `subject` under `limit` in Redis.
    ///
    /// # Errors
    /// [`SharedError`] when Redis fails or does not answer within the timeout.
    pub async fn check(
        &self,
        class: Class,
        subject: Subject,
        limit: &Limit,
    ) -> Result<Decision, SharedError> {
        let key = format!("{KEY_PREFIX}{class}:{subject}");
        let interval = micros(limit.interval()).max(1);
        let window = micros(limit.window);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation.key(key).arg(interval).arg(window);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        let (allowed, ahead) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| SharedError::Timeout(self.timeout))??;
        let ahead = Duration::from_micros(u64::try_from(ahead).unwrap_or(0));
        Ok(decide(limit, allowed == 1, ahead))
    }
}

/// The decision the script made, with the figures the headers need, from the same rule as
/// the in-process limiter (the script's verdict wins over microsecond rounding).
fn decide(limit: &Limit, allowed: bool, ahead: Duration) -> Decision {
    let ahead = u64::try_from(ahead.as_nanos()).unwrap_or(u64::MAX);
    let (mut decision, _) = step(limit, ahead, 0);
    if allowed != decision.allowed {
        decision.allowed = allowed;
        decision.remaining = 0;
        decision.retry_after = if allowed {
            Duration::ZERO
        } else {
            Duration::from_millis(1)
        };
    }
    decision
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `host[:port]` of a Redis URL, without scheme, credentials or database.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_host_without_credentials() {
        assert_eq!(
            host_of("redis://:s3cret@cache.internal:6380/2"),
            "cache.internal:6380"
        );
        assert_eq!(host_of("redis://user:p@ss@10.0.0.5"), "10.0.0.5");
        assert_eq!(host_of("rediss://cache?protocol=resp3"), "cache");
    }

    #[test]
    fn reads_the_scripts_answer_like_the_local_rule() {
        let limit = Limit {
            quota: 3,
            window: Duration::from_secs(60),
        };
        let fresh = decide(&limit, true, Duration::ZERO);
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 2);
        assert_eq!(fresh.reset, Duration::from_secs(20));
        let full = decide(&limit, false, Duration::from_secs(60));
        assert!(!full.allowed);
        assert_eq!(full.retry_after, Duration::from_secs(20));
    }
}
