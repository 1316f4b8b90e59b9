//! What every language-model provider offers: a completion, a streamed completion and (where
//! the provider has them) embeddings, over one set of request and answer types.

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::error::LlmError;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions to the model (the component's system prompt).
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The name the chat APIs and templates use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// A completion request, already checked against the capability's bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy (deterministic).
    pub temperature: f32,
}

/// Tokens a call used and the model that answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// The model that answered.
    pub model: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
}

/// A finished, unscreened completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The model's answer.
    pub content: String,
    /// The model that answered.
    pub model: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Wall time of the call, request sent to last byte received (retries included).
    pub response_time_ms: u32,
}

/// One piece of a streamed completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// More of the answer.
    Delta(String),
    /// The answer is complete; what it used. Always the last item of a stream that did not
    /// fail.
    Done(Usage),
}

/// A streamed completion: deltas, then [`StreamItem::Done`], or an error that ends it.
pub type CompletionStream = BoxStream<'static, Result<StreamItem, LlmError>>;

/// A language-model provider. Object-safe, so the configured one sits behind a `dyn`.
pub trait Provider: Send + Sync {
    /// Its name in usage records: `local`, `openai` or `anthropic`.
    fn name(&self) -> &'static str;

    /// The model it asks for (recorded when a call ends before the provider names one).
    fn model(&self) -> &str;

    /// Completes a conversation.
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>>;

    /// Completes a conversation, streaming the answer. The future resolves once the provider
    /// accepted the request (retries happen before that, never after the first delta).
    fn stream<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<CompletionStream, LlmError>>;

    /// Embeddings of `texts`, one vector each, in order.
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, LlmError>> {
        let _ = texts;
        Box::pin(async { Err(LlmError::Unsupported("embeddings")) })
    }
}

/// Milliseconds of a duration, saturated to `u32`.
pub fn millis(elapsed: std::time::Duration) -> u32 {
    u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX)
}

/// Collects a stream into a completion (for providers whose complete is their stream).
///
/// # Errors
/// The stream's error, or [`LlmError::Protocol`] when it ends without [`StreamItem::Done`].
pub async fn collect(
    mut stream: CompletionStream,
    started: std::time::Instant,
) -> Result<Completion, LlmError> {
    use futures::StreamExt;
    let mut content = String::new();
    while let Some(item) = stream.next().await {
        match item? {
            StreamItem::Delta(text) => content.push_str(&text),
            StreamItem::Done(usage) => {
                return Ok(Completion {
                    content,
                    model: usage.model,
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    response_time_ms: millis(started.elapsed()),
                });
            }
        }
    }
    Err(LlmError::Protocol(
        "the stream ended without its end".into(),
    ))
}
