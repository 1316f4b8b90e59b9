//! One `llm` call for one user, independent of WIT: bound the request, check the user's
//! limits, call the provider, screen the answer, record the usage. The capability
//! (`capabilities::llm`) only translates to and from the WIT types.

use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use uuid::Uuid;

use super::Llm;
use super::error::LlmError;
use super::limits::{self, Outcome};
use super::provider::{CompletionRequest, CompletionStream, StreamItem, millis};
use super::screening::{self, Step, StreamScreener};
use crate::db::Database;
use crate::db::llm_usage::LlmUsage;
use crate::tiers::Tier;

/// At most this many messages in one request.
pub const MAX_MESSAGES: usize = 64;
/// At most this many bytes in one message.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// At most this many bytes in all of a request's messages.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;
/// At most this many texts in one `embed`.
pub const MAX_EMBED_TEXTS: usize = 64;
/// At most this many bytes in one text to embed.
pub const MAX_EMBED_BYTES: usize = 8 * 1024;

/// Who a call is for, from the request's context (never from the component).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user_id: Uuid,
    /// The tier in force.
    pub tier: Tier,
    /// BCP 47 locale, for the safe answers.
    pub locale: String,
}

/// A finished answer, as screened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What the user may see.
    pub content: String,
    /// The model that answered.
    pub model: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Wall time of the provider call.
    pub response_time_ms: u32,
    /// Whether the model's answer was replaced.
    pub content_filtered: bool,
    /// The guardrails it crossed.
    pub filtered_reasons: Vec<String>,
}

/// Checks `request` against the capability's bounds and lowers its `max_tokens` to the
/// host's ceiling.
///
/// # Errors
/// [`LlmError::Refused`] naming the bound.
pub fn bound(mut request: CompletionRequest, ceiling: u32) -> Result<CompletionRequest, LlmError> {
    if request.messages.is_empty() {
        return Err(LlmError::Refused(
            "a request needs at least one message".into(),
        ));
    }
    if request.messages.len() > MAX_MESSAGES {
        return Err(LlmError::Refused(format!(
            "at most {MAX_MESSAGES} messages"
        )));
    }
    if request
        .messages
        .iter()
        .any(|m| m.content.len() > MAX_MESSAGE_BYTES)
    {
        return Err(LlmError::Refused(format!(
            "a message is over {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    let total: usize = request.messages.iter().map(|m| m.content.len()).sum();
    if total > MAX_REQUEST_BYTES {
        return Err(LlmError::Refused(format!(
            "the messages are over {MAX_REQUEST_BYTES} bytes"
        )));
    }
    if request.max_tokens == 0 {
        return Err(LlmError::Refused("max-tokens must be at least 1".into()));
    }
    if !request.temperature.is_finite() || !(0.0..=2.0).contains(&request.temperature) {
        return Err(LlmError::Refused(
            "temperature must be between 0 and 2".into(),
        ));
    }
    request.max_tokens = request.max_tokens.min(ceiling);
    Ok(request)
}

/// A rough token count of text whose count the provider did not give (4 bytes a token).
fn estimate_tokens(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX)
}

/// What a usage record needs besides the counts and the outcome.
struct Recorder {
    db: Database,
    user_id: Uuid,
    provider: &'static str,
    model: String,
    started: Instant,
}

impl Recorder {
    /// A record of a call to `provider` for `caller`, timed from now.
    fn start(db: &Database, caller: &Caller, provider: &dyn super::Provider) -> Self {
        Self {
            db: db.clone(),
            user_id: caller.user_id,
            provider: provider.name(),
            model: provider.model().to_owned(),
            started: Instant::now(),
        }
    }

    fn usage(&self, outcome: Outcome, prompt_tokens: u32, completion_tokens: u32) -> LlmUsage {
        LlmUsage {
            user_id: self.user_id,
            at: Utc::now(),
            provider: self.provider.to_owned(),
            model: self.model.clone(),
            prompt_tokens,
            completion_tokens,
            response_time_ms: millis(self.started.elapsed()),
            outcome: outcome.as_str(),
        }
    }

    async fn record(&self, outcome: Outcome, prompt_tokens: u32, completion_tokens: u32) {
        limits::record(
            &self.db,
            self.usage(outcome, prompt_tokens, completion_tokens),
        )
        .await;
    }
}

/// Checks the caller's limits and returns the provider to call.
async fn admit<'a>(
    llm: &'a Llm,
    db: &Database,
    caller: &Caller,
) -> Result<&'a dyn super::Provider, LlmError> {
    let provider = llm.provider()?;
    llm.limits().check(db, caller.user_id, caller.tier).await?;
    Ok(provider)
}

/// Completes `request` for `caller`, screened.
///
/// # Errors
/// [`LlmError`]: bounds, limits, or the provider's failure (recorded).
pub async fn complete(
    llm: &Llm,
    db: &Database,
    caller: &Caller,
    request: CompletionRequest,
) -> Result<Answer, LlmError> {
    let request = bound(request, llm.max_tokens())?;
    let provider = admit(llm, db, caller).await?;
    let recorder = Recorder::start(db, caller, provider);
    let completion = match provider.complete(&request).await {
        Ok(completion) => completion,
        Err(error) => {
            tracing::warn!(%error, provider = provider.name(), "llm call failed");
            recorder.record(Outcome::Error, 0, 0).await;
            return Err(error);
        }
    };
    let screened = screening::screen(&completion.content, &caller.locale);
    let outcome = if screened.filtered {
        Outcome::Filtered
    } else {
        Outcome::Ok
    };
    let recorder = Recorder {
        model: completion.model.clone(),
        ..recorder
    };
    recorder
        .record(
            outcome,
            completion.prompt_tokens,
            completion.completion_tokens,
        )
        .await;
    Ok(Answer {
        content: screened.content,
        model: completion.model,
        prompt_tokens: completion.prompt_tokens,
        completion_tokens: completion.completion_tokens,
        response_time_ms: completion.response_time_ms,
        content_filtered: screened.filtered,
        filtered_reasons: screened.reasons,
    })
}

/// One step of a screened stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Text that passed screening.
    Delta(String),
    /// Everything shown so far is to be replaced by this safe answer; the stream ends.
    Replaced(String),
}

