//! `/api/v1/auth` (seed-plan §3.1), host-native because identity is the trust base:
//! registration, login, refresh-token rotation, logout, sign-in with Google and Apple,
//! password reset and account deletion.
//!
//! - Registration is by mail: `POST /register` answers 202 with the same body whether or not
//!   the address has an account, and mails either a code (`POST /verify-email` then creates
//!   the account and signs in) or a note to the address's owner. Who uses MindFlow is not
//!   something its sign-up form tells.
//! - Sessions: every login (password or provider) answers an access token and an opaque
//!   refresh token that starts a *family*; `POST /refresh` rotates it, and presenting a
//!   rotated token again revokes the family (see [`crate::identity::refresh`]).
//! - Login answers an unknown email and a wrong password the same way and in similar time
//!   (the password is checked against a decoy hash when there is no account), and is
//!   throttled so that guesses from elsewhere never lock the owner's known devices out (429
//!   with `Retry-After`; see [`crate::identity::throttle`]).
//! - `POST /forgot-password` always answers 202 with the same body, at once: looking the
//!   account up, storing the token and queuing the mail happen after the answer (in one
//!   transaction), so neither the body nor the timing tells whether the account exists.
//!   *Departure from "durable before the response":* a 202 promises nothing durable.
//! - Provider sign-in links by verified email; an account whose email was never proven
//!   loses its password and sessions when linked (no account pre-hijacking), and a completed
//!   password reset proves the email.
//! - Secrets (passwords, tokens, ID tokens) are never logged.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::body::JsonObject;
use super::caller::{SignedIn, reauthentication_required};
use super::problem::{ApiError, FieldError};
use crate::db::Database;
use crate::db::auth::{NewRefreshToken, ResetRequest};
use crate::db::registrations::{NewRegistration, RegistrationOutcome, RegistrationRequest};
use crate::db::users::UserRecord;
use crate::identity::oidc::{OidcError, Provider, VerifiedIdentity};
use crate::identity::refresh::Verdict;
use crate::identity::throttle::{self, AttemptKey};
use crate::identity::{self, Session, opaque, passwords, refresh, tokens};

/// How long a password-reset token lives.
pub const RESET_TTL_MINUTES: i64 = 60;
/// Unused reset tokens a user may hold from the last [`RESET_TTL_MINUTES`]; further requests
/// are silently dropped (no mail bombing).
pub const MAX_OUTSTANDING_RESETS: i64 = 3;
/// The longest `User-Agent` stored with a refresh token.
const MAX_USER_AGENT_CHARS: usize = 256;
/// The longest ID token accepted.
const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// The longest nonce accepted.
const MAX_NONCE_BYTES: usize = 512;

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
    /// The device token an earlier sign-in on this device answered: its attempts are then
    /// throttled on their own ([`throttle`]). An expired or foreign one is ignored.
    #[serde(default)]
    device_token: Option<String>,
}

/// `POST /refresh` and `POST /logout` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// `POST /oauth/{provider}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthBody {
    id_token: String,
    nonce: String,
}

/// `POST /forgot-password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordBody {
    email: String,
}

/// `POST /reset-password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordBody {
    token: String,
    new_password: String,
}

/// `DELETE /account` body (optional for accounts without a password).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountBody {
    #[serde(default)]
    password: Option<String>,
}

/// Who is on the other end: the client's address (the peer's, or behind trusted proxies the
/// one they report, see [`super::client`]) and the `User-Agent`, both only recorded with
/// refresh tokens and used for throttling.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent`, without control characters, shortened.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let ip = super::client::client_address(parts);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|v| !v.trim().is_empty());
        Ok(Self { ip, user_agent })
    }
}

/// Whether the request says its body is JSON (`application/json` or a `+json` type), as
/// axum's `Json` extractor requires for the other endpoints.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(mindflow_contract::is_json_content_type)
}

fn refresh_refused() -> ApiError {
    ApiError::unauthorized("the refresh token is invalid, expired or revoked")
}

