//! Assesses one synthetic 128 KB text once (for `valgrind --tool=callgrind`):
//! `cargo run --release -p crisis-rules --example profile -- journal|i`.

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    let text = match kind.as_str() {
        "i" => "i ".repeat(65536),
        _ => "Work was long today and the commute was awful, this traffic is killing me. I keep telling myself it will get better but honestly I don't know anymore. ".repeat(870),
    };
    let a = crisis_rules::engine::assess_text(&text);
    println!("{:?} {}", a.severity, a.matched.len());
}
