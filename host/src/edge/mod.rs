//! The HTTP edge (axum): authentication, body limits, routing by the manifest's routes to
//! components, the host-native trust base (auth, admin API), health checks and the OpenAPI
//! document. Every failure is an RFC 9457 problem document ([`problem::ApiError`]).
//!
//! Invariant: the edge holds no domain logic. It decides *who* is calling and *which*
//! component serves the request; what the request means is the component's business.

pub mod admin;
pub mod auth;
pub mod caller;
pub mod dispatch;
pub mod health;
pub mod openapi;
pub mod problem;

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

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The component registry.
    pub registry: Arc<ComponentRegistry>,
    /// Access-token keys.
    pub tokens: TokenKeys,
    /// What capabilities reach (database, data keys).
    pub services: HostServices,
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
        .route("/audit", get(admin::audit));
    let auth = Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login));
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1/auth", auth)
        .nest("/api/v1/admin", admin)
        .fallback(dispatch::to_component)
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
