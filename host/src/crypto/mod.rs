//! Envelope encryption: each user has a random data key, stored only wrapped by the master
//! key. Sealing uses XChaCha20-Poly1305 with a fresh nonce and binds the user id and purpose
//! as associated data. Keys never leave the host. Deleting a user's wrapped key makes
//! everything sealed for them unreadable (crypto-shredding).
//!
//! - **Master keys** ([`MasterKeys`]): the current one wraps new data keys; previous ones
//!   still unwrap the keys they wrapped until `mindflow keys rotate` ([`KeyService::rotate`])
//!   re-wraps them under the current one. A master key's id is the first 12 hex digits of its
//!   SHA-256, so the database says which key wrapped each row without revealing it.
//! - **Data keys**: 32 random bytes per user, created on the first seal (insert-if-absent,
//!   then re-read, so concurrent first seals agree), wrapped with XChaCha20-Poly1305 whose
//!   associated data binds the user id: a wrapped key copied to another user's row does not
//!   unwrap.
//! - **Cache**: unwrapped keys are kept for at most [`CACHE_TTL`] in a cache of at most
//!   [`CACHE_CAPACITY`] entries, zeroized when dropped. The TTL bounds how long another
//!   replica may still open a user's data after a shred; this replica evicts at once.
//!
//! Secrets never appear in logs, errors or `Debug` output.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::db::Database;
use crate::db::data_keys::{Wrapped, WrappedKey};

pub mod backfill;
pub mod rekey;

/// Length of master and data keys, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an XChaCha20-Poly1305 nonce, in bytes.
pub const NONCE_LEN: usize = 24;
/// Most unwrapped data keys kept in memory.
pub const CACHE_CAPACITY: usize = 1024;
/// How long an unwrapped data key stays cached.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Keys re-wrapped per database round trip by [`KeyService::rotate`].
const ROTATE_BATCH: i64 = 500;

/// Associated-data prefixes: they keep wrapped keys, sealed values and derived hash keys in
/// separate domains, and let the format change later.
const WRAP_DOMAIN: &[u8] = b"mindflow:data-key:v1:";
const SEAL_DOMAIN: &[u8] = b"mindflow:seal:v1:";
const HASH_DOMAIN: &[u8] = b"mindflow:keyed-hash:v1";

/// A sealed value as stored: ciphertext (with tag) and nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Ciphertext and authentication tag.
    pub ciphertext: Vec<u8>,
    /// The 24-byte nonce.
    pub nonce: Vec<u8>,
}

impl Sealed {
    /// The value as one byte string, nonce ‖ ciphertext: how a value kept in a single
    /// column (a wearable connection's tokens) is stored.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.nonce.len() + self.ciphertext.len());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Splits what [`Self::joined`] made; `None` when it is too short to hold a nonce and a
    /// tag.
    pub fn split(joined: &[u8]) -> Option<Self> {
        if joined.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = joined.split_at(NONCE_LEN);
        Some(Self {
            ciphertext: ciphertext.to_vec(),
            nonce: nonce.to_vec(),
        })
    }
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

/// Why the master keys could not be loaded. Never contains key material.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MasterKeyError {
    /// A configured key is not base64.
    #[error("{0} is not valid base64")]
    NotBase64(&'static str),
    /// A configured key does not decode to 32 bytes.
    #[error("{0} must decode to exactly 32 bytes")]
    WrongLength(&'static str),
    /// The development key file cannot be read or written.
    #[error("development master key: {0}")]
    File(String),
}

/// One master key and its public id.
struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    fn new(bytes: &[u8; KEY_LEN]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            id: hex::encode(digest)[..12].to_owned(),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }
}

/// The master keys: the current one and the previous ones still accepted for unwrapping.
pub struct MasterKeys {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn decode_key(text: &str, name: &'static str) -> Result<Zeroizing<[u8; KEY_LEN]>, MasterKeyError> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| MasterKeyError::NotBase64(name))?,
    );
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(MasterKeyError::WrongLength(name));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

impl MasterKeys {
    /// Master keys from raw bytes: `current` wraps, `previous` also unwrap.
    pub fn new(current: &[u8; KEY_LEN], previous: &[[u8; KEY_LEN]]) -> Self {
        let current = MasterKey::new(current);
        let mut seen = vec![current.id.clone()];
        let mut keys = Vec::new();
        for key in previous.iter().map(MasterKey::new) {
            if !seen.contains(&key.id) {
                seen.push(key.id.clone());
                keys.push(key);
            }
        }
        Self {
            current,
            previous: keys,
        }
    }

