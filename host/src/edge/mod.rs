//! The HTTP edge (axum): authentication, body limits, routing by the manifest's routes to
//! components, the host-native trust base (auth, admin API), health checks and the OpenAPI
//! document. Every failure is an RFC 9457 problem document ([`problem::ApiError`]).
//!
//! Invariant: the edge holds no domain logic. It decides *who* is calling and *which*
//! component serves the request; what the request means is the component's business.

pub mod admin;
pub mod auth;
pub mod caller;
pub mod client;
pub mod crisis;
pub mod dispatch;
pub mod health;
pub mod openapi;
pub mod problem;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/components", get(admin::list))
        .route(
            "/components/{name}/versions",
            post(admin::upload).layer(DefaultBodyLimit::max(MAX_COMPONENT_UPLOAD)),
        )
        .route("/components/{name}/activate", post(admin::activate))
        .route("/components/{name}/rollback", post(admin::rollback))
        .route("/audit", get(admin::audit))
        .route(
            "/users/{id}/subscription",
            axum::routing::put(users::set_subscription),
        );
    let users = Router::new()
        .route("/me", get(users::get_me).patch(users::patch_me))
        .route("/me/consents", get(users::list_consents))
        .route(
            "/me/consents/{consent_type}",
            axum::routing::put(users::put_consent),
        )
        .route("/me/export", get(users::export));
    let auth = Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login))
        .route("/refresh", post(auth::refresh))
        .route("/logout", post(auth::logout))
        .route("/oauth/{provider}", post(auth::oauth))
        .route("/forgot-password", post(auth::forgot_password))
        .route("/reset-password", post(auth::reset_password))
        .route("/account", axum::routing::delete(auth::delete_account));
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1/auth", auth)
        .route("/api/v1/crisis/resources", get(crisis::resources))
        .route("/api/v1/crisis/check", post(crisis::check))
        .route(
            "/api/v1/crisis/safety-plan",
            get(crisis::get_safety_plan).put(crisis::put_safety_plan),
        )
        .nest("/api/v1/admin", admin)
        .nest("/api/v1/users", users)
        .fallback(dispatch::to_component)
        .layer(axum::Extension(state.trusted_proxies.clone()))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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
