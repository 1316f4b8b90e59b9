//! The component registry: every installed version of every component, and the active one
//! per component behind an atomic swap.
//!
//! Installing a version validates it against its world and its grants (by preparing it),
//! compiles it (through the runtime's artifact cache), runs its kind's gate and stores it
//! with the gate's report. Activating swaps the prepared version in with one atomic store:
//! requests already running keep the `Arc` of the version they started with and finish on
//! it; the next request sees the new one. The database holds the durable state (which version
//! is active), so the active set survives restarts, and replicas sharing one PostgreSQL learn
//! of changes through `LISTEN/NOTIFY` ([`sync`]).
//!
//! Grants are the operator's: a version uploaded for a component runs under the grants the
//! manifest gives that component name, never under anything the upload says.

pub mod gate;
pub mod sync;
pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::capabilities::{HostServices, Install};
use crate::db::components::{NewVersion, VersionRecord};
use crate::db::{Database, DbError};
use crate::manifest::{ComponentDecl, Manifest};
use crate::runtime::{PrepareError, Prepared, Runnable, Runtime};

pub use gate::GateReport;

/// Why a registry operation failed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The manifest declares no component by this name.
    #[error("no component named `{0}` in the manifest")]
    UnknownComponent(String),
    /// No such version.
    #[error("component `{name}` has no version `{version}`")]
    UnknownVersion {
        /// Component.
        name: String,
        /// Version label.
        version: String,
    },
    /// The version label is taken.
    #[error("component `{name}` already has a version `{version}`")]
    VersionExists {
        /// Component.
        name: String,
        /// Version label.
        version: String,
    },
    /// The component failed validation.
    #[error("component `{name}`: {source}")]
    Invalid {
        /// Component.
        name: String,
        /// Why.
        source: PrepareError,
    },
    /// The gate refused the version.
    #[error("component `{name}` version `{version}` was refused by the `{}` gate", report.gate)]
    GateRefused {
        /// Component.
        name: String,
        /// Version label.
        version: String,
        /// The gate's report.
        report: GateReport,
    },
    /// The version was refused at install and can never be activated.
    #[error(
        "component `{name}` version `{version}` was refused at install and cannot be activated"
    )]
    Rejected {
        /// Component.
        name: String,
        /// Version label.
        version: String,
    },
    /// Nothing to roll back to.
    #[error("component `{0}` has no previous version to roll back to")]
    NoPrevious(String),
    /// The manifest's source file could not be read.
    #[error("component `{name}`: cannot read {path}: {message}")]
    Source {
        /// Component.
        name: String,
        /// The file.
        path: String,
        /// The IO error.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The running version of a component.
pub struct ActiveComponent {
    /// Its stored record.
    pub record: VersionRecord,
    /// Ready to serve.
    pub prepared: Prepared,
}

/// Outcome of an install.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// The stored version.
    pub version: VersionRecord,
    /// The gate's report.
    pub gate: GateReport,
}

/// The registry. Cheap to share behind an `Arc`.
pub struct ComponentRegistry {
    runtime: Runtime,
    db: Database,
    manifest: Arc<Manifest>,
    app_variables: HashMap<String, String>,
    /// The host services capabilities are prepared with.
    services: HostServices,
    active: ArcSwap<HashMap<String, Arc<ActiveComponent>>>,
    /// Serialises installs and activations within this process.
    changes: tokio::sync::Mutex<()>,
}