    /// The configured keys (`MINDFLOW_MASTER_KEY`, base64 of 32 bytes, and
    /// `MINDFLOW_PREVIOUS_MASTER_KEYS`, comma-separated); without a configured key, a
    /// development key generated into `<data_dir>/master-key` (mode 0600), with a warning.
    ///
    /// # Errors
    /// [`MasterKeyError`] for a malformed key or an unusable key file.
    pub fn load(
        configured: Option<&str>,
        previous: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, MasterKeyError> {
        let previous = previous
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| decode_key(s, "MINDFLOW_PREVIOUS_MASTER_KEYS").map(|k| *k))
            .collect::<Result<Vec<[u8; KEY_LEN]>, _>>()
            .map(Zeroizing::new)?;
        let current = match configured.filter(|s| !s.trim().is_empty()) {
            Some(text) => decode_key(text, "MINDFLOW_MASTER_KEY")?,
            None => {
                let path = data_dir.join("master-key");
                let bytes = Zeroizing::new(
                    crate::secrets::load_or_generate(&path, KEY_LEN)
                        .map_err(MasterKeyError::File)?,
                );
                if bytes.len() != KEY_LEN {
                    return Err(MasterKeyError::File(format!(
                        "{} must hold exactly {KEY_LEN} bytes",
                        path.display()
                    )));
                }
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                key.copy_from_slice(&bytes);
                tracing::warn!(
                    path = %path.display(),
                    "no MINDFLOW_MASTER_KEY configured: using a generated development master key"
                );
                key
            }
        };
        Ok(Self::new(&current, &previous))
    }

    /// [`MasterKeys::load`] with the command line's or environment's settings.
    ///
    /// # Errors
    /// [`MasterKeyError`].
    pub fn from_config(config: &crate::config::CommonConfig) -> Result<Self, MasterKeyError> {
        Self::load(
            config.master_key.as_deref(),
            config.previous_master_keys.as_deref(),
            &config.data_dir,
        )
    }

    /// The id of the current master key (first 12 hex digits of its SHA-256).
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Whether a master key with this id is known (current or previous).
    pub fn knows(&self, id: &str) -> bool {
        self.by_id(id).is_some()
    }

