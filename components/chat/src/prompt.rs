//! What the model is given: the guardrails, context the user allowed, memory, the running
//! summary and the recent conversation, within a budget.
//!
//! - **Guardrails** come first and are never cut ([`mindflow_guardrails::prompts`]).
//! - **Mood context** only with the `chat_mood_context` consent: the last seven days' count
//!   and mean of the user's mood scores (no notes, no factors).
//! - **Memory**: the user's earlier messages nearest to this one in meaning
//!   (`storage.nearest` on the message embeddings, which the host scopes to the caller: another
//!   user's messages can never be found), from this session or others, minus the ones already
//!   in the window.
//! - **Summary**: once a session is longer than the window the model sees, the session keeps
//!   a running, extractive summary of what the person said before the window (the first
//!   sentence of each of their messages, newest kept), sealed like the messages.
//!   Extractive on purpose: it costs no model call, cannot invent anything, and the small
//!   local model cannot be trusted to summarise.
//! - **Window**: the session's last [`WINDOW`] messages, oldest first, then the new message.
//!
//! The whole prompt is kept under [`BUDGET_CHARS`] (about 1,500 tokens, inside the local
//! model's 2,048-token context with room for the answer): memory goes first, then the oldest
//! window messages; the guardrails and the new message are always kept.

use mindflow_component_kit::host::{ChatMessage, ChatRole, User};
use mindflow_component_kit::storage::{
    AggregateFn, AggregateRequest, Comparison, Filter, Grouping, Row, Value, text_of,
};
use mindflow_component_kit::{Platform, Problem, consent};
use mindflow_guardrails::prompts;

use crate::api::{self, MESSAGES, MOOD_LOGS, SUMMARY_PURPOSE};

/// Messages of the session the model sees verbatim.
pub const WINDOW: u32 = 8;
/// The prompt's budget, in characters (about four per token).
pub const BUDGET_CHARS: usize = 6_000;
/// Earlier messages found by meaning that may be added.
pub const MEMORY_ITEMS: usize = 3;
/// How far (cosine distance) a remembered message may be from the new one.
pub const MEMORY_MAX_DISTANCE: f32 = 0.55;
/// Each remembered message or summary line is cut to this many characters.
const MEMORY_ITEM_CHARS: usize = 300;
/// The summary's size bound, in characters.
pub const SUMMARY_CHARS: usize = 1_200;
/// How many messages before the window the summary is made from.
const SUMMARY_SOURCE: u32 = 24;

/// A message of the recent window, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowMessage {
    /// Its id.
    pub id: String,
    /// Who said it.
    pub role: ChatRole,
    /// What was said.
    pub content: String,
}

/// The session's recent window: its last [`WINDOW`] messages, oldest first, opened; and where
/// the messages before it start.
///
/// # Errors
/// Storage or crypto failures as problems.
pub fn recent_window(
    p: &impl Platform,
    session_id: &str,
) -> Result<(Vec<WindowMessage>, Option<String>), Problem> {
    let (rows, older) = api::messages_page(p, session_id, WINDOW, None)?;
    let mut window = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        window.push(opened(p, row)?);
    }
    Ok((window, older))
}

fn opened(p: &impl Platform, row: &Row) -> Result<WindowMessage, Problem> {
    let role = match text_of(row, "role").as_deref() {
        Some("assistant") => ChatRole::Assistant,
        _ => ChatRole::User,
    };
    Ok(WindowMessage {
        id: text_of(row, "id").unwrap_or_default(),
        role,
        content: api::message_text(p, row)?,
    })
}

/// What the model is given for `content`, the message just stored as `stored_id`.
///
/// # Errors
/// Storage or crypto failures as problems (the mood context is best effort and never fails
/// the message).
#[allow(clippy::too_many_arguments)]
pub fn build(
    p: &impl Platform,
    user: &User,
    session: &Row,
    window: &[WindowMessage],
    content: &str,
    embedding: &[f32],
    stored_id: &str,
    elevated: bool,
) -> Result<Vec<ChatMessage>, Problem> {
    let mut system = prompts::system_guardrails(&user.locale);
    if elevated {
        system.push_str("\n\n");
        system.push_str(&prompts::crisis_aware_instruction(&user.locale));
    }
    if user.consents_to(consent::CHAT_MOOD_CONTEXT)
        && let Some(mood) = mood_context(p)
    {
        system.push_str("\n\n");
        system.push_str(&mood);
    }
    if let Some(summary) = api::open_text(
        p,
        session,
        SUMMARY_PURPOSE,
        "context_summary_encrypted",
        "context_summary_iv",
    )? {
        system.push_str("\n\nWhat the person said earlier in this conversation:\n");
        system.push_str(&summary);
    }
    let mut skip: Vec<&str> = window.iter().map(|m| m.id.as_str()).collect();
    skip.push(stored_id);
    let memory = memory(p, embedding, &skip)?;

    let fixed = system.len() + content.len();
    let mut budget = BUDGET_CHARS.saturating_sub(fixed);
    let mut kept_window: Vec<&WindowMessage> = Vec::new();
    for message in window.iter().rev() {
        if message.content.len() > budget {
            break;
        }
        budget -= message.content.len();
        kept_window.push(message);
    }
    kept_window.reverse();
    let mut remembered = Vec::new();
    for text in memory {
        if text.len() + 4 > budget {
            break;
        }
        budget -= text.len() + 4;
        remembered.push(text);
    }
    if !remembered.is_empty() {
        system.push_str("\n\nThings the person told you before (use only if relevant):");
        for text in remembered {
            system.push_str("\n- ");
            system.push_str(&text);
        }
    }

    let mut messages = vec![ChatMessage::new(ChatRole::System, system)];
    messages.extend(
        kept_window
            .into_iter()
            .map(|m| ChatMessage::new(m.role, m.content.clone())),
    );
    messages.push(ChatMessage::new(ChatRole::User, content));
    Ok(messages)
}

