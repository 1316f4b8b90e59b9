//! `/api/v1/users`: the caller's own account (host-native: identity and privacy are the trust
//! base), and the admin's subscription endpoint.
//!
//! - `GET /me`, `PATCH /me`: the profile and privacy settings. `subscription_tier` is the tier
//!   in force (an expired premium shows as `free`).
//! - `GET /me/consents`, `PUT /me/consents/{consent_type}` `{"granted": bool}`: granular
//!   consents from [`CONSENT_TYPES`], each change recorded with its time, client address and
//!   user agent.
//! - `GET /me/export`: every record of the caller as one JSON document (GDPR right of
//!   access), sealed content opened.
//! - `PUT /api/v1/admin/users/{id}/subscription` (admin): set a user's tier.
//!
//! Every answer about the caller carries `Cache-Control: no-store`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::str::FromStr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::AppState;
use super::caller::{Admin, Authenticated, RecentlySignedIn};
use super::problem::{ApiError, FieldError};
use crate::audit::{self, Actor};
use crate::crypto::{CryptoError, Sealed};
use crate::db::catalog::Export;
use crate::db::catalog::Sealing;
use crate::db::export::{CollectionRecords, SealedRecord};
use crate::db::profiles::{Consent, Profile, ProfileChanges};
use crate::tiers::{self, Tier, TierError};

pub use mindflow_contract::CONSENT_TYPES;

/// Shortest and longest retention periods a user can choose, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 30..=3650;
/// Longest user agent recorded with a consent (longer ones are cut).
const MAX_USER_AGENT_CHARS: usize = 512;

