//! Running a content provider (the `content-provider` world): one call of its `items`
//! export, under the component's fuel, deadline and memory cap, and an output cap; the
//! catalogue is then checked by [`crate::content::validate`].
//!
//! The call happens once per version, when it is prepared (on the blocking pool, like
//! compiling): a provider that traps, loops, exhausts its memory or answers something absurd
//! fails its own install or load, and nothing else.

use std::sync::Arc;

use thiserror::Error;

use super::pure::{PureCallError, PureState, classify, pure_store};
use crate::content::validate::{self, Catalogue, CatalogueError};
use crate::content::world::ContentProviderPre;
use crate::manifest::Limits;

/// Why a provider's catalogue could not be had.
#[derive(Debug, Error)]
pub enum CatalogueCallError {
    /// The call failed (trap, fuel, deadline, memory, output cap).
    #[error("`items` failed: {0}")]
    Call(#[from] PureCallError),
    /// The catalogue was refused.
    #[error("the catalogue was refused: {0}")]
    Refused(#[from] CatalogueError),
}

/// A prepared content-provider version and its checked catalogue.
#[derive(Clone)]
pub struct ContentProviderComponent {
    /// The catalogue, read and checked when the version was prepared.
    catalogue: Arc<Catalogue>,
}

impl ContentProviderComponent {
    /// Calls `items` on a fresh instance and checks the answer.
    ///
    /// # Errors
    /// [`CatalogueCallError`].
    pub(crate) fn load(
        pre: &ContentProviderPre<PureState>,
        limits: Limits,
    ) -> Result<Self, CatalogueCallError> {
        let items = futures::executor::block_on(async {
            let (mut store, exceeded) = pure_store(
                pre.engine(),
                limits.memory_bytes,
                limits.timeout_ms,
                limits.fuel,
            )?;
            let result = async {
                let instance = pre.instantiate_async(&mut store).await?;
                instance
                    .mindflow_platform_catalogue()
                    .call_items(&mut store)
                    .await
            }
            .await;
            result.map_err(|error| classify(&error, &exceeded))
        })?;
        let size: usize = items.iter().map(validate::text_bytes).sum();
        if let Some(cap) = limits.max_output_bytes
            && size > cap
        {
            return Err(PureCallError::OutputTooLarge { size, cap }.into());
        }
        let catalogue = validate::check(items)?;
        Ok(Self {
            catalogue: Arc::new(catalogue),
        })
    }

    /// The version's checked catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
}
