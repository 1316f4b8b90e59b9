//! Requests routed by the manifest to a component's `wasi:http` incoming handler.
//!
//! The edge authenticates according to the component's grant, caps the body at the
//! component's input limit, strips credentials (a component never sees the bearer token or
//! cookies: it learns the caller through `context`), adds Spin's routing headers, and runs a
//! fresh instance of the *active* version. The version is read once per request: an
//! activation during the request does not change what serves it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full, Limited};
use tracing::Instrument;
use uuid::Uuid;

use super::AppState;
use super::caller;
use super::problem::ApiError;
use crate::manifest::Authentication;
use crate::runtime::{Caller, DispatchError, Runnable};

// Spin's routing headers, and the request id, as a component sees them.
const SPIN_FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
const SPIN_PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
const SPIN_MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
const SPIN_RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
const SPIN_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
const SPIN_BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The fallback handler: everything not served by the host itself.
pub async fn to_component(State(state): State<AppState>, request: Request) -> Response {
    serve(state, request).await
}

/// Serves `request` with the component its path routes to, as if it had come from a client
/// (the WebSocket relay sends each chat message this way).
pub async fn serve(state: AppState, request: Request) -> Response {
    match dispatch(state, request, Who::FromToken).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Serves `request` as `caller`, without a token: the host's own jobs (the nightly runs)
/// call a component's route this way on a user's behalf. Everything else is as for a
/// client's request (limits, a fresh instance, the active version).
pub async fn serve_as(state: AppState, request: Request, caller: Caller) -> Response {
    match dispatch(state, request, Who::Given(caller)).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Whom a request is served for.
enum Who {
    /// Whoever its bearer token names, as the component's `authentication` grant asks.
    FromToken,
    /// A caller the host already knows.
    Given(Caller),
}

async fn dispatch(state: AppState, request: Request, who: Who) -> Result<Response, ApiError> {
    let path = request.uri().path().to_owned();
    let (route, matched) = state
        .registry
        .manifest()
        .route(&path)
        .ok_or_else(|| ApiError::not_found(format!("no route for `{path}`")))?;
    let name = route.component.clone();
    let raw_route = route.route.pattern().to_owned();
    let active = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::unavailable(format!("component `{name}` is not available")))?;
    let Runnable::Http(component) = &active.prepared.runnable else {
        return Err(ApiError::internal());
    };
    let decl = &state.registry.manifest().components[&name];
    let (mut parts, body) = request.into_parts();
    let caller = match (who, decl.grants.authentication) {
        (_, Authentication::None) => None,
        (Who::Given(caller), _) => Some(caller),
        (Who::FromToken, Authentication::Optional) => caller::resolve(&state, &parts).await?,
        (Who::FromToken, Authentication::Required) => Some(
            caller::resolve(&state, &parts)
                .await?
                .ok_or_else(|| ApiError::unauthorized("this endpoint needs an access token"))?,
        ),
    };
    let limit = component.limits().max_input_bytes;
    if let Some(length) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limit
    {
        return Err(ApiError::too_large(limit));
    }
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| ApiError::too_large(limit))?
        .to_bytes();

    // The id the edge gave the request (`observe`), or a new one for a request made inside
    // the host (the WebSocket relay's, the nightly runs').
    let request_id = parts
        .headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let authority = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let full_url = format!("http://{authority}{path_and_query}");
    parts.uri = full_url
        .parse()
        .map_err(|_| ApiError::bad_request("the request URI is malformed"))?;
    let headers = &mut parts.headers;
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::COOKIE);
    let spin_headers = [
        (SPIN_FULL_URL, full_url.as_str()),
        (SPIN_PATH_INFO, matched.path_info.as_str()),
        (SPIN_MATCHED_ROUTE, raw_route.as_str()),
        (SPIN_RAW_COMPONENT_ROUTE, raw_route.as_str()),
        (SPIN_COMPONENT_ROUTE, matched.matched_prefix.as_str()),
        (SPIN_BASE_PATH, "/"),
        (X_REQUEST_ID, request_id.as_str()),
    ];
    for (name, value) in spin_headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let request = http::Request::from_parts(parts, Full::new(body));
    let span = tracing::info_span!("component", component = %name, version = %active.record.version, %request_id);
    let metrics = crate::metrics::global();
    let version = active.record.version.as_str();
    metrics.component_instances.inc(&[&name, version]);
    match component
        .handle(request, caller, request_id)
        .instrument(span)
        .await
    {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body.map_err(|code| std::io::Error::other(format!("{code:?}")));
            Ok(Response::from_parts(parts, Body::new(body)))
        }
        Err(error) => {
            metrics
                .component_failures
                .inc(&[&name, version, failure_kind(&error)]);
            Err(failure(&name, error))
        }
    }
}

/// The metrics' name for how a component failed.
fn failure_kind(error: &DispatchError) -> &'static str {
    match error {
        DispatchError::Timeout(_) => "deadline",
        DispatchError::MemoryLimit => "memory_limit",
        DispatchError::Trap(_) => "trap",
        DispatchError::NoResponse => "no_response",
        DispatchError::Component(_) => "error_code",
        DispatchError::Unavailable(_) => "unavailable",
    }
}

fn failure(component: &str, error: DispatchError) -> ApiError {
    tracing::warn!(%component, %error, "component failed its request");
    match error {
        DispatchError::Timeout(ms) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "component-timeout",
            format!("component `{component}` did not answer within {ms} ms"),
        ),
        DispatchError::MemoryLimit => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "component-memory-limit",
            format!("component `{component}` exceeded its memory limit"),
        ),
        DispatchError::Trap(_) | DispatchError::NoResponse => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "component-failed",
            format!("component `{component}` failed to handle the request"),
        ),
        DispatchError::Component(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "component-error",
            format!("component `{component}` reported an error"),
        ),
        DispatchError::Unavailable(_) => ApiError::unavailable(format!(
            "component `{component}` is temporarily unavailable"
        )),
    }
}
