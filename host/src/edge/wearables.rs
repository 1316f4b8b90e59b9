//! The wearables API (`/api/v1/wearables`, seed-plan §3.5, issue 15): providers, connect
//! (OAuth run by the host), the OAuth callback, connections, disconnect, a sync on demand,
//! metrics (merged across providers, by day or week), the user's primary sources, uploads
//! (streamed into the adapter) and webhooks.
//!
//! Connecting needs the `wearables` consent and the premium tier (seed-plan §3.2); reading
//! and deleting what is already stored does not (a person can always see and remove their
//! data).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::caller::{Authenticated, require_premium};
use super::problem::ApiError;
use crate::db::wearables::Connection;
use crate::identity::Caller;
use crate::runtime::adapter::{AdapterCallError, AdapterComponent, AdapterFailure};
use crate::wearables::world::exports::mindflow::platform::adapter::{
    ConnectionKind, HrvKind, Notification,
};
use crate::wearables::{self, merge, normalise, oauth, webhooks};

/// How long an authorization may take.
const STATE_LIFETIME_MINUTES: i64 = 15;
/// The longest range `GET /metrics` answers, in days.
const MAX_RANGE_DAYS: i64 = 366;
/// The largest upload body: 2 GiB. An `export.zip` of years of a watch's data is a few
/// hundred MB (its `export.xml` several GB, which the adapter inflates as a stream under its
/// own bounds); the body is streamed into the adapter, never held.
pub const MAX_UPLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// The largest webhook body.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

fn consent_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "consent-required",
        "connecting a wearable needs the `wearables` consent",
    )
    .with_extra(json!({"consent_type": mindflow_contract::consent::WEARABLES}))
}

fn may_connect(caller: &Caller) -> Result<(), ApiError> {
    if !caller
        .consents
        .iter()
        .any(|c| c == mindflow_contract::consent::WEARABLES)
    {
        return Err(consent_required());
    }
    require_premium(caller)
}

fn adapter_of(state: &AppState, provider: &str) -> Result<AdapterComponent, ApiError> {
    wearables::adapter(&state.registry, provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider `{provider}`")))
}

fn hrv_kind(kind: HrvKind) -> &'static str {
    match kind {
        HrvKind::None => "none",
        HrvKind::Sdnn => "sdnn",
        HrvKind::Rmssd => "rmssd",
    }
}

fn connection_json(connection: &Connection) -> Value {
    json!({
        "id": connection.id,
        "provider": connection.provider,
        "sync_status": connection.sync_status,
        "last_sync_at": connection.last_sync_at,
        "sync_error": connection.sync_error,
        "synced_through": connection.synced_through,
        "next_sync_at": connection.next_sync_at,
        "scopes": connection.scopes,
        "created_at": connection.created_at,
    })
}

/// `GET /providers`: every installed adapter, whether it can be connected here and whether
/// the caller has connected it.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn providers(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let connected = state.db.wearable_connections(caller.user_id).await?;
    let items: Vec<Value> = wearables::adapters(&state.registry)
        .iter()
        .map(|adapter| {
            let info = &adapter.info;
            let (kind, configured) = match &info.connection {
                ConnectionKind::Oauth(_) => ("oauth", oauth::client(&info.id).is_some()),
                ConnectionKind::Upload => ("upload", true),
            };
            json!({
                "id": info.id,
                "display_name": info.display_name,
                "connection": kind,
                "available": configured,
                "hrv_kind": hrv_kind(info.hrv_kind),
                "webhooks": info.webhooks.is_some(),
                "connected": connected.iter().any(|c| c.provider == info.id),
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

/// The redirect URI of `provider`'s callback: `MINDFLOW_PUBLIC_URL`, else this request's
/// own origin.
fn redirect_uri(state: &AppState, headers: &HeaderMap, provider: &str) -> String {
    let base = state.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    });
    format!(
        "{}/api/v1/wearables/callback/{provider}",
        base.trim_end_matches('/')
    )
}

/// `POST /connect/{provider}`: the authorization URL to send the user to (a single-use
/// `state` bound to the caller, PKCE when the adapter declares it).
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn connect(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let adapter = adapter_of(&state, &provider)?;
    may_connect(&caller)?;
    let ConnectionKind::Oauth(flow) = &adapter.info.connection else {
        return Err(ApiError::conflict(format!(
            "`{provider}` has no server API: upload an export to /api/v1/wearables/upload/{provider}"
        )));
    };
    let client = oauth::client(&provider).ok_or_else(|| {
        ApiError::unavailable(format!("`{provider}` is not configured on this server"))
    })?;
    let (state_token, hash) = oauth::new_state();
    let (verifier, challenge) = if flow.pkce {
        let (v, c) = oauth::pkce();
        (Some(v), Some(c))
    } else {
        (None, None)
    };
    let redirect = redirect_uri(&state, &headers, &provider);
    let expires_at = Utc::now() + chrono::Duration::minutes(STATE_LIFETIME_MINUTES);
    state
        .db
        .insert_wearable_oauth_state(
            &hash,
            caller.user_id,
            &provider,
            &crate::db::wearables::OauthState {
                user_id: caller.user_id,
                code_verifier: verifier,
                redirect_uri: redirect.clone(),
            },
            expires_at,
        )
        .await?;
    let url = oauth::authorization_url(
        flow,
        &client.id,
        &redirect,
        &state_token,
        challenge.as_deref(),
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "authorization_url": state.wearables.origins.apply(&url),
            "state": state_token,
            "expires_at": expires_at,
        })),
    ))
}

