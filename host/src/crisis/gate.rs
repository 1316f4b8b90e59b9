//! The crisis-rules gate: a candidate ruleset is evaluated on the labelled case set and
//! refused when it misses a `high` or `imminent` case that the active version catches, when
//! its recall on `high` + `imminent` falls below the floor, or when it fails on any case.
//!
//! The report is stored with the version and returned by the admin API (and shown by the
//! clinician console): recall and precision per severity for the candidate
//! (`per_severity`) and, when a version is active, for it on the same cases
//! (`active_per_severity`), the regressions, the serious cases the candidate misses, and
//! every case whose answer changed (`changed`: its text, both answers and whether the change
//! is `better`, `worse` or `other`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use mindflow_ml::sentence::Passage;

use super::cases::{self, Case, severity_name, severity_rank};
use super::rules::{AssessmentInput, Rules};
use super::semantic::{self, Semantic};

/// What the gate concluded about a candidate.
#[derive(Debug, Clone)]
pub struct GateVerdict {
    /// Whether the candidate may be activated.
    pub passed: bool,
    /// Per-severity recall and precision, misses, regressions and changed cases.
    pub details: Value,
}

/// The lowest acceptable recall on `high` + `imminent` cases.
pub const RECALL_FLOOR: f64 = 0.95;

/// What a ruleset said about one case.
#[derive(Debug, Clone)]
struct Verdict {
    rank: u8,
    severity: &'static str,
}

/// The cases with what the host computes for each before any rules see it: the sentiment
/// and the embedded passages (the same for every version judged).
struct Prepared<'a> {
    cases: &'a [Case],
    sentiments: Vec<f32>,
    passages: Vec<Vec<Passage>>,
}

fn assess_all(
    rules: &dyn Rules,
    prepared: &Prepared<'_>,
) -> Result<Vec<Verdict>, (String, String)> {
    prepared
        .cases
        .iter()
        .zip(&prepared.sentiments)
        .zip(&prepared.passages)
        .map(|((case, sentiment), passages)| {
            let input = AssessmentInput {
                text: case.text.clone(),
                source: "gate".into(),
                language: "en".into(),
                signals: semantic::signals(
                    rules.exemplar_index(),
                    &case.text,
                    passages,
                    *sentiment,
                ),
            };
            rules
                .assess_blocking(&input)
                .map(|a| {
                    let severity = severity_name(a.severity);
                    Verdict {
                        rank: severity_rank(severity).unwrap_or(0),
                        severity,
                    }
                })
                .map_err(|e| (case.id.clone(), e))
        })
        .collect()
}

/// A case of `high`/`imminent` is caught when the verdict is at least as severe; any other
/// case is classified correctly when the verdict is exactly its severity.
fn caught(case_rank: u8, verdict_rank: u8) -> bool {
    if case_rank >= 3 {
        verdict_rank >= case_rank
    } else {
        verdict_rank == case_rank
    }
}

