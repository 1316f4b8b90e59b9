//! `/api/v1/auth`: registration and login (host-native: identity is the trust base).
//!
//! Login answers an unknown email and a wrong password the same way and in similar time
//! (the password is checked against a decoy hash when there is no account).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::problem::{ApiError, FieldError};
use crate::db::users::UserRecord;
use crate::identity::{self, passwords, tokens};

/// `POST /register` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
    display_name: Option<String>,
}

/// `POST /login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(e.status(), "invalid-body", e.body_text()))
}

fn token_response(
    state: &AppState,
    user: &UserRecord,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let access = state
        .tokens
        .issue(user.id, &user.subscription_tier)
        .map_err(|_| ApiError::internal())?;
    Ok((
        status,
        Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": tokens::ACCESS_TTL_SECONDS,
            "user": {"id": user.id, "email": user.email, "subscription_tier": user.subscription_tier},
        })),
    )
        .into_response())
}

async fn hash_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())
}

/// Registers an account with email and password; answers with an access token.
///
/// # Errors
/// 422 for a bad email, password or display name; 409 for a taken email.
pub async fn register(
    State(state): State<AppState>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let email = identity::normalise_email(&body.email);
    let mut errors = Vec::new();
    if !identity::is_plausible_email(&email) {
        errors.push(FieldError {
            field: "email".into(),
            message: "is not a valid email address".into(),
        });
    }
    if let Some(problem) = passwords::policy_violation(&body.password) {
        errors.push(FieldError {
            field: "password".into(),
            message: problem,
        });
    }
    if body
        .display_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100 || n.trim().is_empty())
    {
        errors.push(FieldError {
            field: "display_name".into(),
            message: "must be 1 to 100 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let hash = hash_blocking(body.password).await?;
    let user = state
        .db
        .create_user(&email, &hash, body.display_name.as_deref())
        .await
        .map_err(|e| {
            if e.is_conflict() {
                ApiError::conflict("an account with this email exists")
            } else {
                e.into()
            }
        })?;
    token_response(&state, &user, StatusCode::CREATED)
}

/// Logs in with email and password.
///
/// # Errors
/// 401 for an unknown email or a wrong password (the same answer for both).
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let email = identity::normalise_email(&body.email);
    let user = state.db.user_by_email(&email).await?;
    let phc = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy_hash().to_owned());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, &phc))
        .await
        .map_err(|_| ApiError::internal())?;
    match user {
        Some(user) if matches => token_response(&state, &user, StatusCode::OK),
        _ => Err(ApiError::unauthorized("the email or password is wrong")),
    }
}
