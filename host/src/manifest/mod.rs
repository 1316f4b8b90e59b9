//! The application manifest: `spin.toml` (Spin manifest v2) plus MindFlow's grants.
//!
//! A MindFlow manifest is a valid Spin manifest. Spin reserves `[component.NAME.tool.*]`
//! tables for other tools, so MindFlow's grants and limits live in
//! `[component.NAME.tool.mindflow]` and Spin ignores them. Every error names the component
//! and the field at fault, so a broken manifest is fixed from the message alone.

pub mod allowed_hosts;
mod grants;
mod route;
pub mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

pub use grants::{Authentication, Capability, ComponentKind, Grants, Limits};
pub use route::{Route, RouteMatch};

/// Why a manifest was refused.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or the top level has the wrong shape.
    #[error("manifest {path}: {message}")]
    Syntax {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong, with the position.
        message: String,
    },
    /// An application-level field is wrong.
    #[error("manifest: field `{field}`: {message}")]
    Application {
        /// The field (a dotted path).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A component's entry is wrong.
    #[error("manifest: component `{component}`, field `{field}`: {message}")]
    Component {
        /// The component's name.
        component: String,
        /// The field (a dotted path within the component's table).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ManifestError {
    fn component(component: &str, field: &str, message: impl Into<String>) -> Self {
        Self::Component {
            component: component.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A parsed, validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `application.name`.
    pub name: String,
    /// `application.version`, if given.
    pub version: Option<String>,
    /// Application variables (`[variables]`), by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// Components, by name.
    pub components: BTreeMap<String, ComponentDecl>,
    /// HTTP routes in manifest order.
    pub routes: Vec<HttpRoute>,
}

/// An application variable declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// Value when no provider gives one.
    pub default: Option<String>,
    /// Whether a value must be provided (no default).
    #[serde(default)]
    pub required: bool,
    /// Whether the value is a secret (never logged).
    #[serde(default)]
    pub secret: bool,
}

/// One component of the manifest.
#[derive(Debug, Clone)]
pub struct ComponentDecl {
    /// The component's name (the key of its table).
    pub name: String,
    /// The `.wasm` file, resolved against the manifest's folder.
    pub source: PathBuf,
    /// Spin's `allowed_outbound_hosts`, parsed.
    pub allowed_outbound_hosts: Vec<allowed_hosts::AllowedHost>,
    /// Component variables: name → template over application variables.
    pub variables: BTreeMap<String, String>,
    /// Environment variables given to the component.
    pub environment: BTreeMap<String, String>,
    /// MindFlow's grants and limits.
    pub grants: Grants,
}

/// A `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// The route pattern.
    pub route: Route,
    /// The component that serves it.
    pub component: String,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, toml::Value>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    version: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<toml::Value>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: toml::Value,
    component: toml::Value,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    ai_models: Vec<String>,
    #[serde(default)]
    tool: BTreeMap<String, toml::Value>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`; sources resolve against its folder.
    ///
    /// # Errors
    /// Any [`ManifestError`]; the message names the component and field.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base).map_err(|error| match error {
            ManifestError::Syntax { message, .. } => ManifestError::Syntax {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses manifest text; relative sources resolve against `base`.
    ///
    /// # Errors
    /// Any [`ManifestError`].
    pub fn parse(text: &str, base: &Path) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        if raw.spin_manifest_version.as_integer() != Some(2) {
            return Err(ManifestError::Application {
                field: "spin_manifest_version".into(),
                message: "only Spin manifest version 2 is supported".into(),
            });
        }
        let variables = parse_variables(raw.variables)?;
        let mut components = BTreeMap::new();
        for (name, value) in raw.component {
            let decl = parse_component(&name, value, base, &variables)?;
            components.insert(name, decl);
        }
        let routes = parse_routes(raw.trigger.http, &components)?;
        let manifest = Self {
            name: raw.application.name,
            version: raw.application.version,
            variables,
            components,
            routes,
        };
        manifest.check_nightly_paths()?;
        Ok(manifest)
    }

    /// A component's `nightly` path must be one of its own routes: the host calls it as each
    /// user, and another component's route would run that component with this one's job.
    fn check_nightly_paths(&self) -> Result<(), ManifestError> {
        for (name, decl) in &self.components {
            let Some(path) = &decl.grants.nightly else {
                continue;
            };
            if self
                .route(path)
                .is_none_or(|(route, _)| &route.component != name)
            {
                return Err(ManifestError::Component {
                    component: name.clone(),
                    field: "tool.mindflow.nightly".into(),
                    message: format!("`{path}` is not one of this component's routes"),
                });
            }
        }
        Ok(())
    }

    /// The component and match for a request path, by Spin's precedence: an exact route
    /// beats a wildcard, and a longer wildcard prefix beats a shorter one.
    pub fn route(&self, path: &str) -> Option<(&HttpRoute, RouteMatch)> {
        let best = self
            .routes
            .iter()
            .filter(|r| r.route.accepts(path))
            .max_by_key(|r| r.route.specificity())?;
        best.route.matches(path).map(|m| (best, m))
    }
}

fn parse_variables(
    raw: BTreeMap<String, toml::Value>,
) -> Result<BTreeMap<String, VariableDecl>, ManifestError> {
    raw.into_iter()
        .map(|(name, value)| {
            if !is_variable_name(&name) {
                return Err(ManifestError::Application {
                    field: format!("variables.{name}"),
                    message: "variable names are lowercase letters, digits and underscores, starting with a letter".into(),
                });
            }
            let decl: VariableDecl =
                value
                    .try_into()
                    .map_err(|e: toml::de::Error| ManifestError::Application {
                        field: format!("variables.{name}"),
                        message: e.message().to_owned(),
                    })?;
            if decl.required && decl.default.is_some() {
                return Err(ManifestError::Application {
                    field: format!("variables.{name}"),
                    message: "a variable cannot be both required and have a default".into(),
                });
            }
            Ok((name, decl))
        })
        .collect()
}

/// Spin's variable-name rule.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn parse_component(
    name: &str,
    value: toml::Value,
    base: &Path,
    app_variables: &BTreeMap<String, VariableDecl>,
) -> Result<ComponentDecl, ManifestError> {
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.is_empty()
    {
        return Err(ManifestError::component(
            name,
            "(name)",
            "component names are lowercase letters, digits and hyphens",
        ));
    }
    let raw: RawComponent = value
        .try_into()
        .map_err(|e: toml::de::Error| ManifestError::component(name, "(table)", e.message()))?;
    let source = match raw.source {
        toml::Value::String(path) => base.join(path),
        toml::Value::Table(_) => {
            return Err(ManifestError::component(
                name,
                "source",
                "remote sources (`{ url, digest }`) are not supported: give a local .wasm path",
            ));
        }
        _ => {
            return Err(ManifestError::component(
                name,
                "source",
                "expected a path to a .wasm file",
            ));
        }
    };
    if !source.is_file() {
        return Err(ManifestError::component(
            name,
            "source",
            format!("file not found: {}", source.display()),
        ));
    }
    for (field, unsupported) in [
        ("files", !raw.files.is_empty()),
        ("key_value_stores", !raw.key_value_stores.is_empty()),
        ("sqlite_databases", !raw.sqlite_databases.is_empty()),
        ("ai_models", !raw.ai_models.is_empty()),
    ] {
        if unsupported {
            return Err(ManifestError::component(
                name,
                field,
                "not supported by MindFlow: use the granted mindflow:platform capabilities",
            ));
        }
    }
    let allowed_outbound_hosts = raw
        .allowed_outbound_hosts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            allowed_hosts::AllowedHost::parse(text).map_err(|message| {
                ManifestError::component(name, &format!("allowed_outbound_hosts[{i}]"), message)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (var, template) in &raw.variables {
        if !is_variable_name(var) {
            return Err(ManifestError::component(
                name,
                &format!("variables.{var}"),
                "variable names are lowercase letters, digits and underscores",
            ));
        }
        variables::Template::parse(template)
            .and_then(|t| t.check_references(app_variables))
            .map_err(|message| {
                ManifestError::component(name, &format!("variables.{var}"), message)
            })?;
    }
    let grants = match raw.tool.get("mindflow") {
        Some(table) => Grants::from_toml(table.clone())
            .map_err(|(field, message)| ManifestError::component(name, &field, message))?,
        None => Grants::default(),
    };
    Ok(ComponentDecl {
        name: name.to_owned(),
        source,
        allowed_outbound_hosts,
        variables: raw.variables,
        environment: raw.environment,
        grants,
    })
}

fn parse_routes(
    raw: Vec<toml::Value>,
    components: &BTreeMap<String, ComponentDecl>,
) -> Result<Vec<HttpRoute>, ManifestError> {
    let mut routes = Vec::new();
    for (i, value) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("trigger.http[{i}].{f}");
        let trigger: RawHttpTrigger =
            value
                .try_into()
                .map_err(|e: toml::de::Error| ManifestError::Application {
                    field: format!("trigger.http[{i}]"),
                    message: e.message().to_owned(),
                })?;
        let component = match trigger.component {
            toml::Value::String(c) => c,
            _ => {
                return Err(ManifestError::Application {
                    field: field("component"),
                    message: "inline components are not supported: name a [component.NAME]".into(),
                });
            }
        };
        let Some(decl) = components.get(&component) else {
            return Err(ManifestError::Application {
                field: field("component"),
                message: format!("no component named `{component}`"),
            });
        };
        if decl.grants.kind != ComponentKind::DomainService {
            return Err(ManifestError::Application {
                field: field("component"),
                message: format!(
                    "`{component}` is a {} component; only domain services serve HTTP",
                    decl.grants.kind
                ),
            });
        }
        let route = match trigger.route {
            toml::Value::String(text) => {
                Route::parse(&text).map_err(|message| ManifestError::Application {
                    field: field("route"),
                    message,
                })?
            }
            toml::Value::Table(t) if t.get("private").and_then(|v| v.as_bool()) == Some(true) => {
                continue;
            }
            _ => {
                return Err(ManifestError::Application {
                    field: field("route"),
                    message: "expected a route string or `{ private = true }`".into(),
                });
            }
        };
        if let Some(existing) = routes
            .iter()
            .find(|r: &&HttpRoute| r.route.pattern() == route.pattern())
        {
            return Err(ManifestError::Application {
                field: field("route"),
                message: format!(
                    "route `{}` is already served by `{}`",
                    route.pattern(),
                    existing.component
                ),
            });
        }
        routes.push(HttpRoute { route, component });
    }
    Ok(routes)
}

#[cfg(test)]
mod tests;
