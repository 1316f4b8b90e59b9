//! `mindflow serve --watch`: for development, a component whose `.wasm` file changes is
//! installed as a new version and activated, as if an operator had uploaded it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::{ComponentRegistry, RegistryError, sha256_hex};
use crate::audit::Actor;

/// Watches every manifest component's source file until the process ends.
///
/// # Errors
/// When the file watcher cannot be created.
pub fn spawn(registry: Arc<ComponentRegistry>) -> notify::Result<()> {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && (event.kind.is_modify() || event.kind.is_create())
        {
            for path in event.paths {
                let _ = sender.send(path);
            }
        }
    })?;
    let mut folders: Vec<PathBuf> = registry
        .manifest()
        .components
        .values()
        .filter_map(|decl| decl.source.parent().map(PathBuf::from))
        .collect();
    folders.sort();
    folders.dedup();
    for folder in &folders {
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
    }
    tokio::spawn(async move {
        let _watcher = watcher;
        while let Some(first) = receiver.recv().await {
            // Let the writer finish, and fold the burst of events one build makes: every
            // path in the burst counts (a build often writes a temporary file, then renames).
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut changed = vec![first];
            while let Ok(path) = receiver.try_recv() {
                changed.push(path);
            }
            for decl in registry.manifest().components.values() {
                if changed.iter().any(|path| same_file(&decl.source, path))
                    && let Err(error) = reload_source(&registry, &decl.name, &decl.source).await
                {
                    tracing::error!(component = %decl.name, %error, "watch: cannot load the changed component");
                }
            }
        }
    });
    Ok(())
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.file_name() == b.file_name(),
    }
}

async fn reload_source(
    registry: &ComponentRegistry,
    name: &str,
    source: &std::path::Path,
) -> Result<(), RegistryError> {
    let bytes = std::fs::read(source).map_err(|e| RegistryError::Source {
        name: name.to_owned(),
        path: source.display().to_string(),
        message: e.to_string(),
    })?;
    let sha = sha256_hex(&bytes);
    let version = match registry.db().component_version_by_sha(name, &sha).await? {
        Some(existing) => existing.version,
        None => {
            let label = format!("dev-{}", &sha[..12]);
            registry
                .install(name, &label, &bytes, &Actor::watch())
                .await?
                .version
                .version
        }
    };
    if registry.get(name).is_some_and(|a| a.record.sha256 == sha) {
        return Ok(());
    }
    registry.activate(name, &version, &Actor::watch()).await?;
    Ok(())
}