fn too_many_attempts(seconds: u64) -> ApiError {
    ApiError {
        retry_after: Some(seconds),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "too many failed sign-in attempts; try again later",
        )
    }
}

/// The access token and refresh token answer (RFC 6749 §5.1 names).
fn token_document(user: &UserRecord, access: &str, refresh_token: &str) -> Value {
    token_json(
        json!({"id": user.id, "email": user.email, "subscription_tier": user.subscription_tier}),
        access,
        refresh_token,
    )
}

/// The id of `device_token` when it is a valid device token for `user` at the user's
/// current session epoch.
fn known_device(
    state: &AppState,
    user: Option<&UserRecord>,
    device_token: Option<&str>,
) -> Option<Uuid> {
    let claims = state.tokens.verify_device(device_token?).ok()?;
    let user = user?;
    (claims.sub == user.id && claims.epoch == user.session_epoch).then_some(claims.jti)
}

fn token_json(user: Value, access: &str, refresh_token: &str) -> Value {
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_TTL_SECONDS,
        "refresh_token": refresh_token,
        "user": user,
    })
}

/// A response carrying tokens: never stored by a cache or a browser (RFC 6749 §5.1:
/// `Cache-Control: no-store` and `Pragma: no-cache`).
fn token_response(status: StatusCode, document: Value) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(document),
    )
        .into_response()
}

/// A refresh token of `family_id` for `user_id` in `session`.
fn new_refresh_token<'a>(
    (user_id, session): (Uuid, Session),
    family_id: Uuid,
    token: &'a opaque::OpaqueToken,
    client: &'a ClientInfo,
    now: DateTime<Utc>,
) -> NewRefreshToken<'a> {
    NewRefreshToken {
        id: Uuid::new_v4(),
        user_id,
        session_epoch: session.epoch,
        authenticated_at: session.authenticated_at,
        family_id,
        token_hash: &token.hash,
        issued_at: now,
        expires_at: refresh::expiry_from(now),
        user_agent: client.user_agent.as_deref(),
        ip: client.ip,
    }
}

/// Starts a session (a new refresh-token family) and answers the tokens.
async fn start_session(
    state: &AppState,
    user: &UserRecord,
    client: &ClientInfo,
    status: StatusCode,
    extra: Option<(&str, Value)>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    // A session starts when the person has just proved who they are.
    let family = Uuid::new_v4();
    let session = Session {
        epoch: user.session_epoch,
        authenticated_at: Some(now),
        family: Some(family),
    };
    let access = state
        .tokens
        .issue(user.id, &user.subscription_tier, session)
        .map_err(|_| ApiError::internal())?;
    let token = opaque::generate();
    state
        .db
        .insert_refresh_token(&new_refresh_token(
            (user.id, session),
            family,
            &token,
            client,
            now,
        ))
        .await?;
    // Whoever just signed in here may sign in here again despite guesses from elsewhere.
    let device = state
        .tokens
        .issue_device(user.id, user.session_epoch)
        .map_err(|_| ApiError::internal())?;
    let mut document = token_document(user, &access, &token.token);
    if let Some(object) = document.as_object_mut() {
        object.insert("device_token".to_owned(), Value::String(device));
        if let Some((key, value)) = extra {
            object.insert(key.to_owned(), value);
        }
    }
    Ok(token_response(status, document))
}

/// Checks a password the way a login must: the attempt is recorded as a failure first, the
/// throttle is checked again once a hashing turn is free (so of a burst of parallel guesses
/// only those within the limit are ever verified), and the attempt becomes a success only if
/// the password matched.
async fn verify_throttled(
    db: &Database,
    keys: &[AttemptKey],
    password: String,
    phc: String,
) -> Result<bool, ApiError> {
    let names: Vec<String> = keys.iter().map(|k| k.key.clone()).collect();
    let attempt = db.record_login_attempt(&names, false, Utc::now()).await?;
    let turn = passwords::turn().await.map_err(hashing_error)?;
    check_throttle(db, keys, Utc::now(), 1).await?;
    let matches = passwords::run(turn, move || passwords::verify(&password, &phc))
        .await
        .map_err(hashing_error)?;
    if matches {
        db.mark_login_attempts_succeeded(&attempt).await?;
    }
    Ok(matches)
}

