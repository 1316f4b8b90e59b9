//! The bodies of `POST /entries` and `PATCH /entries/{id}`, parsed by hand so every problem
//! names its field and all are reported at once; and the text analysis done here (word count,
//! the distinct words indexed for search). Unknown members are refused; members the server
//! computes are refused with a message saying so.

use mindflow_component_kit::FieldError;
use mindflow_component_kit::validate::{keep, object};
use serde_json::{Map, Value};

/// The kinds of entry (`entry_type`).
pub const ENTRY_TYPES: [&str; 4] = ["freeform", "prompted", "gratitude", "reflection"];
/// The default `entry_type`.
pub const DEFAULT_ENTRY_TYPE: &str = "freeform";
/// The longest entry, in characters.
pub const MAX_CONTENT_CHARS: usize = 20_000;
/// The longest word indexed for search, in characters (longer runs are not words).
pub const MAX_TERM_CHARS: usize = 64;

/// Columns the server computes: a client may read them but never send them.
const COMPUTED: [&str; 12] = [
    "id",
    "content_encrypted",
    "content_iv",
    "content_hash",
    "word_count",
    "sentiment_score",
    "primary_emotion",
    "topics",
    "term_hashes",
    "created_at",
    "updated_at",
    "crisis",
];

/// A new entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// 1..=20,000 characters, not blank.
    pub content: String,
    /// One of [`ENTRY_TYPES`].
    pub entry_type: String,
    /// The prompt answered, a lowercase UUID.
    pub prompt_id: Option<String>,
}

/// A partial update: an outer `None` keeps the stored value; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPatch {
    /// New content (never null).
    pub content: Option<String>,
    /// New type (never null).
    pub entry_type: Option<String>,
    /// New prompt.
    pub prompt_id: Option<Option<String>>,
}

/// Parses the body of `POST /entries`.
///
/// # Errors
/// Every field problem found.
pub fn parse_new(body: &[u8]) -> Result<NewEntry, Vec<FieldError>> {
    let object = object(body)?;
    let mut errors = Vec::new();
    unknown(&object, &mut errors);
    let content = match object.get("content") {
        None => {
            errors.push(FieldError::new("content", "is required"));
            None
        }
        Some(v) => keep(content(v), &mut errors),
    };
    let entry_type = match object.get("entry_type") {
        None => Some(DEFAULT_ENTRY_TYPE.to_owned()),
        Some(v) => keep(entry_type(v), &mut errors),
    };
    let prompt_id = object
        .get("prompt_id")
        .and_then(|v| keep(prompt_id(v), &mut errors))
        .flatten();
    match (content, entry_type, errors.is_empty()) {
        (Some(content), Some(entry_type), true) => Ok(NewEntry {
            content,
            entry_type,
            prompt_id,
        }),
        _ => Err(errors),
    }
}

/// Parses the body of `PATCH /entries/{id}`.
///
/// # Errors
/// Every field problem found, or an empty patch.
pub fn parse_patch(body: &[u8]) -> Result<EntryPatch, Vec<FieldError>> {
    let object = object(body)?;
    let mut errors = Vec::new();
    unknown(&object, &mut errors);
    let patch = EntryPatch {
        content: object
            .get("content")
            .and_then(|v| keep(content(v), &mut errors)),
        entry_type: object
            .get("entry_type")
            .and_then(|v| keep(entry_type(v), &mut errors)),
        prompt_id: object
            .get("prompt_id")
            .and_then(|v| keep(prompt_id(v), &mut errors)),
    };
    if errors.is_empty() && patch == EntryPatch::default() {
        errors.push(FieldError::new(
            "body",
            "name at least one of `content`, `entry_type`, `prompt_id`",
        ));
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

/// The number of words: maximal runs of letters, digits, apostrophes and hyphens that hold
/// at least one letter or digit.
pub fn word_count(text: &str) -> usize {
    words(text).count()
}

/// The distinct lowercase words of `text`, sorted (what search indexes, and how a query is
/// split). Words longer than [`MAX_TERM_CHARS`] are skipped.
pub fn terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = words(text)
        .map(|w| w.trim_matches(['\'', '-']).to_lowercase())
        .filter(|w| !w.is_empty() && w.chars().count() <= MAX_TERM_CHARS)
        .collect();
    terms.sort();
    terms.dedup();
    terms
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .filter(|w| w.chars().any(char::is_alphanumeric))
}

fn unknown(object: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let mut names: Vec<&String> = object.keys().collect();
    names.sort();
    for name in names {
        match name.as_str() {
            "content" | "entry_type" | "prompt_id" => {}
            computed if COMPUTED.contains(&computed) => {
                errors.push(FieldError::new(computed, "is computed by the server"));
            }
            other => errors.push(FieldError::new(other, "is not a known field")),
        }
    }
}

fn content(value: &Value) -> Result<String, FieldError> {
    let Value::String(s) = value else {
        return Err(FieldError::new(
            "content",
            if value.is_null() {
                "must not be null"
            } else {
                "must be a string"
            },
        ));
    };
    if s.contains('\0') {
        return Err(FieldError::new(
            "content",
            "must not contain NUL characters",
        ));
    }
    if s.trim().is_empty() {
        return Err(FieldError::new("content", "must not be empty"));
    }
    if s.chars().count() > MAX_CONTENT_CHARS {
        return Err(FieldError::new(
            "content",
            format!("must be at most {MAX_CONTENT_CHARS} characters"),
        ));
    }
    Ok(s.clone())
}

fn entry_type(value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) if ENTRY_TYPES.contains(&s.as_str()) => Ok(s.clone()),
        _ => Err(FieldError::new(
            "entry_type",
            format!("must be one of {}", ENTRY_TYPES.join(", ")),
        )),
    }
}