/// Evaluates `candidate` (against `current` when one is active) on the baseline case set,
/// each case with the signals production computes: its sentiment and, under each version's
/// own exemplars, the nearest exemplars by meaning. Blocking (embeds the case set, cached).
pub fn evaluate(
    candidate: &dyn Rules,
    current: Option<&dyn Rules>,
    semantic: &Semantic,
) -> GateVerdict {
    let cases = match cases::parse(cases::BASELINE) {
        Ok(cases) => cases,
        Err(error) => return refused(json!({"error": format!("case set: {error}")})),
    };
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let prepared = Prepared {
        sentiments: texts
            .iter()
            .map(|t| mindflow_ml::sentiment::score(t))
            .collect(),
        passages: semantic.passages_of_all(&texts),
        cases: &cases,
    };
    let verdicts = match assess_all(candidate, &prepared) {
        Ok(v) => v,
        Err((case, error)) => {
            return refused(
                json!({"error": format!("the candidate failed on case {case}: {error}")}),
            );
        }
    };
    let previous = current.and_then(|c| assess_all(c, &prepared).ok());

    let per_severity = per_severity_of(&cases, &verdicts);
    let serious: Vec<usize> = (0..cases.len())
        .filter(|&i| severity_rank(&cases[i].expected).unwrap_or(0) >= 3)
        .collect();
    let serious_hits = serious
        .iter()
        .filter(|&&i| {
            caught(
                severity_rank(&cases[i].expected).unwrap_or(0),
                verdicts[i].rank,
            )
        })
        .count();
    let serious_recall = ratio(serious_hits, serious.len()).unwrap_or(1.0);

    let (regressions, changed) = previous
        .as_deref()
        .map(|previous| compare(&cases, previous, &verdicts))
        .unwrap_or_default();
    let missed: Vec<Value> = serious
        .iter()
        .filter(|&&i| !caught(severity_rank(&cases[i].expected).unwrap_or(0), verdicts[i].rank))
        .map(|&i| json!({"id": cases[i].id, "text": cases[i].text, "expected": cases[i].expected, "candidate": verdicts[i].severity}))
        .collect();
    let mut reasons = Vec::new();
    if !regressions.is_empty() {
        reasons.push(format!(
            "misses {} high/imminent case(s) that the active version catches",
            regressions.len()
        ));
    }
    if serious_recall < RECALL_FLOOR {
        reasons.push(format!(
            "recall on high+imminent is {serious_recall:.3}, below the floor of {RECALL_FLOOR}"
        ));
    }
    GateVerdict {
        passed: reasons.is_empty(),
        details: json!({
            "cases": cases.len(),
            "per_severity": per_severity,
            "active_per_severity": previous.as_deref().map(|p| per_severity_of(&cases, p)),
            "high_imminent_recall": serious_recall,
            "recall_floor": RECALL_FLOOR,
            "compared_with_active": previous.is_some(),
            "regressions": regressions,
            "missed": missed,
            "changed": changed,
            "reasons": reasons,
        }),
    }
}

/// Recall and precision per severity of `verdicts` (one per case, in order): recall is the
/// share of a severity's cases [`caught`], precision the share of the verdicts of a severity
/// that are exactly right (`null` when no case has it, or no verdict names it).
fn per_severity_of(cases: &[Case], verdicts: &[Verdict]) -> BTreeMap<&'static str, Value> {
    let mut per_severity = BTreeMap::new();
    for name in ["none", "low", "moderate", "high", "imminent"] {
        let rank = severity_rank(name).unwrap_or(0);
        let expected: Vec<usize> = (0..cases.len())
            .filter(|&i| severity_rank(&cases[i].expected) == Some(rank))
            .collect();
        let hits = expected
            .iter()
            .filter(|&&i| caught(rank, verdicts[i].rank))
            .count();
        let predicted = verdicts.iter().filter(|v| v.rank == rank).count();
        let correct = (0..cases.len())
            .filter(|&i| {
                verdicts[i].rank == rank && severity_rank(&cases[i].expected) == Some(rank)
            })
            .count();
        per_severity.insert(
            name,
            json!({
                "cases": expected.len(),
                "recall": ratio(hits, expected.len()),
                "precision": ratio(correct, predicted),
            }),
        );
    }
    per_severity
}

