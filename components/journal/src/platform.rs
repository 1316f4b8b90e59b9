//! What the journal service needs from its host, as plain Rust.
//!
//! These types mirror the `mindflow:platform` WIT interfaces the component imports
//! (`context`, `storage`, `crypto`, `ml`, `crisis`). The handlers in [`crate::api`] are written against
//! the [`Platform`] trait, so they run natively in unit tests against an in-memory fake; the
//! component (`src/component.rs`, wasm32 only) implements the trait with the WIT bindings.

pub use mindflow_component_kit::storage::{
    Comparison, Filter, Page, PageRequest, Row, Value, Write, column,
};

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageError {
    /// The collection is not granted (our bug).
    NotGranted(String),
    /// No such row for this user.
    NotFound,
    /// A value does not fit its column.
    Invalid {
        /// The field at fault.
        field: String,
        /// Why.
        message: String,
    },
    /// A constraint failed.
    Conflict(String),
    /// The database is unreachable.
    Unavailable,
}

pub use mindflow_component_kit::host::{CrisisOutcome, CrisisResource, CrisisUnavailable, User};

/// A sealed value: ciphertext (with tag) and nonce (`crypto.sealed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext and its tag.
    pub ciphertext: Vec<u8>,
    /// The nonce.
    pub nonce: Vec<u8>,
}

/// Why a crypto call failed (`crypto.crypto-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// No authenticated user.
    NoUser,
    /// The user's key is destroyed.
    KeyDestroyed,
    /// Corrupt ciphertext, or sealed for another user or purpose.
    Tampered,
    /// The key store is unreachable.
    Unavailable,
}

/// The host's capabilities, as the handlers use them.
pub trait Platform {
    /// The authenticated caller (`context.current-user`).
    fn current_user(&self) -> Option<User>;
    /// `storage.get`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError>;
    /// `storage.delete`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError>;
    /// `storage.query`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError>;
    /// `storage.batch`: all writes in one transaction.
    ///
    /// # Errors
    /// [`StorageError`]; nothing was written.
    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError>;
    /// `storage.insert`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn insert(&self, collection: &str, row: Row) -> Result<Row, StorageError>;
    /// `storage.update`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn update(&self, collection: &str, id: &str, changes: Row) -> Result<Row, StorageError>;
    /// `ml.sentiment`, in [-1, 1].
    fn sentiment(&self, text: &str) -> f32;
    /// `ml.classify-emotion`: the emotion's name (`joy`, …, `neutral`).
    fn emotion(&self, text: &str) -> String;
    /// `ml.topics`.
    fn topics(&self, text: &str, max: u32) -> Vec<String>;
    /// `crypto.seal`.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError>;
    /// `crypto.open`.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn open(&self, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError>;
    /// `crypto.keyed-hash`: hex.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<String, CryptoError>;
    /// `crisis.assess`.
    ///
    /// # Errors
    /// [`CrisisUnavailable`] whatever the reason: the caller fails safe.
    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable>;
}
