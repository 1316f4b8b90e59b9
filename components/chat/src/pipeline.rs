//! `POST /sessions/{id}/messages`: one message through the chat pipeline.
//!
//! 1. **Consent and session.** Nothing is read or written for a caller who has not consented
//!    to `ai_chat`, or for a session that is not theirs.
//! 2. **Crisis first.** The message and the caller's recent messages of the session are
//!    assessed together (`crisis.assess-conversation`, which keeps an earlier high-risk
//!    message from being cleared by a later "never mind"). At `high` or `imminent`, or when
//!    no assessment can be made (fail safe), **no model is called**: the answer is the fixed
//!    crisis message ([`mindflow_guardrails::prompts::crisis_reply`]) with the resources for
//!    the user's country and language and cards to call or text a helpline and to open the
//!    safety plan. At `moderate` the model answers under a crisis-aware instruction and the
//!    resources are attached.
//! 3. **Store the message**, sealed under the user's key, with its embedding.
//! 4. **Context** ([`crate::prompt`]): the guardrails, the user's recent mood (only with the
//!    `chat_mood_context` consent), earlier messages of this user found by vector search, the
//!    session's running summary and its recent messages.
//! 5. **The model**, through the host's `llm` capability, which screens every answer (the
//!    component never sees an unscreened one) and marks replaced answers `content_filtered`.
//! 6. **Store the answer** (sealed, with its embedding and usage) and the session's counters
//!    in one batch, and return both messages with action cards ([`crate::cards`]).
//!
//! A model call that cannot be made (the tier's limit, the provider down) removes the stored
//! message again, so a refused send changes nothing and can simply be retried.

use mindflow_component_kit::host::{
    ChatRole, Completion, CompletionRequest, CompletionStream, CrisisOutcome, LlmError,
    StreamEvent, User,
};
use mindflow_component_kit::storage::{Row, Value, Write, int_of, text_of};
use mindflow_component_kit::{Platform, Problem, consent};
use mindflow_guardrails::prompts;
use serde_json::{Map, Value as Json, json};

use crate::api::{self, MESSAGE_PURPOSE, MESSAGES, SESSIONS};
use crate::{cards, prompt, validate};

/// The source crisis events of chat are recorded under.
pub const CRISIS_SOURCE: &str = "chat";
/// What the stored crisis answer names as its model.
pub const CRISIS_PROTOCOL: &str = "crisis-protocol";
/// Upper bound on the model's answer, in tokens.
pub const MAX_ANSWER_TOKENS: u32 = 320;
/// Sampling temperature: 0, so an answer can be reproduced and audited.
pub const TEMPERATURE: f32 = 0.0;

/// Where a streamed answer goes as it is made (server-sent events, a WebSocket).
pub trait Events {
    /// The user's message, as stored.
    fn stored(&mut self, message: &Json);
    /// Screened text to append to the answer shown.
    fn delta(&mut self, text: &str);
    /// Replace everything shown of the answer with `text`.
    fn replaced(&mut self, text: &str);
}

/// What the crisis assessment means for this message.
enum Risk {
    /// Answer with the fixed crisis message; no model call.
    Crisis(Option<CrisisOutcome>),
    /// The model answers under the crisis-aware instruction; resources attached.
    Elevated(CrisisOutcome),
    /// The model answers.
    Calm(Option<CrisisOutcome>),
}

impl Risk {
    fn of(
        assessment: Result<CrisisOutcome, mindflow_component_kit::host::CrisisUnavailable>,
    ) -> Self {
        match assessment {
            Err(_) => Self::Crisis(None),
            Ok(outcome) => match outcome.severity {
                "high" | "imminent" => Self::Crisis(Some(outcome)),
                "moderate" => Self::Elevated(outcome),
                _ => Self::Calm(Some(outcome)),
            },
        }
    }

    fn outcome(&self) -> Option<&CrisisOutcome> {
        match self {
            Self::Crisis(outcome) | Self::Calm(outcome) => outcome.as_ref(),
            Self::Elevated(outcome) => Some(outcome),
        }
    }

    fn detected(&self) -> bool {
        matches!(self, Self::Crisis(_) | Self::Elevated(_))
    }

    /// The `crisis` member of the response: severity and resources when shown.
    fn to_json(&self) -> Json {
        let severity = match self {
            Self::Crisis(None) => "unknown",
            _ => self.outcome().map_or("none", |o| o.severity),
        };
        let resources: Vec<Json> = self
            .outcome()
            .filter(|_| self.detected())
            .map(|o| o.resources.iter().map(cards::resource_json).collect())
            .unwrap_or_default();
        json!({"severity": severity, "resources": resources})
    }
}