/// The callback's query.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /callback/{provider}`: the provider sends the user back with a code; the host
/// exchanges it, seals the tokens and starts the backfill. No access token: the single-use
/// `state` names the user.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Result<Json<Value>, ApiError> {
    let adapter = adapter_of(&state, &provider)?;
    let ConnectionKind::Oauth(flow) = &adapter.info.connection else {
        return Err(ApiError::not_found(format!(
            "`{provider}` has no OAuth flow"
        )));
    };
    let Some(state_token) = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 200)
    else {
        return Err(ApiError::invalid_field("state", "required"));
    };
    let Some(flight) = state
        .db
        .take_wearable_oauth_state(&oauth::state_hash(state_token), &provider, Utc::now())
        .await?
    else {
        return Err(ApiError::bad_request(
            "this authorization is unknown, used or expired: connect again",
        ));
    };
    if let Some(error) = &query.error {
        let error: String = error
            .chars()
            .filter(char::is_ascii_graphic)
            .take(64)
            .collect();
        return Err(ApiError::bad_request(format!(
            "the provider did not authorize the connection ({error})"
        )));
    }
    let Some(code) = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
    else {
        return Err(ApiError::invalid_field("code", "required"));
    };
    let client = oauth::client(&provider).ok_or_else(|| {
        ApiError::unavailable(format!("`{provider}` is not configured on this server"))
    })?;
    let tokens = oauth::exchange_code(
        &state.wearables.http,
        &state.wearables.origins,
        flow,
        &client,
        code,
        &flight.redirect_uri,
        flight.code_verifier.as_deref(),
    )
    .await
    .map_err(|e| match e {
        oauth::OauthError::Refused(_) => {
            ApiError::bad_request("the provider refused the authorization code: connect again")
        }
        oauth::OauthError::Unavailable(message) => {
            tracing::warn!(%provider, %message, "wearable code exchange failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider-unavailable",
                "the provider could not be reached; try again",
            )
        }
    })?;
    // Webhooks name the provider's user: ask the adapter when the token answer did not.
    let provider_user_id = match tokens.provider_user_id.clone() {
        Some(id) => Some(id),
        None => match adapter.identify(tokens.access.expose()).await {
            Ok(id) if !id.is_empty() && id.len() <= 255 => Some(id),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%provider, %error, "the adapter could not identify the user; webhooks will not reach this connection");
                None
            }
        },
    };
    let sealed = wearables::seal_tokens(&state.services.keys, flight.user_id, &tokens)
        .await
        .map_err(|_| ApiError::internal())?;
    let id = state
        .db
        .connect_wearable(
            flight.user_id,
            &provider,
            provider_user_id.as_deref(),
            Some(&sealed),
            Utc::now(),
        )
        .await?;
    let connection = state
        .db
        .wearable_connection(id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(Json(json!({"connection": connection_json(&connection)})))
}

/// `GET /connections`.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn connections(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state
        .db
        .wearable_connections(caller.user_id)
        .await?
        .iter()
        .map(connection_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::not_found("no such connection"))
}

