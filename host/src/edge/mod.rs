//! The HTTP edge (axum): authentication, body limits, routing by the manifest's routes to
//! components, the host-native trust base (auth, admin API), health checks, the OpenAPI
//! document and the clinician console (`/console/`). Every failure is an RFC 9457 problem document ([`problem::ApiError`]).
//!
//! Invariant: the edge holds no domain logic. It decides *who* is calling and *which*
//! component serves the request; what the request means is the component's business.

pub mod admin;
pub mod auth;
pub mod body;
pub mod caller;
pub mod chat_socket;
pub mod client;
pub mod console;
pub mod crisis;
pub mod dispatch;
pub mod health;
pub mod listener;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod users;
pub mod wearables;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use tower_http::trace::TraceLayer;

use crate::capabilities::HostServices;
use crate::db::Database;
use crate::identity::TokenKeys;
use crate::registry::ComponentRegistry;

/// Largest JSON body a host-native endpoint accepts.
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest component upload.
pub const MAX_COMPONENT_UPLOAD: usize = 64 << 20;

/// What every handler shares. Cloned for every request (axum's `State`), so every field is
/// a handle: cloning is a few reference counts, never a copy of keys or tables.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The component registry.
    pub registry: Arc<ComponentRegistry>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// What capabilities reach (database, data keys).
    pub services: HostServices,
    /// Verifies Google and Apple ID tokens (`POST /api/v1/auth/oauth/{provider}`).
    pub oidc: crate::identity::oidc::OidcVerifier,
    /// Callers recently looked up (PostgreSQL), forgotten when they change.
    pub callers: crate::identity::callers::CallerCache,
    /// The reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<client::TrustedProxies>,
    /// Wakes the outbox consumer when a request queued a mail.
    pub outbox: crate::mail::OutboxSignal,
    /// Registrations one client address may start in the throttling window.
    pub registrations_per_address: usize,
    /// Request rate limits by route class (in process, or shared through Redis).
    pub rate_limits: Arc<ratelimit::RateLimiter>,
    /// The service's public base URL (OAuth callbacks), when configured.
    pub public_url: Option<String>,
    /// Wearables: adapters, OAuth, sync.
    pub wearables: crate::wearables::Wearables,
}

/// The host's own routes, added and listed together: the list is what the OpenAPI document
/// is held to (`openapi::tests`), so a route cannot be served without being documented.
struct HostRoutes {
    router: Router<AppState>,
    listed: Vec<(&'static str, &'static str)>,
}

impl HostRoutes {
    /// Serves `method` at `path` with `route` (whose method must be `method`).
    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, route);
        self.listed.push((method, path));
        self
    }
}

