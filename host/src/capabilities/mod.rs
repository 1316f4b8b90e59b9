//! Host capabilities granted to components.
//!
//! Every capability is one module with the same lifecycle, the way Spin's factors are:
//!
//! 1. **Install** ([`HostCapability::prepare`]): when a component version is prepared, each
//!    capability its manifest entry grants checks the entry's configuration and puts what
//!    every request of that version will share (its configuration, handles to host
//!    services) into the version's [`CapabilityConfigs`].
//! 2. **Link** ([`HostCapability::link`]): the capability adds its WIT imports to the
//!    version's linker. Nothing else is linked, so an ungranted import fails at install.
//! 3. **Request**: a call into the capability gets a [`View`]: the request's
//!    [`RequestContext`] (who calls, the request id) and the capability's own configuration.
//!    The user always comes from the context the edge set, never from the guest.
//!
//! [`provided`] is the one registration list the runtime composes from: linking, the
//! install-time checks and "is this capability provided by this host" all read it. Adding a
//! capability is a module here and a line in that list (ARCHITECTURE.md walks through it).
//!
//! Each module starts by saying what it grants and what it never gives. Outbound HTTP
//! ([`outbound`]) is the exception to the shape: it is `wasi:http`'s hook, part of every
//! domain service's world, and the runtime installs its policy in each store.

pub mod bindings;
pub mod context;
pub mod crisis;
pub mod crypto;
pub mod llm;
pub mod ml;
pub mod outbound;
pub mod storage;
pub mod variables;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::identity::Caller;
use crate::manifest::{Capability, ComponentDecl};

/// The host services capabilities reach, created once at start-up, before any component
/// is prepared. Cheap to clone.
#[derive(Clone)]
pub struct HostServices {
    /// The database.
    pub db: crate::db::Database,
    /// Envelope encryption under per-user data keys.
    pub keys: crate::crypto::KeyService,
    /// Crisis assessment with the active crisis rules.
    pub crisis: crate::crisis::service::CrisisService,
    /// The sentence encoder behind `ml.embed` and the semantic crisis signal.
    pub semantic: crate::crisis::semantic::Semantic,
    /// The language-model service behind `llm` (unconfigured until [`Self::with_llm`]).
    pub llm: crate::llm::Llm,
    /// Where wearable adapters' provider origins go instead (`MINDFLOW_WEARABLE_ORIGINS`).
    pub wearable_origins: crate::runtime::adapter::OriginMap,
}

impl HostServices {
    /// The services over `db` with `keys`. The crisis service starts with no active rules:
    /// the registry publishes each crisis-rules version it activates.
    ///
    /// # Errors
    /// When `crisis_threshold` is not a severity name.
    pub fn new(
        db: crate::db::Database,
        keys: crate::crypto::KeyService,
        crisis_threshold: &str,
        semantic: crate::crisis::semantic::Semantic,
    ) -> Result<Self, String> {
        let crisis = crate::crisis::service::CrisisService::new(
            crate::crisis::rules::ActiveRules::default(),
            db.clone(),
            keys.clone(),
            crisis_threshold,
            semantic.clone(),
        )?;
        Ok(Self {
            db,
            keys,
            crisis,
            semantic,
            llm: crate::llm::Llm::unconfigured("no language model is configured on this host"),
            wearable_origins: crate::runtime::adapter::OriginMap::default(),
        })
    }

    /// The services with `llm` as the language-model service.
    #[must_use]
    pub fn with_llm(mut self, llm: crate::llm::Llm) -> Self {
        self.llm = llm;
        self
    }

    /// The services with wearable provider origins sent elsewhere (sandboxes, simulators).
    #[must_use]
    pub fn with_wearable_origins(mut self, origins: crate::runtime::adapter::OriginMap) -> Self {
        self.wearable_origins = origins;
        self
    }
}

/// What a capability is given at install besides the component's manifest entry.
pub struct Install<'a> {
    /// The host services.
    pub services: &'a HostServices,
    /// The application variables' values (`[variables]`).
    pub app_variables: &'a HashMap<String, String>,
}

/// What every capability sees of the request its store serves. The runtime sets the caller
/// and the request id when a request takes an instance.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// The authenticated caller (`None` on a route without authentication).
    pub caller: Option<Caller>,
    /// The request's id.
    pub request_id: String,
    /// The last text this request scored with `ml.sentiment`, and its score: a component
    /// that scores a note and then has it assessed (which uses the score as a signal) pays
    /// for the lexicon model once.
    pub last_sentiment: Option<(String, f32)>,
    /// The request's open `llm` completion streams (dropped with the request).
    pub llm_streams: llm::Streams,
}

/// What the granted capabilities prepared for one component version, by type: shared by
/// every request of the version (a store holds an `Arc` of it).
#[derive(Default)]
pub struct CapabilityConfigs(Vec<(TypeId, Box<dyn Any + Send + Sync>)>);

