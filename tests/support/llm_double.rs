//! A language-model provider double on loopback that speaks the real wire formats: OpenAI's
//! `POST /v1/chat/completions` (plain JSON, or server-sent `chat.completion.chunk`s with a
//! final usage chunk and `data: [DONE]`), `POST /v1/embeddings`, and Anthropic's
//! `POST /v1/messages` (plain JSON, or the `message_start` … `message_stop` event stream).
//!
//! Each call takes the next scripted [`Answer`] from the queue (an empty queue answers
//! [`DEFAULT_ANSWER`]); whether it streams is the request's `stream` field. It counts and
//! records calls, and can stream slowly, one token at a time:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mindflow_tests::llm_double::{Answer, LlmDouble};
//! let double = LlmDouble::start().await?;
//! double.push(Answer::status(429, "slow down").retry_after("1"));
//! double.push(Answer::text("Hello there."));
//! // point the host at double.base_url() (MINDFLOW_LLM_BASE_URL) …
//! assert_eq!(double.calls(), 2);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// What the double answers when nothing is scripted.
pub const DEFAULT_ANSWER: &str = "Hello from the double.";
/// The model name the double answers with.
pub const MODEL: &str = "double-model";

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A successful answer with this text and usage.
    Text {
        /// The answer.
        content: String,
        /// Reported prompt tokens.
        prompt_tokens: u32,
        /// Reported completion tokens.
        completion_tokens: u32,
    },
    /// An error status with the provider's error body.
    Status {
        /// The HTTP status.
        status: u16,
        /// The error's message.
        message: String,
        /// A `Retry-After` value.
        retry_after: Option<String>,
    },
    /// Wait this long before answering (the default answer), to trip a timeout.
    Hang(Duration),
    /// Stream the first token of `content`, then break the connection.
    BreakAfterFirstToken(String),
    /// Stream the first token of `content`, then the provider's in-stream error event.
    ErrorAfterFirstToken(String),
}

impl Answer {
    /// A successful answer; usage: 11 prompt tokens, one completion token per word.
    pub fn text(content: &str) -> Self {
        let words = u32::try_from(tokens(content).len()).unwrap_or(u32::MAX);
        Self::Text {
            content: content.to_owned(),
            prompt_tokens: 11,
            completion_tokens: words,
        }
    }

    /// An error status.
    pub fn status(status: u16, message: &str) -> Self {
        Self::Status {
            status,
            message: message.to_owned(),
            retry_after: None,
        }
    }

    /// This error with `Retry-After: value`.
    #[must_use]
    pub fn retry_after(self, value: &str) -> Self {
        match self {
            Self::Status {
                status, message, ..
            } => Self::Status {
                status,
                message,
                retry_after: Some(value.to_owned()),
            },
            other => other,
        }
    }
}

/// A call the double received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path (`/v1/chat/completions`, `/v1/messages`, `/v1/embeddings`).
    pub path: String,
    /// The request's headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    calls: Vec<Recorded>,
    token_delay: Duration,
}

type Shared = Arc<Mutex<Script>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Script> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running double (stopped when dropped).
pub struct LlmDouble {
    addr: SocketAddr,
    script: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LlmDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LlmDouble {
    /// Starts a double on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the llm double")?;
        let addr = listener.local_addr()?;
        let script = Shared::default();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(script.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, script, task })
    }

    /// The base URL to configure (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues an answer for a later call.
    pub fn push(&self, answer: Answer) {
        lock(&self.script).answers.push_back(answer);
    }

    /// Streams wait this long before each token.
    pub fn set_token_delay(&self, delay: Duration) {
        lock(&self.script).token_delay = delay;
    }

    /// How many calls arrived.
    pub fn calls(&self) -> usize {
        lock(&self.script).calls.len()
    }

    /// The calls, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.script).calls.clone()
    }
}

/// The tokens a text streams as: words with their leading spaces.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        if i == 0 {
            if !word.is_empty() {
                out.push(word.to_owned());
            }
        } else {
            out.push(format!(" {word}"));
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    OpenAi,
    Anthropic,
    Embeddings,
}