/// 503 with `Retry-After` when password hashing is saturated.
fn hashing_error(busy: passwords::Busy) -> ApiError {
    match busy {
        passwords::Busy::Saturated => ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many sign-ins at once; try again in a moment",
            )
        },
        passwords::Busy::Failed => ApiError::internal(),
    }
}

async fn hash_blocking(password: String) -> Result<String, ApiError> {
    passwords::bounded(move || passwords::hash(&password))
        .await
        .map_err(hashing_error)?
        .map_err(|_| ApiError::internal())
}

/// Refuses with 429 (and `Retry-After`) an attempt that one of its keys says must wait.
/// `pending` is how many of the recorded failures are this attempt's own (recorded before
/// its password is checked, so a burst of parallel guesses cannot all pass the check).
async fn check_throttle(
    db: &Database,
    keys: &[AttemptKey],
    now: DateTime<Utc>,
    pending: usize,
) -> Result<(), ApiError> {
    let mut wait: Option<u64> = None;
    for key in keys {
        let failures = db
            .recent_login_failures(
                &key.key,
                key.rule.window_start(now),
                key.cleared_by_success,
                key.rule.failures_needed(pending),
            )
            .await?;
        if let Some(seconds) = key.rule.retry_after(&failures, pending, now) {
            wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
        }
    }
    match wait {
        Some(seconds) => Err(too_many_attempts(seconds)),
        None => Ok(()),
    }
}

/// How long a code mailed at registration works.
pub const REGISTRATION_TTL_HOURS: i64 = 24;
/// The most mails of one kind registration sends one address per
/// [`REGISTRATION_TTL_HOURS`].
pub const MAX_REGISTRATION_MAILS: i64 = 3;

/// How long a registration takes to answer, at least: whether the address has an account
/// decides what is written, and the answer must not tell.
pub const REGISTER_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

/// Starts a registration with email and password. Always 202 with the same body, after at
/// least [`REGISTER_ANSWER_FLOOR`], whether or not the address has an account, so the answer
/// never tells whether someone uses MindFlow: a free address gets a code by mail (the
/// account exists once [`verify_email`] receives it), a taken one a mail telling its owner.
/// Both are durable before the answer.
///
/// # Errors
/// 422 for a bad email, password or display name (which says nothing about accounts); 429
/// with `Retry-After` past the address's registrations in the window (counted before the
/// password is hashed, whatever the address registered); 503 when hashing is saturated or
/// the database unavailable.
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonObject(body): JsonObject<RegisterBody>,
) -> Result<Response, ApiError> {
    let answer_at = tokio::time::Instant::now() + REGISTER_ANSWER_FLOOR;
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
    if let Some(ip) = client.ip {
        // Recorded before it is checked, so a burst in parallel cannot all pass.
        let keys = [throttle::registration_key(
            ip,
            state.registrations_per_address,
        )];
        let names: Vec<String> = keys.iter().map(|k| k.key.clone()).collect();
        state
            .db
            .record_login_attempt(&names, false, Utc::now())
            .await?;
        check_throttle(&state.db, &keys, Utc::now(), 1)
            .await
            .map_err(|refused| match refused.retry_after {
                Some(seconds) => ApiError {
                    retry_after: Some(seconds),
                    ..ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too-many-attempts",
                        "too many registrations from this address; try again later",
                    )
                },
                None => refused,
            })?;
    }
    // Hashed whether or not the address is free: the time taken must not tell.
    let hash = hash_blocking(body.password).await?;
    let code = opaque::generate();
    let now = Utc::now();
    let outcome = state
        .db
        .request_registration(&NewRegistration {
            email: &email,
            password_hash: &hash,
            display_name: body.display_name.as_deref(),
            token_hash: &code.hash,
            token: &code.token,
            now,
            expires_at: now + Duration::hours(REGISTRATION_TTL_HOURS),
            since: now - Duration::hours(REGISTRATION_TTL_HOURS),
            max_mails: MAX_REGISTRATION_MAILS,
        })
        .await?;
    if outcome != RegistrationRequest::Throttled {
        state.outbox.queued();
    }
    // Logged without the address: the outcome is exactly what the answer keeps to itself.
    tracing::info!(?outcome, "registration requested");
    tokio::time::sleep_until(answer_at).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "detail": "Check your inbox: we sent this address a message saying how to continue. A code in it is valid for 24 hours."
        })),
    )
        .into_response())
}

