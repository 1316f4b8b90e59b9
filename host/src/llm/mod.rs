//! Language-model completions for the `llm` capability: the providers (the in-process local
//! model by default, OpenAI-compatible APIs, Anthropic's Messages API), how remote calls are
//! timed out and retried, the per-tier limits and the usage record, and the screening every
//! answer passes before a component sees it.
//!
//! - [`provider`]: the [`Provider`] trait and the request and answer types;
//! - [`local`], [`openai`], [`anthropic`]: the providers; [`sse`]: their event streams;
//! - [`retry`]: timeouts, back-off, `Retry-After`, never a retry once an answer streams;
//! - [`limits`]: daily allowances per tier, and `llm_usage`;
//! - [`screening`]: the guardrails, applied by the host.
//!
//! Keys live in the host's configuration (`MINDFLOW_LLM_API_KEY`), are sent only to the
//! provider, and are never logged nor shown to a component.

pub mod anthropic;
pub mod error;
pub mod limits;
pub mod local;
pub mod openai;
pub mod provider;
pub mod retry;
pub mod screening;
pub mod session;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

pub use error::LlmError;
pub use provider::{Completion, CompletionRequest, Message, Provider, Role, StreamItem};

use crate::config::{LlmConfig, LlmProviderKind};

/// The host's language-model service: the configured provider and the limits. Cheap to
/// clone.
#[derive(Clone)]
pub struct Llm {
    inner: Arc<Inner>,
}

struct Inner {
    /// The provider, or why there is none.
    provider: Result<Box<dyn Provider>, String>,
    limits: limits::Limits,
    max_tokens: u32,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm")
            .field("provider", &self.inner.provider.as_ref().map(|p| p.name()))
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// The ceiling on `max-tokens` when none is configured.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

impl Llm {
    /// A service without a provider: every call fails with `reason` (tests, tools, and a
    /// host whose local model is not configured).
    pub fn unconfigured(reason: &str) -> Self {
        Self::with_provider(
            Err(reason.to_owned()),
            limits::Limits::default(),
            DEFAULT_MAX_TOKENS,
        )
    }

    /// A service over `provider` with `limits`; a call asks for at most `max_tokens`.
    pub fn new(provider: Box<dyn Provider>, limits: limits::Limits, max_tokens: u32) -> Self {
        Self::with_provider(Ok(provider), limits, max_tokens)
    }

    fn with_provider(
        provider: Result<Box<dyn Provider>, String>,
        limits: limits::Limits,
        max_tokens: u32,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider,
                limits,
                max_tokens: max_tokens.max(1),
            }),
        }
    }

    /// The service the configuration describes. The local provider checks its model's file
    /// now (and loads it on first use); without `MINDFLOW_LLM_MODEL` it is off, with a
    /// warning.
    ///
    /// # Errors
    /// A message saying what to fix: the local model's file is missing or unusable, or a
    /// remote provider's base URL is not http(s).
    pub fn from_config(config: &LlmConfig) -> Result<Self, String> {
        let limits = limits::Limits {
            free: limits::TierLimits {
                messages_per_day: config.llm_free_messages_per_day,
                tokens_per_day: config.llm_free_tokens_per_day,
            },
            premium: limits::TierLimits {
                messages_per_day: config.llm_premium_messages_per_day,
                tokens_per_day: config.llm_premium_tokens_per_day,
            },
        };
        let policy = retry::Policy {
            connect_timeout: Duration::from_millis(config.llm_connect_timeout_ms),
            timeout: Duration::from_millis(config.llm_timeout_ms),
            attempts: config.llm_attempts,
            ..retry::Policy::default()
        };
        let base_url = |default: &str| -> Result<String, String> {
            let url = config
                .llm_base_url
                .clone()
                .unwrap_or_else(|| default.to_owned());
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url)
            } else {
                Err(format!(
                    "MINDFLOW_LLM_BASE_URL must be an http(s) URL, not {url:?}"
                ))
            }
        };
        let provider: Box<dyn Provider> = match config.llm_provider {
            LlmProviderKind::Local => {
                let Some(path) = &config.llm_model else {
                    tracing::warn!(
                        "no local language model is configured (MINDFLOW_LLM_MODEL): `llm` calls \
                         will fail; run scripts/fetch-llm.sh and set MINDFLOW_LLM_MODEL to the \
                         path it prints (`cargo xtask run` does both)"
                    );
                    return Ok(Self::unconfigured(
                        "no language model is configured on this host",
                    ));
                };
                let threads = usize::try_from(config.llm_threads).unwrap_or(1);
                let local = local::Local::start(path, threads, config.llm_seed).map_err(|e| {
                    format!(
                        "the local language model ({}): {e}; run scripts/fetch-llm.sh and set \
                         MINDFLOW_LLM_MODEL to the path it prints",
                        path.display()
                    )
                })?;
                Box::new(local)
            }
            LlmProviderKind::Openai => Box::new(
                openai::OpenAi::new(
                    &base_url("https://api.openai.com/v1")?,
                    config.api_key(),
                    config
                        .llm_model_name
                        .clone()
                        .unwrap_or_else(|| "gpt-4o-mini".into()),
                    config.llm_embedding_model.clone(),
                    policy,
                )
                .map_err(|e| e.to_string())?,
            ),
            LlmProviderKind::Anthropic => Box::new(
                anthropic::Anthropic::new(
                    &base_url("https://api.anthropic.com/v1")?,
                    config.api_key(),
                    config
                        .llm_model_name
                        .clone()
                        .unwrap_or_else(|| "claude-3-5-haiku-latest".into()),
                    policy,
                )
                .map_err(|e| e.to_string())?,
            ),
        };
        Ok(Self::new(provider, limits, config.llm_max_tokens))
    }

    /// The provider.
    ///
    /// # Errors
    /// [`LlmError::Unavailable`] when none is configured.
    pub fn provider(&self) -> Result<&dyn Provider, LlmError> {
        self.inner
            .provider
            .as_deref()
            .map_err(|reason| LlmError::Unavailable(reason.clone()))
    }

    /// The per-tier limits.
    pub fn limits(&self) -> &limits::Limits {
        &self.inner.limits
    }

    /// The most tokens one call may ask for.
    pub fn max_tokens(&self) -> u32 {
        self.inner.max_tokens
    }
}
