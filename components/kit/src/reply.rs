//! HTTP answers, independent of Spin: JSON bodies and RFC 9457 problem documents in the
//! platform's shape (`urn:mindflow:problem:<slug>`, `title`, `status`, `detail`, and
//! `errors: [{field, message}]` for validation).
//!
//! Capability failures become problems here, the same for every service: storage's
//! not-found → 404, invalid → 422 naming the field, conflict → 409, unavailable → 503 with
//! `retry-after`, not-granted → 500; crypto's no-user → 401, unavailable → 503, a destroyed
//! key or a tampered ciphertext → 500. What is a service's own is how it words a row storage
//! did not find and a failure ([`Wording`]), applied once as it answers ([`answer`]).

use serde_json::{Map, Value, json};

use crate::FieldError;
use crate::host::CryptoError;
use crate::storage::StorageError;

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

/// The JSON text of `value`, written straight into a buffer. (`Value`'s `Display`, which
/// `to_string` uses, goes through the formatting machinery for every piece: it was about a
/// sixth of a mood list's time inside the component.)
fn json_text(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its keys are strings and its numbers finite.
    serde_json::to_string(value).unwrap_or_default()
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: json_text(body),
        }
    }

    /// `status` with `body` written as JSON, for a body written without building a
    /// [`Value`] (a [`RowObject`](crate::row_object::RowObject)).
    pub fn json_of(status: u16, body: &impl serde::Serialize) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            // Cannot fail for a body of string keys and finite numbers.
            body: serde_json::to_string(body).unwrap_or_default(),
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

/// How a service words the problems the kit makes on its behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wording {
    service: &'static str,
    not_found: &'static str,
}

impl Wording {
    /// The words of the service named `service` (`mood`), whose 404 for a row storage did not
    /// find says `not_found` (`no such mood log`).
    pub const fn new(service: &'static str, not_found: &'static str) -> Self {
        Self { service, not_found }
    }

    /// The detail of a 404 for a row storage did not find.
    pub fn not_found(&self) -> &'static str {
        self.not_found
    }

    /// The detail of a 500: `the mood service failed to handle the request`.
    pub fn failed(&self) -> String {
        format!("the {} service failed to handle the request", self.service)
    }

    /// The canonical id of a row named in a path (see [`crate::validate::uuid`]).
    ///
    /// # Errors
    /// A 404 in the service's words when it is not a UUID: such an id names no row, and
    /// storage is never asked.
    pub fn row_id(&self, raw: &str) -> Result<String, Problem> {
        crate::validate::uuid(raw).ok_or_else(|| Problem::not_found(self.not_found))
    }
}

/// The reply to a handler's result: the reply, or the problem document, worded for the
/// service (see [`Problem::worded`]). The kit answers so for the component
/// (`export_http!`) and for tests (`FakePlatform::send`).
pub fn answer(result: Result<Reply, Problem>, wording: &Wording) -> Reply {
    result.unwrap_or_else(|problem| problem.worded(wording).into_reply())
}

/// Which of the kit's problems still waits for the service's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unworded {
    NotFound,
    Failed,
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
    /// Set on the kit's generic problems, whose detail the service words.
    unworded: Option<Unworded>,
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
            unworded: None,
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

    /// 500: our fault; `detail` stays generic.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", detail)
    }

    /// 500: the service failed (a capability answered what cannot be, a stored row is
    /// unreadable); the detail is the service's [`Wording::failed`].
    pub fn failed() -> Self {
        Self {
            unworded: Some(Unworded::Failed),
            ..Self::internal("the service failed to handle the request")
        }
    }

    /// 503 with `retry-after: 1`: a capability's backend is unreachable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut p = Self::new(503, "unavailable", detail);
        p.headers.push(("retry-after", "1".into()));
        p
    }

    /// 403: the endpoint needs the premium tier; `detail` says what is premium.
    pub fn premium_required(detail: impl Into<String>) -> Self {
        let mut p = Self::new(403, "premium-required", detail);
        p.extra.insert("required_tier".into(), json!("premium"));
        p
    }

    /// A failed page query: a stale or forged cursor names the `cursor` parameter the client
    /// sent; any other failure as [`From<StorageError>`].
    pub fn from_query(error: StorageError) -> Self {
        match error {
            StorageError::Invalid { field, message } if field.contains("cursor") => {
                Self::invalid("cursor", message)
            }
            other => Self::from(other),
        }
    }

    /// The problem with the service's words where the kit left them to it: a row storage did
    /// not find, a failure.
    #[must_use]
    pub fn worded(mut self, wording: &Wording) -> Self {
        match self.unworded.take() {
            Some(Unworded::NotFound) => self.detail = wording.not_found().to_owned(),
            Some(Unworded::Failed) => self.detail = wording.failed(),
            None => {}
        }
        self
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
            body: json_text(&Value::Object(document)),
        }
    }
}

