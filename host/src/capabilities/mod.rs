//! Host capabilities granted to components.
//!
//! Each module owns one capability with the same shape: what it grants, what it never
//! gives, its per-request state, and how it is added to the linker. A component gets a
//! capability only when its manifest grants it; an ungranted import fails at install.

pub mod context;
pub mod crisis;
pub mod crypto;
pub mod ml;
pub mod outbound;
pub mod storage;
pub mod variables;

/// What capability implementations reach, shared by every request's store. A capability
/// acts for the store's caller only: it takes the user from the store, never from the guest.
#[derive(Clone)]
pub struct HostServices {
    /// The database.
    pub db: crate::db::Database,
    /// Envelope encryption under per-user data keys.
    pub keys: crate::crypto::KeyService,
    /// Crisis assessment with the active crisis rules.
    pub crisis: crate::crisis::service::CrisisService,
    /// The dimension of `ml.embed` vectors (the deployment's embedding dimension).
    pub embedding_dimension: usize,
}
