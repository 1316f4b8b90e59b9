//! Envelope encryption: each user has a random data key, stored only wrapped by the master
//! key. Sealing uses XChaCha20-Poly1305 with a fresh nonce and binds the user id and purpose
//! as associated data. Keys never leave the host. Deleting a user's wrapped key makes
//! everything sealed for them unreadable (crypto-shredding).

use thiserror::Error;
use uuid::Uuid;

use crate::db::Database;

/// A sealed value as stored: ciphertext (with tag) and nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Ciphertext and authentication tag.
    pub ciphertext: Vec<u8>,
    /// The 24-byte nonce.
    pub nonce: Vec<u8>,
}

/// Why a crypto operation failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The user's data key is gone (the account was deleted).
    #[error("the data key was destroyed")]
    KeyDestroyed,
    /// The ciphertext is corrupt or was sealed for another user or purpose.
    #[error("the sealed value is corrupt or not for this user and purpose")]
    Tampered,
    /// The key store could not be reached.
    #[error("the key store is unavailable")]
    Unavailable,
}

/// Seals and opens under per-user data keys. Cheap to clone.
#[derive(Clone)]
pub struct KeyService {
    db: Database,
}

impl KeyService {
    /// A key service over the database's wrapped keys.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Seals `plaintext` for `user` and `purpose`.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub async fn seal(&self, user: Uuid, purpose: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let _ = (&self.db, user, purpose, plaintext);
        Err(CryptoError::Unavailable)
    }

    /// Opens a value sealed by [`KeyService::seal`] for the same user and purpose.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub async fn open(&self, user: Uuid, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        let _ = (user, purpose, sealed);
        Err(CryptoError::Unavailable)
    }

    /// Hex HMAC-SHA-256 under a key derived from the user's data key and `purpose`.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub async fn keyed_hash(&self, user: Uuid, purpose: &str, data: &[u8]) -> Result<String, CryptoError> {
        let _ = (user, purpose, data);
        Err(CryptoError::Unavailable)
    }

    /// Destroys the user's data key: everything sealed for them becomes unreadable.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`].
    pub async fn shred(&self, user: Uuid) -> Result<(), CryptoError> {
        let _ = user;
        Err(CryptoError::Unavailable)
    }
}
