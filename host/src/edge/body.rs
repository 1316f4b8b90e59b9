//! The JSON bodies the host's own endpoints take.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::ApiError;

/// A request body that must be a JSON object, read into `T`.
///
/// `axum::Json` alone lets serde read a struct from an array (`[[]]` as a safety plan, or
/// `["ada@example.com", "…"]` as a login). Every body this API takes is an object, so
/// anything else is refused. Rejections are problem documents:
/// - 415 when the body is not sent as JSON;
/// - 400 when it is not JSON at all;
/// - 422 when it is JSON but not an object, or not of `T`'s shape.
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonObject<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<Value>::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid-body", e.body_text()))?;
        if !value.is_object() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value).map(Self).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )
        })
    }
}
