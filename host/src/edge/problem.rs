//! RFC 9457 problem documents: every failure the edge answers is one of these.
//!
//! A problem never carries a stack trace or user content; `detail` says what went wrong in
//! words fit for an API client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The base of MindFlow's problem type URIs.
pub const PROBLEM_BASE: &str = "urn:mindflow:problem:";

/// A field-level validation error (`errors[]` of a 422).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault.
    pub field: String,
    /// Why.
    pub message: String,
}

/// An error answered as `application/problem+json`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The problem type's slug (appended to [`PROBLEM_BASE`]).
    pub kind: &'static str,
    /// Human-readable detail.
    pub detail: String,
    /// Field errors, for validation problems.
    pub errors: Vec<FieldError>,
    /// Extra members (e.g. a gate report).
    pub extra: Option<serde_json::Value>,
    /// Seconds for `Retry-After`, for 429 and 503.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Value>,
}

impl ApiError {
    /// A problem with a status, type slug and detail.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 422 with field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}`: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
        }
    }

    /// 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 500: our fault; the detail stays generic (the cause is logged, never shown).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request",
        )
    }

    /// 503: a dependency is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
        }
    }

    /// Adds extra members to the document.
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let document = Document {
            kind: format!("{PROBLEM_BASE}{}", self.kind),
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
            extra: self.extra.as_ref().filter(|e| e.is_object()),
        };
        let mut response = (self.status, Json(document)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        if matches!(error, crate::db::DbError::NulInText) {
            return Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-text",
                "text must not contain NUL characters",
            );
        }
        tracing::error!(%error, "database error");
        if error.is_conflict() {
            return Self::conflict("the change conflicts with existing data");
        }
        Self::unavailable("the database is unavailable")
    }
}
/// Turns an error the framework answered without a problem document (a malformed query or
/// path, a body over the size limit, a method a route does not serve: plain text or an
/// empty body) into one, so every error the host's own routes answer is a problem document.
/// `Allow` and `Retry-After` are kept; a server error's text is not repeated.
pub async fn problems_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.starts_with("text/"));
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let detail = if status.is_server_error() {
        reason
    } else {
        axum::body::to_bytes(body, 2048)
            .await
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
            .filter(|text| !text.is_empty())
            .unwrap_or(reason)
    };
    let kind = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        _ if status.is_server_error() => "internal",
        _ => "invalid-request",
    };
    let mut problem = ApiError::new(status, kind, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}
