//! Turning component bytes into something ready to run: compile (through the cache),
//! validate the imports against the component's world and grants, link exactly the granted
//! capabilities, and pre-instantiate.

use std::sync::Arc;

use thiserror::Error;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::Runtime;
use super::content::ContentProviderComponent;
use super::http::{HttpComponent, RequestState};
use super::inspect::{ComponentImport, component_imports, custom_section};
use super::pure::{PureState, RulesComponent};
use crate::capabilities::outbound::OutboundPolicy;
use crate::capabilities::{self, Install};
use crate::content::world::ContentProviderPre;
use crate::crisis::rules::world::CrisisRulesPre;
use crate::crisis::semantic::Semantic;
use crate::manifest::{Capability, ComponentDecl, ComponentKind};

/// The custom section in which a domain service ships its part of the OpenAPI document.
pub const OPENAPI_SECTION: &str = "mindflow:openapi";

/// Why a component cannot be installed.
#[derive(Debug, Error)]
pub enum PrepareError {
    /// The bytes are not a valid component (or do not compile).
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// A capability refused the component's configuration.
    #[error("capability `{capability}`: {reason}")]
    Capability {
        /// The capability's interface name.
        capability: &'static str,
        /// Why.
        reason: String,
    },
    /// An import the component may not have.
    #[error("import `{import}` refused: {reason}")]
    Import {
        /// The import's full name.
        import: String,
        /// Why.
        reason: String,
    },
    /// The component does not fit its world (a missing or mistyped export).
    #[error("does not implement the `{world}` world: {reason}")]
    World {
        /// The world's name.
        world: &'static str,
        /// What is missing.
        reason: String,
    },
    /// The embedded OpenAPI fragment is not a JSON object.
    #[error("its `{OPENAPI_SECTION}` section is not a JSON object with `paths`: {0}")]
    OpenApi(String),
}

/// A pre-instantiated component of any kind.
#[derive(Clone)]
pub enum Runnable {
    /// A domain service (HTTP).
    Http(HttpComponent),
    /// A crisis-rules pure function.
    CrisisRules(RulesComponent),
    /// A content provider, with its checked catalogue.
    ContentProvider(ContentProviderComponent),
    /// A wearable adapter, with what it declared.
    WearableAdapter(super::adapter::AdapterComponent),
}

/// A component that passed validation and is ready to serve.
#[derive(Clone)]
pub struct Prepared {
    /// How to run it.
    pub runnable: Runnable,
    /// Its OpenAPI fragment (`{"paths": ...}`), if it ships one.
    pub openapi: Option<serde_json::Value>,
    /// Its import names, for the admin API.
    pub imports: Vec<String>,
}

impl Runtime {
    /// Compiles (or loads from cache), validates and pre-instantiates a component.
    ///
    /// # Errors
    /// [`PrepareError`] naming the import or export at fault.
    pub fn prepare(
        &self,
        decl: &ComponentDecl,
        install: &Install<'_>,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<Prepared, PrepareError> {
        let slot = if decl.grants.kind.is_pure() {
            &self.pure
        } else {
            &self.http
        };
        let component = slot
            .cache
            .load_or_compile(&slot.engine, sha256, bytes)
            .map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
        let imports = component_imports(&slot.engine, &component);
        check_imports(decl, &imports)?;
        let openapi = match custom_section(bytes, OPENAPI_SECTION) {
            Some(data) => Some(parse_openapi(&data)?),
            None => None,
        };
        let world = decl.grants.kind.as_str();
        let runnable = match decl.grants.kind {
            ComponentKind::DomainService => {
                let linker = self
                    .domain_linker(decl)
                    .map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
                let pre = linker
                    .instantiate_pre(&component)
                    .map_err(|e| PrepareError::World {
                        world,
                        reason: format!("{e:#}"),
                    })?;
                let pre = ProxyPre::new(pre).map_err(|e| PrepareError::World {
                    world,
                    reason: format!("{e:#}"),
                })?;
                let capabilities = capabilities::prepare_granted(
                    &capabilities::provided::<RequestState>(),
                    decl,
                    install,
                )
                .map_err(|reason| PrepareError::Capability {
                    capability: "tool.mindflow.capabilities",
                    reason,
                })?;
                Runnable::Http(HttpComponent {
                    pre,
                    policy: OutboundPolicy::new(&decl.name, &decl.allowed_outbound_hosts),
                    environment: Arc::new(decl.environment.clone().into_iter().collect()),
                    limits: decl.grants.limits,
                    capabilities,
                    ready: Arc::default(),
                })
            }
            ComponentKind::CrisisRules => Runnable::CrisisRules(self.rules_component(
                decl,
                sha256,
                &component,
                install.services.crisis.semantic(),
            )?),
            ComponentKind::ContentProvider => {
                Runnable::ContentProvider(self.content_provider(decl, &component)?)
            }
            ComponentKind::WearableAdapter => {
                Runnable::WearableAdapter(self.wearable_adapter(decl, install, &component)?)
            }
        };
        Ok(Prepared {
            runnable,
            openapi,
            imports: imports.into_iter().map(|i| i.name).collect(),
        })
    }