/// SHA-256 of component bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ComponentRegistry {
    /// A registry with nothing active yet; call [`ComponentRegistry::bootstrap`].
    pub fn new(
        runtime: Runtime,
        db: Database,
        manifest: Arc<Manifest>,
        app_variables: HashMap<String, String>,
        services: HostServices,
    ) -> Self {
        Self {
            runtime,
            db,
            manifest,
            app_variables,
            services,
            active: ArcSwap::from_pointee(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Loads the active set. A manifest source whose bytes were never stored is a new
    /// deployment: it is installed and activated. Otherwise the version the database says is
    /// active is loaded, so an activation made through the admin API survives a restart.
    ///
    /// # Errors
    /// [`RegistryError`] naming the component that cannot be installed or loaded.
    pub async fn bootstrap(&self) -> Result<(), RegistryError> {
        for decl in self.manifest.components.values() {
            let bytes = std::fs::read(&decl.source).map_err(|e| RegistryError::Source {
                name: decl.name.clone(),
                path: decl.source.display().to_string(),
                message: e.to_string(),
            })?;
            let sha = sha256_hex(&bytes);
            if self
                .db
                .component_version_by_sha(&decl.name, &sha)
                .await?
                .is_none()
            {
                let label = decl
                    .grants
                    .version
                    .as_deref()
                    .map(|v| format!("{v}+{}", &sha[..12]))
                    .unwrap_or_else(|| format!("manifest-{}", &sha[..12]));
                let id = match self
                    .install(&decl.name, &label, &bytes, &Actor::manifest())
                    .await
                {
                    Ok(installed) => installed.version.id,
                    // Another replica starting on the same database stored these bytes
                    // first (a first deployment starts every replica at once): theirs is
                    // the version; activating it again is harmless.
                    Err(error @ RegistryError::VersionExists { .. }) => self
                        .db
                        .component_version_by_sha(&decl.name, &sha)
                        .await?
                        .map(|version| version.id)
                        .ok_or(error)?,
                    Err(error) => return Err(error),
                };
                self.activate_id(&decl.name, id, "bootstrap", &Actor::manifest())
                    .await?;
            }
        }
        for name in self.manifest.components.keys() {
            self.reload(name).await?;
        }
        Ok(())
    }

    /// The active version of `name`, if any. Lock-free.
    pub fn get(&self, name: &str) -> Option<Arc<ActiveComponent>> {
        self.active.load().get(name).cloned()
    }

    /// Every active component.
    pub fn active(&self) -> Arc<HashMap<String, Arc<ActiveComponent>>> {
        self.active.load_full()
    }

    /// Whether every manifest component has an active version.
    pub fn is_complete(&self) -> bool {
        let active = self.active.load();
        self.manifest
            .components
            .keys()
            .all(|name| active.contains_key(name))
    }

    fn decl(&self, name: &str) -> Result<&ComponentDecl, RegistryError> {
        self.manifest
            .components
            .get(name)
            .ok_or_else(|| RegistryError::UnknownComponent(name.to_owned()))
    }

    /// Compiles (or loads from the cache) and prepares a version on the blocking pool:
    /// compiling takes seconds, and an async worker thread must not stall on it while it
    /// serves requests.
    async fn prepare(
        &self,
        decl: &ComponentDecl,
        sha: &str,
        bytes: Vec<u8>,
    ) -> Result<Prepared, RegistryError> {
        let runtime = self.runtime.clone();
        let decl = decl.clone();
        let name = decl.name.clone();
        let vars = self.app_variables.clone();
        let services = self.services.clone();
        let sha = sha.to_owned();
        tokio::task::spawn_blocking(move || {
            let install = Install {
                services: &services,
                app_variables: &vars,
            };
            runtime.prepare(&decl, &install, &sha, &bytes)
        })
        .await
        .map_err(|e| RegistryError::Invalid {
            name: name.clone(),
            source: PrepareError::Invalid(e.to_string()),
        })?
        .map_err(|source| RegistryError::Invalid { name, source })
    }

    /// Validates, compiles, gates and stores a new version (not yet active). A version the
    /// gate refuses is stored as `rejected` with its report, and the error carries the report.
    ///
    /// # Errors
    /// [`RegistryError`].
    pub async fn install(
        &self,
        name: &str,
        version: &str,
        bytes: &[u8],
        actor: &Actor,
    ) -> Result<Installed, RegistryError> {
        let decl = self.decl(name)?;
        let _guard = self.changes.lock().await;
        if self.db.component_version(name, version).await?.is_some() {
            return Err(RegistryError::VersionExists {
                name: name.to_owned(),
                version: version.to_owned(),
            });
        }
        let sha = sha256_hex(bytes);
        let prepared = self.prepare(decl, &sha, bytes.to_vec()).await?;
        let current = self.get(name);
        let report = {
            let kind = decl.grants.kind;
            let current = current.as_ref().map(|c| c.prepared.clone());
            let candidate = prepared.clone();
            let semantic = self.services.semantic.clone();
            tokio::task::spawn_blocking(move || {
                gate::run(kind, &candidate, current.as_ref(), &semantic)
            })
            .await
            .unwrap_or_else(|e| GateReport {
                gate: "error",
                passed: false,
                details: serde_json::json!({"error": e.to_string()}),
            })
        };
        let record = self
            .db
            .insert_component_version(NewVersion {
                name,
                version,
                kind: decl.grants.kind.as_str(),
                sha256: &sha,
                bytes,
                status: if report.passed {
                    "installed"
                } else {
                    "rejected"
                },
                gate_report: Some(serde_json::to_value(&report).unwrap_or_default()),
                openapi: prepared.openapi.clone(),
                installed_by: &actor.label,
            })
            .await
            .map_err(|e| {
                if e.is_conflict() {
                    RegistryError::VersionExists {
                        name: name.to_owned(),
                        version: version.to_owned(),
                    }
                } else {
                    RegistryError::Db(e)
                }
            })?;
        audit::record(
            &self.db,
            actor,
            "component.install",
            &format!("{name}@{version}"),
            serde_json::json!({"sha256": sha, "status": record.status, "gate": report}),
        )
        .await;
        if !report.passed {
            return Err(RegistryError::GateRefused {
                name: name.to_owned(),
                version: version.to_owned(),
                report,
            });
        }
        Ok(Installed {
            version: record,
            gate: report,
        })
    }

    /// Makes a stored version active, here and (through the database) on every replica.
    ///
    /// # Errors
    /// [`RegistryError`].
    pub async fn activate(
        &self,
        name: &str,
        version: &str,
        actor: &Actor,
    ) -> Result<VersionRecord, RegistryError> {
        self.decl(name)?;
        let record = self
            .db
            .component_version(name, version)
            .await?
            .ok_or_else(|| RegistryError::UnknownVersion {
                name: name.to_owned(),
                version: version.to_owned(),
            })?;
        self.activate_id(name, record.id, "activate", actor).await
    }

    /// Activates the version that was active before the current one.
    ///
    /// # Errors
    /// [`RegistryError::NoPrevious`] when there is none.
    pub async fn rollback(
        &self,
        name: &str,
        actor: &Actor,
    ) -> Result<VersionRecord, RegistryError> {
        self.decl(name)?;
        let target = self
            .db
            .rollback_target(name)
            .await?
            .ok_or_else(|| RegistryError::NoPrevious(name.to_owned()))?;
        self.activate_id(name, target, "rollback", actor).await
    }

    async fn activate_id(
        &self,
        name: &str,
        id: Uuid,
        action: &str,
        actor: &Actor,
    ) -> Result<VersionRecord, RegistryError> {
        let decl = self.decl(name)?;
        let _guard = self.changes.lock().await;
        let record = self.db.component_version_by_id(id).await?.ok_or_else(|| {
            RegistryError::UnknownVersion {
                name: name.to_owned(),
                version: id.to_string(),
            }
        })?;
        if record.status == "rejected" {
            return Err(RegistryError::Rejected {
                name: name.to_owned(),
                version: record.version,
            });
        }
        // Prepare first: the swap below must not wait on compilation.
        let bytes = self
            .db
            .component_bytes(id)
            .await?
            .ok_or_else(|| RegistryError::NoPrevious(name.to_owned()))?;
        let prepared = self.prepare(decl, &record.sha256, bytes).await?;
        let previous = self
            .db
            .activate_component_version(name, id, action, &actor.label)
            .await?;
        let record = self.db.component_version_by_id(id).await?.unwrap_or(record);
        self.swap(name, record.clone(), &prepared);
        self.sync_content(name, &prepared).await;
        sync::notify(&self.db, name).await;
        audit::record(
            &self.db,
            actor,
            &format!("component.{action}"),
            &format!("{name}@{}", record.version),
            serde_json::json!({"version_id": id, "previous_version_id": previous}),
        )
        .await;
        tracing::info!(component = %name, version = %record.version, %action, "component version active");
        Ok(record)
    }

    /// Keeps `content_library` in step with a content provider's catalogue once its version
    /// is active (here, or on another replica whose activation this one follows: the sync
    /// writes nothing when the rows already match). A failed sync is logged and leaves the
    /// rows as they were (one transaction); the next activation or start-up syncs again, and
    /// `mindflow content seed` does it by hand.
    async fn sync_content(&self, name: &str, prepared: &Prepared) {
        let Runnable::ContentProvider(provider) = &prepared.runnable else {
            return;
        };
        match crate::content::sync(&self.db, name, provider.catalogue()).await {
            Ok(report) if report.is_noop() => {
                tracing::debug!(component = %name, "content library already in step");
            }
            Ok(report) => tracing::info!(component = %name, %report, "content library synced"),
            Err(error) => {
                tracing::error!(component = %name, %error, "cannot sync the content library");
            }
        }
    }

    fn swap(&self, name: &str, record: VersionRecord, prepared: &Prepared) {
        if let Runnable::CrisisRules(rules) = &prepared.runnable {
            self.services
                .crisis
                .active_rules()
                .publish(Box::new(rules.clone()));
        }
        let entry = Arc::new(ActiveComponent {
            record,
            prepared: prepared.clone(),
        });
        self.active.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(name.to_owned(), entry.clone());
            next
        });
    }

    /// Loads the version the database says is active for `name`, if it differs from the one
    /// running here (what a replica does on a change notification).
    ///
    /// # Errors
    /// [`RegistryError`].
    pub async fn reload(&self, name: &str) -> Result<(), RegistryError> {
        let decl = self.decl(name)?;
        let Some(record) = self
            .db
            .active_component_versions()
            .await?
            .into_iter()
            .find(|r| r.name == name)
        else {
            return Ok(());
        };
        if self.get(name).is_some_and(|a| a.record.id == record.id) {
            return Ok(());
        }
        let bytes = self
            .db
            .component_bytes(record.id)
            .await?
            .ok_or_else(|| RegistryError::NoPrevious(name.to_owned()))?;
        let prepared = self.prepare(decl, &record.sha256, bytes).await?;
        tracing::info!(component = %name, version = %record.version, "loaded the active version");
        self.swap(name, record, &prepared);
        self.sync_content(name, &prepared).await;
        Ok(())
    }

    /// Reloads every component whose active version changed in the database.
    ///
    /// # Errors
    /// [`RegistryError`].
    pub async fn reconcile(&self) -> Result<(), RegistryError> {
        for name in self.manifest.components.keys() {
            self.reload(name).await?;
        }
        Ok(())
    }

    /// Every stored version, newest first per component.
    ///
    /// # Errors
    /// [`RegistryError`].
    pub async fn versions(&self) -> Result<Vec<VersionRecord>, RegistryError> {
        Ok(self.db.component_versions().await?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::crypto::{KeyService, MasterKeys};

    const MANIFEST: &str = "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/hello/...\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"hello-spin.wasm\"\n[component.hello.tool.mindflow]\nauthentication = \"none\"\n";

    fn components_dir() -> PathBuf {
        std::env::var_os("MINDFLOW_COMPONENTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components")
            })
    }

    fn registry(db: &Database, cache: PathBuf) -> ComponentRegistry {
        registry_of(db, cache, MANIFEST)
    }

    fn registry_of(db: &Database, cache: PathBuf, manifest: &str) -> ComponentRegistry {
        let components = components_dir();
        let manifest = Manifest::parse(manifest, &components)
            .expect("manifest (build the components first: `cargo xtask components`)");
        let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
        let services = HostServices::new(
            db.clone(),
            keys,
            "moderate",
            crate::crisis::semantic::from_environment(),
        )
        .expect("services");
        ComponentRegistry::new(
            Runtime::new(cache).expect("runtime"),
            db.clone(),
            Arc::new(manifest),
            HashMap::new(),
            services,
        )
    }

    /// A replica loading a version it never compiled compiles it on the blocking pool: the
    /// thread serving requests keeps running other tasks meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn loading_a_version_compiles_off_the_serving_thread() {
        let (db, dir) = crate::db::testing::sqlite().await;
        let first = registry(&db, dir.path().join("cache-first"));
        first.bootstrap().await.expect("bootstrap");
        // Another replica, with an empty artifact cache, on the same database.
        let second = registry(&db, dir.path().join("cache-second"));
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            })
        };
        let started = std::time::Instant::now();
        second.reload("hello").await.expect("reload");
        let took = started.elapsed();
        ticker.abort();
        assert!(second.get("hello").is_some(), "the version is loaded");
        let ticked = ticks.load(Ordering::Relaxed);
        // A tick every millisecond while compiling: at least a few, however slow the machine.
        assert!(
            ticked >= 5,
            "the serving thread ran {ticked} ticks during a {took:?} load"
        );
    }

    /// Every shipped adapter, and the hostile one, on one manifest.
    const ADAPTERS: &str = r#"spin_manifest_version = 2
