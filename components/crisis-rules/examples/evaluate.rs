//! Evaluates the engine on a case file (JSON lines, the format of `cases/cases.jsonl`) and
//! prints recall, precision and every miss:
//! `cargo run -p crisis-rules --example evaluate -- path/to/cases.jsonl`.

use crisis_rules::evaluate::{evaluate, parse_cases};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/cases/cases.jsonl").to_owned());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let cases = match parse_cases(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let report = evaluate(&cases);
    println!("{}", report.table());
    for m in &report.misses {
        println!(
            "{:<14} {:<12} expected {:<8} got {:<8} subject {:<12} {:?}  [{}]",
            m.id,
            m.category,
            m.expected.name(),
            m.predicted.name(),
            m.subject.name(),
            m.text,
            m.matched.join(", ")
        );
    }
    let violations = report.target_violations();
    if violations.is_empty() {
        println!("all targets met");
    } else {
        println!("targets not met: {violations:?}");
        std::process::exit(1);
    }
}