impl From<Vec<FieldError>> for Problem {
    /// 422 with these field errors.
    fn from(errors: Vec<FieldError>) -> Self {
        Self::validation(errors)
    }
}

impl From<StorageError> for Problem {
    /// not-found → 404 (worded by the service), invalid → 422 naming the field, conflict →
    /// 409, unavailable → 503, not-granted → 500 (the manifest and the component disagree:
    /// the component's bug).
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self {
                unworded: Some(Unworded::NotFound),
                ..Self::not_found("no such row")
            },
            StorageError::Invalid { field, message } => Self::invalid(&field, message),
            StorageError::Conflict(_) => {
                Self::new(409, "conflict", "the change conflicts with existing data")
            }
            StorageError::Unavailable => Self::unavailable("the database is unavailable"),
            StorageError::NotGranted(_) => Self::failed(),
        }
    }
}

impl From<CryptoError> for Problem {
    /// no-user → 401; unavailable → 503; a destroyed key or a tampered ciphertext → 500 (the
    /// value cannot be read; the detail stays generic).
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::NoUser => Self::unauthorized(),
            CryptoError::Unavailable => Self::unavailable("the key store is unavailable"),
            CryptoError::KeyDestroyed | CryptoError::Tampered => Self::failed(),
        }
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

    const WORDING: Wording = Wording::new("diary", "no such diary page");

    #[test]
    fn capability_failures_map_to_statuses_in_the_services_words() {
        let invalid = || StorageError::Invalid {
            field: "body_text".into(),
            message: "too long".into(),
        };
        let storage = [
            (StorageError::NotFound, 404, "no such diary page"),
            (invalid(), 422, "`body_text`: too long"),
            (
                StorageError::Conflict("taken".into()),
                409,
                "the change conflicts with existing data",
            ),
            (
                StorageError::Unavailable,
                503,
                "the database is unavailable",
            ),
            (
                StorageError::NotGranted("diary".into()),
                500,
                "the diary service failed to handle the request",
            ),
        ];
        for (error, status, detail) in storage {
            let problem = Problem::from(error).worded(&WORDING);
            assert_eq!((problem.status, problem.detail.as_str()), (status, detail));
        }
        let crypto = [
            (CryptoError::NoUser, 401),
            (CryptoError::Unavailable, 503),
            (CryptoError::KeyDestroyed, 500),
            (CryptoError::Tampered, 500),
        ];
        for (error, status) in crypto {
            assert_eq!(Problem::from(error).status, status, "{error:?}");
        }
        assert_eq!(
            Problem::from(CryptoError::Tampered).worded(&WORDING).detail,
            "the diary service failed to handle the request"
        );
        let reply = Problem::from(invalid()).into_reply();
        assert_eq!(reply.json_body()["errors"][0]["field"], "body_text");
        for unavailable in [
            Problem::from(StorageError::Unavailable),
            Problem::from(CryptoError::Unavailable),
        ] {
            assert_eq!(unavailable.into_reply().header("retry-after"), Some("1"));
        }
    }

    #[test]
    fn only_the_kits_own_problems_take_the_services_words() {
        let own = Problem::not_found("no such diary resource").worded(&WORDING);
        assert_eq!(own.detail, "no such diary resource");
        let answered = answer(Err(Problem::failed()), &WORDING);
        assert_eq!(answered.status, 500);
        assert_eq!(
            answered.json_body()["detail"],
            "the diary service failed to handle the request"
        );
        let ok = answer(Ok(Reply::no_content()), &WORDING);
        assert_eq!(ok.status, 204);
    }

    #[test]
    fn a_path_id_is_a_uuid_or_the_services_404() {
        assert_eq!(
            WORDING.row_id("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
            Ok("6f9619ff-8b86-d011-b42d-00c04fc964ff".to_owned())
        );
        let missing = WORDING.row_id("page-1").expect_err("not a uuid");
        assert_eq!(
            (missing.status, missing.detail.as_str()),
            (404, "no such diary page")
        );
    }

    #[test]
    fn a_bad_cursor_names_the_parameter() {
        let stale = StorageError::Invalid {
            field: "request.cursor".into(),
            message: "not a cursor of this query".into(),
        };
        let problem = Problem::from_query(stale);
        assert_eq!(
            problem.errors,
            vec![FieldError::new("cursor", "not a cursor of this query")]
        );
        assert_eq!(Problem::from_query(StorageError::Unavailable).status, 503);
    }

    #[test]
    fn premium_problems_name_the_tier() {
        let reply = Problem::premium_required("charts are premium").into_reply();
        let body = reply.json_body();
        assert_eq!(reply.status, 403);
        assert_eq!(body["type"], "urn:mindflow:problem:premium-required");
        assert_eq!(body["required_tier"], "premium");
        assert_eq!(body["title"], "Forbidden");
        assert_eq!(body["detail"], "charts are premium");
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