    fn by_id(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

type DataKey = Arc<Zeroizing<[u8; KEY_LEN]>>;

/// A user's unwrapped keys.
struct UserKeys {
    /// Seals new values (and opens them).
    seal: DataKey,
    /// What keyed hashes derive from: stable across data-key rotations.
    hash: DataKey,
    /// The data key a rotation replaced, while values sealed under it remain.
    retired: Option<DataKey>,
}

type CachedKeys = Arc<UserKeys>;

/// A bounded cache of unwrapped keys; entries expire after [`CACHE_TTL`].
struct KeyCache {
    entries: HashMap<Uuid, (CachedKeys, Instant)>,
    /// How long an entry serves.
    ttl: Duration,
}

impl KeyCache {
    fn get(&mut self, user: Uuid) -> Option<CachedKeys> {
        let fresh = match self.entries.get(&user) {
            Some((key, at)) if at.elapsed() < self.ttl => return Some(key.clone()),
            Some(_) => false,
            None => return None,
        };
        if !fresh {
            self.entries.remove(&user);
        }
        None
    }

    fn put(&mut self, user: Uuid, key: CachedKeys) {
        if self.entries.len() >= CACHE_CAPACITY && !self.entries.contains_key(&user) {
            let ttl = self.ttl;
            self.entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if self.entries.len() >= CACHE_CAPACITY {
                // Still full of fresh keys: evict the oldest.
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(user, _)| *user)
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(user, (key, Instant::now()));
    }

    fn evict(&mut self, user: Uuid) {
        self.entries.remove(&user);
    }
}

struct Inner {
    db: Database,
    masters: MasterKeys,
    cache: Mutex<KeyCache>,
}

/// Seals and opens under per-user data keys. Cheap to clone.
#[derive(Clone)]
pub struct KeyService {
    inner: Arc<Inner>,
}

/// What [`KeyService::rotate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Keys re-wrapped under the current master key.
    pub rewrapped: u64,
    /// Keys wrapped by a master key that is not configured (left untouched).
    pub unknown_master: u64,
    /// Keys that changed concurrently (shredded or rotated by another process).
    pub skipped: u64,
}

fn data_cipher(key: &DataKey) -> XChaCha20Poly1305 {
    let bytes: &[u8; KEY_LEN] = key;
    XChaCha20Poly1305::new(bytes.into())
}

/// A nonce from stored bytes; `None` when it has the wrong length.
fn xnonce(bytes: &[u8]) -> Option<XNonce> {
    <[u8; NONCE_LEN]>::try_from(bytes).ok().map(XNonce::from)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes[..]);
    bytes
}

/// Seals `plaintext` for `user` and `purpose` under `key`, with a fresh nonce.
fn seal_with(
    key: &DataKey,
    user: Uuid,
    purpose: &str,
    plaintext: &[u8],
) -> Result<Sealed, CryptoError> {
    let nonce = random_bytes::<NONCE_LEN>();
    let ciphertext = data_cipher(key)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &seal_aad(user, purpose),
            },
        )
        .map_err(|_| CryptoError::Unavailable)?;
    Ok(Sealed {
        ciphertext,
        nonce: nonce.to_vec(),
    })
}

/// Opens a value sealed for `user` and `purpose` under `key`; `None` when it does not open
/// (another key, user or purpose, or corrupt).
fn open_with(key: &DataKey, user: Uuid, purpose: &str, sealed: &Sealed) -> Option<Vec<u8>> {
    let nonce = xnonce(&sealed.nonce)?;
    data_cipher(key)
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed.ciphertext,
                aad: &seal_aad(user, purpose),
            },
        )
        .ok()
}

fn wrap_aad(user: Uuid) -> Vec<u8> {
    [WRAP_DOMAIN, user.as_bytes()].concat()
}

fn seal_aad(user: Uuid, purpose: &str) -> Vec<u8> {
    // The user id has a fixed length, so user + purpose cannot collide with another pair.
    [SEAL_DOMAIN, user.as_bytes(), purpose.as_bytes()].concat()
}

impl KeyService {
    /// A key service over the database's wrapped keys, wrapping with `masters`, caching
    /// unwrapped keys for [`CACHE_TTL`].
    pub fn new(db: Database, masters: MasterKeys) -> Self {
        Self::with_cache_ttl(db, masters, CACHE_TTL)
    }

