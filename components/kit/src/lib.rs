//! `mindflow-component-kit`: everything MindFlow's domain components share, so a component
//! crate holds its domain logic and a few lines of glue.
//!
//! The handlers of a service are plain Rust, generic over [`Platform`] (the host's
//! capabilities as one trait): they take a [`Request`] and answer a [`Reply`] or a
//! [`Problem`]. Natively they run in unit tests against `fake::FakePlatform` (cargo feature
//! `fake`); in the component (`wasm32`), `export_http!` exports them as a Spin HTTP
//! component over the WIT bindings (`wasm::Host`) and ships the component's `openapi.json`.
//!
//! - [`platform`]: the [`Platform`] trait (context, storage, crypto, ml, crisis, clock, ids).
//! - [`storage`]: values, rows, filters, pages, aggregates, batches, [`StorageError`] and the
//!   row helpers (`text_of`, `Value::to_json`, …).
//! - [`host`]: the caller, crisis outcomes, sealed values, [`CryptoError`].
//! - [`reply`]: [`Reply`], RFC 9457 [`Problem`] documents, how capability failures become
//!   problems, and the service's [`Wording`] of the ones the kit makes for it.
//! - [`params`]: query parameters (`limit`, `cursor`, `from`/`to`); [`validate`]: request
//!   bodies and ids; [`instant`]: RFC 3339 instants.
//! - [`analysis`]: sentiment scores and what a crisis assessment means for a response;
//!   [`handlers`]: the handlers every service has alike (deleting a row).
//!
//! [`StorageError`]: storage::StorageError
//! [`CryptoError`]: host::CryptoError

pub mod analysis;
#[cfg(feature = "fake")]
pub mod fake;
pub mod handlers;
pub mod host;
pub mod instant;
pub mod params;
pub mod platform;
pub mod reply;
pub mod row_object;
pub mod storage;
pub mod validate;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// Names the host and the components agree on: crypto purposes, consent types.
pub use mindflow_contract::{consent, emotion_tag, purpose};
pub use params::{Params, Range};
pub use platform::Platform;
pub use reply::{Problem, Reply, Wording, answer};

/// A field-level validation problem (an entry of a 422's `errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON member at fault, as a path (`factors[0].factor_type`).
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A request as the handlers see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, uppercase.
    pub method: &'a str,
    /// The path below the mount point (`/logs/…`, `/entries/…`).
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: &'a str,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The path's segments when it has one or two (`/logs`, `/logs/{id}`; a trailing slash
    /// counts for nothing); `None` for a longer path. The second segment may be empty
    /// (`/logs//`).
    pub fn segments(&self) -> Option<(&'a str, Option<&'a str>)> {
        let path = self.path.strip_prefix('/').unwrap_or(self.path);
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segments = path.split('/');
        let first = segments.next()?;
        let second = segments.next();
        if segments.next().is_some() {
            return None;
        }
        Some((first, second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_one_or_two_segments() {
        let segments = |path| {
            Request {
                method: "GET",
                path,
                query: "",
                body: b"",
            }
            .segments()
        };
        assert_eq!(segments("/logs"), Some(("logs", None)));
        assert_eq!(segments("/logs/"), Some(("logs", None)));
        assert_eq!(segments("logs/x"), Some(("logs", Some("x"))));
        assert_eq!(segments("/logs//"), Some(("logs", Some(""))));
        assert_eq!(segments(""), Some(("", None)));
        assert_eq!(segments("/logs/a/b"), None);
    }
}