/// A streamed answer being screened. Dropping it before its end records the usage seen so
/// far (counted deltas, an estimated prompt) and stops the provider's answer.
pub struct ScreenedStream {
    stream: Option<CompletionStream>,
    screen: StreamScreener,
    recorder: Recorder,
    prompt_estimate: u32,
    deltas_seen: u32,
    shown: String,
    summary: Option<Answer>,
    ended: bool,
    recorded: bool,
}

/// Opens a streamed answer to `request` for `caller`.
///
/// # Errors
/// [`LlmError`]: bounds, limits, or the provider's failure before the answer began
/// (recorded).
pub async fn stream(
    llm: &Llm,
    db: &Database,
    caller: &Caller,
    request: CompletionRequest,
) -> Result<ScreenedStream, LlmError> {
    let request = bound(request, llm.max_tokens())?;
    let provider = admit(llm, db, caller).await?;
    let recorder = Recorder::start(db, caller, provider);
    let prompt_bytes: usize = request.messages.iter().map(|m| m.content.len()).sum();
    match provider.stream(&request).await {
        Ok(stream) => Ok(ScreenedStream {
            stream: Some(stream),
            screen: StreamScreener::new(&caller.locale),
            recorder,
            prompt_estimate: estimate_tokens(prompt_bytes),
            deltas_seen: 0,
            shown: String::new(),
            summary: None,
            ended: false,
            recorded: false,
        }),
        Err(error) => {
            tracing::warn!(%error, provider = provider.name(), "llm stream failed to open");
            recorder.record(Outcome::Error, 0, 0).await;
            Err(error)
        }
    }
}

