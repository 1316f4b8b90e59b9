//! Who is calling: bearer tokens verified into a [`Caller`], as axum extractors.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;

use super::AppState;
use super::problem::ApiError;
use crate::identity::AccessClaims;
use crate::identity::callers::KnownCaller;
use crate::runtime::Caller;

/// Reads and verifies the bearer token, if any, into the caller as the database knows them
/// now (a deleted account's tokens stop working at once; the tier is the one in force). On
/// PostgreSQL the caller may come from the [`CallerCache`](crate::identity::callers), which
/// forgets a caller as soon as their account or consents change.
///
/// # Errors
/// 401 for a malformed, expired or tampered token, a deleted account, or a session that
/// has ended (a logout, a password reset).
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Option<Caller>, ApiError> {
    Ok(resolve_with_claims(state, parts)
        .await?
        .map(|(caller, _)| caller))
}

/// [`resolve`], with the verified token's claims.
///
/// # Errors
/// As [`resolve`].
async fn resolve_with_claims(
    state: &AppState,
    parts: &Parts,
) -> Result<Option<(Caller, AccessClaims)>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <access_token>`"))?;
    let claims = state
        .tokens
        .verify(token.trim())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let known = state
        .callers
        .lookup(&state.db, claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    if claims.epoch != known.session_epoch {
        return Err(ApiError::unauthorized(
            "the session has ended (every session ends when the password is reset): sign in again",
        ));
    }
    if claims
        .sid
        .is_some_and(|session| known.ended_sessions.contains(&session))
    {
        return Err(ApiError::unauthorized(
            "the session has ended (signed out): sign in again",
        ));
    }
    Ok(Some((caller_of(known), claims)))
}

/// The caller a user is now: the tier in force (premium only until it expires), zone,
/// locale and consents. The nightly jobs run as callers made this way.
pub fn caller_of(known: KnownCaller) -> Caller {
    let premium = known.subscription_tier == "premium"
        && known
            .subscription_expires_at
            .is_none_or(|end| end > Utc::now());
    Caller {
        user_id: known.id,
        tier: if premium { "premium" } else { "free" }.into(),
        timezone: known.timezone,
        locale: known.locale,
        consents: known.consents,
    }
}

/// An authenticated caller (401 otherwise).
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        resolve(state, parts)
            .await?
            .map(Self)
            .ok_or_else(|| ApiError::unauthorized("this endpoint needs an access token"))
    }
}

/// How recent a sign-in [`RecentlySignedIn`] asks for.
pub const RECENT_SIGN_IN_SECONDS: i64 = 10 * 60;

/// An authenticated caller who proved who they are (a password or a provider's ID token,
/// not a refresh) within [`RECENT_SIGN_IN_SECONDS`]: for the full decrypted export and for
/// deleting an account that has no password to confirm. A stolen bearer token alone, or a
/// long-lived session kept alive by refreshes, is not enough for those (401
/// `reauthentication-required` otherwise).
pub struct RecentlySignedIn(pub Caller);

impl FromRequestParts<AppState> for RecentlySignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if !signed_in.recent {
            return Err(reauthentication_required());
        }
        Ok(Self(signed_in.caller))
    }
}

/// An authenticated caller and whether their sign-in is recent (see [`RecentlySignedIn`]),
/// for endpoints where another proof (a password) may stand in for a recent sign-in.
pub struct SignedIn {
    /// The caller.
    pub caller: Caller,
    /// Whether they proved who they are within [`RECENT_SIGN_IN_SECONDS`].
    pub recent: bool,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (caller, claims) = resolve_with_claims(state, parts)
            .await?
            .ok_or_else(|| ApiError::unauthorized("this endpoint needs an access token"))?;
        Ok(Self {
            caller,
            recent: Utc::now().timestamp() - claims.auth_time <= RECENT_SIGN_IN_SECONDS,
        })
    }
}

/// The 401 of an action that needs a recent sign-in.
pub fn reauthentication_required() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "reauthentication-required",
        "sign in again (within the last 10 minutes) to do this",
    )
}

/// An authenticated caller holding the admin role (401 or 403 otherwise).
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        if state.db.has_role(caller.user_id, "admin").await? {
            Ok(Self(caller))
        } else {
            Err(ApiError::forbidden("this endpoint needs the admin role"))
        }
    }
}

/// The problem type slug of a premium-only feature used without premium.
pub const PREMIUM_REQUIRED: &str = "premium-required";

/// 403 `urn:mindflow:problem:premium-required` with `"required_tier": "premium"`.
pub fn premium_required() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        PREMIUM_REQUIRED,
        "this feature needs a premium subscription",
    )
    .with_extra(serde_json::json!({"required_tier": "premium"}))
}

/// Checks that the caller's tier in force is premium (an expired premium counts as free).
///
/// # Errors
/// [`premium_required`].
pub fn require_premium(caller: &Caller) -> Result<(), ApiError> {
    if caller.tier == crate::tiers::Tier::Premium.as_str() {
        Ok(())
    } else {
        Err(premium_required())
    }
}

/// An authenticated caller on the premium tier (401, or 403 [`premium_required`]).
pub struct Premium(pub Caller);

impl FromRequestParts<AppState> for Premium {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        require_premium(&caller)?;
        Ok(Self(caller))
    }
}
