//! `mindflow-component-kit`: the plain-Rust glue MindFlow's domain components share.
//!
//! Nothing here touches Spin or the WIT bindings, so it builds for `wasm32-wasip2` (inside a
//! component) and natively (for the components' unit tests) alike. What differs per component
//! (its storage values, its platform trait, its problem details) stays in the component.
//!
//! - [`reply`]: [`Reply`] and RFC 9457 [`Problem`] documents in the platform's shape.
//! - [`params`]: query parameters (`limit`, `cursor`, `from`/`to`).
//! - [`instant`]: RFC 3339 instants as the platform reads and writes them.
//! - [`host`]: the caller and crisis-assessment types the handlers see.
//! - [`FieldError`] and [`Request`].

pub mod host;
pub mod instant;
pub mod params;
pub mod reply;
pub mod storage;

pub use params::{Params, Range};
pub use reply::{Problem, Reply};

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
