//! Wearables (issue 15): providers run as sandboxed adapters (`wit/wearable.wit`); the host
//! does everything that needs a secret or a user.
//!
//! - [`oauth`]: the authorization URL (single-use `state` bound to the user, PKCE), code
//!   exchange, refresh and revocation, from the endpoints an adapter declares and the client
//!   credentials in the host's environment.
//! - [`sync`]: the durable scheduler (state on each connection row, leased so one replica
//!   syncs a connection at a time), backfill on connect, incremental syncs, back-off with
//!   jitter, refresh on 401, `reauth_required` when a refresh is refused, several
//!   connections at once per replica.
//! - [`budget`]: the adapter's per-user and the operator's per-provider request budgets,
//!   shared by the replicas through the database.
//! - [`webhooks`]: signature checks by the adapter's declared scheme, handshakes, replay
//!   protection.
//! - [`normalise`]: what an adapter returns, checked and bounded before it is stored.
//! - [`merge`]: one value per day and metric across providers, by the user's primary source
//!   or the documented priority; HRV kinds never pooled.
//! - [`conformance`]: what an adapter must declare to be installed.
//! - [`roundtrip`]: the install check's replay of the adapter's own conformance fixture
//!   against its real `fetch` (and `identify`, `read-notification`, `upload`), with no
//!   network.
//!
//! Tokens are sealed with the user's data key under a purpose only the host may use
//! (`wearables/token`) and never enter a sandbox: the adapter's outbound requests get the
//! token added by the host (`runtime::adapter`).

pub mod budget;
pub mod conformance;
pub mod merge;
pub mod normalise;
pub mod oauth;
pub mod roundtrip;
pub mod sync;
pub mod webhooks;
pub mod world;

use std::sync::Arc;

use uuid::Uuid;

use crate::crypto::{KeyService, Sealed};
use crate::registry::ComponentRegistry;
use crate::runtime::Runnable;
use crate::runtime::adapter::AdapterComponent;
use crate::secrets::Secret;
use mindflow_contract::purpose::WEARABLE_TOKEN;

/// The active adapter whose provider id is `provider`.
pub fn adapter(registry: &ComponentRegistry, provider: &str) -> Option<AdapterComponent> {
    registry
        .active()
        .values()
        .find_map(|active| match &active.prepared.runnable {
            Runnable::WearableAdapter(adapter) if adapter.info.id == provider => {
                Some(adapter.clone())
            }
            _ => None,
        })
}

/// Every active adapter, by provider id.
pub fn adapters(registry: &ComponentRegistry) -> Vec<AdapterComponent> {
    let mut all: Vec<AdapterComponent> = registry
        .active()
        .values()
        .filter_map(|active| match &active.prepared.runnable {
            Runnable::WearableAdapter(adapter) => Some(adapter.clone()),
            _ => None,
        })
        .collect();
    all.sort_by(|a, b| a.info.id.cmp(&b.info.id));
    all
}

/// Seals a token for `user`: nonce ‖ ciphertext ([`Sealed::joined`]).
///
/// # Errors
/// As [`KeyService::seal`].
pub async fn seal_token(
    keys: &KeyService,
    user: Uuid,
    token: &Secret,
) -> Result<Vec<u8>, crate::crypto::CryptoError> {
    Ok(keys
        .seal(user, WEARABLE_TOKEN, token.expose().as_bytes())
        .await?
        .joined())
}

/// Seals the tokens a token endpoint issued, for storing on `user`'s connection.
///
/// # Errors
/// As [`KeyService::seal`].
pub async fn seal_tokens(
    keys: &KeyService,
    user: Uuid,
    tokens: &oauth::Tokens,
) -> Result<crate::db::wearables::SealedTokens, crate::crypto::CryptoError> {
    Ok(crate::db::wearables::SealedTokens {
        access: seal_token(keys, user, &tokens.access).await?,
        refresh: match &tokens.refresh {
            Some(token) => Some(seal_token(keys, user, token).await?),
            None => None,
        },
        expires_at: tokens.expires_at,
        scopes: tokens.scopes.clone(),
    })
}

/// Opens a token sealed by [`seal_token`].
///
/// # Errors
/// As [`KeyService::open`]; [`crate::crypto::CryptoError::Tampered`] for a value too short.
pub async fn open_token(
    keys: &KeyService,
    user: Uuid,
    sealed: &[u8],
) -> Result<Secret, crate::crypto::CryptoError> {
    let sealed = Sealed::split(sealed).ok_or(crate::crypto::CryptoError::Tampered)?;
    let plain = keys.open(user, WEARABLE_TOKEN, &sealed).await?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| crate::crypto::CryptoError::Tampered)
}

/// What the wearables module needs, shared by the edge, the scheduler and webhooks.
#[derive(Clone)]
pub struct Wearables {
    /// The database.
    pub db: crate::db::Database,
    /// Data keys.
    pub keys: KeyService,
    /// The registry (active adapters).
    pub registry: Arc<ComponentRegistry>,
    /// The host's HTTP client for token endpoints.
    pub http: reqwest::Client,
    /// Where provider origins go instead.
    pub origins: crate::runtime::adapter::OriginMap,
    /// Scheduler settings.
    pub settings: sync::SyncSettings,
}
