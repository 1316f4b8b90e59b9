//! `WS /api/v1/chat/ws/{session_id}`: chat over a WebSocket (seed-plan §3.3).
//!
//! The socket is a relay, not a second chat implementation. Each message a client sends is
//! dispatched, like any request, to the chat component as
//! `POST /api/v1/chat/sessions/{id}/messages` with `Accept: text/event-stream` and the
//! socket's access token; the component's server-sent events (`message`, `delta`, `replace`,
//! `done`, `error`) become text frames `{"type": event, "data": …}` as they arrive. So the
//! same pipeline, the same screening and the same limits apply over HTTP, SSE and the socket,
//! and the component stays a sandboxed request handler that streams its body.
//!
//! - **Authentication without the token in the URL**: the subprotocol `bearer.<token>` in
//!   `Sec-WebSocket-Protocol`, offered with `mindflow.chat.v1`, which the handshake selects
//!   (a browser fails a handshake that selects none of the protocols it offered), or
//!   a first frame `{"type": "auth", "token": …}` within [`AUTH_WINDOW`]. A later `auth` frame
//!   replaces the token (access tokens live 15 minutes; a socket may live longer).
//! - **The session must be the caller's**: checked before anything else (`GET` on it through
//!   the component); otherwise the socket closes with 4404.
//! - **Close codes**: 1000 normal, 1008 a frame that is not a chat frame, 1009 a frame over
//!   [`MAX_CLIENT_FRAME`], 4401 no valid token, 4404 not the caller's session, 1011 failure.
//! - **Liveness**: a ping every [`PING_EVERY`]; a client silent (no pong, no frame) for
//!   [`IDLE_LIMIT`] is closed.
//! - **Back-pressure**: the next event is read from the component only after the previous
//!   frame was written to the socket, and the socket's write buffer is bounded, so a slow
//!   reader slows the component's stream (bounded by the component's deadline) instead of
//!   growing memory. One message streams at a time; a frame sent meanwhile is answered with
//!   an `error` frame.
//! - A client that goes away mid-answer stops the relay; the component still finishes and
//!   stores the answer (the socket only ever reads).

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::AppState;
use super::dispatch;

/// The subprotocol the handshake selects when the client offers it.
pub const PROTOCOL: &str = "mindflow.chat.v1";
/// How long a socket without a subprotocol token waits for its `auth` frame.
pub const AUTH_WINDOW: Duration = Duration::from_secs(10);
/// The largest frame a client may send (a message is at most 4,000 characters).
pub const MAX_CLIENT_FRAME: usize = 32 * 1024;
/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// How long a client may stay silent (no pong, no frame) before it is closed.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Bytes the socket buffers for a client that does not read before the relay waits.
const WRITE_BUFFER: usize = 64 * 1024;

/// Close codes of this endpoint.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const FAILURE: u16 = 1011;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const NOT_FOUND: u16 = 4404;
}

/// The handshake: takes a token from the subprotocols, then upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let token = protocol_token(&headers);
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .write_buffer_size(0)
        .max_write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| async move {
            Relay {
                state,
                session_id,
                token,
                socket,
                heard_at: Instant::now(),
            }
            .run()
            .await;
        })
}

/// `bearer.<token>` among the offered subprotocols.
fn protocol_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix("bearer.").map(str::to_owned))
        .filter(|token| !token.is_empty())
}

/// What a client frame asks for.
enum ClientFrame {
    Auth(String),
    Message(String),
}

fn parse_frame(text: &str) -> Option<ClientFrame> {
    let value: Value = serde_json::from_str(text).ok()?;
    match value.get("type").and_then(Value::as_str) {
        Some("auth") => value
            .get("token")
            .and_then(Value::as_str)
            .map(|t| ClientFrame::Auth(t.to_owned())),
        Some("message") | None => value
            .get("content")
            .map(|content| ClientFrame::Message(json!({"content": content}).to_string())),
        Some(_) => None,
    }
}

/// One socket's relay.
struct Relay {
    state: AppState,
    session_id: String,
    token: Option<String>,
    socket: WebSocket,
    heard_at: Instant,
}

