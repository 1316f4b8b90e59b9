//! `insights`: MindFlow's insights domain service, mounted at `/api/v1/insights`
//! (seed-plan §3.4).
//!
//! A Spin HTTP component (wasi:http 0.2) that imports MindFlow's `context` and `storage`
//! capabilities and reads the caller's `mood_logs`, `mood_factors`, `wearable_connections`
//! and `wearable_metrics`, and keeps their `user_insights`. Every request runs in a fresh
//! instance and sees only its caller's rows.
//!
//! - [`history`]: a person's last two years of logs, factors and daily metrics, on their own
//!   clock.
//! - [`refresh`]: the patterns `mindflow-insights` finds in that history, kept in step with
//!   the stored insights (one per pattern, updated in place, expired when it no longer
//!   holds). The host calls `POST /refresh` as each user once a night in their time zone;
//!   a person may also ask for it.
//! - [`api`]: the current insights, feedback, dismissal, and routing.
//!
//! The domain logic is plain Rust, tested natively (`cargo test -p insights`) against the
//! kit's fake platform; the glue is the kit's Spin export and the allocator.

pub mod api;
pub mod history;
pub mod refresh;

#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);

/// One request per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

#[cfg(test)]
mod tests;