    /// Compiles (or loads from cache), validates and pre-instantiates a crisis-rules
    /// component: a pure function, which needs no host services.
    ///
    /// # Errors
    /// [`PrepareError`]; also when `decl` is not of the crisis-rules kind.
    pub fn prepare_rules(
        &self,
        decl: &ComponentDecl,
        sha256: &str,
        bytes: &[u8],
        semantic: &Semantic,
    ) -> Result<RulesComponent, PrepareError> {
        let component = self.load_pure(decl, ComponentKind::CrisisRules, sha256, bytes)?;
        self.rules_component(decl, sha256, &component, semantic)
    }

    /// Compiles (or loads from cache), validates and pre-instantiates a content provider and
    /// reads its catalogue (blocking: run it on the blocking pool). What `mindflow content
    /// seed` uses: a provider needs no host services.
    ///
    /// # Errors
    /// [`PrepareError`]; also when `decl` is not of the content-provider kind.
    pub fn prepare_content_provider(
        &self,
        decl: &ComponentDecl,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<ContentProviderComponent, PrepareError> {
        let component = self.load_pure(decl, ComponentKind::ContentProvider, sha256, bytes)?;
        self.content_provider(decl, &component)
    }

    /// A pure component of `kind`, compiled (or loaded from the cache) on the pure engine,
    /// its imports checked: what preparing one outside the registry starts with.
    fn load_pure(
        &self,
        decl: &ComponentDecl,
        kind: ComponentKind,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<wasmtime::component::Component, PrepareError> {
        if decl.grants.kind != kind {
            return Err(PrepareError::World {
                world: decl.grants.kind.as_str(),
                reason: format!("not a {kind} component"),
            });
        }
        let component = self
            .pure
            .cache
            .load_or_compile(&self.pure.engine, sha256, bytes)
            .map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
        check_imports(decl, &component_imports(&self.pure.engine, &component))?;
        Ok(component)
    }

    /// Pre-instantiates a content provider and reads and checks its catalogue, under the
    /// component's own fuel, deadline, memory and output caps.
    fn content_provider(
        &self,
        decl: &ComponentDecl,
        component: &wasmtime::component::Component,
    ) -> Result<ContentProviderComponent, PrepareError> {
        let world = decl.grants.kind.as_str();
        let linker = Linker::<PureState>::new(&self.pure.engine);
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| PrepareError::World {
                world,
                reason: format!("{e:#}"),
            })?;
        let pre = ContentProviderPre::new(pre).map_err(|e| PrepareError::World {
            world,
            reason: format!("{e:#}"),
        })?;
        ContentProviderComponent::load(&pre, decl.grants.limits).map_err(|e| PrepareError::World {
            world,
            reason: e.to_string(),
        })
    }

    /// Pre-instantiates a crisis-rules component and embeds its exemplars (blocking: this
    /// runs on the blocking pool, like compiling).
    fn rules_component(
        &self,
        decl: &ComponentDecl,
        sha256: &str,
        component: &wasmtime::component::Component,
        semantic: &Semantic,
    ) -> Result<RulesComponent, PrepareError> {
        let world = decl.grants.kind.as_str();
        let linker = Linker::<PureState>::new(&self.pure.engine);
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| PrepareError::World {
                world,
                reason: format!("{e:#}"),
            })?;
        let pre = CrisisRulesPre::new(pre).map_err(|e| PrepareError::World {
            world,
            reason: format!("{e:#}"),
        })?;
        let mut rules = RulesComponent {
            pre,
            limits: decl.grants.limits,
            index: Arc::default(),
            label: Arc::new((decl.name.clone(), sha256.chars().take(12).collect())),
            judgements: Arc::default(),
        };
        let exemplars = rules.exemplars().map_err(|e| PrepareError::World {
            world,
            reason: format!("`exemplars` failed: {e}"),
        })?;
        check_exemplars(&exemplars).map_err(|reason| PrepareError::World { world, reason })?;
        rules.index = Arc::new(semantic.index(&exemplars));
        Ok(rules)
    }