/// Sends `body` (`{"content": …}`) to session `raw_id` and answers with both messages, the
/// crisis outcome and action cards; streams the answer to `events` when given.
///
/// # Errors
/// 403 without the `ai_chat` consent; 404 for another user's session; 422 for a bad body;
/// 429 at the tier's limit (with `retry-after`); 503 when the model cannot answer. In every
/// one of these cases nothing is left stored.
pub fn send(
    p: &impl Platform,
    raw_id: &str,
    body: &[u8],
    events: Option<&mut dyn Events>,
) -> Result<Json, Problem> {
    let user = p.current_user().ok_or_else(Problem::unauthorized)?;
    if !user.consents_to(consent::AI_CHAT) {
        let mut problem = Problem::new(
            403,
            "consent-required",
            "chat needs your consent to send messages to the AI model (consent `ai_chat`)",
        );
        problem
            .extra
            .insert("required_consent".into(), json!(consent::AI_CHAT));
        return Err(problem);
    }
    let session = api::session(p, raw_id)?;
    let content = validate::parse_message(body)?;
    let session_id = text_of(&session, "id").ok_or_else(Problem::failed)?;

    let (window, older) = prompt::recent_window(p, &session_id)?;
    let mut conversation: Vec<String> = window
        .iter()
        .filter(|m| m.role == ChatRole::User)
        .map(|m| m.content.clone())
        .collect();
    conversation.push(content.clone());
    let risk = Risk::of(p.assess_conversation(&conversation, CRISIS_SOURCE));

    let embedding = p.embed(&content);
    let user_row = message_row(
        p,
        &session_id,
        "user",
        &content,
        embedding.clone(),
        risk.detected(),
        false,
    )?;
    let stored = p.insert(MESSAGES, user_row)?;
    let stored_id = text_of(&stored, "id").ok_or_else(Problem::failed)?;
    let user_message = api::message_json(&stored, &content);
    let mut events = events;
    if let Some(events) = events.as_deref_mut() {
        events.stored(&Json::Object(user_message.clone()));
    }

    let answer = match &risk {
        Risk::Crisis(outcome) => {
            let text = crisis_reply(&user, outcome.as_ref());
            if let Some(events) = events.as_deref_mut() {
                events.delta(&text);
            }
            Completion {
                content: text,
                model: CRISIS_PROTOCOL.into(),
                ..Completion::default()
            }
        }
        Risk::Elevated(_) | Risk::Calm(_) => {
            let request = CompletionRequest {
                messages: prompt::build(
                    p,
                    &user,
                    &session,
                    &window,
                    &content,
                    &embedding,
                    &stored_id,
                    matches!(risk, Risk::Elevated(_)),
                )?,
                max_tokens: MAX_ANSWER_TOKENS,
                temperature: TEMPERATURE,
            };
            let answered = match events.take() {
                Some(events) => stream(p, &request, events),
                None => p.complete(&request),
            };
            match answered {
                Ok(answer) => answer,
                Err(error) => {
                    // The send is refused as a whole: the message goes again.
                    p.delete(MESSAGES, &stored_id)?;
                    return Err(llm_problem(error));
                }
            }
        }
    };

    let assistant_row = assistant_row(p, &session_id, &answer, risk.detected())?;
    let session_update = session_changes(p, &session, &session_id, older)?;
    let written = p.batch(vec![
        Write::Insert(MESSAGES.into(), assistant_row),
        Write::Update(SESSIONS.into(), session_id.clone(), session_update),
    ])?;
    let assistant = written
        .first()
        .and_then(Option::as_ref)
        .ok_or_else(Problem::failed)?;

    let mut response = Map::new();
    response.insert("user_message".into(), Json::Object(user_message));
    response.insert(
        "assistant_message".into(),
        Json::Object(api::message_json(assistant, &answer.content)),
    );
    response.insert("crisis_detected".into(), json!(risk.detected()));
    response.insert("crisis".into(), risk.to_json());
    response.insert("content_filtered".into(), json!(answer.content_filtered));
    response.insert("filtered_reasons".into(), json!(answer.filtered_reasons));
    response.insert(
        "usage".into(),
        json!({
            "model": answer.model,
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "response_time_ms": answer.response_time_ms,
        }),
    );
    let cards = match &risk {
        Risk::Crisis(outcome) => cards::crisis(outcome.as_ref()),
        Risk::Elevated(outcome) => {
            let mut all = cards::crisis(Some(outcome));
            all.extend(cards::supportive(p, &content));
            all
        }
        Risk::Calm(_) => cards::supportive(p, &content),
    };
    response.insert("action_cards".into(), Json::Array(cards));
    Ok(Json::Object(response))
}

