//! Calling an HTTP provider: timeouts, and retries with exponential back-off and full jitter
//! on rate limiting (429), server errors (5xx) and connections that could not be made,
//! honouring `Retry-After`, a bounded number of times. A streamed answer is retried only
//! until its first delta arrives, never after: what was shown cannot be taken back.

use std::future::Future;
use std::time::{Duration, SystemTime};

use futures::StreamExt;

use super::error::LlmError;
use super::provider::{CompletionStream, StreamItem};

/// An error body is read up to this many bytes.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// How an HTTP provider is called.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How long making the connection may take.
    pub connect_timeout: Duration,
    /// How long one attempt may take, answer included (streamed answers too).
    pub timeout: Duration,
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// The first back-off's upper bound; each retry doubles it.
    pub base_delay: Duration,
    /// No back-off (nor `Retry-After` wait) is longer than this; a provider asking for a
    /// longer wait gets no retry.
    pub max_delay: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl Policy {
    /// An HTTP client with this policy's connect timeout.
    ///
    /// # Errors
    /// [`LlmError::Connect`] when the TLS backend cannot start.
    pub fn client(&self) -> Result<reqwest::Client, LlmError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| LlmError::Connect(format!("cannot build the HTTP client: {e}")))
    }

    /// The wait before retry number `retry` (0-based) after `error`, or `None` when no retry
    /// should follow: the error is not retryable, attempts are used up, or the provider asks
    /// for a longer wait than [`Self::max_delay`].
    pub fn delay(&self, retry: u32, error: &LlmError) -> Option<Duration> {
        if !error.is_retryable() || retry + 1 >= self.attempts {
            return None;
        }
        if let Some(asked) = error.retry_after() {
            return (asked <= self.max_delay).then_some(asked);
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_delay);
        // Full jitter: anywhere between nothing and the ceiling.
        Some(ceiling.mul_f64(rand::random::<f64>()))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts are used up.
    ///
    /// # Errors
    /// The last attempt's error.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => match self.delay(retry, &error) {
                    Some(wait) => {
                        tracing::warn!(%error, retry = retry + 1, wait_ms = wait.as_millis(), "llm call failed; retrying");
                        tokio::time::sleep(wait).await;
                        retry += 1;
                    }
                    None => return Err(error),
                },
            }
        }
    }

    /// Opens a streamed answer with `open`, retrying (as [`Self::run`]) while nothing of the
    /// answer has arrived: the stream is read up to its first delta before it is handed on.
    /// After that, an error ends the stream and nothing is retried.
    ///
    /// # Errors
    /// The last attempt's error.
    pub async fn open_stream<F, Fut>(&self, mut open: F) -> Result<CompletionStream, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<CompletionStream, LlmError>>,
    {
        self.run(|| {
            let opened = open();
            async move {
                let mut stream = opened.await?;
                let mut head = Vec::new();
                // Read until the first delta (or the end): errors so far may be retried.
                while let Some(item) = stream.next().await {
                    let item = item?;
                    let started = matches!(item, StreamItem::Delta(_));
                    let done = matches!(item, StreamItem::Done(_));
                    head.push(Ok(item));
                    if started || done {
                        break;
                    }
                }
                let rest: CompletionStream = Box::pin(futures::stream::iter(head).chain(stream));
                Ok(rest)
            }
        })
        .await
    }
}

/// Sends `request`; an error status becomes [`LlmError::Status`] with the provider's message
/// (the `error.message` of OpenAI's and Anthropic's error bodies) and its `Retry-After`.
///
/// # Errors
/// [`LlmError`] for a failed send or an error status.
pub async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, LlmError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| LlmError::from_reqwest(e, timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
    let body = read_bounded(response, MAX_ERROR_BODY_BYTES).await;
    Err(LlmError::Status {
        status: status.as_u16(),
        message: error_message(&body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned()),
        retry_after,
    })
}

/// Reads a body up to `limit` bytes (what could be read, on a failure).
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    body
}

/// The message of an error body: `{"error": {"message": …}}` (OpenAI, and Anthropic's
/// `{"type": "error", "error": {"type": …, "message": …}}`), at most 300 characters.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .or_else(|| error.as_str())?;
    let kind = error.get("type").and_then(serde_json::Value::as_str);
    let message: String = message.chars().take(300).collect();
    Some(match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    })
}

/// A `Retry-After` value: delay seconds, or an HTTP date (a date in the past is no wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<Duration>) -> LlmError {
        LlmError::Status {
            status: code,
            message: String::new(),
            retry_after,
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn back_off_is_bounded_jittered_and_only_for_retryable_errors() {
        let policy = Policy {
            attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            ..Policy::default()
        };
        for retry in 0..3 {
            let wait = policy.delay(retry, &status(503, None)).unwrap();
            let ceiling = Duration::from_millis(100 << retry).min(Duration::from_millis(250));
            assert!(wait <= ceiling, "{wait:?} > {ceiling:?}");
        }
        assert_eq!(
            policy.delay(3, &status(503, None)),
            None,
            "attempts used up"
        );
        assert_eq!(policy.delay(0, &status(400, None)), None);
        assert_eq!(policy.delay(0, &LlmError::Timeout(Duration::ZERO)), None);
        assert!(
            policy
                .delay(0, &LlmError::Connect("refused".into()))
                .is_some()
        );
        let asked = Duration::from_millis(200);
        assert_eq!(policy.delay(0, &status(429, Some(asked))), Some(asked));
        assert_eq!(
            policy.delay(0, &status(429, Some(Duration::from_secs(60)))),
            None
        );
    }

    #[test]
    fn error_bodies_of_both_providers() {
        assert_eq!(
            error_message(
                br#"{"error":{"message":"Rate limit reached","type":"requests","code":null}}"#
            ),
            Some("requests: Rate limit reached".into())
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            Some("overloaded_error: Overloaded".into())
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod wire_tests;
