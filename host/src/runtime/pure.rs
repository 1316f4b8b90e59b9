//! Calling pure-function components (the `crisis-rules` world) under an instruction budget,
//! a deadline, a memory cap and input/output size caps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;
use wasmtime::Store;

use super::Runtime;
use super::limiter::MemoryCap;
use crate::crisis::rules::world::CrisisRulesPre;
use crate::crisis::rules::{Assessment, AssessmentInput, Exemplar, Rules, RulesetInfo};
use crate::manifest::Limits;
use mindflow_ml::semantic::ExemplarIndex;

/// Why a pure call failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PureCallError {
    /// The input is larger than the component's input cap.
    #[error("input of {size} bytes exceeds the cap of {cap} bytes")]
    InputTooLarge {
        /// Input size.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The output is larger than the component's output cap.
    #[error("output of {size} bytes exceeds the cap of {cap} bytes")]
    OutputTooLarge {
        /// Output size.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The instruction budget ran out.
    #[error("the component used up its instruction budget")]
    OutOfFuel,
    /// The deadline passed.
    #[error("the component ran past its deadline")]
    Timeout,
    /// The memory cap was hit.
    #[error("the component exceeded its memory limit")]
    MemoryLimit,
    /// Any other trap or instantiation failure.
    #[error("the component failed: {0}")]
    Trap(String),
}

impl PureCallError {
    /// The metrics' name for how the call failed.
    pub fn metric_kind(&self) -> &'static str {
        match self {
            Self::InputTooLarge { .. } => "input_too_large",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::OutOfFuel => "fuel",
            Self::Timeout => "deadline",
            Self::MemoryLimit => "memory_limit",
            Self::Trap(_) => "trap",
        }
    }
}

/// Store state of a pure call: nothing but the memory cap.
pub(crate) struct PureState {
    limiter: MemoryCap,
}

/// A pre-instantiated crisis-rules component.
#[derive(Clone)]
pub struct RulesComponent {
    pub(crate) pre: CrisisRulesPre<PureState>,
    pub(crate) limits: Limits,
    /// The version's exemplars, embedded at prepare.
    pub(crate) index: Arc<ExemplarIndex>,
    /// The metrics' labels: the component's name and the first 12 hex digits of its
    /// SHA-256 (its version, as the metrics see it).
    pub(crate) label: Arc<(String, String)>,
    /// The version's recent judgements (the crisis judge's memory; they depend on the index,
    /// so a component with another index has its own).
    pub(crate) judgements: Arc<crate::crisis::judge::RecentJudgements>,
}

/// Fuel (about one unit per instruction) a pure call runs between yields to the executor:
/// an ordinary assessment finishes well within it, a long one lets other tasks of its
/// thread run every millisecond or so.
const YIELD_EVERY_FUEL: u64 = 1_000_000;

/// The deadline of install-time calls (the exemplars): generous, since they run once per
/// version on the blocking pool, but a component that loops still fails its install.
const INSTALL_TIMEOUT_MS: u64 = 30_000;

