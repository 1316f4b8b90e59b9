//! `mindflow:platform/context`: who the current request is for.
//!
//! Grants: the authenticated caller's id, tier, time zone, locale and consents, and the
//! request id. Never gives: a way to name or act as another user; the identity comes from the
//! access token the edge verified, never from anything the component or the body says.

use wasmtime::component::Linker;

use super::bindings::mindflow::platform::{context, types};
use super::{CapabilityHost, Has, HostCapability, View, view};
use crate::manifest::Capability;

/// `mindflow:platform/types`: the types the other interfaces share (no functions). Linked
/// for every domain service.
pub struct SharedTypes;

impl<T: CapabilityHost> HostCapability<T> for SharedTypes {
    fn grant(&self) -> Option<Capability> {
        None
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        types::add_to_linker::<T, Has<()>>(linker, view)
    }
}

/// The capability.
pub struct Context;

impl<T: CapabilityHost> HostCapability<T> for Context {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Context)
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        context::add_to_linker::<T, Has<()>>(linker, view)
    }
}

impl types::Host for View<'_, ()> {}

impl context::Host for View<'_, ()> {
    #[tracing::instrument(level = "debug", name = "capability.context.current_user", skip_all)]
    async fn current_user(&mut self) -> wasmtime::Result<Option<context::User>> {
        Ok(self.ctx.caller.as_ref().map(|caller| context::User {
            id: caller.user_id.to_string(),
            tier: if caller.tier == "premium" {
                types::Tier::Premium
            } else {
                types::Tier::Free
            },
            timezone: caller.timezone.clone(),
            locale: caller.locale.clone(),
            consents: caller.consents.clone(),
        }))
    }

    #[tracing::instrument(level = "debug", name = "capability.context.request_id", skip_all)]
    async fn request_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.request_id.clone())
    }
}