/// How a relay ends.
struct Closing(u16, &'static str);

impl Relay {
    async fn run(mut self) {
        let closing = match self.serve().await {
            Ok(()) => Closing(close::NORMAL, "bye"),
            Err(closing) => closing,
        };
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code: closing.0,
                reason: Utf8Bytes::from_static(closing.1),
            })))
            .await;
    }

    async fn serve(&mut self) -> Result<(), Closing> {
        if self.token.is_none() {
            self.token = Some(self.await_auth().await?);
        }
        let path = format!("/api/v1/chat/sessions/{}?limit=1", self.session_id);
        let check = call(
            self.state.clone(),
            self.token.clone(),
            Method::GET,
            path,
            None,
        )
        .await?;
        match check.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(Closing(close::UNAUTHORIZED, "no valid token")),
            StatusCode::NOT_FOUND => return Err(Closing(close::NOT_FOUND, "no such session")),
            _ => return Err(Closing(close::FAILURE, "the session cannot be opened")),
        }
        self.send_json(&json!({"type": "ready", "session_id": self.session_id}))
            .await?;
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                frame = self.socket.recv() => {
                    let Some(text) = self.heard(frame)? else { continue };
                    match parse_frame(&text) {
                        Some(ClientFrame::Auth(token)) => self.token = Some(token),
                        Some(ClientFrame::Message(body)) => self.relay_message(body).await?,
                        None => return Err(Closing(close::POLICY, "not a chat frame")),
                    }
                }
                _ = ping.tick() => {
                    if self.heard_at.elapsed() > IDLE_LIMIT {
                        return Err(Closing(close::POLICY, "no pong"));
                    }
                    self.send(Message::Ping(Default::default())).await?;
                }
            }
        }
    }

    /// A received frame: its text, `None` for control frames, or the end of the socket.
    fn heard(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
    ) -> Result<Option<String>, Closing> {
        self.heard_at = Instant::now();
        match frame {
            None | Some(Ok(Message::Close(_))) => Err(Closing(close::NORMAL, "bye")),
            Some(Err(error)) => {
                let too_big =
                    error.to_string().contains("too long") || error.to_string().contains("too big");
                Err(if too_big {
                    Closing(close::TOO_BIG, "frame too large")
                } else {
                    Closing(close::FAILURE, "broken frame")
                })
            }
            Some(Ok(Message::Text(text))) => Ok(Some(text.to_string())),
            Some(Ok(Message::Binary(_))) => Err(Closing(close::POLICY, "text frames only")),
            Some(Ok(_)) => Ok(None),
        }
    }

    async fn await_auth(&mut self) -> Result<String, Closing> {
        let deadline = tokio::time::sleep(AUTH_WINDOW);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                frame = self.socket.recv() => {
                    let Some(text) = self.heard(frame)? else { continue };
                    return match parse_frame(&text) {
                        Some(ClientFrame::Auth(token)) => Ok(token),
                        _ => Err(Closing(close::UNAUTHORIZED, "authenticate first")),
                    };
                }
                () = &mut deadline => return Err(Closing(close::UNAUTHORIZED, "no token in time")),
            }
        }
    }

    /// Sends one message to the chat component and relays its answer.
    async fn relay_message(&mut self, body: String) -> Result<(), Closing> {
        let path = format!("/api/v1/chat/sessions/{}/messages", self.session_id);
        let response = call(
            self.state.clone(),
            self.token.clone(),
            Method::POST,
            path,
            Some(body),
        )
        .await?;
        let status = response.status();
        let streamed = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = response.into_body();
        if !streamed {
            let bytes = body
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            self.send_json(&json!({"type": "error", "status": status.as_u16(), "data": problem}))
                .await?;
            if status == StatusCode::UNAUTHORIZED {
                return Err(Closing(close::UNAUTHORIZED, "the token is no longer valid"));
            }
            return Ok(());
        }
        let mut events = EventParser::default();
        loop {
            tokio::select! {
                frame = body.frame() => {
                    let Some(frame) = frame else { break };
                    let Ok(frame) = frame else {
                        self.send_json(&json!({"type": "error", "status": 500, "data": null})).await?;
                        break;
                    };
                    if let Some(data) = frame.data_ref() {
                        for (event, data) in events.push(data) {
                            let last = event == "done" || event == "error";
                            self.send_json(&json!({"type": event, "data": data})).await?;
                            // The exchange is over for the client, who may send the next
                            // message at once; the rest of the body (its end) is drained by
                            // the runtime.
                            if last {
                                return Ok(());
                            }
                        }
                    }
                }
                frame = self.socket.recv() => {
                    if self.heard(frame)?.is_some() {
                        self.send_json(&json!({"type": "error", "status": 409, "data": {"detail": "one message at a time: wait for `done`"}})).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_json(&mut self, value: &Value) -> Result<(), Closing> {
        self.send(Message::Text(value.to_string().into())).await
    }

    async fn send(&mut self, message: Message) -> Result<(), Closing> {
        self.socket
            .send(message)
            .await
            .map_err(|_| Closing(close::NORMAL, "gone"))
    }
}

/// Dispatches a request to the components as the caller `token` names (owned arguments: the
/// future holds no borrow of the socket).
async fn call(
    state: AppState,
    token: Option<String>,
    method: Method,
    path: String,
    body: Option<String>,
) -> Result<Response, Closing> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ACCEPT, "text/event-stream, application/json");
    if let Some(token) = &token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or_default()))
        .map_err(|_| Closing(close::UNAUTHORIZED, "the token is not a header value"))?;
    // Each message counts against the caller's rate limit as an HTTP request would (the
    // relay dispatches past the router's layer); without a valid token the component
    // answers 401 anyway.
    if let Some(user) = token
        .as_deref()
        .and_then(|token| super::ratelimit::token_subject(&state, token))
        && let Some(refused) = state
            .rate_limits
            .refusal(
                request.method(),
                request.uri().path(),
                super::ratelimit::policy::Subject::User(user),
            )
            .await
    {
        return Ok(refused);
    }
    Ok(dispatch::serve(state, request).await)
}