/// `POST /verify-email` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    token: String,
}

/// Finishes a registration with the code mailed to its address: creates the account (its
/// address proven) and answers 201 with an access and a refresh token, as a sign-in does.
///
/// # Errors
/// 401 `invalid-registration-code` for an unknown, used or expired code; 409 when the
/// address got an account meanwhile (only the address's owner holds the code, so this tells
/// no one else anything).
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonObject(body): JsonObject<VerifyEmailBody>,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-registration-code",
            "the registration code is invalid, used or expired",
        )
    };
    if !opaque::is_well_formed(&body.token) {
        return Err(refused());
    }
    let outcome = state
        .db
        .complete_registration(&opaque::hash(&body.token), Utc::now())
        .await?;
    match outcome {
        RegistrationOutcome::Created(user) => {
            tracing::info!(user_id = %user.id, "account created: its address is verified");
            start_session(&state, &user, &client, StatusCode::CREATED, None).await
        }
        RegistrationOutcome::Invalid => Err(refused()),
        RegistrationOutcome::Taken => Err(ApiError::conflict(
            "this address has an account now: sign in instead",
        )),
    }
}

/// Logs in with email and password.
///
/// # Errors
/// 401 for an unknown email or a wrong password (the same answer for both); 429 with
/// `Retry-After` after too many recent failures for the account or from the address.
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonObject(body): JsonObject<LoginBody>,
) -> Result<Response, ApiError> {
    let email = identity::normalise_email(&body.email);
    let now = Utc::now();
    let user = state.db.user_by_email(&email).await?;
    let device = known_device(&state, user.as_ref(), body.device_token.as_deref());
    let keys = throttle::attempt_keys(&email, client.ip, device);
    check_throttle(&state.db, &keys, now, 0).await?;
    let phc = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy_hash().to_owned());
    let matches = verify_throttled(&state.db, &keys, body.password, phc).await?;
    let user = user.filter(|u| matches && u.password_hash.is_some());
    match user {
        Some(user) => start_session(&state, &user, &client, StatusCode::OK, None).await,
        None => Err(ApiError::unauthorized("the email or password is wrong")),
    }
}

