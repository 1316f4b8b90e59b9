//! MindFlow's default crisis-rules component: a pure function from text to a crisis
//! assessment (the WIT world `mindflow:platform/crisis-rules`).
//!
//! The rules are data: `rules/ruleset.toml`, compiled into tables by `build.rs` (a malformed
//! ruleset fails the build). The engine is plain Rust ([`engine::assess`]), tested natively;
//! on `wasm32` the same engine is exported through `wit-bindgen`. The component imports
//! nothing: no I/O, no WASI, no clock, no randomness.
//!
//! See `README.md` for the data format and the measured recall and precision.

#![warn(missing_docs)]

pub mod engine;
pub mod evaluate;
pub mod exemplars;
pub mod matcher;
pub mod normalize;
pub mod severity;
pub mod tables;

pub use engine::{Assessment, Info, Input, MatchedRule, Severity, Signals, Subject, assess, info};

#[cfg(test)]
#[path = "../build_support/toml_lite.rs"]
mod toml_lite;

#[cfg(test)]
#[path = "../build_support/compile.rs"]
mod compile;

#[cfg(test)]
mod ruleset_tests;

/// One call per instance: allocations bump through a static arena (see the crate).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

/// The export of the `crisis-rules` world. wit-bindgen's `export!` expands to `export_name`
/// functions and `unsafe` lifting and lowering of the arguments, all of its own making.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mindflow:platform/crisis-rules",
    });

    use exports::mindflow::platform::rules::{
        Assessment, AssessmentInput, Exemplar, Guest, MatchedRule, RulesetInfo, Severity, Subject,
    };

    use crate::engine;

    struct Component;

    fn severity(s: engine::Severity) -> Severity {
        match s {
            engine::Severity::None => Severity::None,
            engine::Severity::Low => Severity::Low,
            engine::Severity::Moderate => Severity::Moderate,
            engine::Severity::High => Severity::High,
            engine::Severity::Imminent => Severity::Imminent,
        }
    }

    fn from_wit(s: Severity) -> engine::Severity {
        match s {
            Severity::None => engine::Severity::None,
            Severity::Low => engine::Severity::Low,
            Severity::Moderate => engine::Severity::Moderate,
            Severity::High => engine::Severity::High,
            Severity::Imminent => engine::Severity::Imminent,
        }
    }

    impl Guest for Component {
        fn assess(input: AssessmentInput) -> Assessment {
            let a = engine::assess(&engine::Input {
                text: &input.text,
                source: &input.source,
                language: &input.language,
                signals: engine::Signals {
                    sentiment: input.signals.sentiment,
                    exemplar_similarity: input.signals.exemplar_similarity,
                    exemplar_severity: input.signals.exemplar_severity.map(from_wit),
                    negative_similarity: input.signals.negative_similarity,
                    semantic_risk: input.signals.semantic_risk,
                    semantic_severity: input.signals.semantic_severity.map(from_wit),
                    passage: input.signals.passage.map(|p| (p.start, p.end)),
                },
            });
            Assessment {
                severity: severity(a.severity),
                confidence: a.confidence,
                subject: match a.subject {
                    engine::Subject::Writer => Subject::Writer,
                    engine::Subject::OtherPerson => Subject::OtherPerson,
                    engine::Subject::Unclear => Subject::Unclear,
                },
                matched: a
                    .matched
                    .into_iter()
                    .map(|m| MatchedRule {
                        id: m.id.to_owned(),
                        severity: severity(m.severity),
                        weight: m.weight,
                    })
                    .collect(),
            }
        }

        fn exemplars() -> Vec<Exemplar> {
            crate::exemplars::shipped()
                .into_iter()
                .map(|e| Exemplar {
                    text: e.text,
                    severity: severity(e.severity),
                    kind: e.kind,
                })
                .collect()
        }

        fn info() -> RulesetInfo {
            let i = engine::info();
            RulesetInfo {
                version: i.version.to_owned(),
                rule_count: i.rule_count,
            }
        }
    }

    export!(Component);
}