impl RulesComponent {
    /// Assesses `input` with a fresh instance, on the caller's task (yielding now and then).
    ///
    /// # Errors
    /// [`PureCallError`] when a cap is exceeded or the component traps.
    pub async fn assess(&self, input: &AssessmentInput) -> Result<Assessment, PureCallError> {
        let size = input.text.len() + input.source.len() + input.language.len() + 16;
        if size > self.limits.max_input_bytes {
            return Err(PureCallError::InputTooLarge {
                size,
                cap: self.limits.max_input_bytes,
            });
        }
        let (mut store, exceeded) = self.store()?;
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .mindflow_platform_rules()
                .call_assess(&mut store, input)
                .await
        }
        .await;
        let metrics = crate::metrics::global();
        let (name, version) = (self.label.0.as_str(), self.label.1.as_str());
        metrics.component_instances.inc(&[name, version]);
        let assessment = result.map_err(|error| {
            let error = classify(&error, &exceeded);
            metrics
                .component_failures
                .inc(&[name, version, error.metric_kind()]);
            error
        })?;
        let size = assessment
            .matched
            .iter()
            .map(|rule| rule.id.len() + 8)
            .sum::<usize>()
            + 16;
        match self.limits.max_output_bytes {
            Some(cap) if size > cap => Err(PureCallError::OutputTooLarge { size, cap }),
            _ => Ok(assessment),
        }
    }

    /// [`Self::assess`] on the current thread, for callers outside an async context (the
    /// install gate, benchmarks). The component imports nothing, so nothing is awaited but
    /// the guest itself.
    ///
    /// # Errors
    /// As [`Self::assess`].
    pub fn assess_blocking(&self, input: &AssessmentInput) -> Result<Assessment, PureCallError> {
        futures::executor::block_on(self.assess(input))
    }

    /// The same component judging with another exemplar index (cross-validation).
    #[must_use]
    pub fn with_index(&self, index: Arc<ExemplarIndex>) -> Self {
        Self {
            pre: self.pre.clone(),
            limits: self.limits,
            index,
            label: self.label.clone(),
            judgements: Arc::default(),
        }
    }

    /// The version's semantic-signal exemplars (called once, at prepare, off the request
    /// path: it runs under the install budget, not a request's fuel and deadline).
    ///
    /// # Errors
    /// [`PureCallError`] when the component traps or exceeds a cap.
    pub fn exemplars(&self) -> Result<Vec<Exemplar>, PureCallError> {
        futures::executor::block_on(async {
            let (mut store, exceeded) = self.store_with(INSTALL_TIMEOUT_MS, None)?;
            let result = async {
                let instance = self.pre.instantiate_async(&mut store).await?;
                instance
                    .mindflow_platform_rules()
                    .call_exemplars(&mut store)
                    .await
            }
            .await;
            result.map_err(|error| classify(&error, &exceeded))
        })
    }

    /// Describes the ruleset.
    ///
    /// # Errors
    /// [`PureCallError`] when the component traps or exceeds a cap.
    pub fn info(&self) -> Result<RulesetInfo, PureCallError> {
        futures::executor::block_on(async {
            let (mut store, exceeded) = self.store()?;
            let result = async {
                let instance = self.pre.instantiate_async(&mut store).await?;
                instance
                    .mindflow_platform_rules()
                    .call_info(&mut store)
                    .await
            }
            .await;
            result.map_err(|error| classify(&error, &exceeded))
        })
    }

    /// A fresh store with the component's caps: memory, deadline, fuel.
    fn store(&self) -> Result<(Store<PureState>, Arc<AtomicBool>), PureCallError> {
        self.store_with(self.limits.timeout_ms, self.limits.fuel)
    }

    /// A fresh store with the component's memory cap, `timeout_ms` and `fuel`.
    fn store_with(
        &self,
        timeout_ms: u64,
        fuel: Option<u64>,
    ) -> Result<(Store<PureState>, Arc<AtomicBool>), PureCallError> {
        pure_store(
            self.pre.engine(),
            self.limits.memory_bytes,
            timeout_ms,
            fuel,
        )
    }
}

/// A fresh store for a pure call: `memory_bytes` of memory, `timeout_ms` of wall clock and
/// `fuel` (unmetered when `None`), yielding to the executor every [`YIELD_EVERY_FUEL`].
/// The flag tells whether the memory cap was hit.
pub(crate) fn pure_store(
    engine: &wasmtime::Engine,
    memory_bytes: usize,
    timeout_ms: u64,
    fuel: Option<u64>,
) -> Result<(Store<PureState>, Arc<AtomicBool>), PureCallError> {
    let (limiter, exceeded) = MemoryCap::new(memory_bytes);
    let mut store = Store::new(engine, PureState { limiter });
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(Runtime::deadline_ticks(timeout_ms));
    store.epoch_deadline_trap();
    store
        .set_fuel(fuel.unwrap_or(u64::MAX))
        .and_then(|()| store.fuel_async_yield_interval(Some(YIELD_EVERY_FUEL)))
        .map_err(|e| PureCallError::Trap(e.to_string()))?;
    Ok((store, exceeded))
}

/// What a failed pure call's error means.
pub(crate) fn classify(error: &wasmtime::Error, exceeded: &AtomicBool) -> PureCallError {
    if exceeded.load(Ordering::Relaxed) {
        return PureCallError::MemoryLimit;
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => PureCallError::OutOfFuel,
        Some(wasmtime::Trap::Interrupt) => PureCallError::Timeout,
        Some(trap) => PureCallError::Trap(trap.to_string()),
        None => PureCallError::Trap(format!("{error:#}")),
    }
}

