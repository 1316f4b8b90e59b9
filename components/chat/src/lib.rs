//! `chat`: MindFlow's chat domain service, mounted at `/api/v1/chat` (seed-plan §3.3).
//!
//! A Spin HTTP component (wasi:http 0.2) that imports MindFlow's `context`, `storage`,
//! `crypto`, `ml`, `llm` and `crisis` capabilities and the `chat_sessions`, `chat_messages`,
//! `content_library` and `mood_logs` collections. Every request runs in a fresh instance and
//! sees only its caller's rows.
//!
//! - [`api`]: sessions (create, list, read with a page of messages, delete) and routing.
//! - [`pipeline`]: a message through consent, crisis first, sealed storage, context, the
//!   model behind the host's screening, and the answer with action cards ([`cards`]).
//! - [`prompt`]: what the model is given (guardrails, mood context, memory, summary, window).
//! - [`sse`]: the answer as server-sent events, written as the model's screened text arrives.
//!
//! The domain logic is plain Rust, tested natively (`cargo test -p chat`) against the kit's
//! fake platform; the component's export ([`component`], wasm32 only) streams `text/event-stream`
//! answers itself and hands every other request to the kit.

pub mod api;
pub mod cards;
pub mod pipeline;
pub mod prompt;
pub mod sse;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod component;

/// One request per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

#[cfg(test)]
mod tests;