[application]
name = "t"
[component.oura]
source = "oura.wasm"
allowed_outbound_hosts = ["https://api.ouraring.com"]
[component.oura.tool.mindflow]
kind = "wearable-adapter"
[component.google-health]
source = "google-health.wasm"
allowed_outbound_hosts = ["https://health.googleapis.com"]
[component.google-health.tool.mindflow]
kind = "wearable-adapter"
[component.garmin]
source = "garmin.wasm"
allowed_outbound_hosts = ["https://apis.garmin.com"]
[component.garmin.tool.mindflow]
kind = "wearable-adapter"
[component.apple-health]
source = "apple-health.wasm"
[component.apple-health.tool.mindflow]
kind = "wearable-adapter"
[component.hostile-adapter]
source = "hostile-adapter.wasm"
allowed_outbound_hosts = ["https://health.googleapis.com"]
[component.hostile-adapter.tool.mindflow]
kind = "wearable-adapter"
memory_limit_mb = 16
timeout_ms = 3000
"#;

    /// Each shipped adapter's fixture round-trips in the host when it is installed, and the
    /// gate report carries the replay's figures.
    #[tokio::test]
    async fn every_shipped_adapters_fixture_round_trips_on_install() {
        let (db, dir) = crate::db::testing::sqlite().await;
        let registry = registry_of(&db, dir.path().join("cache"), ADAPTERS);
        registry.bootstrap().await.expect("every adapter installs");
        let versions = registry.versions().await.expect("versions");
        let figures = |name: &str| {
            versions
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.gate_report.clone())
                .map(|r| r["details"]["round_trip"].clone())
                .unwrap_or_default()
        };
        // (requests answered, days, sleep sessions)
        for (name, requests, days, sessions) in [
            ("oura", 6, 2, 3),
            ("google-health", 8, 1, 1),
            ("garmin", 10, 1, 1),
            ("apple-health", 0, 3, 2),
            ("hostile-adapter", 1, 1, 0),
        ] {
            let got = figures(name);
            assert_eq!(got["requests_answered"], requests, "{name}: {got}");
            assert_eq!(got["days"], days, "{name}: {got}");
            assert_eq!(got["sleep_sessions"], sessions, "{name}: {got}");
            assert_eq!(got["exchanges_unused"], 0, "{name}: {got}");
        }
        assert_eq!(figures("oura")["notification"], true);
        assert_eq!(figures("apple-health")["upload"], true);
    }

    /// A version whose fetch does not give back its fixture's batch is refused by the gate,
    /// stored as rejected with the difference named, and the active version stays.
    #[tokio::test]
    async fn a_fixture_that_does_not_round_trip_refuses_the_version() {
        let (db, dir) = crate::db::testing::sqlite().await;
        let registry = registry_of(&db, dir.path().join("cache"), ADAPTERS);
        registry.bootstrap().await.expect("bootstrap");
        let before = registry
            .get("hostile-adapter")
            .expect("active")
            .record
            .version
            .clone();
        let drift = std::fs::read(components_dir().join("hostile-adapter-drift.wasm"))
            .expect("build the components first: `cargo xtask components`");
        let actor = Actor::manifest();
        let Err(RegistryError::GateRefused { report, .. }) = registry
            .install("hostile-adapter", "drift", &drift, &actor)
            .await
        else {
            panic!("the drifting version was not refused by the gate");
        };
        assert!(!report.passed);
        let error = report.details["round_trip"]["error"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            error,
            "fetch 2000-01-01..2000-01-01 differs from the fixture: day 2000-01-01 steps: \
             the fixture expects 4321, the adapter returned 4320"
        );
        assert_eq!(
            registry
                .get("hostile-adapter")
                .expect("active")
                .record
                .version,
            before
        );
        let stored = registry.versions().await.expect("versions");
        assert!(
            stored
                .iter()
                .any(|v| v.version == "drift" && v.status == "rejected")
        );
    }
}
