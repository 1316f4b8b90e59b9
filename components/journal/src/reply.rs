//! HTTP answers, independent of Spin: JSON bodies and RFC 9457 problem documents in the
//! platform's shape (`urn:mindflow:problem:<slug>`, `title`, `status`, `detail`, and
//! `errors: [{field, message}]` for validation).

use serde_json::{Map, Value, json};

use crate::platform::{CryptoError, StorageError};
use crate::validate::FieldError;

/// The base of MindFlow's problem type URIs.
pub const PROBLEM_BASE: &str = "urn:mindflow:problem:";

/// A response: status, headers and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers (lowercase names).
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for 204).
    pub body: String,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The body parsed as JSON (for tests and logging; `Null` when it is not JSON).
    pub fn json_body(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A failure answered as `application/problem+json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// The type's slug, after [`PROBLEM_BASE`].
    pub slug: &'static str,
    /// What went wrong, fit for an API client (never user content).
    pub detail: String,
    /// Field errors (422).
    pub errors: Vec<FieldError>,
    /// Extra members of the document.
    pub extra: Map<String, Value>,
    /// Extra headers (`allow`, `retry-after`).
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    /// A problem with a status, slug and detail.
    pub fn new(status: u16, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            detail: detail.into(),
            errors: Vec::new(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// 401: no caller (the route should have required a token).
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "this endpoint needs an access token")
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not-found", detail)
    }

    /// 405 with the methods the resource allows.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut p = Self::new(
            405,
            "method-not-allowed",
            format!("this resource allows {allow}"),
        );
        p.headers.push(("allow", allow.to_owned()));
        p
    }

    /// 422 with field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}`: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            errors,
            ..Self::new(422, "validation", detail)
        }
    }

    /// 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 500: our fault; the detail stays generic.
    pub fn internal() -> Self {
        Self::new(
            500,
            "internal",
            "the journal service failed to handle the request",
        )
    }

    /// The document and its headers.
    pub fn into_reply(self) -> Reply {
        let mut document = Map::new();
        document.insert("type".into(), json!(format!("{PROBLEM_BASE}{}", self.slug)));
        document.insert("title".into(), json!(title(self.status)));
        document.insert("status".into(), json!(self.status));
        document.insert("detail".into(), json!(self.detail));
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|e| json!({"field": e.field, "message": e.message}))
                .collect();
            document.insert("errors".into(), Value::Array(errors));
        }
        for (key, value) in self.extra {
            document.entry(key).or_insert(value);
        }
        let mut headers = vec![("content-type", "application/problem+json".to_owned())];
        headers.extend(self.headers);
        Reply {
            status: self.status,
            headers,
            body: Value::Object(document).to_string(),
        }
    }
}

impl From<StorageError> for Problem {
    /// not-found → 404, invalid → 422 naming the field, conflict → 409, unavailable → 503,
    /// not-granted → 500 (the manifest and this component disagree: our bug).
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self::not_found("no such journal entry"),
            StorageError::Invalid { field, message } => Self::invalid(&field, message),
            StorageError::Conflict(_) => {
                Self::new(409, "conflict", "the change conflicts with existing data")
            }
            StorageError::Unavailable => {
                let mut p = Self::new(503, "unavailable", "the database is unavailable");
                p.headers.push(("retry-after", "1".into()));
                p
            }
            StorageError::NotGranted(_) => Self::internal(),
        }
    }
}

impl From<CryptoError> for Problem {
    /// no-user → 401; unavailable → 503; a destroyed key or a tampered ciphertext → 500
    /// (the entry cannot be read; the detail stays generic).
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::NoUser => Self::unauthorized(),
            CryptoError::Unavailable => {
                let mut p = Self::new(503, "unavailable", "the key store is unavailable");
                p.headers.push(("retry-after", "1".into()));
                p
            }
            CryptoError::KeyDestroyed | CryptoError::Tampered => Self::internal(),
        }
    }
}

impl From<Vec<FieldError>> for Problem {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::validation(errors)
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_statuses() {
        let cases = [
            (StorageError::NotFound, 404),
            (
                StorageError::Invalid {
                    field: "note".into(),
                    message: "too long".into(),
                },
                422,
            ),
            (StorageError::Conflict("x".into()), 409),
            (StorageError::Unavailable, 503),
            (StorageError::NotGranted("journal_entries".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(Problem::from(error).status, status);
        }
        let reply = Problem::from(StorageError::Invalid {
            field: "note".into(),
            message: "too long".into(),
        })
        .into_reply();
        let body = reply.json_body();
        assert_eq!(body["errors"][0]["field"], "note");
        assert_eq!(body["type"], "urn:mindflow:problem:validation");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let unavailable = Problem::from(StorageError::Unavailable).into_reply();
        assert_eq!(unavailable.header("retry-after"), Some("1"));
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let reply = Problem::method_not_allowed("GET, POST").into_reply();
        assert_eq!(reply.status, 405);
        assert_eq!(reply.header("allow"), Some("GET, POST"));
    }
}
