//! Routing and the session endpoints of `/api/v1/chat` (seed-plan §3.3).
//!
//! | method | path | what |
//! |---|---|---|
//! | `POST` | `/sessions` | [`create_session`]: `title`, `session_type` |
//! | `GET` | `/sessions` | [`list_sessions`]: newest first, `limit`/`cursor` |
//! | `GET` | `/sessions/{id}` | [`read_session`]: the session and a page of its messages |
//! | `DELETE` | `/sessions/{id}` | the session and its messages |
//! | `POST` | `/sessions/{id}/messages` | [`crate::pipeline`]: send a message, get the answer |
//!
//! A message's text is stored only sealed under the user's key (purpose `chat/message`);
//! what a client sees is opened here. Messages of a session page newest first and each page
//! reads oldest first, the order a chat shows them in.

use mindflow_component_kit::handlers;
use mindflow_component_kit::host::Sealed;
use mindflow_component_kit::storage::{
    Comparison, Filter, PageRequest, Row, Value, bytes_of, column, text_of,
};
use mindflow_component_kit::{Params, Platform, Problem, Reply, Request, Wording};
use serde_json::{Map, Value as Json, json};

use crate::pipeline::{self, Events};
use crate::validate;

/// The sessions collection.
pub const SESSIONS: &str = "chat_sessions";
/// The messages collection (child of a session).
pub const MESSAGES: &str = "chat_messages";
/// The content library, for action cards.
pub const CONTENT: &str = "content_library";
/// The mood logs, for the mood context the user may consent to.
pub const MOOD_LOGS: &str = "mood_logs";
/// Where the service is mounted.
pub const BASE_PATH: &str = "/api/v1/chat";
/// The service's words for the kit's generic problems.
pub const WORDING: Wording = Wording::new("chat", "no such chat session");
/// The purpose a message's text is sealed under.
pub const MESSAGE_PURPOSE: &str = mindflow_component_kit::purpose::CHAT_MESSAGE;
/// The purpose a session's running summary is sealed under.
pub const SUMMARY_PURPOSE: &str = mindflow_component_kit::purpose::CHAT_SUMMARY;
/// Messages per page of `GET /sessions/{id}` unless `limit` says otherwise.
pub const DEFAULT_MESSAGE_PAGE: u32 = 50;

/// Columns never shown to a client as stored.
const HIDDEN: [&str; 5] = [
    "content_encrypted",
    "content_iv",
    "embedding",
    "context_summary_encrypted",
    "context_summary_iv",
];

/// Which resource a path names.
enum Resource<'a> {
    Sessions,
    Session(&'a str),
    Messages(&'a str),
}

impl Resource<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Self::Sessions => "GET, POST",
            Self::Session(_) => "GET, DELETE",
            Self::Messages(_) => "POST",
        }
    }
}

fn resource<'a>(path: &'a str) -> Option<Resource<'a>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["sessions"] => Some(Resource::Sessions),
        ["sessions", id] => Some(Resource::Session(id)),
        ["sessions", id, "messages"] => Some(Resource::Messages(id)),
        _ => None,
    }
}

/// Whether `request` asks for the answer as a stream of server-sent events: a message sent
/// with `Accept: text/event-stream`.
pub fn wants_stream(method: &str, path: &str, accept: Option<&str>) -> bool {
    method == "POST"
        && matches!(resource(path), Some(Resource::Messages(_)))
        && accept.is_some_and(|a| a.contains("text/event-stream"))
}

/// Answers one request (everything but a streamed message): the resource's handler, or a
/// problem document in the service's words ([`WORDING`]).
///
/// # Errors
/// The problem to answer.
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    handle_with(p, request, None)
}

/// Answers `request`, streaming a message's answer to `events` when given.
///
/// # Errors
/// The problem to answer (for a stream, before anything was streamed).
pub fn handle_with(
    p: &impl Platform,
    request: &Request<'_>,
    events: Option<&mut dyn Events>,
) -> Result<Reply, Problem> {
    if p.current_user().is_none() {
        return Err(Problem::unauthorized());
    }
    let Some(resource) = resource(request.path) else {
        return Err(Problem::not_found("no such chat resource"));
    };
    let params = Params::parse(request.query);
    match (request.method, &resource) {
        ("POST", Resource::Sessions) => create_session(p, request.body),
        ("GET", Resource::Sessions) => list_sessions(p, &params),
        ("GET", Resource::Session(id)) => read_session(p, id, &params),
        ("DELETE", Resource::Session(id)) => handlers::delete_row(p, SESSIONS, id, &WORDING),
        ("POST", Resource::Messages(id)) => {
            pipeline::send(p, id, request.body, events).map(|body| Reply::json(201, &body))
        }
        _ => Err(Problem::method_not_allowed(resource.allow())),
    }
}

// ---------------------------------------------------------------------------------------
// Rows and JSON.

/// A session as a client sees it.
pub fn session_json(row: &Row) -> Map<String, Json> {
    visible(row)
}

