//! Spin's `fermyon:spin/variables`: component variables resolved from templates over
//! application variables, so unmodified Spin components read their configuration.
//!
//! Grants: the values of the variables the component's manifest entry declares.
//! Never gives: other components' variables, or application variables not referenced.
//! Application variable values come from the environment (`SPIN_VARIABLE_<NAME>`, as in
//! Spin's environment provider) or the declared default; the templates and their resolution
//! are the manifest's ([`crate::manifest::variables`]).

use std::collections::HashMap;

use wasmtime::component::Linker;

use super::bindings::fermyon::spin::variables;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};
use crate::manifest::{Capability, ComponentDecl};

/// The capability (every domain service may read its own variables; no grant needed).
pub struct Variables;

/// A component's variables, rendered at install: name → value, or why it has none.
struct ComponentVariables(HashMap<String, Result<String, String>>);

impl<T: CapabilityHost> HostCapability<T> for Variables {
    fn grant(&self) -> Option<Capability> {
        None
    }

    fn prepare(
        &self,
        decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        configs.insert(ComponentVariables(
            crate::manifest::variables::resolve_component_variables(
                &decl.variables,
                install.app_variables,
            ),
        ));
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        variables::add_to_linker::<T, Has<ComponentVariables>>(linker, view)
    }
}

impl variables::Host for View<'_, ComponentVariables> {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if !crate::manifest::is_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(match self.config()?.0.get(&name) {
            Some(Ok(value)) => Ok(value.clone()),
            Some(Err(message)) => Err(variables::Error::Provider(message.clone())),
            None => Err(variables::Error::Undefined(format!(
                "no variable named `{name}` for this component"
            ))),
        })
    }
}
