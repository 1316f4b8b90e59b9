//! Calibration of every test type on users with no effect: the share of its p-values below
//! 0.05, 0.01 and 0.003, per test type, before any false-discovery control (2,000 null users
//! per cell, dev seeds only). A well-calibrated test rejects at about its level.
//!
//! `cargo run -p mindflow-insights --release --example calibration [-- --users N]`

use std::collections::BTreeMap;

use mindflow_insights::simulate::{Config, Planted, generate, user_seed};
use mindflow_insights::{Input, tested};

/// Tests seen, and how many fell below 0.05, 0.01 and 0.003.
type Counts = (u32, u32, u32, u32);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users: u64 = args
        .iter()
        .position(|a| a == "--users")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    for planted in [Planted::None, Planted::NonePersistent] {
        for days in [30usize, 90] {
            let mut by: BTreeMap<String, Counts> = BTreeMap::new();
            for i in 0..users {
                let seed = user_seed(0, i, planted, days);
                let user = generate(&Config::standard(planted, days), seed);
                let input = Input {
                    entries: &user.entries,
                    metrics: &user.metrics,
                    today: user.today,
                    seed,
                };
                for test in tested(&input).iter().filter(|t| t.eligible) {
                    // A test type: `weekday`, `factor`, `wearable:<metric>:<lag>`, ...
                    let parts = if test.key.starts_with("wearable") {
                        3
                    } else {
                        1
                    };
                    let kind = test
                        .key
                        .split(':')
                        .take(parts)
                        .collect::<Vec<_>>()
                        .join(":");
                    let counts = by.entry(kind).or_default();
                    counts.0 += 1;
                    counts.1 += u32::from(test.p < 0.05);
                    counts.2 += u32::from(test.p < 0.01);
                    counts.3 += u32::from(test.p < 0.003);
                }
            }
            println!("{} — {days} days, {users} users", planted.name());
            for (kind, (n, a, b, c)) in by {
                let share = |k: u32| f64::from(k) / f64::from(n);
                println!(
                    "  {kind:40} n={n:5} <.05 {:.3} <.01 {:.4} <.003 {:.4}",
                    share(a),
                    share(b),
                    share(c)
                );
            }
        }
    }
}
