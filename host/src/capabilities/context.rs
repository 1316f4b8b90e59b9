//! `mindflow:platform/context`: who the current request is for.
//!
//! Grants: the authenticated caller's id, tier, time zone, locale and consents, and the
//! request id. Never gives: a way to name or act as another user; the identity comes from the
//! access token the edge verified, never from anything the component or the body says.

use crate::runtime::bindings::host::fermyon::spin::variables;
use crate::runtime::bindings::host::mindflow::platform::{context, types};
use crate::runtime::http::RequestState;

impl types::Host for RequestState {}

impl context::Host for RequestState {
    async fn current_user(&mut self) -> wasmtime::Result<Option<context::User>> {
        Ok(self.caller.as_ref().map(|caller| context::User {
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

    async fn request_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.request_id.clone())
    }
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if !crate::manifest::is_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(match self.variables.get(&name) {
            Some(Ok(value)) => Ok(value.clone()),
            Some(Err(message)) => Err(variables::Error::Provider(message.clone())),
            None => Err(variables::Error::Undefined(format!(
                "no variable named `{name}` for this component"
            ))),
        })
    }
}
