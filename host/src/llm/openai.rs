//! OpenAI-compatible providers (OpenAI, vLLM, llama.cpp's server, Ollama): `POST
//! {base}/chat/completions`, plain or streamed as server-sent `chat.completion.chunk`s ending
//! in `data: [DONE]` (usage in a last chunk with no choices, asked for with
//! `stream_options.include_usage`), and `POST {base}/embeddings`. The base URL includes the
//! API's version (`https://api.openai.com/v1`); the key goes as a bearer token.

use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::LlmError;
use super::provider::{
    Completion, CompletionRequest, CompletionStream, Provider, StreamItem, Usage, millis,
};
use super::retry::{self, Policy};
use super::sse;
use crate::secrets::Secret;

/// An OpenAI-compatible provider.
pub struct OpenAi {
    base_url: String,
    api_key: Option<Secret>,
    model: String,
    embedding_model: String,
    policy: Policy,
    client: reqwest::Client,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    /// A provider at `base_url` (e.g. `https://api.openai.com/v1`) answering with `model`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        api_key: Option<Secret>,
        model: String,
        embedding_model: String,
        policy: Policy,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model,
            embedding_model,
            client: policy.client()?,
            policy,
        })
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        let request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .json(body);
        match &self.api_key {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        }
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": stream,
        });
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
    delta: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct TokenUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

fn malformed(error: &serde_json::Error) -> LlmError {
    LlmError::Protocol(error.to_string())
}

/// The stream of one answer's chunks (after the response was accepted).
fn chunks(
    events: futures::stream::BoxStream<'static, Result<sse::Event, LlmError>>,
    model: String,
) -> CompletionStream {
    struct State {
        events: futures::stream::BoxStream<'static, Result<sse::Event, LlmError>>,
        usage: Usage,
        finished: bool,
    }
    let state = State {
        events,
        usage: Usage {
            model,
            ..Usage::default()
        },
        finished: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        loop {
            let Some(event) = state.events.next().await else {
                state.finished = true;
                return Some((
                    Err(LlmError::Interrupted(
                        "the stream ended before [DONE]".into(),
                    )),
                    state,
                ));
            };
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    state.finished = true;
                    return Some((Err(error), state));
                }
            };
            if event.data.trim() == "[DONE]" {
                state.finished = true;
                let usage = std::mem::take(&mut state.usage);
                return Some((Ok(StreamItem::Done(usage)), state));
            }
            if let Some(message) = retry::error_message(event.data.as_bytes()) {
                state.finished = true;
                return Some((
                    Err(LlmError::Stream {
                        kind: "error".into(),
                        message,
                    }),
                    state,
                ));
            }
            let chunk: ChatResponse = match serde_json::from_str(&event.data) {
                Ok(chunk) => chunk,
                Err(error) => {
                    state.finished = true;
                    return Some((Err(malformed(&error)), state));
                }
            };
            if let Some(model) = chunk.model {
                state.usage.model = model;
            }
            if let Some(usage) = chunk.usage {
                state.usage.prompt_tokens = usage.prompt_tokens;
                state.usage.completion_tokens = usage.completion_tokens;
            }
            let delta = chunk
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.delta)
                .and_then(|d| d.content)
                .filter(|text| !text.is_empty());
            if let Some(text) = delta {
                return Some((Ok(StreamItem::Delta(text)), state));
            }
        }
    }))
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
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
            let answer: ChatResponse = self
                .policy
                .run(|| async {
                    let response =
                        retry::send(self.post("/chat/completions", &body), self.policy.timeout)
                            .await?;
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| LlmError::from_reqwest(e, self.policy.timeout))?;
                    serde_json::from_slice(&bytes).map_err(|e| malformed(&e))
                })
                .await?;
            let usage = answer.usage.unwrap_or(TokenUsage {
                prompt_tokens: 0,
                completion_tokens: 0,
            });
            let content = answer
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message)
                .and_then(|m| m.content)
                .ok_or_else(|| LlmError::Protocol("no choices[0].message.content".into()))?;
            Ok(Completion {
                content,
                model: answer.model.unwrap_or_else(|| self.model.clone()),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
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
                    let response =
                        retry::send(self.post("/chat/completions", &body), self.policy.timeout)
                            .await?;
                    Ok(chunks(
                        sse::events(response, self.policy.timeout),
                        self.model.clone(),
                    ))
                })
                .await
        })
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, LlmError>> {
        Box::pin(async move {
            let body = json!({"model": self.embedding_model, "input": texts});
            let answer: EmbeddingResponse = self
                .policy
                .run(|| async {
                    let response =
                        retry::send(self.post("/embeddings", &body), self.policy.timeout).await?;
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| LlmError::from_reqwest(e, self.policy.timeout))?;
                    serde_json::from_slice(&bytes).map_err(|e| malformed(&e))
                })
                .await?;
            let mut data = answer.data;
            data.sort_by_key(|item| item.index);
            if data.len() != texts.len() || data.iter().enumerate().any(|(i, d)| d.index != i) {
                return Err(LlmError::Protocol(
                    "the embeddings do not match the texts".into(),
                ));
            }
            Ok(data.into_iter().map(|item| item.embedding).collect())
        })
    }
}

#[cfg(test)]
#[path = "openai_tests.rs"]
pub(crate) mod tests;