impl CapabilityConfigs {
    /// Adds (or replaces) a capability's configuration.
    pub fn insert<C: Any + Send + Sync>(&mut self, config: C) {
        self.0.retain(|(id, _)| *id != TypeId::of::<C>());
        self.0.push((TypeId::of::<C>(), Box::new(config)));
    }

    /// The configuration of type `C`, if a capability prepared one.
    pub fn get<C: Any>(&self) -> Option<&C> {
        self.0
            .iter()
            .find(|(id, _)| *id == TypeId::of::<C>())
            .and_then(|(_, config)| config.downcast_ref())
    }
}

/// A store's data, as capabilities reach it (the runtime's per-request state implements it).
pub trait CapabilityHost: Send + 'static {
    /// The request's context and the component version's prepared capabilities.
    fn capability_parts(&mut self) -> (&mut RequestContext, &CapabilityConfigs);
}

/// What a capability's WIT implementation works on during one call: the request's context
/// and the capability's own configuration `C`.
pub struct View<'a, C> {
    /// The request's context.
    pub ctx: &'a mut RequestContext,
    config: Option<&'a C>,
}

impl<C> View<'_, C> {
    /// The capability's configuration.
    ///
    /// # Errors
    /// When the capability was linked without being prepared (a host bug): the guest traps,
    /// the host keeps serving.
    pub fn config(&self) -> wasmtime::Result<&C> {
        self.config.ok_or_else(|| {
            wasmtime::format_err!(
                "capability linked without its configuration ({})",
                std::any::type_name::<C>()
            )
        })
    }
}

/// The [`HasData`] of a capability whose configuration is `C`: its imports see a [`View`].
pub struct Has<C>(PhantomData<C>);

impl<C: Send + Sync + 'static> HasData for Has<C> {
    type Data<'a> = View<'a, C>;
}

/// The projection every capability links with: the store's context and `C`.
pub fn view<T: CapabilityHost, C: Any + Send + Sync>(host: &mut T) -> View<'_, C> {
    let (ctx, configs) = host.capability_parts();
    View {
        ctx,
        config: configs.get::<C>(),
    }
}

/// One host capability, in the shape all of them share.
pub trait HostCapability<T: CapabilityHost>: Sync {
    /// The manifest grant that enables it (`tool.mindflow.capabilities`); `None` when every
    /// domain service gets it.
    fn grant(&self) -> Option<Capability>;

    /// Install: checks the component's configuration for this capability and adds what its
    /// requests will share to `configs`. A capability that needs nothing but the request's
    /// context keeps this default.
    ///
    /// # Errors
    /// A message naming what is wrong; the install fails with it.
    fn prepare(
        &self,
        _decl: &ComponentDecl,
        _install: &Install<'_>,
        _configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Adds the capability's imports to a component version's linker.
    ///
    /// # Errors
    /// A wasmtime linking error (a host bug: names clash).
    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()>;
}

/// Every capability this host provides, in link order: the one registration list.
pub fn provided<T: CapabilityHost>() -> [&'static dyn HostCapability<T>; 8] {
    [
        &context::SharedTypes,
        &context::Context,
        &variables::Variables,
        &storage::Storage,
        &crypto::Crypto,
        &ml::Ml,
        &crisis::Crisis,
        &llm::LlmCapability,
    ]
}

/// The capabilities of `list` a component's manifest entry grants (plus those every domain
/// service gets).
pub fn granted<'a, T: CapabilityHost>(
    list: &'a [&'static dyn HostCapability<T>],
    decl: &'a ComponentDecl,
) -> impl Iterator<Item = &'static dyn HostCapability<T>> + 'a {
    list.iter()
        .copied()
        .filter(|capability| capability.grant().is_none_or(|g| decl.grants.allows(g)))
}

/// Prepares every capability of `list` that a component version is granted.
///
/// # Errors
/// The first capability's message.
pub fn prepare_granted<T: CapabilityHost>(
    list: &[&'static dyn HostCapability<T>],
    decl: &ComponentDecl,
    install: &Install<'_>,
) -> Result<Arc<CapabilityConfigs>, String> {
    let mut configs = CapabilityConfigs::default();
    for capability in granted(list, decl) {
        capability.prepare(decl, install, &mut configs)?;
    }
    Ok(Arc::new(configs))
}

/// Links every capability of `list` that a component version is granted.
///
/// # Errors
/// A wasmtime linking error.
pub fn link_granted<T: CapabilityHost>(
    list: &[&'static dyn HostCapability<T>],
    decl: &ComponentDecl,
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    for capability in granted(list, decl) {
        capability.link(linker)?;
    }
    Ok(())
}

#[cfg(test)]
mod walk_through;