/// What the crisis service and the gate need of a rules component.
impl Rules for RulesComponent {
    fn assess<'a>(
        &'a self,
        input: &'a AssessmentInput,
    ) -> futures::future::BoxFuture<'a, Result<Assessment, String>> {
        Box::pin(async move {
            RulesComponent::assess(self, input)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn assess_blocking(&self, input: &AssessmentInput) -> Result<Assessment, String> {
        RulesComponent::assess_blocking(self, input).map_err(|e| e.to_string())
    }

    fn exemplar_index(&self) -> &ExemplarIndex {
        &self.index
    }

    fn recent_judgements(&self) -> &crate::crisis::judge::RecentJudgements {
        &self.judgements
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::crisis::rules::Signals;
    use crate::manifest::Manifest;

    /// The real crisis-rules component under `limits` (which replace the manifest's).
    pub(crate) fn rules(runtime: &Runtime, limits: impl FnOnce(&mut Limits)) -> RulesComponent {
        let components = std::env::var_os("MINDFLOW_COMPONENTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components")
            });
        let manifest = Manifest::parse(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[component.crisis-rules]\nsource = \"crisis-rules.wasm\"\n[component.crisis-rules.tool.mindflow]\nkind = \"crisis-rules\"\n",
            &components,
        )
        .expect("manifest (build the components first: `cargo xtask components`)");
        let decl = &manifest.components["crisis-rules"];
        let bytes = std::fs::read(&decl.source).expect("crisis-rules.wasm");
        let sha = crate::registry::sha256_hex(&bytes);
        let mut rules = runtime
            .prepare_rules(
                decl,
                &sha,
                &bytes,
                &crate::crisis::semantic::from_environment(),
            )
            .expect("prepare");
        limits(&mut rules.limits);
        rules
    }

    fn input(text: &str) -> AssessmentInput {
        AssessmentInput {
            text: text.into(),
            source: "mood_log".into(),
            language: "en".into(),
            signals: Signals {
                sentiment: None,
                exemplar_similarity: None,
                exemplar_severity: None,
                negative_similarity: None,
                semantic_risk: None,
                semantic_severity: None,
                passage: None,
            },
        }
    }

    #[tokio::test]
    async fn a_pure_call_is_held_to_its_fuel_input_and_output_caps() {
        let cache = tempfile::tempdir().expect("tempdir");
        let runtime = Runtime::new(cache.path().to_path_buf()).expect("runtime");
        let text = "I want to end my life tonight, I have the pills ready.";

        let assessment = rules(&runtime, |_| {})
            .assess(&input(text))
            .await
            .expect("within the default caps");
        assert!(!assessment.matched.is_empty());

        let starved = rules(&runtime, |l| l.fuel = Some(1_000));
        assert_eq!(
            starved.assess(&input(text)).await.err(),
            Some(PureCallError::OutOfFuel)
        );
        let narrow_in = rules(&runtime, |l| l.max_input_bytes = 32);
        assert!(matches!(
            narrow_in.assess(&input(text)).await,
            Err(PureCallError::InputTooLarge { cap: 32, .. })
        ));
        let narrow_out = rules(&runtime, |l| l.max_output_bytes = Some(8));
        assert!(matches!(
            narrow_out.assess(&input(text)).await,
            Err(PureCallError::OutputTooLarge { cap: 8, .. })
        ));
        // The blocking form answers the same as the async one.
        let again = rules(&runtime, |_| {})
            .assess_blocking(&input(text))
            .expect("blocking");
        assert_eq!(again.severity, assessment.severity);
    }

    /// A long call yields to the executor now and then: another task on the same
    /// single-threaded runtime gets to run while it is in progress.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_pure_call_lets_other_tasks_run() {
        let cache = tempfile::tempdir().expect("tempdir");
        let runtime = Runtime::new(cache.path().to_path_buf()).expect("runtime");
        let rules = rules(&runtime, |l| {
            l.fuel = Some(1_000_000_000);
            l.timeout_ms = 30_000;
            l.max_input_bytes = 1 << 20;
            l.max_output_bytes = None;
        });
        let text = "some days are hard and I keep going anyway. ".repeat(12_000);
        let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            })
        };
        let before = ticks.load(Ordering::Relaxed);
        rules.assess(&input(&text)).await.expect("long call");
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert!(during > 0, "the call never yielded");
    }
}