    /// Pre-instantiates a wearable adapter and checks what it declares (blocking: this runs
    /// on the blocking pool, like compiling; `describe` runs on the async engine).
    fn wearable_adapter(
        &self,
        decl: &ComponentDecl,
        install: &Install<'_>,
        component: &wasmtime::component::Component,
    ) -> Result<super::adapter::AdapterComponent, PrepareError> {
        let world = decl.grants.kind.as_str();
        let refused = |e: wasmtime::Error| PrepareError::World {
            world,
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::<super::adapter::AdapterState>::new(&self.http.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(refused)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(refused)?;
        let pre = linker.instantiate_pre(component).map_err(refused)?;
        let pre = crate::wearables::world::WearableAdapterExportsPre::new(pre).map_err(refused)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|e| PrepareError::World {
            world,
            reason: format!("no runtime to describe the adapter: {e}"),
        })?;
        handle
            .block_on(super::adapter::AdapterComponent::load(
                pre,
                decl.grants.limits,
                &decl.allowed_outbound_hosts,
                &decl.name,
                install.services.wearable_origins.clone(),
            ))
            .map_err(|reason| PrepareError::World { world, reason })
    }

    /// WASI and `wasi:http`, then exactly the capabilities the manifest grants.
    fn domain_linker(&self, decl: &ComponentDecl) -> wasmtime::Result<Linker<RequestState>> {
        let mut linker = Linker::new(&self.http.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        capabilities::link_granted(&capabilities::provided(), decl, &mut linker)?;
        Ok(linker)
    }
}

/// The most exemplars a crisis-rules version may ship (the shipped one has about 1,500): the
/// host embeds each when it prepares the version.
pub const MAX_EXEMPLARS: usize = 20_000;
/// The longest exemplar, in bytes.
pub const MAX_EXEMPLAR_BYTES: usize = 2_000;

/// Embedding is the host's own work: what a version may ask of it is bounded.
fn check_exemplars(exemplars: &[crate::crisis::rules::Exemplar]) -> Result<(), String> {
    if exemplars.len() > MAX_EXEMPLARS {
        return Err(format!(
            "{} exemplars; at most {MAX_EXEMPLARS} are embedded",
            exemplars.len()
        ));
    }
    match exemplars.iter().find(|e| e.text.len() > MAX_EXEMPLAR_BYTES) {
        Some(long) => Err(format!(
            "an exemplar of {} bytes; at most {MAX_EXEMPLAR_BYTES}",
            long.text.len()
        )),
        None => Ok(()),
    }
}

/// WASI packages a domain service may import. Sockets and filesystem are linked but inert:
/// the store grants no socket address and no preopened directory.
const DOMAIN_WASI_PACKAGES: &[&str] = &[
    "wasi:io",
    "wasi:clocks",
    "wasi:random",
    "wasi:cli",
    "wasi:http",
    "wasi:filesystem",
    "wasi:sockets",
];

fn check_imports(decl: &ComponentDecl, imports: &[ComponentImport]) -> Result<(), PrepareError> {
    let refuse = |import: &ComponentImport, reason: String| PrepareError::Import {
        import: import.name.clone(),
        reason,
    };
    for import in imports {
        match decl.grants.kind {
            ComponentKind::CrisisRules | ComponentKind::ContentProvider => {
                return Err(refuse(
                    import,
                    format!("a {} component must import nothing", decl.grants.kind),
                ));
            }
            ComponentKind::WearableAdapter
                if !DOMAIN_WASI_PACKAGES.contains(&import.package.as_str()) =>
            {
                return Err(refuse(
                    import,
                    "a wearable adapter imports WASI and wasi:http only (the host holds tokens and data)".into(),
                ));
            }
            ComponentKind::WearableAdapter | ComponentKind::DomainService => {}
        }
        let package = import.package.as_str();
        if DOMAIN_WASI_PACKAGES.contains(&package) {
            continue;
        }
        if package == "fermyon:spin" && import.interface == "variables" {
            continue;
        }
        if package == "mindflow:platform" {
            if import.interface == "types" {
                continue;
            }
            let Some(capability) = Capability::from_interface(&import.interface) else {
                return Err(refuse(import, "no such MindFlow capability".into()));
            };
            if !decl.grants.allows(capability) {
                return Err(refuse(
                    import,
                    format!(
                        "capability `{}` is not granted to `{}` in [component.{}.tool.mindflow] capabilities",
                        capability.interface(),
                        decl.name,
                        decl.name
                    ),
                ));
            }
            if !capabilities::provided::<RequestState>()
                .iter()
                .any(|provided| provided.grant() == Some(capability))
            {
                return Err(refuse(
                    import,
                    format!(
                        "capability `{}` is granted but not provided by this host version",
                        capability.interface()
                    ),
                ));
            }
            continue;
        }
        return Err(refuse(
            import,
            "not provided by MindFlow (only wasi:*, fermyon:spin/variables and granted mindflow:platform capabilities are)".into(),
        ));
    }
    Ok(())
}

fn parse_openapi(data: &[u8]) -> Result<serde_json::Value, PrepareError> {
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| PrepareError::OpenApi(e.to_string()))?;
    match value.get("paths") {
        Some(serde_json::Value::Object(_)) => Ok(value),
        _ => Err(PrepareError::OpenApi("missing `paths` object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crisis::rules::{Exemplar, Severity};

    fn exemplar(text: String) -> Exemplar {
        Exemplar {
            text,
            severity: Severity::None,
            kind: "everyday".into(),
        }
    }

    #[test]
    fn a_version_may_not_ask_the_host_to_embed_without_bound() {
        assert!(check_exemplars(&[exemplar("a walk in the park".into())]).is_ok());
        let many: Vec<Exemplar> = (0..=MAX_EXEMPLARS)
            .map(|i| exemplar(i.to_string()))
            .collect();
        assert!(check_exemplars(&many).is_err());
        assert!(check_exemplars(&[exemplar("x".repeat(MAX_EXEMPLAR_BYTES + 1))]).is_err());
    }
}
