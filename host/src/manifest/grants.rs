//! MindFlow's per-component grants and limits: `[component.NAME.tool.mindflow]`.

use std::fmt;

use serde::Deserialize;

/// The plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// `domain-service`: a wasi:http handler with granted capabilities.
    #[default]
    DomainService,
    /// `crisis-rules`: a pure function, no imports.
    CrisisRules,
    /// `wearable-adapter`: a provider adapter with egress to declared hosts.
    WearableAdapter,
    /// `content-provider`: a catalogue, no imports.
    ContentProvider,
}

impl ComponentKind {
    /// The WIT world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DomainService => "domain-service",
            Self::CrisisRules => "crisis-rules",
            Self::WearableAdapter => "wearable-adapter",
            Self::ContentProvider => "content-provider",
        }
    }

    /// Parses a world name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::DomainService,
            Self::CrisisRules,
            Self::WearableAdapter,
            Self::ContentProvider,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// Whether the kind is a pure function (instruction budget and I/O caps apply).
    pub fn is_pure(self) -> bool {
        matches!(self, Self::CrisisRules | Self::ContentProvider)
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `mindflow:platform` capability a component may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `mindflow:platform/context`.
    Context,
    /// `mindflow:platform/storage`.
    Storage,
    /// `mindflow:platform/crypto`.
    Crypto,
    /// `mindflow:platform/llm`.
    Llm,
    /// `mindflow:platform/ml`.
    Ml,
    /// `mindflow:platform/crisis`.
    Crisis,
}

impl Capability {
    /// The WIT interface name within `mindflow:platform`.
    pub fn interface(self) -> &'static str {
        match self {
            Self::Context => "context",
            Self::Storage => "storage",
            Self::Crypto => "crypto",
            Self::Llm => "llm",
            Self::Ml => "ml",
            Self::Crisis => "crisis",
        }
    }

    /// The capability owning a `mindflow:platform` interface, if any.
    pub fn from_interface(name: &str) -> Option<Self> {
        [
            Self::Context,
            Self::Storage,
            Self::Crypto,
            Self::Llm,
            Self::Ml,
            Self::Crisis,
        ]
        .into_iter()
        .find(|c| c.interface() == name)
    }
}

/// Whether a route needs an authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Authentication {
    /// A valid access token is required (401 otherwise).
    #[default]
    Required,
    /// A token is used when present and valid; anonymous callers are let through.
    Optional,
    /// No identity is ever passed to the component.
    None,
}

/// Resource limits for one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear-memory cap, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline for one call.
    pub timeout_ms: u64,
    /// Instruction budget per call (pure worlds; `None` = unmetered).
    pub fuel: Option<u64>,
    /// Largest request body (HTTP) or input (pure), in bytes.
    pub max_input_bytes: usize,
    /// Largest output of a pure call, in bytes (`None` = uncapped).
    pub max_output_bytes: Option<usize>,
}

impl Limits {
    /// The defaults for a kind. Pure worlds follow Shopify Functions' budget (11M
    /// instructions, 128 KB in, 20 KB out); HTTP components get 64 MiB and 10 s.
    pub fn defaults(kind: ComponentKind) -> Self {
        if kind.is_pure() {
            Self {
                memory_bytes: 16 << 20,
                timeout_ms: 100,
                fuel: Some(11_000_000),
                max_input_bytes: 128 * 1024,
                max_output_bytes: Some(20 * 1024),
            }
        } else {
            Self {
                memory_bytes: 64 << 20,
                timeout_ms: 10_000,
                fuel: None,
                max_input_bytes: 1 << 20,
                max_output_bytes: None,
            }
        }
    }

    /// The largest memory cap any component may ask for (the pooling allocator's slot size).
    pub const MAX_MEMORY_BYTES: usize = 512 << 20;
    /// The longest deadline any component may ask for.
    pub const MAX_TIMEOUT_MS: u64 = 120_000;
}

