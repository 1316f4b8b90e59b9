//! Content providers: components of the `content-provider` world supply the content
//! library's items, and the host keeps `content_library` in step with each one's active
//! version.
//!
//! - [`world`]: the world's generated bindings (the runtime instantiates them).
//! - [`validate`]: what the host accepts of a catalogue (required fields, lengths within the
//!   catalog's bounds, known difficulties, sane durations, `http(s)` URLs, no NUL, unique
//!   external ids, a bounded size). A catalogue is checked once, when a version is prepared,
//!   so a version with a bad item is refused at install and never reaches the database.
//! - [`sync`]: writing a checked catalogue into `content_library` under the provider's name,
//!   in one transaction: new items inserted, changed ones updated in place (their row ids
//!   stay), vanished ones deactivated (never deleted), unchanged ones untouched.
//!
//! Like the crisis module, this one needs nothing of the runtime or the registry: the
//! registry syncs on every activation (start-up, admin API, rollback, another replica's
//! change), and `mindflow content seed` runs the same sync from the command line.

pub mod sync;
pub mod validate;

pub use sync::{SyncReport, sync};
pub use validate::{Catalogue, CatalogueError, CatalogueItem};

/// The pure content-provider world (`mindflow:platform/content-provider`). Its export is
/// async, like the crisis rules', so a call yields to the executor as its fuel runs.
#[allow(missing_docs)]
pub mod world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mindflow:platform/content-provider",
        exports: { default: async },
    });
}

pub use world::exports::mindflow::platform::catalogue::ContentItem;
