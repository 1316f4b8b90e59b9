//! MindFlow's content domain service, mounted at `/api/v1/content`: the content library
//! (exercises, articles, journaling prompts) as the caller may see it.
//!
//! It reads the shared, read-only `content_library` collection through the `storage`
//! capability and the caller's tier through `context`; it writes nothing. The library's rows
//! are the host's, kept in step with the active content providers' catalogues (the host's
//! `content` module), so this service never sees a provider. See [`api`] for the endpoints.

pub mod api;

// The glue: the kit's Spin export (with `openapi.json`) and the allocator.
#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);

/// One request per instance: allocations bump through a static arena.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;
