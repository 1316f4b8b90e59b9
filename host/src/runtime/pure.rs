//! Calling pure-function components (the `crisis-rules` world) under an instruction budget,
//! a deadline, a memory cap and input/output size caps.

use std::sync::atomic::Ordering;

use thiserror::Error;
use wasmtime::Store;

use super::Runtime;
use super::bindings::crisis_rules::CrisisRulesPre;
use super::bindings::crisis_rules::exports::mindflow::platform::rules::{
    Assessment, AssessmentInput, RulesetInfo,
};
use super::limiter::MemoryCap;
use crate::manifest::Limits;

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

/// Store state of a pure call: nothing but the memory cap.
pub(crate) struct PureState {
    limiter: MemoryCap,
}

/// A pre-instantiated crisis-rules component.
#[derive(Clone)]
pub struct RulesComponent {
    pub(crate) pre: CrisisRulesPre<PureState>,
    pub(crate) limits: Limits,
}

impl RulesComponent {
    /// Assesses `input` with a fresh instance.
    ///
    /// # Errors
    /// [`PureCallError`] when a cap is exceeded or the component traps.
    pub fn assess(&self, input: &AssessmentInput) -> Result<Assessment, PureCallError> {
        let size = input.text.len() + input.source.len() + input.language.len() + 16;
        if size > self.limits.max_input_bytes {
            return Err(PureCallError::InputTooLarge {
                size,
                cap: self.limits.max_input_bytes,
            });
        }
        let assessment = self
            .call(|instance, store| instance.mindflow_platform_rules().call_assess(store, input))?;
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

    /// Describes the ruleset.
    ///
    /// # Errors
    /// [`PureCallError`] when the component traps or exceeds a cap.
    pub fn info(&self) -> Result<RulesetInfo, PureCallError> {
        self.call(|instance, store| instance.mindflow_platform_rules().call_info(store))
    }

    fn call<R>(
        &self,
        f: impl FnOnce(
            &super::bindings::crisis_rules::CrisisRules,
            &mut Store<PureState>,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, PureCallError> {
        let (limiter, exceeded) = MemoryCap::new(self.limits.memory_bytes);
        let mut store = Store::new(self.pre.engine(), PureState { limiter });
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout_ms));
        store.epoch_deadline_trap();
        store
            .set_fuel(self.limits.fuel.unwrap_or(u64::MAX))
            .map_err(|e| PureCallError::Trap(e.to_string()))?;
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&instance, &mut store));
        result.map_err(|error| {
            if exceeded.load(Ordering::Relaxed) {
                return PureCallError::MemoryLimit;
            }
            match error.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::OutOfFuel) => PureCallError::OutOfFuel,
                Some(wasmtime::Trap::Interrupt) => PureCallError::Timeout,
                Some(trap) => PureCallError::Trap(trap.to_string()),
                None => PureCallError::Trap(format!("{error:#}")),
            }
        })
    }
}
