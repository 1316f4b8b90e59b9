//! The cost of a crisis assessment as production computes it, one request at a time: the
//! sentence encoder over every passage of the note, the nearest exemplars and the classifier,
//! VADER, then the crisis-rules component in a fresh instance ([`mindflow::crisis::judge`]).
//! Notes of about 500 bytes (a mood note) and 2 KB (a journal entry), each run with every
//! sentence tagged by the run (so the worker's memory of recent passages does not answer). Prints p50/p99;
//! asserts nothing.
//!
//! `MINDFLOW_EMBEDDING_MODEL=$(scripts/fetch-models.sh) cargo bench -p mindflow --bench
//! crisis_assess` after `cargo xtask components`.

// Statistics over timings: converting them to `f64` is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::time::Instant;

use mindflow::crisis::judge::{self, SharedRules};
use mindflow::crisis::semantic;
use mindflow::runtime::Runtime;

mod support;

const NOTE: &str = "Rough day at work again. My manager moved the deadline up and I stayed \
late to finish the slides, then missed the bus home. Ate cereal for dinner standing at the \
counter. I keep telling myself that tomorrow will be different, that I'll get up early and go \
for a walk before work. Called mum but she didn't pick up. Honestly I'm tired of feeling like \
this every single week and I don't know who to talk to about it. Going to try to sleep early.";

fn main() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(cache.path().to_path_buf())?;
    let semantic = semantic::from_environment();
    let rules: SharedRules = Arc::new(Box::new(support::crisis_rules(&runtime, &semantic)?));
    let journal: String = [NOTE; 4].join(" ");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for round in 1..=rounds {
        for (note, (label, text)) in [("500 B note", NOTE), ("2 KB note", journal.as_str())]
            .into_iter()
            .enumerate()
        {
            let mut samples = Vec::with_capacity(100);
            for run in 0..100 {
                // Every sentence is new: the embedding worker remembers recent passages (a
                // conversation's earlier sentences), and a repeated one would measure that
                // memory instead of the encoder.
                // A short number (a token or two per sentence), different for every run.
                let tag = format!(" {}.", (note * 100 + round) * 1000 + run);
                let text = format!("{text} ").replace(". ", &format!("{tag} "));
                let started = Instant::now();
                let assessment = tokio
                    .block_on(judge::text(
                        &semantic, &rules, &text, "mood_log", "en", None,
                    ))
                    .map_err(anyhow::Error::msg)?;
                samples.push(started.elapsed().as_nanos());
                std::hint::black_box(assessment);
            }
            samples.sort_unstable();
            println!(
                "round {round}: assessment of a {label} ({} bytes, {} passages), one at a time: p50 {:.1} ms, p99 {:.1} ms",
                text.len(),
                semantic.encoder().embed_passages(text).len(),
                support::percentile(&samples, 0.5) as f64 / 1e6,
                support::percentile(&samples, 0.99) as f64 / 1e6
            );
        }
    }
    Ok(())
}
