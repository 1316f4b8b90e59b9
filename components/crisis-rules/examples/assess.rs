//! Assesses each line of standard input and prints the result (for trying rules out):
//! `cargo run -p crisis-rules --example assess < texts.txt`.

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if line.trim().is_empty() {
            continue;
        }
        let a = crisis_rules::engine::assess_text(&line);
        let matched: Vec<String> = a
            .matched
            .iter()
            .map(|m| format!("{}:{}", m.id, m.severity.name()))
            .collect();
        println!(
            "{:<9} {:<12} {:.2}  {}\n          [{}]",
            a.severity.name(),
            a.subject.name(),
            a.confidence,
            line,
            matched.join(", ")
        );
    }
}
