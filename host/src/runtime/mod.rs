//! The WebAssembly runtime: one engine, compiled-artifact caching, and per-request stores.
//!
//! Invariants:
//! - One [`wasmtime::Engine`] for the process, with the pooling allocator, epoch
//!   interruption (wall-clock deadlines) and fuel (instruction budgets for pure worlds).
//! - Every call gets a fresh `Store` and a fresh instance from a pre-instantiated
//!   component: no state survives from one request (or user) to the next.
//! - Every store has a memory cap, a deadline and, for pure worlds, a fuel budget; a
//!   component exceeding them fails its own call and nothing else.

pub mod bindings;
mod cache;
pub(crate) mod http;
mod inspect;
mod limiter;
mod prepare;
mod pure;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use thiserror::Error;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use self::http::{Caller, DispatchError, HttpComponent, ResponseBody};
pub use self::inspect::{ComponentImport, component_imports, custom_section};
pub use self::prepare::{PrepareError, Prepared, Runnable};
pub use self::pure::{PureCallError, RulesComponent};

use crate::manifest::Limits;

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Why the runtime could not start or compile.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The engine configuration was refused.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The cache folder could not be created.
    #[error("cannot create the component cache {path}: {source}")]
    CacheDir {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// The process's WebAssembly runtime.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    cache: cache::ArtifactCache,
    _ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// Creates the engine and the artifact cache in `cache_dir`, and starts the epoch ticker.
    ///
    /// # Errors
    /// [`RuntimeError`] when the engine or the cache folder cannot be created.
    pub fn new(cache_dir: PathBuf) -> Result<Self, RuntimeError> {
        let engine =
            Engine::new(&engine_config()).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let cache = cache::ArtifactCache::open(&engine, cache_dir)?;
        let ticker = Arc::new(EpochTicker::start(engine.clone()));
        Ok(Self {
            engine,
            cache,
            _ticker: ticker,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The epoch deadline, in ticks, for a timeout.
    pub fn deadline_ticks(timeout_ms: u64) -> u64 {
        let tick = EPOCH_TICK.as_millis().max(1) as u64;
        timeout_ms.div_ceil(tick).max(1) + 1
    }
}

fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1000);
    pool.total_core_instances(2000);
    pool.total_memories(1000);
    pool.total_tables(1000);
    pool.max_memory_size(Limits::MAX_MEMORY_BYTES);
    pool.max_core_instances_per_component(32);
    pool.max_memories_per_component(8);
    pool.max_tables_per_component(8);
    pool.max_component_instance_size(1 << 20);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("mindflow-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the epoch ticker: {e}"));
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
