//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers and every
//! component has an active version).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use super::problem::ApiError;

/// Liveness.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness.
///
/// # Errors
/// 503 naming what is not ready.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if !state.db.ping().await {
        return Err(ApiError::unavailable("the database does not answer"));
    }
    if !state.registry.is_complete() {
        return Err(ApiError::unavailable(
            "not every component has an active version",
        ));
    }
    Ok(Json(json!({
        "status": "ready",
        "database": format!("{:?}", state.db.backend()).to_lowercase(),
        "components": state.registry.active().len(),
    })))
}
