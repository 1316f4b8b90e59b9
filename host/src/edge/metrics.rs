//! `GET /metrics` on the operator's own listen address (`MINDFLOW_METRICS_LISTEN`): the
//! process's metrics ([`crate::metrics`]) in the Prometheus text format, with the database
//! pool sampled at scrape time. It is never served on the public address, so it needs no
//! authentication of its own: bind it to a private interface.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::db::Database;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics listener's routes.
pub fn router(db: Database) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(db)
}

async fn scrape(State(db): State<Database>) -> impl IntoResponse {
    let (open, idle, max) = db.pool_stats();
    let open = f64::from(open);
    let idle = f64::from(u32::try_from(idle).unwrap_or(u32::MAX));
    let text = crate::metrics::global().render(&[
        (
            "mindflow_db_pool_connections_open",
            "Database connections open now.",
            open,
        ),
        (
            "mindflow_db_pool_connections_idle",
            "Open database connections idle now.",
            idle,
        ),
        (
            "mindflow_db_pool_connections_max",
            "The most database connections the pool may open.",
            f64::from(max),
        ),
    ]);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}
