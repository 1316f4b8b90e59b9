//! Language-model usage (`llm_usage`): one row per call the host's `llm` capability made for
//! a user, and the day's totals the per-tier limits are checked against.
//!
//! Owns: the table's rows. Never holds: a prompt or an answer.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, Param};

/// One call, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmUsage {
    /// Whose request made the call.
    pub user_id: Uuid,
    /// When the call finished.
    pub at: DateTime<Utc>,
    /// `local`, `openai` or `anthropic`.
    pub provider: String,
    /// The model that answered (or was asked).
    pub model: String,
    /// Tokens of the prompt (0 when unknown).
    pub prompt_tokens: u32,
    /// Tokens generated (0 when unknown).
    pub completion_tokens: u32,
    /// Wall time of the provider call.
    pub response_time_ms: u32,
    /// `ok`, `filtered` or `error`.
    pub outcome: &'static str,
}

/// A user's usage over a period: the calls that answered and every token spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    /// Calls that answered (`ok` or `filtered`).
    pub messages: u64,
    /// Prompt and completion tokens of every call.
    pub tokens: u64,
}

/// At most this many characters of a model name are stored (the column's bound).
const MAX_MODEL_CHARS: usize = 200;

impl Database {
    /// Records one call.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn record_llm_usage(&self, usage: &LlmUsage) -> Result<(), DbError> {
        let model: String = usage.model.chars().take(MAX_MODEL_CHARS).collect();
        self.execute(
            "INSERT INTO llm_usage (user_id, at, provider, model, prompt_tokens, completion_tokens, response_time_ms, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                Param::Uuid(usage.user_id),
                Param::Time(usage.at),
                Param::Text(usage.provider.clone()),
                Param::Text(model),
                Param::Int(i64::from(usage.prompt_tokens)),
                Param::Int(i64::from(usage.completion_tokens)),
                Param::Int(i64::from(usage.response_time_ms)),
                Param::Text(usage.outcome.to_owned()),
            ],
        )
        .await?;
        Ok(())
    }

    /// A user's calls and tokens since `since` (inclusive).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn llm_usage_since(
        &self,
        user_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, DbError> {
        let row = self
            .fetch_optional(
                "SELECT \
                 CAST(COALESCE(SUM(CASE WHEN outcome <> 'error' THEN 1 ELSE 0 END), 0) AS BIGINT) AS messages, \
                 CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens \
                 FROM llm_usage WHERE user_id = $1 AND at >= $2",
                &[Param::Uuid(user_id), Param::Time(since)],
            )
            .await?;
        let Some(row) = row else {
            return Ok(UsageTotals::default());
        };
        Ok(UsageTotals {
            messages: u64::try_from(row.int("messages")?).unwrap_or(0),
            tokens: u64::try_from(row.int("tokens")?).unwrap_or(0),
        })
    }
}
