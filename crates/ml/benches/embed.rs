//! The sentence encoder's cost on these cores, one text at a time: a chat message, a short mood
//! note, a typical 500-character one and a 2 KB journal-sized note, embedded whole (one sequence) and as passages
//! (every sentence plus the whole text, in one batch), in alternating rounds. Prints figures;
//! asserts nothing.
//!
//! `MINDFLOW_EMBEDDING_MODEL=$(scripts/fetch-models.sh) cargo bench -p mindflow-ml --bench embed`

// Statistics over timings: converting them to `f64` is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::path::PathBuf;
use std::time::Instant;

use mindflow_ml::sentence::SentenceEncoder;

const NOTE_500: &str = "Rough day at work again. My manager moved the deadline up and I stayed \
late to finish the slides, then missed the bus home. Ate cereal for dinner standing at the \
counter. I keep telling myself that tomorrow will be different, that I'll get up early and go \
for a walk before work. Called mum but she didn't pick up. Honestly I'm tired of feeling like \
this every single week and I don't know who to talk to about it. Going to try to sleep early.";

fn percentile(sorted: &[u128], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1e6
}

fn main() {
    let dir = std::env::var_os("MINDFLOW_EMBEDDING_MODEL")
        .map(PathBuf::from)
        .expect("MINDFLOW_EMBEDDING_MODEL: run scripts/fetch-models.sh");
    let encoder = SentenceEncoder::load(&dir, None).expect("model loads");
    let note_2k: String = [NOTE_500; 4].join(" ");
    let texts = [
        (
            "chat",
            "honestly not sure i can keep going like this, everything feels heavy lately"
                .to_owned(),
        ),
        ("40 B", "Busy day at work, a bit tired but fine.".to_owned()),
        ("500 B", NOTE_500.to_owned()),
        ("2 KB", note_2k),
    ];
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let runs = 60;
    for round in 1..=rounds {
        for (label, text) in &texts {
            for (variant, passages) in [("whole", false), ("passages", true)] {
                let mut samples = Vec::with_capacity(runs);
                for _ in 0..runs {
                    let started = Instant::now();
                    if passages {
                        std::hint::black_box(encoder.embed_passages(text));
                    } else {
                        std::hint::black_box(encoder.embed(text));
                    }
                    samples.push(started.elapsed().as_nanos());
                }
                samples.sort_unstable();
                println!(
                    "round {round} {label:>5} ({} bytes, {} tokens) {variant:>8}: p50 {:.2} ms, p99 {:.2} ms",
                    text.len(),
                    encoder.token_count(text),
                    percentile(&samples, 0.5),
                    percentile(&samples, 0.99),
                );
            }
        }
    }
}