impl ScreenedStream {
    /// The next screened event; `None` once finished.
    ///
    /// # Errors
    /// The provider's failure mid-answer (recorded; the stream is over).
    pub async fn next(&mut self) -> Result<Option<Event>, LlmError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let Some(stream) = self.stream.as_mut() else {
                self.ended = true;
                return Ok(None);
            };
            match stream.next().await {
                Some(Ok(StreamItem::Delta(text))) => {
                    self.deltas_seen = self.deltas_seen.saturating_add(1);
                    match self.screen.push(&text) {
                        Step::Release(released) if released.is_empty() => {}
                        Step::Release(released) => {
                            self.shown.push_str(&released);
                            return Ok(Some(Event::Delta(released)));
                        }
                        Step::Replace { reasons, text } => {
                            let (prompt, completion) = (self.prompt_estimate, self.deltas_seen);
                            return Ok(Some(self.replace(reasons, text, prompt, completion).await));
                        }
                    }
                }
                Some(Ok(StreamItem::Done(usage))) => {
                    self.stream = None;
                    self.recorder.model.clone_from(&usage.model);
                    let step =
                        std::mem::replace(&mut self.screen, StreamScreener::new("")).finish();
                    match step {
                        Step::Replace { reasons, text } => {
                            let event = self
                                .replace(
                                    reasons,
                                    text,
                                    usage.prompt_tokens,
                                    usage.completion_tokens,
                                )
                                .await;
                            return Ok(Some(event));
                        }
                        Step::Release(released) => {
                            self.shown.push_str(&released);
                            self.finish(
                                Outcome::Ok,
                                usage.prompt_tokens,
                                usage.completion_tokens,
                                Vec::new(),
                            )
                            .await;
                            if !released.is_empty() {
                                return Ok(Some(Event::Delta(released)));
                            }
                            return Ok(None);
                        }
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, provider = self.recorder.provider, "llm stream failed");
                    self.stream = None;
                    self.ended = true;
                    self.recorded = true;
                    self.recorder
                        .record(Outcome::Error, self.prompt_estimate, self.deltas_seen)
                        .await;
                    return Err(error);
                }
                None => {
                    self.stream = None;
                    self.ended = true;
                    self.recorded = true;
                    self.recorder
                        .record(Outcome::Error, self.prompt_estimate, self.deltas_seen)
                        .await;
                    return Err(LlmError::Protocol(
                        "the answer ended without its end".into(),
                    ));
                }
            }
        }
    }

    async fn replace(
        &mut self,
        reasons: Vec<String>,
        text: String,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Event {
        // Stop the provider's answer: nothing more of it will be shown.
        self.stream = None;
        self.shown.clone_from(&text);
        self.finish(Outcome::Filtered, prompt_tokens, completion_tokens, reasons)
            .await;
        self.ended = true;
        Event::Replaced(text)
    }

    async fn finish(
        &mut self,
        outcome: Outcome,
        prompt_tokens: u32,
        completion_tokens: u32,
        reasons: Vec<String>,
    ) {
        self.ended = true;
        self.recorded = true;
        self.recorder
            .record(outcome, prompt_tokens, completion_tokens)
            .await;
        self.summary = Some(Answer {
            content: self.shown.clone(),
            model: self.recorder.model.clone(),
            prompt_tokens,
            completion_tokens,
            response_time_ms: millis(self.recorder.started.elapsed()),
            content_filtered: outcome == Outcome::Filtered,
            filtered_reasons: reasons,
        });
    }

    /// The finished answer (`None` before the end, and after a failure).
    pub fn summary(&self) -> Option<&Answer> {
        self.summary.as_ref()
    }
}

impl Drop for ScreenedStream {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        // Abandoned mid-answer: record what was seen.
        let usage = self
            .recorder
            .usage(Outcome::Ok, self.prompt_estimate, self.deltas_seen);
        let db = self.recorder.db.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { limits::record(&db, usage).await });
            }
            Err(_) => tracing::warn!("an abandoned llm stream's usage was not recorded"),
        }
    }
}

/// Embeddings of `texts` from the provider, for `caller` (counted against the token limit).
///
/// # Errors
/// [`LlmError`]: bounds, limits, or the provider's failure (recorded).
pub async fn embed(
    llm: &Llm,
    db: &Database,
    caller: &Caller,
    texts: Vec<String>,
) -> Result<Vec<Vec<f32>>, LlmError> {
    if texts.len() > MAX_EMBED_TEXTS {
        return Err(LlmError::Refused(format!(
            "at most {MAX_EMBED_TEXTS} texts"
        )));
    }
    if texts.iter().any(|t| t.len() > MAX_EMBED_BYTES) {
        return Err(LlmError::Refused(format!(
            "a text is over {MAX_EMBED_BYTES} bytes"
        )));
    }
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let provider = admit(llm, db, caller).await?;
    let recorder = Recorder {
        db: db.clone(),
        user_id: caller.user_id,
        provider: provider.name(),
        model: "embeddings".into(),
        started: Instant::now(),
    };
    let estimate = estimate_tokens(texts.iter().map(String::len).sum());
    match provider.embed(&texts).await {
        Ok(vectors) => {
            recorder.record(Outcome::Ok, estimate, 0).await;
            Ok(vectors)
        }
        Err(error) => {
            recorder.record(Outcome::Error, 0, 0).await;
            Err(error)
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