/// Exchanges a refresh token for a new access token and a new refresh token (rotation).
///
/// # Errors
/// 401 for an unknown, expired or revoked token, and for a token already rotated, which
/// also revokes every token of its family (reuse detection).
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonObject(body): JsonObject<RefreshBody>,
) -> Result<Response, ApiError> {
    if !opaque::is_well_formed(&body.refresh_token) {
        return Err(refresh_refused());
    }
    let presented = opaque::hash(&body.refresh_token);
    let now = Utc::now();
    // Read first, without a transaction: an unknown, expired or revoked token is refused
    // without taking SQLite's write lock, and the user is read before the lock is held (a
    // transaction never waits for a second pool connection while it holds the lock).
    let Some(seen) = state.db.refresh_token(&presented).await? else {
        return Err(refresh_refused());
    };
    if matches!(
        refresh::assess(&seen, now),
        Verdict::Revoked | Verdict::Expired
    ) {
        return Err(refresh_refused());
    }
    let Some(user) = state.db.user_by_id(seen.user_id).await? else {
        return Err(refresh_refused());
    };
    // Then decide under the lock, on the row as it is now (a concurrent refresh may have
    // rotated it in between).
    let mut tx = state.db.begin().await?;
    let Some(record) = tx.refresh_token_for_update(&presented).await? else {
        return Err(refresh_refused());
    };
    // Every session of the user ended after this token was issued (a password reset): the
    // epoch is read in the transaction, so a reset that commits first is seen here, and one
    // that commits later makes whatever this refresh mints refused in turn.
    let Some(epoch) = tx.session_epoch(record.user_id).await? else {
        return Err(refresh_refused());
    };
    if record.session_epoch != epoch {
        return Err(refresh_refused());
    }
    match refresh::assess(&record, now) {
        Verdict::Rotate => {}
        Verdict::Revoked | Verdict::Expired => return Err(refresh_refused()),
        Verdict::Reused => {
            let revoked = tx.revoke_refresh_family(record.family_id, now).await?;
            tx.record_ended_session(record.family_id, record.user_id, now)
                .await?;
            tx.commit().await?;
            state.callers.forget(record.user_id);
            tracing::warn!(
                user_id = %record.user_id,
                family_id = %record.family_id,
                revoked,
                "a rotated refresh token was presented again: its family is revoked"
            );
            return Err(refresh_refused());
        }
    }
    let next = opaque::generate();
    // A refresh proves nothing new: the session keeps the time of its sign-in.
    let session = Session {
        epoch,
        authenticated_at: record.authenticated_at,
        family: Some(record.family_id),
    };
    let new = new_refresh_token((user.id, session), record.family_id, &next, &client, now);
    tx.insert_refresh_token(&new).await?;
    if !tx.mark_refresh_rotated(record.id, new.id, now).await? {
        return Err(refresh_refused());
    }
    tx.commit().await?;
    let access = state
        .tokens
        .issue(user.id, &user.subscription_tier, session)
        .map_err(|_| ApiError::internal())?;
    Ok(token_response(
        StatusCode::OK,
        token_document(&user, &access, &next.token),
    ))
}

/// Ends the session of a refresh token: revokes its family, and refuses the session's access
/// tokens from now on (not only when they expire). Always 204, whether or not the token
/// existed.
///
/// # Errors
/// 400/422 for a malformed body only.
pub async fn logout(
    State(state): State<AppState>,
    JsonObject(body): JsonObject<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    if opaque::is_well_formed(&body.refresh_token) {
        let ended = state
            .db
            .end_session_of(&opaque::hash(&body.refresh_token), Utc::now())
            .await?;
        if let Some(user) = ended {
            state.callers.forget(user);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

fn oidc_problem(error: OidcError) -> ApiError {
    match error {
        OidcError::NotConfigured => provider_not_configured(),
        OidcError::KeysUnavailable => {
            ApiError::unavailable("the identity provider's signing keys cannot be fetched")
        }
        OidcError::Client(_) => ApiError::internal(),
        other => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-id-token",
            other.to_string(),
        ),
    }
}

fn provider_not_configured() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "provider-not-configured",
        "sign-in with this provider is not configured",
    )
}

