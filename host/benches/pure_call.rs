//! Instantiate-and-call of a pure-function component (the `crisis-rules` world): a fresh
//! store and instance per call, as in production. Prints p50/p99; asserts nothing.
//!
//! Run with `cargo bench -p mindflow --bench pure_call` after `cargo xtask components`.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::Instant;

use mindflow::crisis::rules::{AssessmentInput, Signals};
use mindflow::runtime::Runtime;

mod support;

fn main() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(cache.path().to_path_buf())?;
    let rules = support::crisis_rules(&runtime, &mindflow::crisis::semantic::from_environment())?;
    let sentence =
        "Work was long today and I felt tired and a bit low, but dinner with friends helped. ";
    let mut text = String::new();
    while text.len() < 2048 {
        text.push_str(sentence);
    }
    text.truncate(2048);
    for (label, text) in [
        ("short text (40 B)", "I feel fine today, thanks for asking."),
        ("2 KB text", text.as_str()),
    ] {
        let input = AssessmentInput {
            text: text.to_owned(),
            source: "mood_log".into(),
            language: "en".into(),
            signals: Signals {
                sentiment: Some(-0.2),
                exemplar_similarity: Some(0.1),
                exemplar_severity: None,
                negative_similarity: Some(0.1),
                semantic_risk: Some(0.1),
                semantic_severity: None,
                passage: None,
            },
        };
        for _ in 0..1_000 {
            rules.assess_blocking(&input)?;
        }
        let mut samples = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let started = Instant::now();
            let assessment = rules.assess_blocking(&input)?;
            samples.push(started.elapsed().as_nanos());
            std::hint::black_box(assessment);
        }
        samples.sort_unstable();
        println!(
            "crisis-rules instantiate+assess, {label}: n={} p50 {:.1} µs, p99 {:.1} µs",
            samples.len(),
            support::percentile(&samples, 0.5) as f64 / 1000.0,
            support::percentile(&samples, 0.99) as f64 / 1000.0
        );
    }
    Ok(())
}
