//! The WebAssembly runtime: engines, compiled-artifact caching, and per-request stores.
//!
//! Invariants:
//! - Two [`wasmtime::Engine`]s for the process, both with the pooling allocator and epoch
//!   interruption (wall-clock deadlines); the pure-function engine also meters fuel
//!   (instruction budgets), which would slow every HTTP component if they shared it.
//! - Every call gets a fresh `Store` and a fresh instance from a pre-instantiated
//!   component: no state survives from one request (or user) to the next.
//! - Every store has a memory cap, a deadline and, for pure worlds (crisis rules, content
//!   providers), a fuel budget; a
//!   component exceeding them fails its own call and nothing else.

pub mod adapter;
mod cache;
pub(crate) mod content;
pub(crate) mod http;
mod inspect;
mod limiter;
mod prepare;
pub(crate) mod pure;
mod ready;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use thiserror::Error;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use self::content::{CatalogueCallError, ContentProviderComponent};
pub use self::http::{DispatchError, HttpComponent, ResponseBody};
pub use self::inspect::{ComponentImport, component_imports, custom_section};
pub use self::prepare::{PrepareError, Prepared, Runnable};
pub use self::pure::{PureCallError, RulesComponent};
pub use crate::identity::Caller;

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

/// An engine and the artifact cache of its configuration.
#[derive(Clone)]
pub(crate) struct EngineSlot {
    pub(crate) engine: Engine,
    pub(crate) cache: cache::ArtifactCache,
}

/// The process's WebAssembly runtime: one engine for HTTP components and one for pure
/// functions. They differ in one setting: fuel metering, which pure worlds need for their
/// instruction budget and which costs every instruction of code compiled with it, so HTTP
/// components (bounded by their epoch deadline) are compiled without it.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) http: EngineSlot,
    pub(crate) pure: EngineSlot,
    _ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// Creates the engine and the artifact cache in `cache_dir`, and starts the epoch ticker.
    ///
    /// # Errors
    /// [`RuntimeError`] when the engine or the cache folder cannot be created.
    pub fn new(cache_dir: PathBuf) -> Result<Self, RuntimeError> {
        let slot = |fuel: bool| -> Result<EngineSlot, RuntimeError> {
            let engine = Engine::new(&engine_config(fuel))
                .map_err(|e| RuntimeError::Engine(e.to_string()))?;
            let cache = cache::ArtifactCache::open(&engine, cache_dir.clone())?;
            Ok(EngineSlot { engine, cache })
        };
        let http = slot(false)?;
        let pure = slot(true)?;
        let ticker = Arc::new(EpochTicker::start(vec![
            http.engine.clone(),
            pure.engine.clone(),
        ]));
        Ok(Self {
            http,
            pure,
            _ticker: ticker,
        })
    }

    /// The engine HTTP components run on.
    pub fn engine(&self) -> &Engine {
        &self.http.engine
    }

    /// The epoch deadline, in ticks, for a timeout.
    pub fn deadline_ticks(timeout_ms: u64) -> u64 {
        let tick = u64::try_from(EPOCH_TICK.as_millis().max(1)).unwrap_or(u64::MAX);
        timeout_ms.div_ceil(tick).max(1) + 1
    }
}

/// How many dirty bytes of a memory or table slot are rewritten in place (and stay resident)
/// between instances when the kernel reports which pages were dirtied: enough for the
/// stack, data and early heap of a typical Rust component.
const KEEP_RESIDENT_WITH_PAGEMAP_SCAN: usize = 2 << 20;
/// Without PAGEMAP_SCAN every kept byte is reset with a memset on every release, dirty or
/// not, so keep only the first pages.
const KEEP_RESIDENT_WITH_MEMSET: usize = 64 << 10;

fn engine_config(fuel: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(fuel);
    let mut pool = PoolingAllocationConfig::default();
    // Reset a slot between instances by rewriting only the pages the last instance dirtied
    // (found with Linux's PAGEMAP_SCAN where the kernel has it, 6.7+), up to this many bytes,
    // instead of unmapping them: `madvise` costs page faults on the next instance and TLB
    // shootdowns on every other core, which were most of the per-request cost. Without
    // PAGEMAP_SCAN, the first bytes are reset with a memset and the rest unmapped.
    let keep_resident = if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes);
        KEEP_RESIDENT_WITH_PAGEMAP_SCAN
    } else {
        KEEP_RESIDENT_WITH_MEMSET
    };
    pool.linear_memory_keep_resident(keep_resident);
    pool.table_keep_resident(keep_resident);
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

/// Advances the engines' epochs every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engines: Vec<Engine>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("mindflow-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in &engines {
                        engine.increment_epoch();
                    }
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
