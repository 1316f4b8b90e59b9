//! HTTP answers, independent of Spin: JSON bodies and RFC 9457 problem documents in the
//! platform's shape (`urn:mindflow:problem:<slug>`, `title`, `status`, `detail`, and
//! `errors: [{field, message}]` for validation).

use serde_json::{Map, Value, json};

use crate::FieldError;

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

    /// 500: our fault; `detail` stays generic (each component words its own).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", detail)
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

impl From<Vec<FieldError>> for Problem {
    /// 422 with these field errors.
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
    fn validation_problem_lists_the_fields() {
        let reply = Problem::invalid("note", "too long").into_reply();
        let body = reply.json_body();
        assert_eq!(reply.status, 422);
        assert_eq!(body["errors"][0]["field"], "note");
        assert_eq!(body["detail"], "`note`: too long");
        assert_eq!(body["type"], "urn:mindflow:problem:validation");
        assert_eq!(body["title"], "Unprocessable Entity");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let many = Problem::from(vec![FieldError::new("a", "x"), FieldError::new("b", "y")]);
        assert_eq!(many.detail, "2 fields are invalid");
    }

    #[test]
    fn extra_members_never_replace_the_standard_ones() {
        let mut p = Problem::internal("the service failed");
        p.extra.insert("status".into(), json!(200));
        p.extra.insert("hint".into(), json!("retry"));
        let body = p.into_reply().json_body();
        assert_eq!(body["status"], 500);
        assert_eq!(body["hint"], "retry");
        assert_eq!(body["title"], "Internal Server Error");
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let reply = Problem::method_not_allowed("GET, POST").into_reply();
        assert_eq!(reply.status, 405);
        assert_eq!(reply.header("allow"), Some("GET, POST"));
    }

    #[test]
    fn replies_carry_json_and_headers() {
        let reply = Reply::json(201, &json!({"id": "x"})).with_header("location", "/x");
        assert_eq!(reply.json_body()["id"], "x");
        assert_eq!(reply.header("Location"), Some("/x"));
        assert_eq!(Reply::no_content().status, 204);
        assert_eq!(Reply::no_content().json_body(), Value::Null);
    }
}