/// The client's address (see [`super::client`]; `None` when the server was started without
/// connection info, e.g. in tests that call the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(super::client::client_address(parts)))
    }
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn private(body: Value) -> Response {
    (
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn json_object(body: Result<Json<Value>, JsonRejection>) -> Result<Map<String, Value>, ApiError> {
    match body {
        Ok(Json(Value::Object(map))) => Ok(map),
        Ok(Json(_)) => Err(ApiError::invalid_field("body", "must be a JSON object")),
        Err(rejection) => Err(ApiError::new(
            rejection.status(),
            "invalid-body",
            rejection.body_text(),
        )),
    }
}

fn profile_json(profile: &Profile) -> Value {
    let tier = tiers::effective(
        &profile.subscription_tier,
        profile.subscription_expires_at,
        Utc::now(),
    );
    json!({
        "id": profile.id,
        "email": profile.email,
        "email_verified": profile.email_verified,
        "display_name": profile.display_name,
        "avatar_url": profile.avatar_url,
        "timezone": profile.timezone,
        "locale": profile.locale,
        "subscription_tier": tier.as_str(),
        "subscription_expires_at": profile.subscription_expires_at.map(timestamp),
        "data_retention_days": profile.data_retention_days,
        "created_at": timestamp(profile.created_at),
        "updated_at": profile.updated_at.map(timestamp),
        "last_active_at": profile.last_active_at.map(timestamp),
    })
}

/// `GET /me`: the caller's profile.
///
/// # Errors
/// 401 without a valid token; 503 when the database fails.
pub async fn get_me(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let profile = state
        .db
        .profile(caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    Ok(private(profile_json(&profile)))
}

/// A display name: 1 to 100 characters, not only spaces, no control characters.
fn display_name(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(name) => {
            if name.trim().is_empty() || name.chars().count() > 100 {
                Err("must be 1 to 100 characters".into())
            } else if name.chars().any(char::is_control) {
                Err("must not contain control characters".into())
            } else {
                Ok(Some(name.clone()))
            }
        }
        _ => Err("must be a string or null".into()),
    }
}

/// An avatar URL: an absolute `http` or `https` URL with a host, at most 500 characters.
fn avatar_url(value: &Value) -> Result<Option<String>, String> {
    let url = match value {
        Value::Null => return Ok(None),
        Value::String(url) => url,
        _ => return Err("must be a string or null".into()),
    };
    if url.len() > 500 {
        return Err("must be at most 500 characters".into());
    }
    let valid = url
        .parse::<axum::http::Uri>()
        .ok()
        .filter(|uri| matches!(uri.scheme_str(), Some("http" | "https")))
        .and_then(|uri| uri.host().map(|host| !host.is_empty()))
        .unwrap_or(false);
    if valid {
        Ok(Some(url.clone()))
    } else {
        Err("must be an absolute http or https URL".into())
    }
}

/// An IANA time zone name, returned in its canonical spelling.
fn timezone(value: &Value) -> Result<String, String> {
    let Value::String(name) = value else {
        return Err("must be a string".into());
    };
    chrono_tz::Tz::from_str(name)
        .map(|tz| tz.name().to_owned())
        .map_err(|_| "must be an IANA time zone such as `Europe/Paris` or `UTC`".into())
}

/// A BCP 47 language tag of at most 10 characters (`language[-Script][-REGION][-variant]`),
/// returned with canonical case (`en-US`, `zh-Hant`, `es-419`).
fn locale(value: &Value) -> Result<String, String> {
    const MESSAGE: &str = "must be a BCP 47 language tag of at most 10 characters, such as `en-US`";
    let Value::String(tag) = value else {
        return Err("must be a string".into());
    };
    if tag.len() > 10 || !tag.is_ascii() {
        return Err(MESSAGE.into());
    }
    let mut parts = Vec::new();
    for (i, subtag) in tag.split('-').enumerate() {
        let alpha = subtag.chars().all(|c| c.is_ascii_alphabetic());
        let digits = subtag.chars().all(|c| c.is_ascii_digit());
        let alnum = subtag.chars().all(|c| c.is_ascii_alphanumeric());
        let canonical = match (i, subtag.len()) {
            (0, 2 | 3) if alpha => subtag.to_ascii_lowercase(),
            (0, _) => return Err(MESSAGE.into()),
            (_, 4) if alpha => {
                let lower = subtag.to_ascii_lowercase();
                lower[..1].to_ascii_uppercase() + &lower[1..]
            }
            (_, 2) if alpha => subtag.to_ascii_uppercase(),
            (_, 3) if digits => subtag.to_owned(),
            (_, 5..=8) if alnum => subtag.to_ascii_lowercase(),
            _ => return Err(MESSAGE.into()),
        };
        parts.push(canonical);
    }
    Ok(parts.join("-"))
}

fn retention_days(value: &Value) -> Result<i64, String> {
    let message = || {
        format!(
            "must be a whole number of days from {} to {}",
            RETENTION_DAYS.start(),
            RETENTION_DAYS.end()
        )
    };
    value
        .as_i64()
        .filter(|days| RETENTION_DAYS.contains(days))
        .ok_or_else(message)
}

/// The changes a `PATCH /me` body asks for, or every field error in it.
fn profile_changes(body: &Map<String, Value>) -> Result<ProfileChanges, ApiError> {
    let mut changes = ProfileChanges::default();
    let mut errors = Vec::new();
    for (field, value) in body {
        let outcome = match field.as_str() {
            "display_name" => display_name(value).map(|v| changes.display_name = Some(v)),
            "avatar_url" => avatar_url(value).map(|v| changes.avatar_url = Some(v)),
            "timezone" => timezone(value).map(|v| changes.timezone = Some(v)),
            "locale" => locale(value).map(|v| changes.locale = Some(v)),
            "data_retention_days" => {
                retention_days(value).map(|v| changes.data_retention_days = Some(v))
            }
            "id" | "email" | "email_verified" | "created_at" | "updated_at" | "last_active_at" => {
                Err("cannot be changed here".into())
            }
            "subscription_tier" | "subscription_expires_at" => {
                Err("is changed by an administrator, not here".into())
            }
            _ => Err("is not a known field".into()),
        };
        if let Err(message) = outcome {
            errors.push(field_error(field, message));
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// `PATCH /me`: changes `display_name`, `avatar_url`, `timezone`, `locale` or
/// `data_retention_days`; absent fields are kept, `null` clears the display name or avatar.
///
/// # Errors
/// 401; 422 with one entry per bad or unknown field (nothing is changed); 503.
pub async fn patch_me(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let changes = profile_changes(&json_object(body)?)?;
    let profile = if changes.is_empty() {
        state.db.profile(caller.user_id).await?
    } else {
        let updated = state.db.update_profile(caller.user_id, &changes).await;
        state.callers.forget(caller.user_id);
        updated?
    }
    .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    Ok(private(profile_json(&profile)))
}

fn consent_json(consent_type: &str, consent: Option<&Consent>) -> Value {
    let description = CONSENT_TYPES
        .iter()
        .find(|(name, _)| *name == consent_type)
        .map(|(_, description)| *description);
    json!({
        "consent_type": consent_type,
        "description": description,
        "granted": consent.is_some_and(|c| c.granted && c.revoked_at.is_none()),
        "granted_at": consent.and_then(|c| c.granted_at).map(timestamp),
        "revoked_at": consent.and_then(|c| c.revoked_at).map(timestamp),
        "ip_address": consent.and_then(|c| c.ip_address.clone()),
        "user_agent": consent.and_then(|c| c.user_agent.clone()),
    })
}

/// `GET /me/consents`: every consent type, granted or not, with when, from which address
/// and from which client it was last granted or revoked.
///
/// # Errors
/// 401; 503.
pub async fn list_consents(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let recorded = state.db.consents(caller.user_id).await?;
    let mut items: Vec<Value> = CONSENT_TYPES
        .iter()
        .map(|(name, _)| {
            consent_json(
                name,
                recorded.iter().find(|c| c.consent_type.as_str() == *name),
            )
        })
        .collect();
    // Types recorded once but since retired from the list are still the user's data.
    items.extend(
        recorded
            .iter()
            .filter(|c| {
                !CONSENT_TYPES
                    .iter()
                    .any(|(name, _)| *name == c.consent_type)
            })
            .map(|c| consent_json(&c.consent_type, Some(c))),
    );
    Ok(private(json!({ "items": items, "next_cursor": null })))
}

/// `PUT /me/consents/{consent_type}` `{"granted": bool}`: grants or revokes a consent.
/// Repeating the current state changes nothing.
///
/// # Errors
/// 401; 422 for an unknown consent type or a body other than `{"granted": bool}`; 503.
pub async fn put_consent(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
    Path(consent_type): Path<String>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !CONSENT_TYPES.iter().any(|(name, _)| *name == consent_type) {
        let known: Vec<&str> = CONSENT_TYPES.iter().map(|(name, _)| *name).collect();
        return Err(ApiError::invalid_field(
            "consent_type",
            format!("must be one of {}", known.join(", ")),
        ));
    }
    let body = json_object(body)?;
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|key| key.as_str() != "granted")
        .map(|key| field_error(key, "is not a known field"))
        .collect();
    let granted = match body.get("granted") {
        Some(Value::Bool(granted)) => Some(*granted),
        Some(_) => {
            errors.push(field_error("granted", "must be true or false"));
            None
        }
        None => {
            errors.push(field_error("granted", "is required"));
            None
        }
    };
    let Some(granted) = granted.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
    let consent = state
        .db
        .set_consent(
            caller.user_id,
            &consent_type,
            granted,
            address.map(|a| a.to_string()).as_deref(),
            user_agent.as_deref(),
        )
        .await;
    state.callers.forget(caller.user_id);
    let consent = consent?;
    Ok(private(consent_json(&consent_type, Some(&consent))))
}

/// The record with its sealed value opened into `sealing.field` (text), or
/// `{field}_base64` (bytes that are not UTF-8), or `{field}: null` with `{field}_error` when
/// it cannot be opened (the key was destroyed, or the value is corrupt). A record without a
/// sealed value keeps its fields as they are.
async fn opened(
    state: &AppState,
    user: Uuid,
    sealing: Sealing,
    record: SealedRecord,
) -> Result<Value, ApiError> {
    let mut fields = record.fields;
    let Some((ciphertext, nonce)) = record.sealed else {
        return Ok(Value::Object(fields));
    };
    let field = sealing.field;
    let sealed = Sealed { ciphertext, nonce };
    match state
        .services
        .keys
        .open(user, sealing.purpose, &sealed)
        .await
    {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                fields.insert(field.into(), Value::String(text));
            }
            Err(not_text) => {
                fields.insert(field.into(), Value::Null);
                fields.insert(
                    format!("{field}_base64"),
                    Value::String(STANDARD.encode(not_text.as_bytes())),
                );
            }
        },
        Err(CryptoError::Unavailable) => {
            return Err(ApiError::unavailable("the key store is unavailable"));
        }
        Err(error) => {
            let code = match error {
                CryptoError::KeyDestroyed => "key_destroyed",
                _ => "tampered",
            };
            fields.insert(field.into(), Value::Null);
            fields.insert(format!("{field}_error"), Value::String(code.into()));
        }
    }
    Ok(Value::Object(fields))
}

fn objects(records: Vec<Map<String, Value>>) -> Value {
    Value::Array(records.into_iter().map(Value::Object).collect())
}

/// `GET /me/export`: every record of the caller, as one JSON document (a download).
/// Journal entries and the safety plan are opened; secrets (password hash, tokens, token
/// hashes) are left out.
///
/// # Errors
/// 401; 503 when the database or the key store fails.
pub async fn export(
    RecentlySignedIn(caller): RecentlySignedIn,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let user = caller.user_id;
    let records = state
        .db
        .export_user(user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    let now = Utc::now();
    let mut document = json!({
        "format": "mindflow-export/1",
        "exported_at": timestamp(now),
        "user": records.user,
        "roles": objects(records.roles),
        "consents": objects(records.consents),
        "oauth_connections": objects(records.oauth_connections),
        "sessions": objects(records.sessions),
    });
    for exported in records.collections {
        let values = match exported.records {
            CollectionRecords::Plain(records) => {
                records.into_iter().map(Value::Object).collect::<Vec<_>>()
            }
            CollectionRecords::Sealed { sealing, records } => {
                let mut values = Vec::with_capacity(records.len());
                for record in records {
                    values.push(opened(&state, user, sealing, record).await?);
                }
                values
            }
        };
        let (key, value) = match exported.collection.export {
            Export::List { key, .. } => (key, Value::Array(values)),
            Export::One { key } => (key, values.into_iter().next().unwrap_or(Value::Null)),
            Export::Nested { .. } | Export::Never => continue,
        };
        if let Some(document) = document.as_object_mut() {
            document.insert(key.to_owned(), value);
        }
    }
    audit::record(
        &state.db,
        &Actor {
            user_id: Some(user),
            label: format!("user:{user}"),
        },
        "user.export",
        &user.to_string(),
        json!({}),
    )
    .await;
    let filename = format!(
        "attachment; filename=\"mindflow-export-{}.json\"",
        now.format("%Y-%m-%d")
    );
    let mut response = private(document);
    if let Ok(value) = HeaderValue::from_str(&filename) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

impl From<TierError> for ApiError {
    fn from(error: TierError) -> Self {
        match error {
            TierError::UnknownUser => ApiError::not_found("no such user"),
            TierError::FreeWithExpiry => {
                ApiError::invalid_field("expires_at", "must be null for the free tier")
            }
            TierError::Db(db) => db.into(),
        }
    }
}

/// `PUT /api/v1/admin/users/{id}/subscription` `{"tier": "free"|"premium", "expires_at":
/// RFC 3339 | null}`: sets a user's tier (audited). An `expires_at` in the past leaves the
/// user on the free tier in effect.
///
/// # Errors
/// 401/403; 404 unknown user; 422 bad body; 503.
pub async fn set_subscription(
    Admin(admin): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_object(body)?;
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|key| !matches!(key.as_str(), "tier" | "expires_at"))
        .map(|key| field_error(key, "is not a known field"))
        .collect();
    let tier = match body.get("tier") {
        Some(Value::String(name)) => Tier::parse(name),
        _ => None,
    };
    if tier.is_none() {
        errors.push(field_error("tier", "must be `free` or `premium`"));
    }
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ()),
        Some(_) => Err(()),
    }
    .unwrap_or_else(|()| {
        errors.push(field_error(
            "expires_at",
            "must be an RFC 3339 instant or null",
        ));
        None
    });
    let Some(tier) = tier.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    // An id that is not a UUID names no user.
    let user_id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("no such user"))?;
    let actor = Actor {
        user_id: Some(admin.user_id),
        label: format!("user:{}", admin.user_id),
    };
    let changed = tiers::set_subscription(&state.db, &actor, user_id, tier, expires_at).await;
    state.callers.forget(user_id);
    changed?;
    let effective = tiers::effective(tier.as_str(), expires_at, Utc::now());
    Ok(private(json!({
        "user_id": user_id,
        "subscription_tier": tier.as_str(),
        "subscription_expires_at": expires_at.map(timestamp),
        "effective_tier": effective.as_str(),
    })))
}

