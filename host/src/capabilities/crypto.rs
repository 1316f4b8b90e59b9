//! `mindflow:platform/crypto`: seal, open and keyed hashes under the caller's data key.
//!
//! Grants: envelope encryption for the store's caller, under the purposes the component owns
//! ([`mindflow_contract::purpose::owner`]: its own name and `name/…`, plus the journal's
//! older names for the journal). Never gives: keys, a way to seal or open for another user
//! (the user is the store's caller, never a parameter), or another owner's purpose: a
//! component that asks to open a safety plan (the host's) or another component's values, or
//! to hash guesses under another's purpose, traps, and only its own request fails.

use wasmtime::component::Linker;

use super::bindings::mindflow::platform::crypto as wit;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};
use crate::crypto::{self, KeyService};
use crate::identity::Caller;
use crate::manifest::{Capability, ComponentDecl};

/// The capability.
pub struct Crypto;

/// What `crypto` requests share: the key service, and whose purposes they may use.
struct CryptoGrant {
    keys: KeyService,
    component: String,
}

impl CryptoGrant {
    /// The key service, if the component owns `purpose`; an error that traps the guest if
    /// not.
    fn keys_for(&self, purpose: &str) -> wasmtime::Result<KeyService> {
        if mindflow_contract::purpose::may_use(&self.component, purpose) {
            Ok(self.keys.clone())
        } else {
            tracing::warn!(component = %self.component, purpose, "a component used a crypto purpose it does not own");
            Err(wasmtime::Error::msg(format!(
                "component `{}` may not use the crypto purpose `{purpose}`",
                self.component
            )))
        }
    }
}

impl<T: CapabilityHost> HostCapability<T> for Crypto {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Crypto)
    }

    fn prepare(
        &self,
        decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        configs.insert(CryptoGrant {
            keys: install.services.keys.clone(),
            component: decl.name.clone(),
        });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, Has<CryptoGrant>>(linker, view)
    }
}

fn to_wit(error: crypto::CryptoError) -> wit::CryptoError {
    match error {
        crypto::CryptoError::KeyDestroyed => wit::CryptoError::KeyDestroyed,
        crypto::CryptoError::Tampered => wit::CryptoError::Tampered,
        crypto::CryptoError::Unavailable => wit::CryptoError::Unavailable,
    }
}

/// `seal` for the caller (if any).
pub(crate) async fn seal(
    keys: &KeyService,
    caller: Option<&Caller>,
    purpose: &str,
    plaintext: &[u8],
) -> Result<wit::Sealed, wit::CryptoError> {
    let caller = caller.ok_or(wit::CryptoError::NoUser)?;
    keys.seal(caller.user_id, purpose, plaintext)
        .await
        .map(|sealed| wit::Sealed {
            ciphertext: sealed.ciphertext,
            nonce: sealed.nonce,
        })
        .map_err(to_wit)
}

/// `open` for the caller (if any).
pub(crate) async fn open(
    keys: &KeyService,
    caller: Option<&Caller>,
    purpose: &str,
    sealed: wit::Sealed,
) -> Result<Vec<u8>, wit::CryptoError> {
    let caller = caller.ok_or(wit::CryptoError::NoUser)?;
    let sealed = crypto::Sealed {
        ciphertext: sealed.ciphertext,
        nonce: sealed.nonce,
    };
    keys.open(caller.user_id, purpose, &sealed)
        .await
        .map_err(to_wit)
}

/// `keyed-hash` for the caller (if any).
pub(crate) async fn keyed_hash(
    keys: &KeyService,
    caller: Option<&Caller>,
    purpose: &str,
    data: &[u8],
) -> Result<String, wit::CryptoError> {
    let caller = caller.ok_or(wit::CryptoError::NoUser)?;
    keys.keyed_hash(caller.user_id, purpose, data)
        .await
        .map_err(to_wit)
}

