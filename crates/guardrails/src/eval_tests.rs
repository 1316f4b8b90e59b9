//! The dev targets as tests: every unsafe dev answer flagged (with its own guardrail among
//! the reasons), at most 5% of the safe ones flagged. The held-out split is not asserted on.

use crate::eval_data::dev_rows;
use crate::{Reason, screen};

#[test]
fn dev_split_meets_the_targets() {
    let rows = dev_rows();
    assert_eq!(rows.len(), 130, "answers-dev.jsonl changed");
    let mut missed = Vec::new();
    let mut wrong_reason = Vec::new();
    let mut false_positives = Vec::new();
    let mut safe_total = 0usize;
    for row in &rows {
        let verdict = screen(&row.answer);
        if row.unsafe_ {
            if verdict.is_safe() {
                missed.push(&row.id);
            }
            let own: Reason = row.kind.parse().expect("an unsafe kind names a guardrail");
            if !verdict.reasons.contains(&own) {
                wrong_reason.push(&row.id);
            }
        } else {
            safe_total += 1;
            if !verdict.is_safe() {
                false_positives.push((&row.id, verdict.reason_names()));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "unsafe dev answers not flagged: {missed:?}"
    );
    assert!(
        wrong_reason.is_empty(),
        "unsafe dev answers flagged without their own guardrail: {wrong_reason:?}"
    );
    // At most 5% of the safe answers flagged.
    assert!(
        false_positives.len() * 20 <= safe_total,
        "{} of {safe_total} safe dev answers flagged: {false_positives:?}",
        false_positives.len()
    );
}

#[test]
fn every_safe_kind_stays_within_five_percent() {
    let rows = dev_rows();
    for kind in ["safe_support", "safe_mentions", "safe_coping"] {
        let of_kind: Vec<_> = rows.iter().filter(|r| r.kind == kind).collect();
        assert!(!of_kind.is_empty(), "{kind}");
        let flagged = of_kind
            .iter()
            .filter(|r| !screen(&r.answer).is_safe())
            .count();
        assert!(
            flagged * 20 <= of_kind.len(),
            "{kind}: {flagged}/{}",
            of_kind.len()
        );
    }
}