/// The OpenAPI paths of this module, merged into the host's document.
pub fn openapi_paths() -> Value {
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let security = json!([{"bearer": []}]);
    let consent_types: Vec<&str> = CONSENT_TYPES.iter().map(|(name, _)| *name).collect();
    json!({
        "/api/v1/users/me": {
            "get": {"summary": "The caller's profile", "operationId": "getMe", "security": security,
                "responses": {"200": {"description": "The profile; `subscription_tier` is the tier in force."}, "401": problem("No valid token.")}},
            "patch": {"summary": "Change the caller's profile and privacy settings", "operationId": "patchMe", "security": security,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                    "display_name": {"type": ["string", "null"], "maxLength": 100},
                    "avatar_url": {"type": ["string", "null"], "format": "uri", "maxLength": 500},
                    "timezone": {"type": "string", "description": "IANA time zone"},
                    "locale": {"type": "string", "maxLength": 10, "description": "BCP 47 language tag"},
                    "data_retention_days": {"type": "integer", "minimum": RETENTION_DAYS.start(), "maximum": RETENTION_DAYS.end()}
                }}}}},
                "responses": {"200": {"description": "The updated profile."}, "401": problem("No valid token."), "422": problem("Invalid or unknown fields (`errors`).")}}
        },
        "/api/v1/users/me/consents": {
            "get": {"summary": "Every consent type and its state", "operationId": "listConsents", "security": security,
                "responses": {"200": {"description": "`items`: one per consent type."}, "401": problem("No valid token.")}}
        },
        "/api/v1/users/me/consents/{consent_type}": {
            "put": {"summary": "Grant or revoke a consent", "operationId": "putConsent", "security": security,
                "parameters": [{"name": "consent_type", "in": "path", "required": true, "schema": {"type": "string", "enum": consent_types}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["granted"], "additionalProperties": false, "properties": {"granted": {"type": "boolean"}}}}}},
                "responses": {"200": {"description": "The consent as recorded."}, "401": problem("No valid token."), "422": problem("Unknown consent type or bad body.")}}
        },
        "/api/v1/users/me/export": {
            "get": {"summary": "Every record of the caller (GDPR right of access)", "operationId": "exportMe", "security": security,
                "description": "Needs a recent sign-in: a password or provider sign-in within the last 10 minutes (a refreshed session keeps the time of its sign-in).",
                "responses": {"200": {"description": "One JSON document; journal entries and the safety plan decrypted."}, "401": problem("No valid token, or no sign-in within the last 10 minutes (`reauthentication-required`)."), "503": problem("Key store unavailable.")}}
        },
        "/api/v1/admin/users/{id}/subscription": {
            "put": {"summary": "Set a user's subscription tier", "operationId": "adminSetSubscription", "security": security,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tier"], "additionalProperties": false, "properties": {
                    "tier": {"type": "string", "enum": ["free", "premium"]},
                    "expires_at": {"type": ["string", "null"], "format": "date-time"}
                }}}}},
                "responses": {"200": {"description": "The subscription as stored, and the tier in force."}, "401": problem("No valid token."), "403": problem("Not an admin."), "404": problem("No such user."), "422": problem("Bad body.")}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_profile_fields() {
        assert_eq!(timezone(&json!("Europe/Paris")), Ok("Europe/Paris".into()));
        assert_eq!(timezone(&json!("UTC")), Ok("UTC".into()));
        assert!(timezone(&json!("Mars/Olympus_Mons")).is_err());
        assert!(timezone(&json!(3)).is_err());
        assert_eq!(locale(&json!("en-us")), Ok("en-US".into()));
        assert_eq!(locale(&json!("zh-hant")), Ok("zh-Hant".into()));
        assert_eq!(locale(&json!("es-419")), Ok("es-419".into()));
        assert_eq!(locale(&json!("fr")), Ok("fr".into()));
        for bad in ["", "e", "english", "en_US", "en-", "en-US-x-private", "ünï"] {
            assert!(locale(&json!(bad)).is_err(), "{bad}");
        }
        assert!(avatar_url(&json!("https://example.com/a.png")).is_ok());
        assert_eq!(avatar_url(&json!(null)), Ok(None));
        for bad in [
            "ftp://example.com/a",
            "javascript:alert(1)",
            "/relative",
            "https://",
            "not a url",
        ] {
            assert!(avatar_url(&json!(bad)).is_err(), "{bad}");
        }
        assert!(avatar_url(&json!(format!("https://example.com/{}", "a".repeat(500)))).is_err());
        assert!(display_name(&json!("  ")).is_err());
        assert!(display_name(&json!("a".repeat(101))).is_err());
        assert!(display_name(&json!("tab\there")).is_err());
        assert_eq!(display_name(&json!("Ada")), Ok(Some("Ada".into())));
        assert_eq!(retention_days(&json!(30)), Ok(30));
        assert!(retention_days(&json!(29)).is_err());
        assert!(retention_days(&json!(3651)).is_err());
        assert!(retention_days(&json!(90.5)).is_err());
        assert!(retention_days(&json!("90")).is_err());
    }

    #[tokio::test]
    async fn premium_requirement_answers_premium_required() {
        use crate::edge::caller::require_premium;
        let mut caller = crate::runtime::Caller {
            user_id: Uuid::new_v4(),
            tier: "free".into(),
            timezone: "UTC".into(),
            locale: "en-US".into(),
            consents: Vec::new(),
        };
        let response = require_premium(&caller)
            .expect_err("free is refused")
            .into_response();
        assert_eq!(response.status(), 403);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("body");
        let problem: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["type"], "urn:mindflow:problem:premium-required");
        assert_eq!(problem["required_tier"], "premium");
        assert_eq!(problem["status"], 403);
        caller.tier = "premium".into();
        assert!(require_premium(&caller).is_ok());
    }

    #[test]
    fn collects_every_field_error() {
        let body = json!({"timezone": "Nowhere", "email": "x@example.com", "colour": "blue", "locale": "en-GB"});
        let Err(error) = profile_changes(body.as_object().expect("object")) else {
            panic!("accepted");
        };
        let mut fields: Vec<&str> = error.errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["colour", "email", "timezone"]);
        let ok = json!({"locale": "en-gb", "display_name": null});
        let changes = profile_changes(ok.as_object().expect("object")).expect("valid");
        assert_eq!(changes.locale.as_deref(), Some("en-GB"));
        assert_eq!(changes.display_name, Some(None));
    }
}
