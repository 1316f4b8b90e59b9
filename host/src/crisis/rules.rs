//! The crisis-rules world as the host sees it: its generated bindings, the [`Rules`] a crisis
//! assessment runs, and the [`ActiveRules`] slot through which the registry hands the active
//! version to the crisis service.
//!
//! The crisis module defines what it needs from a rules component and the runtime provides it
//! (`runtime::RulesComponent` implements [`Rules`]), so crisis support depends on no part of
//! the runtime or the registry: the crisis service exists before any component is prepared.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use futures::future::BoxFuture;

/// The pure crisis-rules world (`mindflow:platform/crisis-rules`). Its exports are async:
/// while serving a request the guest runs on the request's task and yields every so often
/// (fuel), instead of hopping to a blocking thread.
#[allow(missing_docs)]
pub mod world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mindflow:platform/crisis-rules",
        exports: { default: async },
    });
}

pub use world::exports::mindflow::platform::rules::{
    Assessment, AssessmentInput, Exemplar, RulesetInfo, Severity, Signals, Subject, TextRange,
};

use mindflow_ml::semantic::ExemplarIndex;

/// A crisis-rules component, ready to assess.
pub trait Rules: Send + Sync {
    /// Assesses `input` on the caller's task.
    ///
    /// # Errors
    /// Why the component failed (a trap, a cap exceeded), as text for logs and reports.
    fn assess<'a>(
        &'a self,
        input: &'a AssessmentInput,
    ) -> BoxFuture<'a, Result<Assessment, String>>;

    /// Assesses `input`, blocking the thread (the gate, off the request path).
    ///
    /// # Errors
    /// As [`Rules::assess`].
    fn assess_blocking(&self, input: &AssessmentInput) -> Result<Assessment, String>;

    /// The version's exemplars, embedded when it was prepared (the semantic signal's).
    fn exemplar_index(&self) -> &ExemplarIndex;

    /// The version's recent judgements ([`super::judge`]).
    fn recent_judgements(&self) -> &super::judge::RecentJudgements;
}

/// The crisis-rules version active now, published by the registry on every activation and
/// read by the crisis service on every assessment. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ActiveRules(Arc<ArcSwapOption<Box<dyn Rules>>>);

impl ActiveRules {
    /// Makes `rules` the active version.
    pub fn publish(&self, rules: Box<dyn Rules>) {
        self.0.store(Some(Arc::new(rules)));
    }

    /// The active version, if one was published.
    pub fn current(&self) -> Option<Arc<Box<dyn Rules>>> {
        self.0.load_full()
    }
}