fn prompt_id(value: &Value) -> Result<Option<String>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => mindflow_component_kit::validate::uuid(s)
            .map(Some)
            .ok_or_else(|| FieldError::new("prompt_id", "must be a UUID")),
        _ => Err(FieldError::new("prompt_id", "must be a UUID")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        result
            .expect_err("should fail")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_new_entry_defaults_to_freeform() {
        let entry = parse_new(br#"{"content":"Today was fine."}"#).expect("valid");
        assert_eq!(entry.entry_type, "freeform");
        assert_eq!(entry.prompt_id, None);
        let entry = parse_new(
            br#"{"content":"x","entry_type":"gratitude","prompt_id":"6F9619FF-8B86-D011-B42D-00C04FC964FF"}"#,
        )
        .expect("valid");
        assert_eq!(entry.entry_type, "gratitude");
        assert_eq!(
            entry.prompt_id.as_deref(),
            Some("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        );
    }

    #[test]
    fn every_problem_names_its_field() {
        assert_eq!(fields(parse_new(b"{}")), ["content"]);
        assert_eq!(fields(parse_new(br#"{"content":"  "}"#)), ["content"]);
        assert_eq!(fields(parse_new(br#"{"content":5}"#)), ["content"]);
        let long = format!(r#"{{"content":"{}"}}"#, "a".repeat(MAX_CONTENT_CHARS + 1));
        assert_eq!(fields(parse_new(long.as_bytes())), ["content"]);
        let max = format!(r#"{{"content":"{}"}}"#, "é".repeat(MAX_CONTENT_CHARS));
        assert!(parse_new(max.as_bytes()).is_ok());
        assert_eq!(
            fields(parse_new(
                br#"{"content":"x","entry_type":"poem","prompt_id":"nope","mood":1,"topics":[]}"#
            )),
            ["mood", "topics", "entry_type", "prompt_id"]
        );
        assert_eq!(fields(parse_new(b"[1]")), ["body"]);
        assert_eq!(fields(parse_new(b"{")), ["body"]);
    }

    #[test]
    fn patches_change_only_what_they_name() {
        let patch = parse_patch(br#"{"prompt_id":null}"#).expect("valid");
        assert_eq!(patch.prompt_id, Some(None));
        assert_eq!(patch.content, None);
        assert_eq!(fields(parse_patch(b"{}")), ["body"]);
        assert_eq!(fields(parse_patch(br#"{"content":null}"#)), ["content"]);
        assert_eq!(
            fields(parse_patch(br#"{"entry_type":null}"#)),
            ["entry_type"]
        );
    }

    #[test]
    fn words_are_counted_and_indexed_once_in_lowercase() {
        assert_eq!(word_count(""), 0);
        assert_eq!(
            word_count("  Hello, world! — it's a well-known 2nd try...  "),
            7
        );
        assert_eq!(
            terms("Walked the dog. The DOG was happy; the sun, too!"),
            ["dog", "happy", "sun", "the", "too", "walked", "was"]
        );
        assert_eq!(
            terms("'quoted' -dash- émigré"),
            ["dash", "quoted", "émigré"]
        );
        assert!(terms(&"x".repeat(MAX_TERM_CHARS + 1)).is_empty());
    }
}