/// `DELETE /connections/{id}`'s query.
#[derive(Debug, Deserialize)]
pub struct DisconnectQuery {
    keep_data: Option<String>,
}

/// `DELETE /connections/{id}?keep_data=true|false`: revokes at the provider where it allows
/// (best effort), deletes the sealed tokens, and keeps or deletes the data.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn disconnect(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<DisconnectQuery>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let keep_data = match query.keep_data.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_field("keep_data", "true or false")),
    };
    let connection = state
        .db
        .wearable_connection(id)
        .await?
        .filter(|c| c.user_id == caller.user_id)
        .ok_or_else(|| ApiError::not_found("no such connection"))?;
    if let (Some(adapter), Some(client)) = (
        wearables::adapter(&state.registry, &connection.provider),
        oauth::client(&connection.provider),
    ) && let ConnectionKind::Oauth(flow) = &adapter.info.connection
    {
        for sealed in [&connection.refresh_token, &connection.access_token]
            .into_iter()
            .flatten()
        {
            if let Ok(token) =
                wearables::open_token(&state.services.keys, caller.user_id, sealed).await
                && let Err(error) = oauth::revoke(
                    &state.wearables.http,
                    &state.wearables.origins,
                    flow,
                    &client,
                    token.expose(),
                )
                .await
            {
                tracing::info!(provider = %connection.provider, %error, "revocation failed; the tokens are deleted here anyway");
            }
        }
    }
    if state
        .db
        .delete_wearable_connection(caller.user_id, id, keep_data)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such connection"))
    }
}