/// The user's earlier messages nearest in meaning to the new one, opened and cut short.
fn memory(p: &impl Platform, embedding: &[f32], skip: &[&str]) -> Result<Vec<String>, Problem> {
    if embedding.is_empty() {
        return Ok(Vec::new());
    }
    let k = u32::try_from(MEMORY_ITEMS + skip.len()).unwrap_or(u32::MAX);
    let found = p.nearest(
        MESSAGES,
        "embedding",
        embedding.to_vec(),
        k,
        vec![Filter::new(
            "role",
            Comparison::Eq,
            Value::Text("user".into()),
        )],
    )?;
    let mut texts = Vec::new();
    for scored in found {
        let id = text_of(&scored.row, "id").unwrap_or_default();
        if skip.contains(&id.as_str()) || scored.distance > MEMORY_MAX_DISTANCE {
            continue;
        }
        texts.push(cut(&api::message_text(p, &scored.row)?, MEMORY_ITEM_CHARS));
        if texts.len() == MEMORY_ITEMS {
            break;
        }
    }
    Ok(texts)
}

/// The last seven days of mood scores in one sentence; `None` without logs (or when storage
/// cannot say: the context is a courtesy, not a requirement).
fn mood_context(p: &impl Platform) -> Option<String> {
    let since = p.now() - chrono::Duration::days(7);
    let rows = p
        .aggregate(
            MOOD_LOGS,
            AggregateRequest {
                filters: vec![Filter::new(
                    "logged_at",
                    Comparison::Ge,
                    Value::Timestamp(mindflow_component_kit::instant::format_instant(&since)),
                )],
                measures: vec![
                    ("mood_score".into(), AggregateFn::Count),
                    ("mood_score".into(), AggregateFn::Avg),
                ],
                grouping: Grouping::None,
                group_field: None,
            },
        )
        .ok()?;
    let values = &rows.first()?.values;
    let count = values.first().copied().flatten()?;
    let mean = values.get(1).copied().flatten()?;
    if count < 1.0 {
        return None;
    }
    Some(format!(
        "Context the person chose to share: in the last 7 days they logged their mood {count:.0} \
         times, on average {mean:.1} out of 10. Mention it only if it helps."
    ))
}

/// The session's running summary after an exchange that brings it to `count` messages: made
/// again every other exchange once the session is longer than the window (`older` is where
/// the messages before the window start), sealed; no change otherwise.
///
/// # Errors
/// Storage or crypto failures as problems.
pub fn summary_update(
    p: &impl Platform,
    session_id: &str,
    older: Option<String>,
    count: i64,
) -> Result<Vec<(String, Value)>, Problem> {
    if count <= i64::from(WINDOW) || count % 4 != 0 {
        return Ok(Vec::new());
    }
    let Some(cursor) = older else {
        return Ok(Vec::new());
    };
    let (rows, _) = api::messages_page(p, session_id, SUMMARY_SOURCE, Some(cursor))?;
    let mut lines = Vec::new();
    let mut size = 0;
    for row in &rows {
        if text_of(row, "role").as_deref() != Some("user") {
            continue;
        }
        let line = format!(
            "- {}",
            cut(first_sentence(&api::message_text(p, row)?), 160)
        );
        if size + line.len() + 1 > SUMMARY_CHARS {
            break;
        }
        size += line.len() + 1;
        lines.push(line);
    }
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    lines.reverse();
    let summary = lines.join("\n");
    let sealed = p.seal(SUMMARY_PURPOSE, summary.as_bytes())?;
    Ok(vec![
        (
            "context_summary_encrypted".into(),
            Value::Bytes(sealed.ciphertext),
        ),
        ("context_summary_iv".into(), Value::Bytes(sealed.nonce)),
    ])
}

fn first_sentence(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|(_, c)| matches!(c, '.' | '!' | '?' | '\n'))
        .map_or(text.len(), |(i, c)| i + c.len_utf8());
    text[..end].trim()
}

/// `text` cut to at most `max` characters, on a character boundary, with an ellipsis.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_characters_and_finds_first_sentences() {
        assert_eq!(cut("héllo", 10), "héllo");
        assert_eq!(cut("héllo wörld", 5), "héll…");
        assert_eq!(first_sentence("Bad day. Really bad."), "Bad day.");
        assert_eq!(first_sentence("no stop at all"), "no stop at all");
        assert_eq!(first_sentence("line one\nline two"), "line one");
    }
}
