//! `mood`: MindFlow's mood domain service, mounted at `/api/v1/mood` (seed-plan §3.2).
//!
//! A Spin HTTP component (wasi:http 0.2) that imports MindFlow's `context`, `storage`, `ml`
//! and `crisis` capabilities and the `mood_logs` and `mood_factors` collections. Every
//! request runs in a fresh instance and sees only its caller's rows.
//!
//! - `POST /logs`, `GET /logs`, `GET|PATCH|DELETE /logs/{id}`: mood logs with their factors.
//!   A log's `time_of_day` and `day_of_week` are derived on the user's wall clock
//!   ([`localtime`]); its note is scored by `ml.sentiment` and assessed by `crisis.assess`
//!   (a failed assessment fails safe); the log and its factors are written in one
//!   `storage.batch`, the log's id made here so the factors can reference it.
//! - `GET /stats`, `GET /trends`: `storage.aggregate` in the user's zone, plus a moving
//!   average and a least-squares direction ([`stats`]).
//! - `GET /factors` (premium): effect sizes and rank correlations per factor type
//!   ([`factors`]).
//!
//! The domain logic is plain Rust, tested natively (`cargo test -p mood`): the handlers
//! ([`api`]) are written against `mindflow-component-kit`'s `Platform`, which the kit also
//! implements over the WIT imports. The glue is the few lines below: the kit's Spin export
//! (which ships `openapi.json` in the `mindflow:openapi` custom section) and the allocator.

pub mod api;
pub mod factors;
pub mod localtime;
pub mod note;
pub mod stats;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);

/// One request per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;
