//! The bodies of `POST /sessions` and `POST /sessions/{id}/messages`, parsed by hand so every
//! problem names its field and all are reported at once. Unknown members are refused.

use mindflow_component_kit::FieldError;
use mindflow_component_kit::validate::{keep, object};
use serde_json::{Map, Value};

/// The kinds of session (`session_type`).
pub const SESSION_TYPES: [&str; 5] = ["general", "check_in", "coping", "reflection", "sleep"];
/// The default `session_type`.
pub const DEFAULT_SESSION_TYPE: &str = "general";
/// The longest title, in characters (the column's length).
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest message, in characters: long enough for a hard day told in full, short enough
/// that the model's context and the crisis assessment stay bounded.
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// An optional title.
    pub title: Option<String>,
    /// One of [`SESSION_TYPES`].
    pub session_type: String,
}

/// Parses the body of `POST /sessions` (an empty body is an untitled general session).
///
/// # Errors
/// Every field problem found.
pub fn parse_session(body: &[u8]) -> Result<NewSession, Vec<FieldError>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(NewSession {
            title: None,
            session_type: DEFAULT_SESSION_TYPE.into(),
        });
    }
    let fields = object(body)?;
    let mut errors = Vec::new();
    unknown(&fields, &["title", "session_type"], &mut errors);
    let title = match fields.get("title") {
        None | Some(Value::Null) => None,
        Some(value) => keep(title(value), &mut errors),
    };
    let session_type = match fields.get("session_type") {
        None | Some(Value::Null) => Some(DEFAULT_SESSION_TYPE.to_owned()),
        Some(value) => keep(session_type(value), &mut errors),
    };
    match (errors.is_empty(), session_type) {
        (true, Some(session_type)) => Ok(NewSession {
            title,
            session_type,
        }),
        _ => Err(errors),
    }
}

/// Parses the body of `POST /sessions/{id}/messages`: the message's text.
///
/// # Errors
/// Every field problem found.
pub fn parse_message(body: &[u8]) -> Result<String, Vec<FieldError>> {
    let fields = object(body)?;
    let mut errors = Vec::new();
    unknown(&fields, &["content"], &mut errors);
    let content = match fields.get("content") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("content", "is required"));
            None
        }
        Some(value) => keep(message(value), &mut errors),
    };
    match (errors.is_empty(), content) {
        (true, Some(content)) => Ok(content),
        _ => Err(errors),
    }
}

fn unknown(fields: &Map<String, Value>, known: &[&str], errors: &mut Vec<FieldError>) {
    for name in fields.keys() {
        if !known.contains(&name.as_str()) {
            errors.push(FieldError::new(
                name.clone(),
                "is not a field of this request",
            ));
        }
    }
}

fn title(value: &Value) -> Result<String, FieldError> {
    let text = value
        .as_str()
        .ok_or_else(|| FieldError::new("title", "must be a string"))?
        .trim();
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(FieldError::new(
            "title",
            format!("must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            "title",
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

fn session_type(value: &Value) -> Result<String, FieldError> {
    match value.as_str() {
        Some(kind) if SESSION_TYPES.contains(&kind) => Ok(kind.to_owned()),
        _ => Err(FieldError::new(
            "session_type",
            format!("must be one of {}", SESSION_TYPES.join(", ")),
        )),
    }
}

fn message(value: &Value) -> Result<String, FieldError> {
    let text = value
        .as_str()
        .ok_or_else(|| FieldError::new("content", "must be a string"))?;
    if text.trim().is_empty() {
        return Err(FieldError::new("content", "must not be blank"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(FieldError::new(
            "content",
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            "content",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<T: std::fmt::Debug>(result: Result<T, Vec<FieldError>>) -> Vec<String> {
        result
            .expect_err("refused")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_session_defaults_to_an_untitled_general_one() {
        let session = parse_session(b"").expect("empty body");
        assert_eq!(session.session_type, "general");
        assert_eq!(session.title, None);
        let session =
            parse_session(br#"{"title":" Sunday ","session_type":"sleep"}"#).expect("valid");
        assert_eq!(session.title.as_deref(), Some("Sunday"));
        assert_eq!(session.session_type, "sleep");
    }

    #[test]
    fn every_session_problem_names_its_field() {
        let long = "x".repeat(101);
        let body = format!(r#"{{"title":"{long}","session_type":"therapy","id":"x"}}"#);
        let mut found = fields(parse_session(body.as_bytes()));
        found.sort();
        assert_eq!(found, ["id", "session_type", "title"]);
    }

    #[test]
    fn messages_are_required_bounded_and_plain_text() {
        assert_eq!(parse_message(br#"{"content":"hi"}"#), Ok("hi".into()));
        assert_eq!(fields(parse_message(br#"{}"#)), ["content"]);
        assert_eq!(fields(parse_message(br#"{"content":"   "}"#)), ["content"]);
        assert_eq!(fields(parse_message(br#"{"content":7}"#)), ["content"]);
        assert_eq!(
            fields(parse_message(br#"{"content":"a\u0000b"}"#)),
            ["content"]
        );
        let long = format!(r#"{{"content":"{}"}}"#, "é".repeat(4_001));
        assert_eq!(fields(parse_message(long.as_bytes())), ["content"]);
        let fits = format!(r#"{{"content":"{}"}}"#, "é".repeat(4_000));
        assert!(parse_message(fits.as_bytes()).is_ok());
        assert_eq!(
            fields(parse_message(br#"{"content":"hi","role":"system"}"#)),
            ["role"]
        );
        assert_eq!(fields(parse_message(b"not json")), ["body"]);
    }
}