/// A message as a client sees it: its columns and its opened `content`.
pub fn message_json(row: &Row, content: &str) -> Map<String, Json> {
    let mut message = visible(row);
    message.insert("content".into(), json!(content));
    message
}

fn visible(row: &Row) -> Map<String, Json> {
    row.iter()
        .filter(|(name, _)| !HIDDEN.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect()
}

/// Opens a sealed column pair of `row`; `None` when the row holds no value there.
///
/// # Errors
/// 500 for a value that does not open as text (the key store answers its own problems).
pub fn open_text(
    p: &impl Platform,
    row: &Row,
    purpose: &str,
    ciphertext: &str,
    nonce: &str,
) -> Result<Option<String>, Problem> {
    let (Some(ciphertext), Some(nonce)) = (bytes_of(row, ciphertext), bytes_of(row, nonce)) else {
        return Ok(None);
    };
    let plaintext = p.open(purpose, &Sealed { ciphertext, nonce })?;
    String::from_utf8(plaintext)
        .map(Some)
        .map_err(|_| Problem::failed())
}

/// A message's text.
///
/// # Errors
/// 500 when a stored message has no text or it does not open.
pub fn message_text(p: &impl Platform, row: &Row) -> Result<String, Problem> {
    open_text(p, row, MESSAGE_PURPOSE, "content_encrypted", "content_iv")?
        .ok_or_else(Problem::failed)
}

/// The caller's session with this id.
///
/// # Errors
/// 404 for an id that is not a UUID or not one of the caller's sessions.
pub fn session(p: &impl Platform, raw_id: &str) -> Result<Row, Problem> {
    let id = WORDING.row_id(raw_id)?;
    Ok(p.get(SESSIONS, &id)?)
}

/// A page of a session's messages, newest first, and where the next (older) page starts.
///
/// # Errors
/// A stale or forged cursor names `cursor`; storage failures as problems.
pub fn messages_page(
    p: &impl Platform,
    session_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<Row>, Option<String>), Problem> {
    let page = p
        .query(
            MESSAGES,
            PageRequest {
                filters: vec![Filter::new(
                    "session_id",
                    Comparison::Eq,
                    Value::Uuid(session_id.to_owned()),
                )],
                order_by: "created_at".into(),
                descending: true,
                limit,
                cursor,
            },
        )
        .map_err(Problem::from_query)?;
    Ok((page.rows, page.next_cursor))
}

// ---------------------------------------------------------------------------------------
// Sessions.

/// `POST /sessions`.
fn create_session(p: &impl Platform, body: &[u8]) -> Result<Reply, Problem> {
    let new = validate::parse_session(body)?;
    let row = vec![
        ("title".into(), new.title.map_or(Value::Null, Value::Text)),
        ("session_type".into(), Value::Text(new.session_type)),
        ("is_active".into(), Value::Bool(true)),
        ("message_count".into(), Value::Int(0)),
    ];
    let stored = p.insert(SESSIONS, row)?;
    Ok(Reply::json(201, &Json::Object(session_json(&stored))))
}

/// `GET /sessions`: newest first.
fn list_sessions(p: &impl Platform, params: &Params) -> Result<Reply, Problem> {
    let limit = params.limit().map_err(|e| Problem::validation(vec![e]))?;
    let page = p
        .query(
            SESSIONS,
            PageRequest {
                filters: Vec::new(),
                order_by: "created_at".into(),
                descending: true,
                limit,
                cursor: params.cursor(),
            },
        )
        .map_err(Problem::from_query)?;
    let items: Vec<Json> = page
        .rows
        .iter()
        .map(|row| Json::Object(session_json(row)))
        .collect();
    Ok(Reply::json(
        200,
        &json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /sessions/{id}`: the session with a page of its messages (`limit`, default
/// [`DEFAULT_MESSAGE_PAGE`]; `cursor`: the `messages_next_cursor` of the newer page).
fn read_session(p: &impl Platform, raw_id: &str, params: &Params) -> Result<Reply, Problem> {
    let session = session(p, raw_id)?;
    let id = text_of(&session, "id").ok_or_else(Problem::failed)?;
    let limit = match params.get("limit") {
        None => DEFAULT_MESSAGE_PAGE,
        Some(_) => params.limit().map_err(|e| Problem::validation(vec![e]))?,
    };
    let (mut rows, next) = messages_page(p, &id, limit, params.cursor())?;
    rows.reverse();
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        messages.push(Json::Object(message_json(row, &message_text(p, row)?)));
    }
    let mut body = session_json(&session);
    body.insert("messages".into(), Json::Array(messages));
    body.insert("messages_next_cursor".into(), json!(next));
    Ok(Reply::json(200, &Json::Object(body)))
}

/// Whether a stored row's boolean column is set.
pub fn flag(row: &Row, name: &str) -> bool {
    matches!(column(row, name), Some(Value::Bool(true)))
}