impl wit::Host for View<'_, CryptoGrant> {
    #[tracing::instrument(level = "debug", name = "capability.crypto.seal", skip_all)]
    async fn seal(
        &mut self,
        purpose: String,
        plaintext: Vec<u8>,
    ) -> wasmtime::Result<Result<wit::Sealed, wit::CryptoError>> {
        let keys = self.config()?.keys_for(&purpose)?;
        Ok(seal(&keys, self.ctx.caller.as_ref(), &purpose, &plaintext).await)
    }

    #[tracing::instrument(level = "debug", name = "capability.crypto.open", skip_all)]
    async fn open(
        &mut self,
        purpose: String,
        sealed: wit::Sealed,
    ) -> wasmtime::Result<Result<Vec<u8>, wit::CryptoError>> {
        let keys = self.config()?.keys_for(&purpose)?;
        Ok(open(&keys, self.ctx.caller.as_ref(), &purpose, sealed).await)
    }

    #[tracing::instrument(level = "debug", name = "capability.crypto.keyed_hash", skip_all)]
    async fn keyed_hash(
        &mut self,
        purpose: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<String, wit::CryptoError>> {
        let keys = self.config()?.keys_for(&purpose)?;
        Ok(keyed_hash(&keys, self.ctx.caller.as_ref(), &purpose, &data).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKeys;
    use crate::db::Database;

    async fn setup(dir: &std::path::Path) -> (KeyService, Caller, Caller) {
        let db = Database::connect(None, dir).await.expect("connect");
        db.migrate().await.expect("migrate");
        let keys = KeyService::new(db.clone(), MasterKeys::new(&[5; 32], &[]));
        let mut callers = Vec::new();
        for name in ["alice", "bob"] {
            let user = db
                .create_user(&format!("{name}@example.com"), "hash", None)
                .await
                .expect("user");
            callers.push(Caller {
                user_id: user.id,
                tier: "free".into(),
                timezone: "UTC".into(),
                locale: "en-US".into(),
                consents: Vec::new(),
            });
        }
        let bob = callers.pop().expect("bob");
        let alice = callers.pop().expect("alice");
        (keys, alice, bob)
    }

    #[tokio::test]
    async fn acts_for_the_caller_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (keys, alice, bob) = setup(dir.path()).await;
        let sealed = seal(&keys, Some(&alice), "journal", b"hello")
            .await
            .expect("seal");
        assert_eq!(
            open(&keys, Some(&alice), "journal", sealed.clone())
                .await
                .expect("open"),
            b"hello"
        );
        seal(&keys, Some(&bob), "journal", b"x")
            .await
            .expect("seal");
        assert!(matches!(
            open(&keys, Some(&bob), "journal", sealed.clone()).await,
            Err(wit::CryptoError::Tampered)
        ));
        assert!(matches!(
            open(&keys, Some(&alice), "safety_plan", sealed.clone()).await,
            Err(wit::CryptoError::Tampered)
        ));
        assert!(matches!(
            open(&keys, None, "journal", sealed).await,
            Err(wit::CryptoError::NoUser)
        ));
        assert!(matches!(
            seal(&keys, None, "journal", b"x").await,
            Err(wit::CryptoError::NoUser)
        ));
        assert!(matches!(
            keyed_hash(&keys, None, "journal", b"x").await,
            Err(wit::CryptoError::NoUser)
        ));
        let a = keyed_hash(&keys, Some(&alice), "crisis", b"same")
            .await
            .expect("hash");
        let b = keyed_hash(&keys, Some(&bob), "crisis", b"same")
            .await
            .expect("hash");
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn shredded_keys_are_key_destroyed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (keys, alice, _) = setup(dir.path()).await;
        let sealed = seal(&keys, Some(&alice), "journal", b"bye")
            .await
            .expect("seal");
        keys.shred(alice.user_id).await.expect("shred");
        assert!(matches!(
            open(&keys, Some(&alice), "journal", sealed).await,
            Err(wit::CryptoError::KeyDestroyed)
        ));
    }
}