    /// [`KeyService::new`], caching unwrapped keys for `ttl` (every process that shares a
    /// database must use the same: a data-key rotation waits it out before it erases the
    /// retired key, see [`rekey`]).
    pub fn with_cache_ttl(db: Database, masters: MasterKeys, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                masters,
                cache: Mutex::new(KeyCache {
                    entries: HashMap::new(),
                    ttl,
                }),
            }),
        }
    }

    /// How long this service caches unwrapped keys.
    pub fn cache_ttl(&self) -> Duration {
        self.inner.cache.lock().map_or(CACHE_TTL, |cache| cache.ttl)
    }

    /// The id of the master key new data keys are wrapped with.
    pub fn current_master_key_id(&self) -> &str {
        self.inner.masters.current_id()
    }

    fn cached(&self, user: Uuid) -> Option<CachedKeys> {
        self.inner.cache.lock().ok()?.get(user)
    }

    fn remember(&self, user: Uuid, key: CachedKeys) {
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.put(user, key);
        }
    }

    fn forget(&self, user: Uuid) {
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.evict(user);
        }
    }

    /// Every key of a stored row, unwrapped.
    fn unwrap_keys(&self, row: &WrappedKey) -> Result<UserKeys, CryptoError> {
        let seal = self.unwrap_key(row)?;
        let other = |wrapped: &Option<Wrapped>| {
            wrapped
                .as_ref()
                .map(|w| self.unwrap_wrapped(row, &w.key, &w.nonce))
                .transpose()
        };
        Ok(UserKeys {
            hash: other(&row.hash_key)?.unwrap_or_else(|| seal.clone()),
            retired: other(&row.retired_key)?,
            seal,
        })
    }

    /// The data key of a stored row, unwrapped.
    fn unwrap_key(&self, row: &WrappedKey) -> Result<DataKey, CryptoError> {
        self.unwrap_wrapped(row, &row.wrapped_key, &row.wrap_nonce)
    }

    /// One key of `row` (`wrapped` under `nonce`, by the row's master key), unwrapped.
    fn unwrap_wrapped(
        &self,
        row: &WrappedKey,
        wrapped: &[u8],
        nonce: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let Some(master) = self.inner.masters.by_id(&row.master_key_id) else {
            tracing::error!(
                user_id = %row.user_id,
                master_key_id = %row.master_key_id,
                "a data key is wrapped by a master key that is not configured"
            );
            return Err(CryptoError::Unavailable);
        };
        let Some(nonce) = xnonce(nonce) else {
            tracing::error!(user_id = %row.user_id, "a wrapped data key has a malformed nonce");
            return Err(CryptoError::Unavailable);
        };
        let plain = Zeroizing::new(
            master
                .cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: wrapped,
                        aad: &wrap_aad(row.user_id),
                    },
                )
                .map_err(|_| {
                    tracing::error!(user_id = %row.user_id, master_key_id = %row.master_key_id, "a wrapped data key does not unwrap");
                    CryptoError::Unavailable
                })?,
        );
        if plain.len() != KEY_LEN {
            return Err(CryptoError::Unavailable);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain);
        Ok(Arc::new(key))
    }

    fn wrap_key(
        &self,
        master: &MasterKey,
        user: Uuid,
        key: &[u8; KEY_LEN],
    ) -> Result<WrappedKey, CryptoError> {
        let nonce = random_bytes::<NONCE_LEN>();
        let wrapped_key = master
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: key,
                    aad: &wrap_aad(user),
                },
            )
            .map_err(|_| CryptoError::Unavailable)?;
        Ok(WrappedKey {
            user_id: user,
            wrapped_key,
            wrap_nonce: nonce.to_vec(),
            master_key_id: master.id.clone(),
            key_version: 1,
            hash_key: None,
            retired_key: None,
            retired_at: None,
        })
    }

    /// `key` wrapped for `user` under `master`, as the optional part of a row.
    fn wrap_part(
        &self,
        master: &MasterKey,
        user: Uuid,
        key: &[u8; KEY_LEN],
    ) -> Result<Wrapped, CryptoError> {
        let wrapped = self.wrap_key(master, user, key)?;
        Ok(Wrapped {
            key: wrapped.wrapped_key,
            nonce: wrapped.wrap_nonce,
        })
    }

    /// A row holding `keys` for `user`, every key wrapped under `master`.
    fn wrap_keys(
        &self,
        master: &MasterKey,
        user: Uuid,
        keys: &UserKeys,
        key_version: i64,
        retired_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<WrappedKey, CryptoError> {
        let mut row = self.wrap_key(master, user, &keys.seal)?;
        row.key_version = key_version;
        // A hash key equal to the data key is not stored apart (as before any rotation).
        if keys.hash[..] != keys.seal[..] {
            row.hash_key = Some(self.wrap_part(master, user, &keys.hash)?);
        }
        row.retired_key = keys
            .retired
            .as_ref()
            .map(|k| self.wrap_part(master, user, k))
            .transpose()?;
        row.retired_at = retired_at;
        Ok(row)
    }

    /// The user's keys; with `create`, a data key is made if they have none.
    async fn data_key(&self, user: Uuid, create: bool) -> Result<CachedKeys, CryptoError> {
        if let Some(key) = self.cached(user) {
            return Ok(key);
        }
        self.stored_keys(user, create).await
    }

    /// The user's keys as stored now (remembered for the next calls).
    async fn stored_keys(&self, user: Uuid, create: bool) -> Result<CachedKeys, CryptoError> {
        let db = &self.inner.db;
        let unavailable = |error: crate::db::DbError| {
            tracing::error!(%error, "the key store failed");
            CryptoError::Unavailable
        };
        let mut row = db.wrapped_data_key(user).await.map_err(unavailable)?;
        if row.is_none() && create {
            let fresh = Zeroizing::new(random_bytes::<KEY_LEN>());
            let wrapped = self.wrap_key(&self.inner.masters.current, user, &fresh)?;
            db.insert_data_key_if_absent(&wrapped)
                .await
                .map_err(unavailable)?;
            // Whoever won the insert, everyone uses the stored key.
            row = db.wrapped_data_key(user).await.map_err(unavailable)?;
        }
        let Some(row) = row else {
            return Err(CryptoError::KeyDestroyed);
        };
        let keys = Arc::new(self.unwrap_keys(&row)?);
        self.remember(user, keys.clone());
        Ok(keys)
    }

    /// Seals `plaintext` for `user` and `purpose`.
    ///
    /// # Errors
    /// [`CryptoError::KeyDestroyed`] when the account is deleted or unknown,
    /// [`CryptoError::Unavailable`] when the key store fails.
    pub async fn seal(
        &self,
        user: Uuid,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let keys = self.data_key(user, true).await?;
        seal_with(&keys.seal, user, purpose, plaintext)
    }

    /// Opens a value sealed by [`KeyService::seal`] for the same user and purpose.
    ///
    /// # Errors
    /// [`CryptoError::Tampered`] for a corrupt value or one sealed for another user or
    /// purpose, [`CryptoError::KeyDestroyed`] when the user has no data key,
    /// [`CryptoError::Unavailable`] when the key store fails.
    pub async fn open(
        &self,
        user: Uuid,
        purpose: &str,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, CryptoError> {
        if xnonce(&sealed.nonce).is_none() {
            return Err(CryptoError::Tampered);
        }
        let attempt = |keys: &UserKeys| {
            std::iter::once(&keys.seal)
                .chain(&keys.retired)
                .find_map(|key| open_with(key, user, purpose, sealed))
        };
        let (keys, was_cached) = match self.cached(user) {
            Some(keys) => (keys, true),
            None => (self.stored_keys(user, false).await?, false),
        };
        if let Some(plaintext) = attempt(&keys) {
            return Ok(plaintext);
        }
        // Sealed under a key this replica has not seen yet (another process rotated the
        // data key since it was cached): ask the store once more.
        if was_cached {
            let keys = self.stored_keys(user, false).await?;
            if let Some(plaintext) = attempt(&keys) {
                return Ok(plaintext);
            }
        }
        Err(CryptoError::Tampered)
    }

    /// Hex HMAC-SHA-256 under a key derived from the user's hash key (the data key until
    /// its first rotation, which sets it apart) and `purpose`.
    ///
    /// # Errors
    /// [`CryptoError::KeyDestroyed`] when the account is deleted or unknown,
    /// [`CryptoError::Unavailable`] when the key store fails.
    pub async fn keyed_hash(
        &self,
        user: Uuid,
        purpose: &str,
        data: &[u8],
    ) -> Result<String, CryptoError> {
        let keys = self.data_key(user, true).await?;
        let hkdf = Hkdf::<Sha256>::new(Some(HASH_DOMAIN), keys.hash.as_slice());
        let mut derived = Zeroizing::new([0u8; KEY_LEN]);
        hkdf.expand(purpose.as_bytes(), derived.as_mut_slice())
            .map_err(|_| CryptoError::Unavailable)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(derived.as_slice())
            .map_err(|_| CryptoError::Unavailable)?;
        mac.update(data);
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Destroys the user's data key: everything sealed for them becomes unreadable.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`].
    pub async fn shred(&self, user: Uuid) -> Result<(), CryptoError> {
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.evict(user);
        }
        let result = self.inner.db.delete_data_key(user).await;
        // Evict again: a concurrent read may have cached the key between the two steps.
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.evict(user);
        }
        result.map(|_| ()).map_err(|error| {
            tracing::error!(%error, "cannot delete a data key");
            CryptoError::Unavailable
        })
    }

    /// Re-wraps every data key not wrapped by the current master key, using the previous key
    /// that wrapped it. Sealed values are untouched: the data keys themselves do not change.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`] when the database fails.
    pub async fn rotate(&self) -> Result<RotationReport, CryptoError> {
        let db = &self.inner.db;
        let current = &self.inner.masters.current;
        let mut report = RotationReport::default();
        let mut after = None;
        loop {
            let batch = db
                .data_keys_not_under(&current.id, after, ROTATE_BATCH)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "cannot read data keys");
                    CryptoError::Unavailable
                })?;
            let Some(last) = batch.last() else { break };
            after = Some(last.user_id);
            for row in &batch {
                if !self.inner.masters.knows(&row.master_key_id) {
                    report.unknown_master += 1;
                    continue;
                }
                let keys = self.unwrap_keys(row)?;
                let rewrapped =
                    self.wrap_keys(current, row.user_id, &keys, row.key_version, row.retired_at)?;
                let replaced = db
                    .replace_data_key(&row.master_key_id, row.key_version, &rewrapped)
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "cannot store a re-wrapped data key");
                        CryptoError::Unavailable
                    })?;
                if replaced {
                    report.rewrapped += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
        Ok(report)
    }

    /// Warns when the database holds data keys wrapped by master keys that are not
    /// configured (those users' sealed data cannot be opened); returns how many.
    ///
    /// # Errors
    /// [`CryptoError::Unavailable`] when the database fails.
    pub async fn check_master_keys(&self) -> Result<i64, CryptoError> {
        let counts = self.inner.db.data_key_counts().await.map_err(|error| {
            tracing::error!(%error, "cannot count data keys");
            CryptoError::Unavailable
        })?;
        let mut unknown = 0;
        for (id, n) in counts {
            if !self.inner.masters.knows(&id) {
                tracing::error!(master_key_id = %id, keys = n, "data keys are wrapped by a master key that is not configured: set MINDFLOW_MASTER_KEY or MINDFLOW_PREVIOUS_MASTER_KEYS");
                unknown += n;
            } else if id != self.inner.masters.current.id {
                tracing::warn!(master_key_id = %id, keys = n, "data keys are wrapped by a previous master key: run `mindflow keys rotate`");
            }
        }
        Ok(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn database(dir: &Path) -> Database {
        let db = Database::connect(None, dir).await.expect("connect");
        db.migrate().await.expect("migrate");
        db
    }

    async fn user(db: &Database) -> Uuid {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        db.create_user(&email, "not-a-real-hash", None)
            .await
            .expect("user")
            .id
    }

    fn masters(seed: u8) -> MasterKeys {
        MasterKeys::new(&[seed; KEY_LEN], &[])
    }

    #[tokio::test]
    async fn seal_open_round_trip_with_fresh_nonces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        let alice = user(&db).await;
        let a = keys
            .seal(alice, "journal", b"dear diary")
            .await
            .expect("seal");
        let b = keys
            .seal(alice, "journal", b"dear diary")
            .await
            .expect("seal");
        assert_eq!(a.nonce.len(), NONCE_LEN);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(10).any(|w| w == b"dear diary"));
        assert_eq!(
            keys.open(alice, "journal", &a).await.expect("open"),
            b"dear diary"
        );
        // A second service (another replica, an empty cache) reads the same stored key.
        let other = KeyService::new(db.clone(), masters(1));
        assert_eq!(
            other.open(alice, "journal", &b).await.expect("open"),
            b"dear diary"
        );
    }

    #[tokio::test]
    async fn wrong_purpose_user_or_bytes_is_tampered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        let alice = user(&db).await;
        let bob = user(&db).await;
        let sealed = keys.seal(alice, "journal", b"secret").await.expect("seal");
        keys.seal(bob, "journal", b"bob's").await.expect("seal");
        assert_eq!(
            keys.open(alice, "safety_plan", &sealed).await,
            Err(CryptoError::Tampered)
        );
        assert_eq!(
            keys.open(bob, "journal", &sealed).await,
            Err(CryptoError::Tampered)
        );
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(
            keys.open(alice, "journal", &flipped).await,
            Err(CryptoError::Tampered)
        );
        let short = Sealed {
            ciphertext: sealed.ciphertext.clone(),
            nonce: vec![0; 12],
        };
        assert_eq!(
            keys.open(alice, "journal", &short).await,
            Err(CryptoError::Tampered)
        );
    }

    #[tokio::test]
    async fn open_without_a_key_and_shred_are_key_destroyed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        let alice = user(&db).await;
        let nothing = Sealed {
            ciphertext: vec![0; 32],
            nonce: vec![0; NONCE_LEN],
        };
        // Opening never creates a key.
        assert_eq!(
            keys.open(alice, "journal", &nothing).await,
            Err(CryptoError::KeyDestroyed)
        );
        let sealed = keys
            .seal(alice, "journal", b"gone soon")
            .await
            .expect("seal");
        keys.shred(alice).await.expect("shred");
        assert_eq!(
            keys.open(alice, "journal", &sealed).await,
            Err(CryptoError::KeyDestroyed)
        );
        assert!(db.wrapped_data_key(alice).await.expect("read").is_none());
        // Shredding twice is fine.
        keys.shred(alice).await.expect("shred again");
    }

    #[tokio::test]
    async fn no_key_is_created_for_an_unknown_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        assert_eq!(
            keys.seal(Uuid::new_v4(), "journal", b"x").await,
            Err(CryptoError::KeyDestroyed)
        );
    }

    #[tokio::test]
    async fn concurrent_first_seals_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let alice = user(&db).await;
        let services: Vec<KeyService> = (0..4)
            .map(|_| KeyService::new(db.clone(), masters(1)))
            .collect();
        let sealed = futures::future::join_all(
            services
                .iter()
                .map(|keys| keys.seal(alice, "journal", b"same")),
        )
        .await;
        for (i, sealed) in sealed.into_iter().enumerate() {
            let sealed = sealed.expect("seal");
            let reader = &services[(i + 1) % services.len()];
            assert_eq!(
                reader.open(alice, "journal", &sealed).await.expect("open"),
                b"same"
            );
        }
    }

    #[tokio::test]
    async fn keyed_hash_is_stable_per_user_and_purpose() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        let alice = user(&db).await;
        let bob = user(&db).await;
        let a1 = keys
            .keyed_hash(alice, "crisis", b"text")
            .await
            .expect("hash");
        let a2 = keys
            .keyed_hash(alice, "crisis", b"text")
            .await
            .expect("hash");
        let b1 = keys.keyed_hash(bob, "crisis", b"text").await.expect("hash");
        let a3 = keys
            .keyed_hash(alice, "journal", b"text")
            .await
            .expect("hash");
        assert_eq!(a1, a2);
        assert_eq!(a1.len(), 64);
        assert!(a1.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a1, b1);
        assert_ne!(a1, a3);
    }

    #[tokio::test]
    async fn rotation_rewraps_keys_and_keeps_data_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let old = [7u8; KEY_LEN];
        let new = [9u8; KEY_LEN];
        let before = KeyService::new(db.clone(), MasterKeys::new(&old, &[]));
        let alice = user(&db).await;
        let bob = user(&db).await;
        let sealed = before
            .seal(alice, "journal", b"written before")
            .await
            .expect("seal");
        let hash = before.keyed_hash(bob, "h", b"x").await.expect("hash");
        let old_id = before.current_master_key_id().to_owned();

        // Rolling: the new key is current, the old one still unwraps.
        let rolling = KeyService::new(db.clone(), MasterKeys::new(&new, &[old]));
        assert_ne!(rolling.current_master_key_id(), old_id);
        assert_eq!(
            rolling.open(alice, "journal", &sealed).await.expect("open"),
            b"written before"
        );
        let report = rolling.rotate().await.expect("rotate");
        assert_eq!(report.rewrapped, 2);
        assert_eq!(report.unknown_master, 0);
        let row = db
            .wrapped_data_key(alice)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.master_key_id, rolling.current_master_key_id());
        // Idempotent.
        assert_eq!(rolling.rotate().await.expect("rotate").rewrapped, 0);

        // The old key can now be dropped.
        let after = KeyService::new(db.clone(), MasterKeys::new(&new, &[]));
        assert_eq!(
            after.open(alice, "journal", &sealed).await.expect("open"),
            b"written before"
        );
        assert_eq!(after.keyed_hash(bob, "h", b"x").await.expect("hash"), hash);
        assert_eq!(after.check_master_keys().await.expect("check"), 0);

        // A service missing the master key cannot unwrap (and says so as Unavailable).
        let stranger = KeyService::new(db.clone(), MasterKeys::new(&[1u8; KEY_LEN], &[]));
        assert_eq!(
            stranger.open(alice, "journal", &sealed).await,
            Err(CryptoError::Unavailable)
        );
        assert_eq!(stranger.check_master_keys().await.expect("check"), 2);
        assert_eq!(stranger.rotate().await.expect("rotate").unknown_master, 2);
    }

    #[tokio::test]
    async fn a_wrapped_key_copied_to_another_user_does_not_unwrap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let keys = KeyService::new(db.clone(), masters(1));
        let alice = user(&db).await;
        let mallory = user(&db).await;
        keys.seal(alice, "journal", b"x").await.expect("seal");
        let mut row = db
            .wrapped_data_key(alice)
            .await
            .expect("read")
            .expect("row");
        row.user_id = mallory;
        assert!(db.insert_data_key_if_absent(&row).await.expect("insert"));
        let fresh = KeyService::new(db.clone(), masters(1));
        assert_eq!(
            fresh.seal(mallory, "journal", b"x").await,
            Err(CryptoError::Unavailable)
        );
    }

    #[test]
    fn master_keys_load_validate_and_never_show_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = STANDARD.encode([3u8; KEY_LEN]);
        let loaded = MasterKeys::load(Some(&key), None, dir.path()).expect("load");
        let expected = hex::encode(Sha256::digest([3u8; KEY_LEN]))[..12].to_owned();
        assert_eq!(loaded.current_id(), expected);
        assert!(!format!("{loaded:?}").contains(&key));
        assert_eq!(
            MasterKeys::load(Some("not base64!"), None, dir.path()).err(),
            Some(MasterKeyError::NotBase64("MINDFLOW_MASTER_KEY"))
        );
        let short = STANDARD.encode([3u8; 16]);
        assert_eq!(
            MasterKeys::load(Some(&key), Some(&short), dir.path()).err(),
            Some(MasterKeyError::WrongLength("MINDFLOW_PREVIOUS_MASTER_KEYS"))
        );
        let previous = format!("{}, {}", STANDARD.encode([4u8; KEY_LEN]), key);
        let rolled = MasterKeys::load(Some(&key), Some(&previous), dir.path()).expect("load");
        assert_eq!(
            rolled.previous.len(),
            1,
            "the current key is not listed twice"
        );

        // Development: generated once, owner-only, then reused.
        let generated = MasterKeys::load(None, None, dir.path()).expect("generate");
        let again = MasterKeys::load(None, None, dir.path()).expect("reuse");
        assert_eq!(generated.current_id(), again.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master-key"))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_cache_is_bounded_and_expires() {
        let mut cache = KeyCache {
            ttl: CACHE_TTL,
            entries: HashMap::new(),
        };
        let keys = |byte: u8| {
            let key: DataKey = Arc::new(Zeroizing::new([byte; KEY_LEN]));
            Arc::new(UserKeys {
                seal: key.clone(),
                hash: key,
                retired: None,
            })
        };
        for _ in 0..CACHE_CAPACITY + 10 {
            cache.put(Uuid::new_v4(), keys(0));
        }
        assert_eq!(cache.entries.len(), CACHE_CAPACITY);
        let user = Uuid::new_v4();
        cache.put(user, keys(1));
        assert!(cache.get(user).is_some());
        if let Some(entry) = cache.entries.get_mut(&user) {
            entry.1 = Instant::now().checked_sub(CACHE_TTL * 2).unwrap_or(entry.1);
        }
        assert!(cache.get(user).is_none());
    }
}
