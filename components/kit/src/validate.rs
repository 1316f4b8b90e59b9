//! Request bodies and ids, checked by hand so every problem names its field and all of them
//! are reported at once: the JSON object a body must be, collecting field errors, and ids
//! that must be UUIDs.

use serde_json::{Map, Value};

use crate::FieldError;

/// The body as a JSON object.
///
/// # Errors
/// A `body` field error: empty, not JSON (with the line and column), or not an object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, Vec<FieldError>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![FieldError::new("body", "a JSON object is required")]);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(vec![FieldError::new("body", "must be a JSON object")]),
        Err(e) => Err(vec![FieldError::new(
            "body",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )]),
    }
}

/// A body must say it is JSON (`application/json`, or a `+json` type such as
/// `application/merge-patch+json`), as the host's own endpoints require: text sent as
/// `text/plain` or a form is not read as JSON on a guess.
///
/// # Errors
/// 415 for a non-empty body without a JSON content type.
pub fn json_content_type(content_type: Option<&str>, body: &[u8]) -> Result<(), crate::Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if content_type.is_some_and(mindflow_contract::is_json_content_type) {
        return Ok(());
    }
    Err(crate::Problem::new(
        415,
        "unsupported-media-type",
        "the body must be JSON, sent with `Content-Type: application/json`",
    ))
}

/// Records a problem and keeps going: the value, or `None` with the problem in `errors`.
pub fn keep<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// The canonical (lowercase, hyphenated) form of a UUID written in its 36-character form;
/// `None` for anything else (a path id that is not one names no row: storage is never asked).
pub fn uuid(raw: &str) -> Option<String> {
    if raw.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(raw)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_must_say_it_is_json() {
        let body = br#"{"mood_score": 5}"#;
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(json_content_type(Some(ok), body).is_ok(), "{ok}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let problem = json_content_type(refused, body).expect_err("refused");
            assert_eq!(problem.status, 415, "{refused:?}");
        }
        // No body, nothing to say.
        assert!(json_content_type(None, b"").is_ok());
        assert!(json_content_type(Some("text/plain"), b"  ").is_ok());
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(object(br#"{"a": 1}"#).map(|m| m.len()), Ok(1));
        for (body, message) in [
            (&b""[..], "a JSON object is required"),
            (b" \n", "a JSON object is required"),
            (b"[1]", "must be a JSON object"),
            (b"null", "must be a JSON object"),
            (b"{", "is not valid JSON (line 1, column 1)"),
        ] {
            assert_eq!(
                object(body),
                Err(vec![FieldError::new("body", message)]),
                "{body:?}"
            );
        }
    }

    #[test]
    fn ids_are_canonical_uuids_or_nothing() {
        assert_eq!(
            uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF").as_deref(),
            Some("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        );
        for bad in ["", "1", "not-a-uuid", "6f9619ff8b86d011b42d00c04fc964ff"] {
            assert_eq!(uuid(bad), None, "{bad}");
        }
        let mut errors = Vec::new();
        assert_eq!(keep(Ok::<_, FieldError>(1), &mut errors), Some(1));
        assert_eq!(
            keep::<i32>(Err(FieldError::new("a", "b")), &mut errors),
            None
        );
        assert_eq!(errors, vec![FieldError::new("a", "b")]);
    }
}