/// Every host route (health, documentation, auth, crisis, admin, users); anything else goes
/// to the components.
fn host_routes() -> HostRoutes {
    use axum::routing::{delete, patch, put};
    HostRoutes {
        router: Router::new(),
        listed: Vec::new(),
    }
    .add("GET", "/healthz", get(health::live))
    .add("GET", "/readyz", get(health::ready))
    .add("GET", "/api/v1/openapi.json", get(openapi::document))
    .add("POST", "/api/v1/auth/register", post(auth::register))
    .add(
        "POST",
        "/api/v1/auth/verify-email",
        post(auth::verify_email),
    )
    .add("POST", "/api/v1/auth/login", post(auth::login))
    .add("POST", "/api/v1/auth/refresh", post(auth::refresh))
    .add("POST", "/api/v1/auth/logout", post(auth::logout))
    .add("POST", "/api/v1/auth/oauth/nonce", post(auth::oauth_nonce))
    .add("POST", "/api/v1/auth/oauth/{provider}", post(auth::oauth))
    .add(
        "POST",
        "/api/v1/auth/forgot-password",
        post(auth::forgot_password),
    )
    .add(
        "POST",
        "/api/v1/auth/reset-password",
        post(auth::reset_password),
    )
    .add(
        "DELETE",
        "/api/v1/auth/account",
        delete(auth::delete_account),
    )
    .add(
        "GET",
        "/api/v1/chat/ws/{session_id}",
        get(chat_socket::upgrade),
    )
    .add("GET", "/api/v1/crisis/resources", get(crisis::resources))
    .add("POST", "/api/v1/crisis/check", post(crisis::check))
    .add(
        "GET",
        "/api/v1/crisis/safety-plan",
        get(crisis::get_safety_plan),
    )
    .add(
        "PUT",
        "/api/v1/crisis/safety-plan",
        put(crisis::put_safety_plan),
    )
    .add("GET", "/api/v1/admin/components", get(admin::list))
    .add(
        "POST",
        "/api/v1/admin/components/{name}/versions",
        post(admin::upload).layer(DefaultBodyLimit::max(MAX_COMPONENT_UPLOAD)),
    )
    .add(
        "POST",
        "/api/v1/admin/components/{name}/activate",
        post(admin::activate),
    )
    .add(
        "POST",
        "/api/v1/admin/components/{name}/rollback",
        post(admin::rollback),
    )
    .add("GET", "/api/v1/admin/audit", get(admin::audit))
    .add(
        "PUT",
        "/api/v1/admin/users/{id}/subscription",
        put(users::set_subscription),
    )
    .add(
        "GET",
        "/api/v1/wearables/providers",
        get(wearables::providers),
    )
    .add(
        "POST",
        "/api/v1/wearables/connect/{provider}",
        post(wearables::connect),
    )
    .add(
        "GET",
        "/api/v1/wearables/callback/{provider}",
        get(wearables::callback),
    )
    .add(
        "GET",
        "/api/v1/wearables/connections",
        get(wearables::connections),
    )
    .add(
        "DELETE",
        "/api/v1/wearables/connections/{id}",
        delete(wearables::disconnect),
    )
    .add(
        "POST",
        "/api/v1/wearables/connections/{id}/sync",
        post(wearables::sync_now),
    )
    .add("GET", "/api/v1/wearables/metrics", get(wearables::metrics))
    .add(
        "GET",
        "/api/v1/wearables/preferences",
        get(wearables::get_preferences),
    )
    .add(
        "PUT",
        "/api/v1/wearables/preferences",
        put(wearables::put_preferences),
    )
    .add(
        "POST",
        "/api/v1/wearables/upload/{provider}",
        post(wearables::upload).layer(DefaultBodyLimit::disable()),
    )
    .add(
        "GET",
        "/api/v1/wearables/webhooks/{provider}",
        get(wearables::webhook_handshake),
    )
    .add(
        "POST",
        "/api/v1/wearables/webhooks/{provider}",
        post(wearables::webhook),
    )
    .add("GET", "/api/v1/users/me", get(users::get_me))
    .add("PATCH", "/api/v1/users/me", patch(users::patch_me))
    .add(
        "GET",
        "/api/v1/users/me/consents",
        get(users::list_consents),
    )
    .add(
        "PUT",
        "/api/v1/users/me/consents/{consent_type}",
        put(users::put_consent),
    )
    .add("GET", "/api/v1/users/me/export", get(users::export))
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    host_routes()
        .router
        // The clinician console: HTML, not API, so not among the routes the OpenAPI
        // document lists.
        .merge(console::routes())
        // The host's own routes only: components answer their own problem documents.
        .layer(axum::middleware::map_response(
            problem::problems_for_bare_errors,
        ))
        .fallback(dispatch::to_component)
        // Inside the trusted proxies' extension: the limiter reads the client's address.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::enforce,
        ))
        // Outside the limiter: a refused request is counted and carries a request id too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(axum::Extension(state.trusted_proxies.clone()))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The method and path of every host route, for the document's completeness test.
#[cfg(test)]
pub(crate) fn host_route_list() -> Vec<(&'static str, &'static str)> {
    host_routes().listed
}

/// `GET /bench/native`: the dispatch benchmark's native twin of `hello-spin` (same JSON),
/// mounted only with `MINDFLOW_BENCH_NATIVE=1`.
pub fn bench_native_route() -> Router {
    async fn hello(uri: axum::http::Uri) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({
            "message": "hello",
            "path": uri.path(),
            "component": "native",
        }))
    }
    Router::new().route("/bench/native", get(hello))
}