/// The account of a verified identity: the linked one; else the account with the verified
/// email, linked now (an account whose email was never verified loses its password and
/// sessions then: see [`Database::link_oauth`]); else a new account without a password.
/// Returns whether it is new.
async fn oauth_account(
    state: &AppState,
    identity: &VerifiedIdentity,
) -> Result<(UserRecord, bool), ApiError> {
    let provider = identity.provider.name();
    // A second round covers losing a race with a concurrent sign-in of the same person.
    for _ in 0..2 {
        let now = Utc::now();
        if let Some(user_id) = state
            .db
            .user_id_by_oauth(provider, &identity.subject)
            .await?
        {
            let user = state
                .db
                .user_by_id(user_id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
            return Ok((user, false));
        }
        let Some(email) = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
        else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email-not-verified",
                "the identity provider vouches for no verified email, so no account can be linked or created",
            ));
        };
        if let Some(user) = state.db.user_by_email(email).await? {
            match state
                .db
                .link_oauth(user.id, provider, &identity.subject, now)
                .await
            {
                Ok(password_cleared) => {
                    if password_cleared {
                        tracing::info!(user_id = %user.id, provider, "linked an account with an unverified email: its password and sessions were revoked");
                        // Its sessions ended: the new one starts under the new epoch.
                        let user = state.db.user_by_id(user.id).await?.ok_or_else(|| {
                            ApiError::unauthorized("the account no longer exists")
                        })?;
                        return Ok((user, false));
                    }
                    return Ok((user, false));
                }
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        match state
            .db
            .create_oauth_user(email, provider, &identity.subject, now)
            .await
        {
            Ok(id) => {
                let user = state
                    .db
                    .user_by_id(id)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                return Ok((user, true));
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "the account changed during sign-in; try again",
    ))
}

/// How long a sign-in nonce may wait for its ID token.
pub const NONCE_TTL_SECONDS: i64 = 600;

/// `POST /oauth/nonce`: a nonce for provider sign-in. The client puts it (or, for Apple, its
/// SHA-256) in the provider's authorisation request and sends it back with the ID token. It
/// is single use and expires in [`NONCE_TTL_SECONDS`], so a captured ID token cannot sign in
/// again.
///
/// # Errors
/// 503 when the database fails.
pub async fn oauth_nonce(State(state): State<AppState>) -> Result<Response, ApiError> {
    let nonce = opaque::generate();
    let expires_at = Utc::now() + Duration::seconds(NONCE_TTL_SECONDS);
    state.db.insert_oauth_nonce(&nonce.hash, expires_at).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({"nonce": nonce.token, "expires_in": NONCE_TTL_SECONDS})),
    )
        .into_response())
}

/// Signs in with a Google or Apple ID token: links or creates the account and answers like
/// login (plus `new_account`).
///
/// # Errors
/// 404 for an unknown or unconfigured provider; 401 for an ID token that does not verify
/// (signature, issuer, audience, expiry, nonce); 422 when the provider vouches for no
/// verified email and the identity is not linked yet; 503 when the provider's keys are
/// unreachable.
pub async fn oauth(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    client: ClientInfo,
    JsonObject(body): JsonObject<OAuthBody>,
) -> Result<Response, ApiError> {
    let provider = Provider::parse(&provider)
        .ok_or_else(|| ApiError::not_found("unknown sign-in provider (google or apple)"))?;
    if !state.oidc.is_configured(provider) {
        return Err(provider_not_configured());
    }
    let mut errors = Vec::new();
    if body.id_token.is_empty() || body.id_token.len() > MAX_ID_TOKEN_BYTES {
        errors.push(FieldError {
            field: "id_token".into(),
            message: format!("must be 1 to {MAX_ID_TOKEN_BYTES} bytes"),
        });
    }
    if body.nonce.is_empty() || body.nonce.len() > MAX_NONCE_BYTES {
        errors.push(FieldError {
            field: "nonce".into(),
            message: format!("must be 1 to {MAX_NONCE_BYTES} bytes"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let identity = state
        .oidc
        .verify(provider, &body.id_token, &body.nonce)
        .await
        .map_err(oidc_problem)?;
    // The nonce must be one this server issued, unexpired, and it is used up now: the same
    // ID token (or any token for that nonce) never signs in twice.
    if !state
        .db
        .consume_oauth_nonce(&opaque::hash(&body.nonce), Utc::now())
        .await?
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-id-token",
            "the nonce was not issued by POST /auth/oauth/nonce, has expired, or was used already",
        ));
    }
    let (user, created) = oauth_account(&state, &identity).await?;
    if created {
        tracing::info!(user_id = %user.id, provider = provider.name(), "account created by provider sign-in");
    }
    start_session(
        &state,
        &user,
        &client,
        StatusCode::OK,
        Some(("new_account", Value::Bool(created))),
    )
    .await
}

/// Stores a reset token and queues its mail, in one transaction, if the account exists and
/// holds fewer than [`MAX_OUTSTANDING_RESETS`] unused tokens.
///
/// # Errors
/// [`crate::db::DbError`] when the database cannot be reached or refuses the write.
pub async fn queue_password_reset(
    db: &Database,
    email: &str,
) -> Result<Option<ResetRequest>, crate::db::DbError> {
    let Some(user) = db.user_by_email(email).await? else {
        return Ok(None);
    };
    let token = opaque::generate();
    let now = Utc::now();
    let expires_at = now + Duration::minutes(RESET_TTL_MINUTES);
    let outcome = db
        .request_password_reset(
            user.id,
            &token.hash,
            expires_at,
            now,
            now - Duration::minutes(RESET_TTL_MINUTES),
            MAX_OUTSTANDING_RESETS,
            &user.email,
            json!({"token": token.token, "expires_at": expires_at}),
        )
        .await?;
    match outcome {
        ResetRequest::Queued => tracing::info!(user_id = %user.id, "password reset requested"),
        ResetRequest::Throttled => tracing::info!(
            user_id = %user.id,
            "password reset not sent: too many outstanding requests"
        ),
    }
    Ok(Some(outcome))
}

/// How long a forgot-password request takes to answer, at least: whether the address has an
/// account decides whether a token and a mail are written, and the answer must not tell.
pub const FORGOT_PASSWORD_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

/// Requests a password-reset mail. Always 202 with the same body, after the same time
/// ([`FORGOT_PASSWORD_ANSWER_FLOOR`]) whether or not an account uses the address; the token
/// and its mail are durable before the answer.
///
/// # Errors
/// 400/422 for a malformed body; 503 when the database is unavailable.
pub async fn forgot_password(
    State(state): State<AppState>,
    JsonObject(body): JsonObject<ForgotPasswordBody>,
) -> Result<Response, ApiError> {
    let answer_at = tokio::time::Instant::now() + FORGOT_PASSWORD_ANSWER_FLOOR;
    let email = identity::normalise_email(&body.email);
    if identity::is_plausible_email(&email) {
        queue_password_reset(&state.db, &email).await?;
    }
    tokio::time::sleep_until(answer_at).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "detail": "If an account uses this address, a reset code is on its way. It is valid for one hour."
        })),
    )
        .into_response())
}