async fn handle(
    State(script): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_owned();
    let (answer, delay) = {
        let mut script = lock(&script);
        script.calls.push(Recorded {
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.clone(),
            at: Instant::now(),
        });
        let answer = script
            .answers
            .pop_front()
            .unwrap_or_else(|| Answer::text(DEFAULT_ANSWER));
        (answer, script.token_delay)
    };
    let api = match path.as_str() {
        "/v1/chat/completions" => Api::OpenAi,
        "/v1/messages" => Api::Anthropic,
        "/v1/embeddings" => Api::Embeddings,
        _ => {
            return plain(
                404,
                "application/json",
                json!({"error": {"message": "no such path"}}).to_string(),
            );
        }
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let answer = match answer {
        Answer::Hang(wait) => {
            tokio::time::sleep(wait).await;
            Answer::text(DEFAULT_ANSWER)
        }
        other => other,
    };
    match answer {
        Answer::Status {
            status,
            message,
            retry_after,
        } => {
            let body = match api {
                Api::Anthropic => {
                    json!({"type": "error", "error": {"type": "api_error", "message": message}})
                }
                _ => json!({"error": {"message": message, "type": "server_error", "code": null}}),
            };
            let mut response = plain(status, "application/json", body.to_string());
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Answer::Text {
            content,
            prompt_tokens,
            completion_tokens,
        } => match (api, stream) {
            (Api::Embeddings, _) => embeddings(&body),
            (Api::OpenAi, false) => plain(
                200,
                "application/json",
                openai_message(&content, prompt_tokens, completion_tokens).to_string(),
            ),
            (Api::Anthropic, false) => plain(
                200,
                "application/json",
                anthropic_message(&content, prompt_tokens, completion_tokens).to_string(),
            ),
            (api, true) => {
                let frames = frames(api, &tokens(&content), prompt_tokens, completion_tokens);
                event_stream(frames, delay, None)
            }
        },
        Answer::BreakAfterFirstToken(content) | Answer::ErrorAfterFirstToken(content)
            if !stream =>
        {
            plain(
                200,
                "application/json",
                openai_message(&content, 1, 1).to_string(),
            )
        }
        Answer::BreakAfterFirstToken(content) => {
            let first: Vec<String> = tokens(&content).into_iter().take(1).collect();
            let mut frames = frames(api, &first, 11, 1);
            // Keep the opening and the first delta; the connection then breaks.
            let keep = if api == Api::Anthropic { 3 } else { 2 };
            frames.truncate(keep);
            event_stream(frames, delay, Some(()))
        }
        Answer::ErrorAfterFirstToken(content) => {
            let first: Vec<String> = tokens(&content).into_iter().take(1).collect();
            let mut frames = frames(api, &first, 11, 1);
            let keep = if api == Api::Anthropic { 3 } else { 2 };
            frames.truncate(keep);
            frames.push(match api {
                Api::Anthropic => sse(Some("error"), &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
                _ => sse(None, &json!({"error": {"message": "The server had an error", "type": "server_error"}})),
            });
            event_stream(frames, delay, None)
        }
        Answer::Hang(_) => plain(500, "text/plain", String::new()),
    }
}

fn plain(status: u16, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap_or_default()
}

fn openai_message(content: &str, prompt: u32, completion: u32) -> Value {
    json!({
        "id": "chatcmpl-double", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    })
}

fn anthropic_message(content: &str, prompt: u32, completion: u32) -> Value {
    json!({
        "id": "msg_double", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": content}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": prompt, "output_tokens": completion}
    })
}

fn embeddings(body: &Value) -> Response {
    let inputs = body
        .get("input")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let len = text.as_str().map_or(0, str::len);
            #[allow(clippy::cast_precision_loss)]
            let embedding = vec![len as f32, i as f32, 1.0];
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    plain(200, "application/json", json!({"object": "list", "data": data, "model": "double-embedding", "usage": {"prompt_tokens": 1, "total_tokens": 1}}).to_string())
}

fn sse(event: Option<&str>, data: &Value) -> String {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// The event stream of a whole answer, frame by frame (the first frame opens it, then one
/// frame per token, then the closing frames).
fn frames(api: Api, tokens: &[String], prompt: u32, completion: u32) -> Vec<String> {
    let mut frames = Vec::new();
    if api == Api::Anthropic {
        frames.push(sse(Some("message_start"), &json!({"type": "message_start", "message": {"id": "msg_double", "type": "message", "role": "assistant", "content": [], "model": MODEL, "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": prompt, "output_tokens": 1}}})));
        frames.push(sse(Some("content_block_start"), &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})) + &sse(Some("ping"), &json!({"type": "ping"})));
        for token in tokens {
            frames.push(sse(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}})));
        }
        frames.push(sse(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": 0}),
        ));
        frames.push(sse(Some("message_delta"), &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": completion}})));
        frames.push(sse(Some("message_stop"), &json!({"type": "message_stop"})));
    } else {
        let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-double", "object": "chat.completion.chunk", "created": 0, "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        frames.push(sse(
            None,
            &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        ));
        for token in tokens {
            frames.push(sse(None, &chunk(json!({"content": token}), Value::Null)));
        }
        frames.push(sse(None, &chunk(json!({}), json!("stop"))));
        frames.push(sse(None, &json!({"id": "chatcmpl-double", "object": "chat.completion.chunk", "created": 0, "model": MODEL, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})));
        frames.push("data: [DONE]\n\n".to_owned());
    }
    frames
}

/// A streamed response of `frames`, `delay` before each; with `break_after`, the connection
/// then breaks (the body fails) instead of ending.
fn event_stream(frames: Vec<String>, delay: Duration, break_after: Option<()>) -> Response {
    let items = frames
        .into_iter()
        .map(Ok::<_, std::io::Error>)
        .chain(break_after.map(|()| Err(std::io::Error::other("connection broken"))));
    let stream = futures::StreamExt::then(futures::stream::iter(items), move |item| async move {
        match &item {
            // Let what was sent reach the client before the connection breaks.
            Err(_) => tokio::time::sleep(delay.max(Duration::from_millis(100))).await,
            Ok(_) if !delay.is_zero() => tokio::time::sleep(delay).await,
            Ok(_) => {}
        }
        item.map(Bytes::from)
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}
