//! `recommendations`: MindFlow's recommendations domain service, mounted at
//! `/api/v1/recommendations` (seed-plan §3.4).
//!
//! A Spin HTTP component (wasi:http 0.2) that imports MindFlow's `context` and `storage`
//! capabilities; it keeps the caller's `recommendations` and reads their `user_insights`,
//! `mood_logs` and `mood_factors` and the shared `content_library`. Every request runs in a
//! fresh instance and sees only its caller's rows.
//!
//! - [`engine`]: what to suggest (plain Rust, no storage): signals from the person's data,
//!   library items scored against them, no item pushed again and again.
//! - [`api`]: today's suggestions (made on the first visit of the person's day), opening,
//!   completing and rating one.

pub mod api;
pub mod engine;

#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);

/// One request per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

#[cfg(test)]
mod tests;