/// Sets a new password with a reset token (single use, one hour); signs the user out
/// everywhere (every refresh token is revoked).
///
/// # Errors
/// 422 when the new password breaks the policy; 401 for an unknown, used or expired token.
pub async fn reset_password(
    State(state): State<AppState>,
    JsonObject(body): JsonObject<ResetPasswordBody>,
) -> Result<StatusCode, ApiError> {
    if let Some(problem) = passwords::policy_violation(&body.new_password) {
        return Err(ApiError::invalid_field("new_password", problem));
    }
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-reset-token",
            "the reset token is invalid, used or expired",
        )
    };
    if !opaque::is_well_formed(&body.token) {
        return Err(refused());
    }
    let token_hash = opaque::hash(&body.token);
    // Checked before hashing, so junk tokens cost no Argon2 run.
    if !state
        .db
        .password_reset_is_usable(&token_hash, Utc::now())
        .await?
    {
        return Err(refused());
    }
    let phc = hash_blocking(body.new_password).await?;
    let user_id = state
        .db
        .complete_password_reset(&token_hash, &phc, Utc::now())
        .await?
        .ok_or_else(refused)?;
    tracing::info!(%user_id, "password reset: every session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the caller's account: the data key is crypto-shredded, then the account and
/// everything it owns are purged; its tokens stop working at once. Accounts with a password
/// must confirm it (`{"password": ...}`).
///
/// # Errors
/// 401 without a valid access token; 422 when the password is missing; 403 when it is wrong;
/// 429 after too many wrong passwords; 503 when the key store or database fails (nothing is
/// deleted then).
pub async fn delete_account(
    State(state): State<AppState>,
    SignedIn { caller, recent }: SignedIn,
    client: ClientInfo,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: DeleteAccountBody = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteAccountBody::default()
    } else if !is_json(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the body must be JSON, sent with `Content-Type: application/json`",
        ));
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            let status = if e.is_data() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(status, "invalid-body", format!("invalid JSON body: {e}"))
        })?
    };
    let user = state
        .db
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    if let Some(phc) = user.password_hash.clone() {
        let password = body.password.ok_or_else(|| {
            ApiError::invalid_field(
                "password",
                "is required to delete an account with a password",
            )
        })?;
        let now = Utc::now();
        let keys = throttle::attempt_keys(&user.email, client.ip, None);
        check_throttle(&state.db, &keys, now, 0).await?;
        let matches = verify_throttled(&state.db, &keys, password, phc).await?;
        if !matches {
            return Err(ApiError::forbidden("the password is wrong"));
        }
    } else if !recent {
        // No password to confirm: a recent sign-in with the provider stands in for it.
        return Err(reauthentication_required());
    }
    // The wrapped data key goes in the same transaction as the account (crypto-shredding
    // whatever a backup or a straggling row still holds of the user's sealed data); a
    // deletion that fails leaves both, so nothing becomes unreadable while the account stays.
    let deleted = state
        .db
        .delete_account(user.id, &user.email, &throttle::account_key(&user.email))
        .await;
    state.callers.forget(user.id);
    deleted?;
    // Only now forget any unwrapped copy the key service holds.
    if let Err(error) = state.services.keys.shred(user.id).await {
        tracing::warn!(user_id = %user.id, %error, "cannot confirm the data key is gone after the account was deleted");
    }
    if let Err(error) = state
        .db
        .audit(
            Some(user.id),
            "self",
            "account.delete",
            &user.id.to_string(),
            json!({}),
        )
        .await
    {
        tracing::warn!(%error, "cannot audit an account deletion");
    }
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reset and its mail are stored by the time queueing returns (the handler answers
    /// only after that): for an account, up to the outstanding limit; for an unknown address,
    /// nothing.
    #[tokio::test]
    async fn a_reset_and_its_mail_are_stored_before_queueing_returns() {
        let (sqlite, _dir) = crate::db::testing::sqlite().await;
        let postgres = crate::db::testing::postgres().await.map(|(db, _)| db);
        for db in std::iter::once(sqlite).chain(postgres) {
            db.create_user("ada@example.com", "not-a-real-hash", None)
                .await
                .expect("user");
            let queue = |email: &'static str| {
                let db = db.clone();
                async move { queue_password_reset(&db, email).await.expect("queue") }
            };
            let mail = || async { db.undelivered_outbox(100, 100).await.expect("outbox") };
            assert_eq!(queue("nobody@example.com").await, None);
            assert!(mail().await.is_empty());
            for sent in 1..=MAX_OUTSTANDING_RESETS {
                assert_eq!(queue("ada@example.com").await, Some(ResetRequest::Queued));
                let queued = mail().await;
                assert_eq!(i64::try_from(queued.len()).ok(), Some(sent));
                assert!(
                    queued
                        .iter()
                        .all(|m| m.kind == "password_reset" && m.recipient == "ada@example.com")
                );
            }
            assert_eq!(
                queue("ada@example.com").await,
                Some(ResetRequest::Throttled)
            );
            assert_eq!(
                i64::try_from(mail().await.len()).ok(),
                Some(MAX_OUTSTANDING_RESETS)
            );
        }
    }

    #[test]
    fn too_many_attempts_carries_retry_after() {
        let response = too_many_attempts(42).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("42")
        );
    }

    #[test]
    fn provider_errors_map_to_statuses() {
        assert_eq!(
            oidc_problem(OidcError::NotConfigured).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            oidc_problem(OidcError::Nonce).status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            oidc_problem(OidcError::Invalid("it has expired")).kind,
            "invalid-id-token"
        );
        assert_eq!(
            oidc_problem(OidcError::KeysUnavailable).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn token_documents_use_oauth_names() {
        let document = token_json(json!({"id": Uuid::nil()}), "a", "r");
        assert_eq!(document["token_type"], "Bearer");
        assert_eq!(document["refresh_token"], "r");
        assert_eq!(document["access_token"], "a");
        assert_eq!(document["expires_in"], tokens::ACCESS_TTL_SECONDS);
    }
}
