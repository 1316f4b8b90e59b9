//! `journal`: MindFlow's journal domain service, mounted at `/api/v1/journal`.
//!
//! A Spin HTTP component (wasi:http 0.2) that imports MindFlow's `context`, `storage`,
//! `crypto`, `ml` and `crisis` capabilities and the `journal_entries` and `content_library`
//! collections. Every request runs in a fresh instance and sees only its caller's rows.
//!
//! - `POST /entries`, `GET /entries`, `GET|PATCH|DELETE /entries/{id}`: entries whose text is
//!   stored only sealed under the user's key, with a keyed content hash, word count,
//!   sentiment, primary emotion, topics and crisis assessment (failing safe).
//! - `GET /entries?q=word`: search over keyed hashes of each entry's words ([`api`]).
//! - `GET /prompts`: journaling prompts from the shared content library.
//!
//! The domain logic is plain Rust, tested natively (`cargo test -p journal`): the handlers
//! ([`api`]) are written against `mindflow-component-kit`'s `Platform`, which the kit also
//! implements over the WIT imports. The glue is the few lines below: the kit's Spin export
//! (which ships `openapi.json` in the `mindflow:openapi` custom section) and the allocator.

pub mod api;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);

/// One request per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;