/// `POST /connections/{id}/sync`: due now (202).
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn sync_now(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let connection = state
        .db
        .wearable_connection(id)
        .await?
        .filter(|c| c.user_id == caller.user_id)
        .ok_or_else(|| ApiError::not_found("no such connection"))?;
    if connection.sync_status == "reauth_required" {
        return Err(ApiError::conflict(
            "the provider needs the connection authorized again: connect again",
        ));
    }
    state.db.wearable_due_now(id, Utc::now()).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /metrics`'s query.
#[derive(Debug, Deserialize)]
pub struct MetricsQuery {
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
}

fn date_param(name: &str, value: Option<&str>, default: NaiveDate) -> Result<NaiveDate, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid_field(name, "a date, YYYY-MM-DD")),
    }
}

fn hrv_kinds(state: &AppState) -> merge::HrvKinds {
    wearables::adapters(&state.registry)
        .iter()
        .map(|a| (a.info.id.clone(), hrv_kind(a.info.hrv_kind)))
        .collect()
}

/// `GET /metrics?from&to&period=day|week`: one value per day and metric across providers
/// (with its source), or weekly means; at most a year.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn metrics(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = Utc::now().date_naive();
    let to = date_param("to", query.to.as_deref(), today)?;
    let from = date_param(
        "from",
        query.from.as_deref(),
        to.checked_sub_days(Days::new(29)).unwrap_or(to),
    )?;
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after `to`"));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::invalid_field(
            "from",
            format!("at most {MAX_RANGE_DAYS} days at once"),
        ));
    }
    let period = query.period.as_deref().unwrap_or("day");
    if !matches!(period, "day" | "week") {
        return Err(ApiError::invalid_field("period", "day or week"));
    }
    let days = state.db.wearable_days(caller.user_id, from, to).await?;
    let preferred: BTreeMap<String, String> = state
        .db
        .wearable_preferences(caller.user_id)
        .await?
        .into_iter()
        .collect();
    let merged = merge::merge(&days, &preferred);
    let kinds = hrv_kinds(&state);
    let items: Vec<Value> = if period == "week" {
        merge::weeks_json(&merged, &kinds)
    } else {
        merged.iter().map(|d| merge::day_json(d, &kinds)).collect()
    };
    Ok(Json(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "period": period,
        "items": items,
    })))
}

/// `GET /preferences`: the caller's primary source per metric family.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn get_preferences(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let chosen: BTreeMap<String, String> = state
        .db
        .wearable_preferences(caller.user_id)
        .await?
        .into_iter()
        .collect();
    Ok(Json(json!({"primary_sources": chosen})))
}

/// `PUT /preferences` `{"primary_sources": {"sleep": "oura", "activity": null}}`.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn put_preferences(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    super::body::JsonObject(body): super::body::JsonObject<serde_json::Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let Some(Value::Object(sources)) = body.get("primary_sources") else {
        return Err(ApiError::invalid_field(
            "primary_sources",
            "an object of metric family to provider (or null)",
        ));
    };
    let families = ["sleep", "activity", "heart", "scores"];
    let mut changes = Vec::new();
    for (family, provider) in sources {
        if !families.contains(&family.as_str()) {
            return Err(ApiError::invalid_field(
                "primary_sources",
                format!("`{family}` is not one of {families:?}"),
            ));
        }
        match provider {
            Value::Null => changes.push((family.clone(), None)),
            Value::String(p) if wearables::adapter(&state.registry, p.as_str()).is_some() => {
                changes.push((family.clone(), Some(p.clone())));
            }
            _ => {
                return Err(ApiError::invalid_field(
                    "primary_sources",
                    format!("`{family}` must name an installed provider or be null"),
                ));
            }
        }
    }
    for (family, provider) in changes {
        state
            .db
            .set_wearable_preference(caller.user_id, &family, provider.as_deref())
            .await?;
    }
    get_preferences(State(state), Authenticated(caller)).await
}

/// 413 for an upload over [`MAX_UPLOAD_BYTES`].
fn upload_too_large() -> ApiError {
    ApiError::too_large(usize::try_from(MAX_UPLOAD_BYTES).unwrap_or(usize::MAX))
}

/// Refuses, before reading it, a body that cannot be an upload: a form (the file itself must
/// be the body; its type does not matter, the adapter knows a zip by its first bytes) or one
/// declared larger than [`MAX_UPLOAD_BYTES`].
fn check_upload_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if media
        .is_some_and(|m| m.starts_with("multipart/") || m == "application/x-www-form-urlencoded")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the file itself as the request body (application/zip, application/xml, application/json or application/octet-stream), not a form",
        ));
    }
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_UPLOAD_BYTES) {
        return Err(upload_too_large());
    }
    Ok(())
}

/// `POST /upload/{provider}?filename=export.zip`: the body (Apple Health's `export.zip` or
/// `export.xml`, HealthKit samples JSON) streams into the adapter's `upload` resource, chunk
/// by chunk, within its memory cap; the days and sessions it yields are stored under the
/// caller's upload connection.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let adapter = adapter_of(&state, &provider)?;
    may_connect(&caller)?;
    if !matches!(adapter.info.connection, ConnectionKind::Upload) {
        return Err(ApiError::conflict(format!(
            "`{provider}` connects with OAuth: POST /api/v1/wearables/connect/{provider}"
        )));
    }
    let filename = query
        .get("filename")
        .map(String::as_str)
        .unwrap_or("export.xml");
    if filename.is_empty()
        || filename.len() > 100
        || !filename
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ApiError::invalid_field(
            "filename",
            "letters, digits, . _ -",
        ));
    }
    check_upload_body(&headers)?;
    let mut received: u64 = 0;
    let over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over_in_stream = over.clone();
    let stream = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        let chunk = chunk.map_err(|e| e.to_string())?;
        received += chunk.len() as u64;
        if received > MAX_UPLOAD_BYTES {
            over_in_stream.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(format!(
                "the upload is larger than {MAX_UPLOAD_BYTES} bytes"
            ));
        }
        Ok::<Bytes, String>(chunk)
    });
    let batch = adapter
        .upload(filename, Box::pin(stream))
        .await
        .map_err(|error| {
            if over.load(std::sync::atomic::Ordering::Relaxed) {
                upload_too_large()
            } else {
                adapter_problem(&provider, &error)
            }
        })?;
    let today = Utc::now().date_naive();
    // Nothing older than the person's retention is stored: the next purge would delete it.
    let retention = state
        .db
        .profile(caller.user_id)
        .await?
        .and_then(|profile| profile.data_retention_days);
    let earliest = today
        .checked_sub_days(Days::new(3650 * 2))
        .unwrap_or(today)
        .max(normalise::retained_from(today, retention).unwrap_or(NaiveDate::MIN));
    let latest = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let checked = normalise::check(&batch, earliest, latest);
    let connection = state
        .db
        .connect_wearable(caller.user_id, &provider, None, None, Utc::now())
        .await?;
    state
        .db
        .store_wearable_batch(
            caller.user_id,
            connection,
            &provider,
            &checked.days,
            &checked.sleep,
        )
        .await?;
    state
        .db
        .finish_wearable_sync(
            connection,
            &crate::db::wearables::SyncOutcome {
                status: "active",
                error: None,
                synced_at: Some(Utc::now()),
                synced_through: checked.days.iter().map(|d| d.metric_date).max(),
                next_sync_at: None,
                deferred: false,
            },
        )
        .await?;
    Ok(Json(json!({
        "connection_id": connection,
        "days": checked.days.len(),
        "sleep_sessions": checked.sleep.len(),
        "dropped": checked.dropped,
    })))
}

/// An adapter's failure as a problem document: its input errors are the client's (422);
/// its own failures (a trap, a deadline, memory) are the adapter's and fail only this
/// request (502).
fn adapter_problem(provider: &str, error: &AdapterCallError) -> ApiError {
    match error {
        AdapterCallError::Adapter(AdapterFailure::InvalidInput(message)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-upload",
            format!("the file could not be read: {message}"),
        ),
        other => {
            tracing::warn!(%provider, error = %other, "wearable adapter failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "adapter-failed",
                format!("the `{provider}` adapter failed: {other}"),
            )
        }
    }
}

/// `GET /webhooks/{provider}`: a subscription handshake.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn webhook_handshake(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let adapter = adapter_of(&state, &provider)?;
    let webhooks = adapter
        .info
        .webhooks
        .as_ref()
        .ok_or_else(|| ApiError::not_found(format!("`{provider}` has no webhooks")))?;
    match webhooks::handshake(&provider, webhooks, &query) {
        Some(challenge) => Ok(Json(json!({"challenge": challenge}))),
        None => Err(ApiError::forbidden("the verification token does not match")),
    }
}

/// `POST /webhooks/{provider}`: a delivery, checked by the adapter's declared scheme,
/// refused when replayed, then read by the adapter: pushed data is stored, a window to
/// fetch makes the connection due now.
///
/// # Errors
/// A problem document: the statuses the OpenAPI document lists.
pub async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let adapter = adapter_of(&state, &provider)?;
    let counted = |outcome: &str| {
        crate::metrics::global()
            .wearable_webhooks
            .inc(&[&provider, outcome]);
    };
    let webhooks = adapter
        .info
        .webhooks
        .as_ref()
        .ok_or_else(|| ApiError::not_found(format!("`{provider}` has no webhooks")))?;
    if body.len() > MAX_WEBHOOK_BYTES {
        counted("too_large");
        return Err(ApiError::too_large(MAX_WEBHOOK_BYTES));
    }
    let now = Utc::now();
    let digest = match webhooks::verify(&provider, webhooks, &headers, &body, now) {
        Ok(digest) => digest,
        Err(refusal) => {
            counted("refused");
            return Err(match refusal {
                webhooks::Refusal::NotConfigured => ApiError::unavailable(refusal.to_string()),
                _ => ApiError::unauthorized(refusal.to_string()),
            });
        }
    };
    if !state
        .db
        .record_wearable_webhook(&provider, &digest, now, now - chrono::Duration::days(1))
        .await?
    {
        counted("replayed");
        return Err(ApiError::conflict("this delivery was already received"));
    }
    let acted = act_on_delivery(&state, &adapter, &provider, &body, now).await;
    if let Err(error) = acted {
        // The provider retries a delivery that failed: its retry must not be refused as a
        // replay.
        if let Err(forget) = state.db.forget_wearable_webhook(&provider, &digest).await {
            tracing::warn!(%provider, error = %forget, "wearable webhook: cannot forget a failed delivery; its retry will be refused as a replay");
        }
        return Err(error);
    }
    // Google Health's verification deliveries expect 201; every provider accepts a 2xx.
    Ok((StatusCode::CREATED, Json(json!({"status": "accepted"}))).into_response())
}

/// Reads a verified delivery with the adapter and acts on what it asks for each user: pushed
/// data is stored, a window to fetch makes the connection due now; a user no connection
/// names is skipped. Each outcome is counted.
///
/// # Errors
/// A problem document when the adapter fails or storing fails.
async fn act_on_delivery(
    state: &AppState,
    adapter: &AdapterComponent,
    provider: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let counted = |outcome: &str| {
        crate::metrics::global()
            .wearable_webhooks
            .inc(&[provider, outcome]);
    };
    let notifications = adapter
        .read_notification(body)
        .await
        .map_err(|error| adapter_problem(provider, &error))?;
    if notifications.is_empty() {
        counted("ignored");
    }
    for notification in notifications {
        let (user, batch) = match notification {
            Notification::Fetch((user, _start, _end)) => (user, None),
            Notification::Data((user, batch)) => (user, Some(batch)),
        };
        let Some(connection) = state
            .db
            .wearable_connection_of_provider_user(provider, &user)
            .await?
        else {
            counted("unknown_user");
            continue;
        };
        match batch {
            None => {
                state.db.wearable_due_now(connection.id, now).await?;
                counted("fetch");
            }
            Some(batch) => {
                let today = now.date_naive();
                let checked = normalise::check(
                    &batch,
                    today.checked_sub_days(Days::new(3650)).unwrap_or(today),
                    today.checked_add_days(Days::new(1)).unwrap_or(today),
                );
                state
                    .db
                    .store_wearable_batch(
                        connection.user_id,
                        connection.id,
                        provider,
                        &checked.days,
                        &checked.sleep,
                    )
                    .await?;
                counted("data");
            }
        }
    }
    Ok(())
}

/// The OpenAPI paths of this module, merged into the host's document.
pub fn openapi_paths() -> Value {
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let security = json!([{"bearer": []}]);
    let provider = json!({"name": "provider", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,30}$"}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    json!({
        "/api/v1/wearables/providers": {"get": {
            "summary": "Wearable providers installed here", "operationId": "wearableProviders", "security": security,
            "responses": {"200": {"description": "Providers, whether each can be connected here and whether the caller has."}, "401": problem("No token.")}
        }},
        "/api/v1/wearables/connect/{provider}": {"post": {
            "summary": "Start connecting a provider (OAuth 2.0 run by the host)", "operationId": "wearableConnect", "security": security,
            "description": "Answers the authorization URL to send the user to, with a single-use `state` bound to the caller (15 minutes) and a PKCE challenge when the provider uses PKCE. Needs the `wearables` consent and the premium tier.",
            "parameters": [provider],
            "responses": {"201": {"description": "The authorization URL."}, "403": problem("Consent or premium needed."), "404": problem("No such provider."), "409": problem("The provider takes uploads, not OAuth."), "503": problem("The provider is not configured on this server.")}
        }},
        "/api/v1/wearables/callback/{provider}": {"get": {
            "summary": "OAuth callback (the provider sends the user here)", "operationId": "wearableCallback",
            "parameters": [provider, {"name": "code", "in": "query", "required": false, "schema": {"type": "string"}}, {"name": "state", "in": "query", "required": true, "schema": {"type": "string"}}, {"name": "error", "in": "query", "required": false, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Connected; the first sync (the backfill) is due now."}, "400": problem("Unknown, used or expired state, or the provider refused."), "404": problem("No such provider."), "422": problem("Missing code or state."), "502": problem("The provider could not be reached.")}
        }},
        "/api/v1/wearables/connections": {"get": {
            "summary": "The caller's connections with their sync state", "operationId": "wearableConnections", "security": security,
            "responses": {"200": {"description": "Connections (`sync_status`: active, error, reauth_required; `last_sync_at`, `sync_error`)."}, "401": problem("No token.")}
        }},
        "/api/v1/wearables/connections/{id}": {"delete": {
            "summary": "Disconnect: revoke at the provider, delete the tokens, keep or delete the data", "operationId": "wearableDisconnect", "security": security,
            "parameters": [id, {"name": "keep_data", "in": "query", "required": false, "schema": {"type": "string", "enum": ["true", "false"]}}],
            "responses": {"204": {"description": "Disconnected."}, "404": problem("No such connection of the caller."), "422": problem("Malformed keep_data.")}
        }},
        "/api/v1/wearables/connections/{id}/sync": {"post": {
            "summary": "Sync now", "operationId": "wearableSyncNow", "security": security,
            "parameters": [id],
            "responses": {"202": {"description": "Due now."}, "404": problem("No such connection of the caller."), "409": problem("The connection must be authorized again.")}
        }},
        "/api/v1/wearables/metrics": {"get": {
            "summary": "Daily or weekly metrics, one value per metric across providers", "operationId": "wearableMetrics", "security": security,
            "description": "Each day's value comes from the caller's primary source for the metric's family when it has one, else by the documented priority; `sources` names the provider of each value. HRV is never pooled across kinds (`hrv_kind`: sdnn or rmssd). At most 366 days.",
            "parameters": [{"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}}, {"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}}, {"name": "period", "in": "query", "required": false, "schema": {"type": "string", "enum": ["day", "week"]}}],
            "responses": {"200": {"description": "Metrics."}, "422": problem("Malformed or too long a range.")}
        }},
        "/api/v1/wearables/preferences": {
            "get": {"summary": "The caller's primary source per metric family", "operationId": "wearablePreferences", "security": security, "responses": {"200": {"description": "Preferences."}}},
            "put": {
                "summary": "Choose primary sources", "operationId": "wearableSetPreferences", "security": security,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["primary_sources"], "properties": {"primary_sources": {"type": "object", "additionalProperties": {"type": ["string", "null"]}}}}}}},
                "responses": {"200": {"description": "Preferences."}, "422": problem("Unknown family or provider.")}
            }
        },
        "/api/v1/wearables/upload/{provider}": {"post": {
            "summary": "Upload an export (Apple Health `export.zip` or `export.xml`, HealthKit samples JSON)", "operationId": "wearableUpload", "security": security,
            "description": "The file itself is the body (not a form), at most 2 GiB; it streams into the provider's adapter, within its memory cap, and is never held whole. Apple Health: the `export.zip` the Health app writes (known by its first bytes whatever `filename` says; its `apple_health_export/export.xml` is inflated as it arrives, other entries are passed over; CRC-32 and sizes checked; encrypted entries, methods other than deflate and stored, and more than 200:1 expansion refused), a bare `export.xml`, or `samples.json` from the app. Needs the `wearables` consent and the premium tier.",
            "parameters": [provider, {"name": "filename", "in": "query", "required": false, "description": "The file's name: `….xml` an export, `….json` samples; a zip is recognised by its content. Default `export.xml`.", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"}}],
            "requestBody": {"required": true, "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "application/x-zip-compressed": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "string", "format": "binary"}}
            }},
            "responses": {"200": {"description": "Days and sleep sessions stored."}, "403": problem("Consent or premium needed."), "404": problem("No such provider."), "409": problem("The provider connects with OAuth."), "413": problem("Larger than 2 GiB."), "415": problem("A form, not the file itself."), "422": problem("The file could not be read (not an export, a damaged or truncated zip, no export.xml in it, …); nothing is stored."), "502": problem("The adapter failed.")}
        }},
        "/api/v1/wearables/webhooks/{provider}": {
            "get": {"summary": "Webhook subscription handshake", "operationId": "wearableWebhookHandshake", "parameters": [provider], "responses": {"200": {"description": "The challenge echoed."}, "403": problem("Wrong verification token."), "404": problem("No such provider or no webhooks.")}},
            "post": {"summary": "Webhook delivery (signed by the provider's scheme)", "operationId": "wearableWebhook", "parameters": [provider],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"201": {"description": "Accepted."}, "401": problem("Bad signature or stale timestamp."), "404": problem("No such provider."), "409": problem("A replay."), "413": problem("Too large."), "503": problem("Webhooks are not configured.")}}
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

    use super::{MAX_UPLOAD_BYTES, check_upload_body};

    fn headers(content_type: Option<&'static str>, length: Option<u64>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        headers
    }

    #[test]
    fn an_upload_body_is_the_file_itself_up_to_the_limit() {
        for content_type in [
            None,
            Some("application/zip"),
            Some("application/x-zip-compressed"),
            Some("application/octet-stream"),
            Some("application/xml; charset=utf-8"),
            Some("application/json"),
        ] {
            let ok = check_upload_body(&headers(content_type, Some(MAX_UPLOAD_BYTES)));
            assert!(ok.is_ok(), "{content_type:?}");
        }
        let status = |h: &HeaderMap| check_upload_body(h).err().map(|e| e.status);
        assert_eq!(
            status(&headers(Some("multipart/form-data; boundary=x"), Some(10))),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            status(&headers(Some("application/x-www-form-urlencoded"), None)),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            status(&headers(
                Some("application/zip"),
                Some(MAX_UPLOAD_BYTES + 1)
            )),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }
}
