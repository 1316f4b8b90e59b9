//! Compiled components cached on disk, keyed by the component's SHA-256 and the engine's
//! compatibility hash (wasmtime version and every setting that changes code generation), so
//! a restart does not recompile and an incompatible artifact is never loaded.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::RuntimeError;

#[derive(Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

/// Feeds `Hash` output into SHA-256, for a key that is stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ArtifactCache {
    pub(super) fn open(engine: &Engine, dir: PathBuf) -> Result<Self, RuntimeError> {
        std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::CacheDir {
            path: dir.clone(),
            source,
        })?;
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..12]);
        Ok(Self { dir, engine_key })
    }

    /// Loads the compiled form of `bytes` from the cache, or compiles and stores it.
    pub(super) fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let path = self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key));
        if path.is_file() {
            // SAFETY: the file was written by `Engine::precompile_component` of an engine with
            // the same compatibility hash, into the host's own data folder, by rename.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "discarding unusable cached component");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        let temp = path.with_extension(format!("tmp{}", std::process::id()));
        if let Err(error) =
            std::fs::write(&temp, &compiled).and_then(|()| std::fs::rename(&temp, &path))
        {
            tracing::warn!(path = %path.display(), %error, "cannot cache the compiled component");
            let _ = std::fs::remove_file(&temp);
        }
        // SAFETY: `compiled` was produced by this very engine a moment ago.
        #[allow(unsafe_code)]
        unsafe {
            Component::deserialize(engine, &compiled)
        }
    }
}
