//! Why a language-model call failed, in terms the retry policy and the capability act on.

use std::time::Duration;

use thiserror::Error;

/// A failed language-model call.
///
/// Messages never contain an API key or a prompt: they are logged and a short form reaches
/// the component.
#[derive(Debug, Error)]
pub enum LlmError {
    /// The provider answered with an error status.
    #[error("the provider answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The provider's error message (from its error body), or the status's reason.
        message: String,
        /// How long the provider asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The provider could not be reached (connection refused, DNS, TLS, connect timeout).
    #[error("cannot reach the provider: {0}")]
    Connect(String),
    /// The call took longer than the configured timeout.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection broke while the answer was being read.
    #[error("the provider's answer broke off: {0}")]
    Interrupted(String),
    /// The provider's answer is not in the format its API documents.
    #[error("the provider's answer is malformed: {0}")]
    Protocol(String),
    /// The provider reported an error inside a stream (Anthropic's `error` event).
    #[error("the provider failed mid-answer ({kind}): {message}")]
    Stream {
        /// The provider's error type (`overloaded_error`, …).
        kind: String,
        /// Its message.
        message: String,
    },
    /// The local model failed or is not available.
    #[error("the local model: {0}")]
    Local(String),
    /// The provider does not offer this operation (embeddings on Anthropic's API).
    #[error("the provider does not offer {0}")]
    Unsupported(&'static str),
    /// The caller's tier limit is reached until the window moves.
    #[error("the daily limit is reached; retry in {retry_after_seconds} s")]
    QuotaExceeded {
        /// Seconds until the limit resets.
        retry_after_seconds: u32,
    },
    /// The host cannot serve the call now (usage cannot be checked, no provider configured).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request breaks the capability's bounds (too many or too long messages).
    #[error("refused: {0}")]
    Refused(String),
}

impl LlmError {
    /// Whether another attempt may succeed: rate limiting (429), a server error (5xx) or a
    /// connection that could not be made. A timeout is not retried (the attempt may still be
    /// generating, and a second one doubles the cost and the wait).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            Self::Connect(_) => true,
            _ => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A `reqwest` failure in these terms: a connection that could not be made (its own
    /// timeout included) is [`Self::Connect`], the overall timeout [`Self::Timeout`], a body
    /// that broke off [`Self::Interrupted`].
    pub fn from_reqwest(error: reqwest::Error, timeout: Duration) -> Self {
        let (connect, timed_out) = (error.is_connect(), error.is_timeout());
        let broken = error.is_body() || error.is_decode();
        let described = describe(&error.without_url());
        if connect {
            Self::Connect(described)
        } else if timed_out {
            Self::Timeout(timeout)
        } else if broken {
            Self::Interrupted(described)
        } else {
            Self::Connect(described)
        }
    }
}

/// An error and its causes on one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