/// A component's grants: its kind, capabilities, collections and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Its plugin kind (WIT world).
    pub kind: ComponentKind,
    /// Version label of the manifest's source file (defaults to `manifest`).
    pub version: Option<String>,
    /// The capabilities it may import.
    pub capabilities: Vec<Capability>,
    /// The storage collections it may touch.
    pub collections: Vec<String>,
    /// Whether its routes need an authenticated caller.
    pub authentication: Authentication,
    /// Its limits.
    pub limits: Limits,
    /// A path of one of its own routes the host calls (`POST`, as each user in turn) once a
    /// night in the user's time zone: `nightly = "/api/v1/insights/refresh"`.
    pub nightly: Option<String>,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            kind: ComponentKind::DomainService,
            version: None,
            capabilities: Vec::new(),
            collections: Vec::new(),
            authentication: Authentication::Required,
            limits: Limits::defaults(ComponentKind::DomainService),
            nightly: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    kind: ComponentKind,
    version: Option<String>,
    #[serde(default)]
    capabilities: Vec<Capability>,
    #[serde(default)]
    collections: Vec<String>,
    #[serde(default)]
    authentication: Authentication,
    memory_limit_mb: Option<u64>,
    timeout_ms: Option<u64>,
    fuel: Option<u64>,
    max_input_bytes: Option<u64>,
    max_output_bytes: Option<u64>,
    nightly: Option<String>,
}

impl Grants {
    /// Parses `[component.NAME.tool.mindflow]`.
    ///
    /// # Errors
    /// `(field, message)` naming the offending field.
    pub fn from_toml(value: toml::Value) -> Result<Self, (String, String)> {
        let prefix = "tool.mindflow";
        let raw: RawGrants = value
            .try_into()
            .map_err(|e: toml::de::Error| (prefix.to_owned(), e.message().to_owned()))?;
        let field = |f: &str| format!("{prefix}.{f}");
        let mut limits = Limits::defaults(raw.kind);
        if let Some(mb) = raw.memory_limit_mb {
            let bytes = usize::try_from(mb)
                .ok()
                .and_then(|mb| mb.checked_mul(1 << 20))
                .filter(|b| (1..=Limits::MAX_MEMORY_BYTES).contains(b))
                .ok_or_else(|| {
                    (
                        field("memory_limit_mb"),
                        format!("must be between 1 and {}", Limits::MAX_MEMORY_BYTES >> 20),
                    )
                })?;
            limits.memory_bytes = bytes;
        }
        if let Some(ms) = raw.timeout_ms {
            if !(1..=Limits::MAX_TIMEOUT_MS).contains(&ms) {
                return Err((
                    field("timeout_ms"),
                    format!("must be between 1 and {}", Limits::MAX_TIMEOUT_MS),
                ));
            }
            limits.timeout_ms = ms;
        }
        if let Some(fuel) = raw.fuel {
            if fuel == 0 {
                return Err((field("fuel"), "must be positive".into()));
            }
            limits.fuel = Some(fuel);
        }
        if let Some(n) = raw.max_input_bytes {
            limits.max_input_bytes = usize::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| (field("max_input_bytes"), "must be positive".to_owned()))?;
        }
        if let Some(n) = raw.max_output_bytes {
            limits.max_output_bytes = Some(
                usize::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| (field("max_output_bytes"), "must be positive".to_owned()))?,
            );
        }
        for (i, collection) in raw.collections.iter().enumerate() {
            if crate::db::catalog::collection(collection).is_none() {
                return Err((
                    format!("{prefix}.collections[{i}]"),
                    format!("unknown collection `{collection}`"),
                ));
            }
        }
        if !raw.collections.is_empty() && !raw.capabilities.contains(&Capability::Storage) {
            return Err((
                field("collections"),
                "collections are granted but the `storage` capability is not".into(),
            ));
        }
        if raw.kind.is_pure() && !raw.capabilities.is_empty() {
            return Err((
                field("capabilities"),
                format!("a {} component imports nothing", raw.kind),
            ));
        }
        if let Some(path) = &raw.nightly
            && (raw.kind != ComponentKind::DomainService
                || !path.starts_with('/')
                || path.contains(['?', '#', '*'])
                || path.len() > 200)
        {
            return Err((
                field("nightly"),
                "a domain service's own route path, such as `/api/v1/insights/refresh`".into(),
            ));
        }
        let mut capabilities = raw.capabilities;
        capabilities.sort();
        capabilities.dedup();
        Ok(Self {
            kind: raw.kind,
            version: raw.version,
            capabilities,
            collections: raw.collections,
            authentication: raw.authentication,
            limits,
            nightly: raw.nightly,
        })
    }

    /// Whether the capability is granted.
    pub fn allows(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}
