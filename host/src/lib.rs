//! # MindFlow host
//!
//! The `mindflow` binary is a WebAssembly plugin host for a mental-wellness backend. Domain
//! logic (mood, journal, chat, crisis rules, wearables, content) runs in sandboxed
//! components; this crate is the trusted part around them:
//!
//! - [`edge`]: the axum HTTP edge. Authentication, body and time limits, routing by the
//!   manifest's routes to components, RFC 9457 problem documents for every failure, the
//!   host-native trust base (auth, admin API), health checks and the OpenAPI document.
//! - [`runtime`]: one wasmtime engine (pooling allocator, epoch interruption, fuel), a
//!   compiled-artifact cache, and per-request stores with memory and time limits. A fresh
//!   instance serves every request: no state survives from one request to the next.
//! - [`capabilities`]: host implementations of the `mindflow:platform` WIT interfaces and of
//!   the Spin interfaces unmodified Spin components import, each granted per component.
//! - [`registry`]: the installed component versions, the active one per component behind an
//!   atomic swap, install-time validation and gates, activation, rollback and replica sync.
//! - [`manifest`]: `spin.toml` (Spin manifest v2) plus MindFlow's grants.
//! - [`db`]: the database (SQLite embedded by default, PostgreSQL + pgvector in production).
//! - [`identity`]: users, passwords and access tokens.
//! - [`mail`]: the outbox consumer and the mailers it delivers through.
//! - [`llm`]: language-model providers (local by default), retries, limits, usage and the
//!   screening of answers behind the `llm` capability.
//!
//! Architecture invariants (see `ARCHITECTURE.md`): the edge holds no domain logic; only
//! [`db`] writes SQL; a component never receives a user id from the request, keys, or
//! another user's data.
#![deny(missing_docs)]

pub mod audit;
pub mod capabilities;
pub mod config;
pub mod content;
pub mod crisis;
pub mod crypto;
/// The database (the `mindflow-db` crate).
pub use mindflow_db as db;
pub mod edge;
pub mod identity;
pub mod llm;
pub mod mail;
pub mod manifest;
pub mod metrics;
pub mod nightly;
pub mod otlp;
pub mod registry;
pub mod retention;
pub mod runtime;
pub mod secrets;
pub mod server;
pub mod tiers;
pub mod wearables;