/// Server-sent events parsed from a body's chunks (`event:` + `data:` lines, a blank line
/// ends an event).
#[derive(Default)]
struct EventParser {
    pending: Vec<u8>,
}

impl EventParser {
    fn push(&mut self, chunk: &[u8]) -> Vec<(String, Value)> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = "message".to_owned();
            let mut data = String::new();
            for line in text.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(more) = line.strip_prefix("data:") {
                    data.push_str(more.trim_start());
                }
            }
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            events.push((event, data));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_chunk_boundaries() {
        let mut parser = EventParser::default();
        assert!(parser.push(b"event: delta\ndata: {\"te").is_empty());
        let events = parser.push(b"xt\":\"hi\"}\n\nevent: done\ndata: {}\n\n");
        assert_eq!(
            events,
            vec![
                ("delta".to_owned(), json!({"text": "hi"})),
                ("done".to_owned(), json!({}))
            ]
        );
    }

    #[test]
    fn the_token_comes_from_a_bearer_subprotocol() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "mindflow.chat.v1, bearer.abc.def".parse().expect("header"),
        );
        assert_eq!(protocol_token(&headers).as_deref(), Some("abc.def"));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "bearer.".parse().expect("header"),
        );
        assert_eq!(protocol_token(&headers), None);
    }

    #[test]
    fn client_frames_are_auth_or_messages() {
        assert!(matches!(
            parse_frame(r#"{"type":"auth","token":"t"}"#),
            Some(ClientFrame::Auth(t)) if t == "t"
        ));
        assert!(matches!(
            parse_frame(r#"{"type":"message","content":"hi"}"#),
            Some(ClientFrame::Message(b)) if b == r#"{"content":"hi"}"#
        ));
        assert!(matches!(
            parse_frame(r#"{"content":"hi"}"#),
            Some(ClientFrame::Message(_))
        ));
        assert!(parse_frame(r#"{"type":"other"}"#).is_none());
        assert!(parse_frame("not json").is_none());
    }
}