/// The candidate against the active version, case by case: the regressions (a `high` or
/// `imminent` case the active version catches and the candidate misses) and every case
/// whose answer changed, with its text and its `effect`: `better` (the candidate is right
/// where the active version was not), `worse` (the reverse, at any severity), or `other`
/// (wrong both ways, or a serious case caught both ways at different severities).
fn compare(cases: &[Case], previous: &[Verdict], verdicts: &[Verdict]) -> (Vec<Value>, Vec<Value>) {
    let mut regressions = Vec::new();
    let mut changed = Vec::new();
    for ((case, before), after) in cases.iter().zip(previous).zip(verdicts) {
        let rank = severity_rank(&case.expected).unwrap_or(0);
        let (was, is) = (caught(rank, before.rank), caught(rank, after.rank));
        if before.rank != after.rank {
            let effect = match (was, is) {
                (false, true) => "better",
                (true, false) => "worse",
                _ => "other",
            };
            changed.push(json!({
                "id": case.id, "text": case.text, "expected": case.expected,
                "active": before.severity, "candidate": after.severity, "effect": effect,
            }));
        }
        if rank >= 3 && was && !is {
            regressions.push(json!({
                "id": case.id, "text": case.text, "expected": case.expected,
                "active": before.severity, "candidate": after.severity,
            }));
        }
    }
    (regressions, changed)
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    // Case counts are far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn refused(details: Value) -> GateVerdict {
    GateVerdict {
        passed: false,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::{Case, Verdict, compare, per_severity_of};

    fn case(id: &str, expected: &str) -> Case {
        Case {
            id: id.into(),
            text: format!("text of {id}"),
            expected: expected.into(),
            subject: None,
            category: None,
        }
    }

    fn verdict(severity: &'static str) -> Verdict {
        Verdict {
            rank: super::severity_rank(severity).unwrap_or(0),
            severity,
        }
    }

    #[test]
    fn recall_and_precision_per_severity() {
        let cases = [
            case("a", "none"),
            case("b", "none"),
            case("c", "high"),
            case("d", "high"),
            case("e", "imminent"),
        ];
        // `c` is caught more severely (recall counts it, precision of `high` does not);
        // `d` is missed; `b` is a false `low`.
        let verdicts = [
            verdict("none"),
            verdict("low"),
            verdict("imminent"),
            verdict("moderate"),
            verdict("imminent"),
        ];
        let figures = per_severity_of(&cases, &verdicts);
        assert_eq!(figures["none"]["cases"], 2);
        assert_eq!(figures["none"]["recall"], 0.5);
        assert_eq!(figures["none"]["precision"], 1.0);
        assert_eq!(figures["high"]["recall"], 0.5);
        // No verdict says `high`: its precision is undefined.
        assert!(figures["high"]["precision"].is_null());
        assert_eq!(figures["imminent"]["recall"], 1.0);
        assert_eq!(figures["imminent"]["precision"], 0.5);
        assert_eq!(figures["low"]["cases"], 0);
        assert!(figures["low"]["recall"].is_null());
        assert_eq!(figures["low"]["precision"], 0.0);
    }

    #[test]
    fn every_changed_case_is_listed_with_its_effect() {
        let cases = [
            case("same", "low"),
            case("fixed", "moderate"),
            case("broken-serious", "imminent"),
            case("broken-mild", "low"),
            case("caught-both", "high"),
        ];
        let active = [
            verdict("low"),
            verdict("low"),
            verdict("imminent"),
            verdict("low"),
            verdict("high"),
        ];
        let candidate = [
            verdict("low"),
            verdict("moderate"),
            verdict("high"),
            verdict("none"),
            verdict("imminent"),
        ];
        let (regressions, changed) = compare(&cases, &active, &candidate);
        let ids: Vec<&str> = changed.iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(
            ids,
            ["fixed", "broken-serious", "broken-mild", "caught-both"]
        );
        let effects: Vec<&str> = changed
            .iter()
            .filter_map(|c| c["effect"].as_str())
            .collect();
        assert_eq!(effects, ["better", "worse", "worse", "other"]);
        assert_eq!(changed[0]["text"], "text of fixed");
        assert_eq!(changed[0]["active"], "low");
        assert_eq!(changed[0]["candidate"], "moderate");
        // Only a serious case the active version caught is a regression.
        assert_eq!(regressions.len(), 1);
        assert_eq!(regressions[0]["id"], "broken-serious");
    }
}
