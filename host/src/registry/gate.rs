//! Install-time gates: kind-specific checks a candidate version must pass before it may be
//! activated. A gate sees the candidate and the version active now, and returns a report that
//! is stored with the version and returned by the admin API.

use serde::Serialize;
use serde_json::{Value, json};

use crate::crisis::semantic::Semantic;
use crate::manifest::ComponentKind;
use crate::runtime::{Prepared, Runnable};

/// What a gate concluded.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// The gate's name.
    pub gate: &'static str,
    /// Whether the candidate may be activated.
    pub passed: bool,
    /// Details (per kind).
    pub details: Value,
}

/// Runs the gate for the candidate's kind.
///
/// `current` is the version active now, if any, for gates that compare behaviour.
pub fn run(
    kind: ComponentKind,
    candidate: &Prepared,
    current: Option<&Prepared>,
    semantic: &Semantic,
) -> GateReport {
    match (&candidate.runnable, kind) {
        (Runnable::CrisisRules(rules), ComponentKind::CrisisRules) => {
            let current = current.and_then(|p| match &p.runnable {
                Runnable::CrisisRules(r) => Some(r),
                Runnable::Http(_) | Runnable::ContentProvider(_) | Runnable::WearableAdapter(_) => {
                    None
                }
            });
            let current = current.map(|r| r as &dyn crate::crisis::rules::Rules);
            let verdict = crate::crisis::gate::evaluate(rules, current, semantic);
            GateReport {
                gate: "crisis-rules",
                passed: verdict.passed,
                details: verdict.details,
            }
        }
        (Runnable::ContentProvider(provider), ComponentKind::ContentProvider) => {
            // The catalogue was checked item by item when the version was prepared; the
            // report says what activating it would list.
            let mut by_type = std::collections::BTreeMap::<&str, usize>::new();
            for item in provider.catalogue() {
                *by_type
                    .entry(item.values.content_type.as_str())
                    .or_default() += 1;
            }
            let premium = provider
                .catalogue()
                .iter()
                .filter(|i| i.values.is_premium)
                .count();
            GateReport {
                gate: "content-provider",
                passed: true,
                details: json!({
                    "items": provider.catalogue().len(),
                    "premium": premium,
                    "by_type": by_type,
                }),
            }
        }
        (Runnable::WearableAdapter(adapter), ComponentKind::WearableAdapter) => {
            // What it declares was checked when the version was prepared
            // (`wearables::conformance`); here its own fixture is replayed against it
            // (`wearables::roundtrip`). The gate runs on the blocking pool, so it may wait.
            let info = &adapter.info;
            let round_trip = match tokio::runtime::Handle::try_current() {
                Ok(handle) => handle.block_on(crate::wearables::roundtrip::run(adapter)),
                Err(e) => Err(format!("no runtime to replay the fixture: {e}")),
            };
            let (passed, round_trip) = match round_trip {
                Ok(figures) => (true, json!(figures)),
                Err(error) => (false, json!({"error": error})),
            };
            GateReport {
                gate: "wearable-adapter",
                passed,
                details: json!({
                    "provider": info.id,
                    "display_name": info.display_name,
                    "api_hosts": info.api_hosts,
                    "webhooks": info.webhooks.is_some(),
                    "backfill_days": info.backfill_days,
                    "round_trip": round_trip,
                }),
            }
        }
        _ => GateReport {
            gate: "none",
            passed: true,
            details: json!({"note": format!("no gate is defined for {kind} components")}),
        },
    }
}