/// The fixed crisis message in the user's language, with the assessment's resources.
fn crisis_reply(user: &User, outcome: Option<&CrisisOutcome>) -> String {
    let resources: Vec<prompts::Resource> = outcome
        .map(|o| {
            o.resources
                .iter()
                .map(|r| prompts::Resource {
                    name: r.name.clone(),
                    phone_number: r.phone_number.clone(),
                    sms_number: r.sms_number.clone(),
                    website_url: r.website_url.clone(),
                    available_24_7: r.available_24_7,
                })
                .collect()
        })
        .unwrap_or_default();
    prompts::crisis_reply(&user.locale, &resources, true)
}

/// Streams the model's screened answer to `events` and returns it as finished.
fn stream(
    p: &impl Platform,
    request: &CompletionRequest,
    events: &mut dyn Events,
) -> Result<Completion, LlmError> {
    let mut stream = p.complete_streaming(request)?;
    let mut shown = String::new();
    while let Some(event) = stream.next_event()? {
        match event {
            StreamEvent::Delta(text) => {
                shown.push_str(&text);
                events.delta(&text);
            }
            StreamEvent::Replaced(text) => {
                shown = text;
                events.replaced(&shown);
            }
        }
    }
    Ok(stream.summary().unwrap_or(Completion {
        content: shown,
        ..Completion::default()
    }))
}

/// A model failure as the problem to answer.
fn llm_problem(error: LlmError) -> Problem {
    match error {
        LlmError::QuotaExceeded(seconds) => {
            let mut problem = Problem::new(
                429,
                "chat-limit",
                "you have reached your plan's chat limit for now; your message was not kept",
            );
            problem
                .headers
                .push(("retry-after", seconds.max(1).to_string()));
            problem
                .extra
                .insert("retry_after_seconds".into(), json!(seconds.max(1)));
            problem
        }
        LlmError::Provider(_) => Problem::unavailable(
            "the AI companion cannot answer right now; your message was not kept, please send it again",
        ),
        LlmError::Refused(reason) => Problem::new(422, "refused", reason),
    }
}

/// A message row: sealed text, embedding and flags.
fn message_row(
    p: &impl Platform,
    session_id: &str,
    role: &str,
    content: &str,
    embedding: Vec<f32>,
    crisis_detected: bool,
    content_filtered: bool,
) -> Result<Row, Problem> {
    let sealed = p.seal(MESSAGE_PURPOSE, content.as_bytes())?;
    let mut row = vec![
        ("session_id".into(), Value::Uuid(session_id.to_owned())),
        ("role".into(), Value::Text(role.into())),
        ("content_encrypted".into(), Value::Bytes(sealed.ciphertext)),
        ("content_iv".into(), Value::Bytes(sealed.nonce)),
        ("crisis_detected".into(), Value::Bool(crisis_detected)),
        ("content_filtered".into(), Value::Bool(content_filtered)),
    ];
    if !embedding.is_empty() {
        row.push(("embedding".into(), Value::Vector(embedding)));
    }
    Ok(row)
}

/// The assistant's message row, with usage.
fn assistant_row(
    p: &impl Platform,
    session_id: &str,
    answer: &Completion,
    crisis_detected: bool,
) -> Result<Row, Problem> {
    // No embedding: memory recalls what the person said, never the model's answers.
    let mut row = message_row(
        p,
        session_id,
        "assistant",
        &answer.content,
        Vec::new(),
        crisis_detected,
        answer.content_filtered,
    )?;
    let model: String = answer.model.chars().take(50).collect();
    row.extend([
        ("model_used".into(), Value::Text(model)),
        (
            "tokens_used".into(),
            Value::Int(i64::from(answer.prompt_tokens) + i64::from(answer.completion_tokens)),
        ),
        (
            "response_time_ms".into(),
            Value::Int(i64::from(answer.response_time_ms)),
        ),
    ]);
    Ok(row)
}

/// The session's counters after an exchange, and its running summary when the conversation
/// has outgrown the window the model sees.
fn session_changes(
    p: &impl Platform,
    session: &Row,
    session_id: &str,
    older: Option<String>,
) -> Result<Row, Problem> {
    let count = int_of(session, "message_count").unwrap_or(0) + 2;
    let mut changes = vec![
        ("message_count".into(), Value::Int(count)),
        (
            "last_message_at".into(),
            Value::Timestamp(mindflow_component_kit::instant::format_instant(&p.now())),
        ),
    ];
    changes.extend(prompt::summary_update(p, session_id, older, count)?);
    Ok(changes)
}
