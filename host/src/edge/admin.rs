//! The plugin admin API (`/api/v1/admin`): list component versions, upload a version,
//! activate one, roll back, and read the audit log. Every call needs the admin role; every
//! change is audited by the registry.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::body::JsonObject;
use super::caller::Admin;
use super::problem::ApiError;
use crate::audit::Actor;
use crate::registry::RegistryError;

fn actor(admin: &Admin) -> Actor {
    Actor {
        user_id: Some(admin.0.user_id),
        label: format!("user:{}", admin.0.user_id),
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::UnknownComponent(_) | RegistryError::UnknownVersion { .. } => {
                ApiError::not_found(error.to_string())
            }
            RegistryError::VersionExists { .. } => ApiError::conflict(error.to_string()),
            RegistryError::Invalid { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "component-invalid",
                error.to_string(),
            ),
            RegistryError::GateRefused { ref report, .. } => {
                let report = serde_json::to_value(report).unwrap_or_default();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "gate-refused",
                    error.to_string(),
                )
                .with_extra(json!({"gate_report": report}))
            }
            RegistryError::Rejected { .. } | RegistryError::NoPrevious(_) => {
                ApiError::conflict(error.to_string())
            }
            RegistryError::Source { .. } => {
                tracing::error!(%error, "registry source error");
                ApiError::internal()
            }
            RegistryError::Db(db) => db.into(),
        }
    }
}

/// `GET /components`: every component of the manifest with its versions and the active one.
///
/// # Errors
/// 401/403, or 503 when the database fails.
pub async fn list(admin: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let _ = admin;
    let versions = state.registry.versions().await?;
    let active = state.registry.active();
    let components: Vec<Value> = state
        .registry
        .manifest()
        .components
        .values()
        .map(|decl| {
            let running = active.get(&decl.name);
            json!({
                "name": decl.name,
                "kind": decl.grants.kind.as_str(),
                "active_version": running.map(|a| a.record.version.clone()),
                "active_sha256": running.map(|a| a.record.sha256.clone()),
                "versions": versions.iter().filter(|v| v.name == decl.name).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "items": components })))
}

/// Query of an upload.
#[derive(Deserialize)]
pub struct UploadQuery {
    /// The version label.
    version: Option<String>,
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

/// `POST /components/{name}/versions?version=LABEL` with the component's bytes as the body:
/// validates, compiles, gates and stores it. 201 with the version and the gate's report; 422
/// with the report when the gate refuses.
///
/// # Errors
/// 404 unknown component, 409 taken label, 422 invalid component or refused by the gate.
pub async fn upload(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let version = query.version.ok_or_else(|| {
        ApiError::invalid_field("version", "the `version` query parameter is required")
    })?;
    if !valid_label(&version) {
        return Err(ApiError::invalid_field(
            "version",
            "1 to 64 characters among letters, digits, `.`, `-`, `_` and `+`",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be the component's .wasm bytes",
        ));
    }
    let installed = state
        .registry
        .install(&name, &version, &body, &actor(&admin))
        .await?;
    let location = format!("/api/v1/admin/components/{name}/versions/{version}");
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(json!({"version": installed.version, "gate_report": installed.gate})),
    )
        .into_response())
}

/// Body of an activation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    /// The version label to activate.
    version: String,
}

/// `POST /components/{name}/activate` `{"version": "..."}`.
///
/// # Errors
/// 404 unknown component or version, 409 a rejected version.
pub async fn activate(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonObject(body): JsonObject<ActivateBody>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .registry
        .activate(&name, &body.version, &actor(&admin))
        .await?;
    Ok(Json(json!({"active": record})))
}

/// `POST /components/{name}/rollback`: activates the previously active version.
///
/// # Errors
/// 404 unknown component, 409 nothing to roll back to.
pub async fn rollback(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.registry.rollback(&name, &actor(&admin)).await?;
    Ok(Json(json!({"active": record})))
}

/// Query of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

/// `GET /audit?limit=N`: the newest audit entries.
///
/// # Errors
/// 401/403, 503.
pub async fn audit(
    _admin: Admin,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let entries = state.db.audit_entries(limit).await?;
    Ok(Json(json!({ "items": entries })))
}
