//! Evaluates the engine on the labelled case set (`cases/cases.jsonl`) and asserts the
//! product targets. Run with `-- --nocapture` to see the table.

use crisis_rules::engine::Severity;
use crisis_rules::evaluate::{evaluate, parse_cases};

fn load() -> Vec<crisis_rules::evaluate::Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cases/cases.jsonl");
    let text = std::fs::read_to_string(path).expect("cases/cases.jsonl is readable");
    parse_cases(&text).unwrap_or_else(|e| panic!("cases/cases.jsonl: {e}"))
}

#[test]
fn case_set_is_large_and_covers_every_category() {
    let cases = load();
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    for category in [
        "imminent",
        "high",
        "moderate",
        "low",
        "negated",
        "third-person",
        "everyday",
        "idiom",
    ] {
        let n = cases.iter().filter(|c| c.category == category).count();
        assert!(n >= 25, "category {category} has only {n} cases");
    }
}

#[test]
fn case_set_meets_the_targets() {
    let cases = load();
    let report = evaluate(&cases);
    println!("\n{}", report.table());
    if !report.misses.is_empty() {
        println!("misses ({}):", report.misses.len());
        for m in &report.misses {
            println!(
                "  {:<10} {:<12} expected {:<8} got {:<8} subject {:<12} {:?}  [{}]",
                m.id,
                m.category,
                m.expected.name(),
                m.predicted.name(),
                m.subject.name(),
                m.text,
                m.matched.join(", ")
            );
        }
    }
    let imminent = report.stats(Severity::Imminent);
    let high = report.stats(Severity::High);
    println!(
        "targets: imminent recall {:.3} (need 1.0), high recall {:.3} (need >= 0.95), FP rate {:.3} (need < 0.05), negated >= high {}, third-person subject misses {}",
        imminent.caught_recall(),
        high.caught_recall(),
        report.false_positive_rate(),
        report.negated_violations.len(),
        report.third_person_subject_misses.len()
    );
    let violations = report.target_violations();
    assert!(violations.is_empty(), "targets not met: {violations:#?}");
}
