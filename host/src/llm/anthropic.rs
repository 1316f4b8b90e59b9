//! Anthropic's Messages API: `POST {base}/messages` (`https://api.anthropic.com/v1`) with
//! `x-api-key` and `anthropic-version: 2023-06-01`; system messages become the top-level
//! `system`. Streamed answers are server-sent events: `message_start` (input tokens),
//! `content_block_start`, `content_block_delta` (`text_delta`), `content_block_stop`,
//! `message_delta` (output tokens), `message_stop`, `ping`, and `error`. Anthropic offers no
//! embeddings.

use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::LlmError;
use super::provider::{
    Completion, CompletionRequest, CompletionStream, Provider, Role, StreamItem, Usage, millis,
};
use super::retry::{self, Policy};
use super::sse;
use crate::secrets::Secret;

/// The API version this module speaks.
pub const API_VERSION: &str = "2023-06-01";

/// The Messages API.
pub struct Anthropic {
    base_url: String,
    api_key: Option<Secret>,
    model: String,
    policy: Policy,
    client: reqwest::Client,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Anthropic {
    /// The API at `base_url` answering with `model`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        api_key: Option<Secret>,
        model: String,
        policy: Policy,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model,
            client: policy.client()?,
            policy,
        })
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        let request = self
            .client
            .post(format!("{}/messages", self.base_url))
            .header("anthropic-version", API_VERSION)
            .json(body);
        match &self.api_key {
            Some(key) => request.header("x-api-key", key.expose()),
            None => request,
        }
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            // The API takes 0 to 1.
            "temperature": request.temperature.clamp(0.0, 1.0),
        });
        if !system.is_empty() {
            body["system"] = Value::String(system.join("\n\n"));
        }
        if stream {
            body["stream"] = Value::Bool(true);
        }
        body
    }
}

#[derive(Deserialize)]
struct MessageResponse {
    model: Option<String>,
    content: Vec<ContentBlock>,
    usage: Option<MessageUsage>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct MessageUsage {
    #[serde(default)]
    input_tokens: Option<u32>,
    #[serde(default)]
    output_tokens: Option<u32>,
}

/// The fields of the stream's events this module reads.
#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "type")]
    kind: String,
    message: Option<StartMessage>,
    delta: Option<Delta>,
    usage: Option<MessageUsage>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct StartMessage {
    model: Option<String>,
    usage: Option<MessageUsage>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

fn malformed(error: &serde_json::Error) -> LlmError {
    LlmError::Protocol(error.to_string())
}

/// One step of reading the event stream.
enum Step {
    Item(Result<StreamItem, LlmError>),
    Nothing,
}

fn step(event: &sse::Event, usage: &mut Usage) -> Step {
    let parsed: StreamEvent = match serde_json::from_str(&event.data) {
        Ok(parsed) => parsed,
        Err(error) => return Step::Item(Err(malformed(&error))),
    };
    // The data's `type` names the event (the `event:` line says the same).
    match parsed.kind.as_str() {
        "message_start" => {
            if let Some(message) = parsed.message {
                if let Some(model) = message.model {
                    usage.model = model;
                }
                let start = message.usage.unwrap_or_default();
                usage.prompt_tokens = start.input_tokens.unwrap_or(0);
                usage.completion_tokens = start.output_tokens.unwrap_or(0);
            }
            Step::Nothing
        }
        "content_block_delta" => match parsed.delta {
            Some(Delta {
                kind: Some(kind),
                text: Some(text),
            }) if kind == "text_delta" && !text.is_empty() => {
                Step::Item(Ok(StreamItem::Delta(text)))
            }
            _ => Step::Nothing,
        },
        "message_delta" => {
            if let Some(output) = parsed.usage.and_then(|u| u.output_tokens) {
                usage.completion_tokens = output;
            }
            Step::Nothing
        }
        "message_stop" => Step::Item(Ok(StreamItem::Done(std::mem::take(usage)))),
        "error" => {
            let error = parsed.error.unwrap_or(ErrorBody {
                kind: None,
                message: None,
            });
            Step::Item(Err(LlmError::Stream {
                kind: error.kind.unwrap_or_else(|| "error".into()),
                message: error.message.unwrap_or_default(),
            }))
        }
        // `ping`, `content_block_start`, `content_block_stop`, and events added later.
        _ => Step::Nothing,
    }
}

fn events_to_items(
    events: futures::stream::BoxStream<'static, Result<sse::Event, LlmError>>,
    model: String,
) -> CompletionStream {
    let usage = Usage {
        model,
        ..Usage::default()
    };
    Box::pin(futures::stream::unfold(
        Some((events, usage)),
        |state| async move {
            let (mut events, mut usage) = state?;
            loop {
                let Some(event) = events.next().await else {
                    let error =
                        LlmError::Interrupted("the stream ended before message_stop".into());
                    return Some((Err(error), None));
                };
                let item = match event {
                    Ok(event) => match step(&event, &mut usage) {
                        Step::Nothing => continue,
                        Step::Item(item) => item,
                    },
                    Err(error) => Err(error),
                };
                let last = !matches!(item, Ok(StreamItem::Delta(_)));
                let next = (!last).then_some((events, usage));
                return Some((item, next));
            }
        },
    ))
}

impl Provider for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let body = self.body(request, false);
            let answer: MessageResponse = self
                .policy
                .run(|| async {
                    let response = retry::send(self.post(&body), self.policy.timeout).await?;
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| LlmError::from_reqwest(e, self.policy.timeout))?;
                    serde_json::from_slice(&bytes).map_err(|e| malformed(&e))
                })
                .await?;
            let content: String = answer
                .content
                .into_iter()
                .filter(|block| block.kind == "text")
                .filter_map(|block| block.text)
                .collect();
            let usage = answer.usage.unwrap_or_default();
            Ok(Completion {
                content,
                model: answer.model.unwrap_or_else(|| self.model.clone()),
                prompt_tokens: usage.input_tokens.unwrap_or(0),
                completion_tokens: usage.output_tokens.unwrap_or(0),
                response_time_ms: millis(started.elapsed()),
            })
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<CompletionStream, LlmError>> {
        Box::pin(async move {
            let body = self.body(request, true);
            self.policy
                .open_stream(|| async {
                    let response = retry::send(self.post(&body), self.policy.timeout).await?;
                    Ok(events_to_items(
                        sse::events(response, self.policy.timeout),
                        self.model.clone(),
                    ))
                })
                .await
        })
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
