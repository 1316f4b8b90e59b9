//! Validity simulation: power for planted effects and the false-finding rate on null users.
//!
//! `cargo run -p mindflow-insights --release --example validity [-- --users N] [--days 30,60,90] [--sd 1.5] [--dev-only] [--explain]`
//!
//! For each scenario and data length (30, 60, 90 logged days) it generates N synthetic users
//! (default 500) on the dev seed range and on a disjoint held-out range, runs [`detect`]
//! on each, and prints: for planted effects the share detected as a finding with the right
//! key and direction (power) and the share with a finding unrelated to the planted effect;
//! for null users the share with any finding at all (false-finding rate per user).
//! `--explain` lists the unrelated findings by key. `--dev-only` skips the held-out range (for tuning, which must never look at it).

use mindflow_insights::simulate::{Config, Planted, generate, user_seed};
use mindflow_insights::{Input, Strength, detect};

/// Seed base of the dev range (users 0..N).
const DEV_BASE: u64 = 0;
/// Seed base of the held-out range (users 10^9..10^9 + N), never used for tuning.
const HELD_OUT_BASE: u64 = 1_000_000_000;

/// Counts for one cell.
#[derive(Default)]
struct Cell {
    users: u64,
    hit: u64,
    unrelated: u64,
    any: u64,
    /// Unrelated findings by key (printed with `--explain`).
    keys: std::collections::BTreeMap<String, u64>,
}

fn run(planted: Planted, days: usize, base: u64, users: u64, noise_sd: f64) -> Cell {
    let mut cell = Cell::default();
    let cfg = Config {
        noise_sd,
        ..Config::standard(planted, days)
    };
    for i in 0..users {
        let seed = user_seed(base, i, planted, days);
        let u = generate(&cfg, seed);
        let found = detect(&Input {
            entries: &u.entries,
            metrics: &u.metrics,
            today: u.today,
            seed,
        });
        let findings: Vec<_> = found
            .iter()
            .filter(|p| p.strength == Strength::Finding)
            .collect();
        cell.users += 1;
        cell.any += u64::from(!findings.is_empty());
        if let Some((key, dir)) = planted.expected() {
            cell.hit += u64::from(findings.iter().any(|p| p.key == key && p.direction == dir));
        }
        cell.unrelated += u64::from(findings.iter().any(|p| !planted.related(&p.key)));
        for p in findings.iter().filter(|p| !planted.related(&p.key)) {
            *cell.keys.entry(p.key.clone()).or_default() += 1;
        }
    }
    cell
}

fn pct(a: u64, b: u64) -> String {
    // Counts are tiny; the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let v = if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    };
    format!("{v:5.1}%")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users = args
        .iter()
        .position(|a| a == "--users")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dev_only = args.iter().any(|a| a == "--dev-only");
    // A sensitivity run: the day mood noise's marginal SD (points), 1.5 unless given.
    let noise_sd: f64 = args
        .iter()
        .position(|a| a == "--sd")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .filter(|sd: &f64| sd.is_finite() && *sd > 0.0)
        .unwrap_or(mindflow_insights::simulate::MOOD_SD);
    let explain = args.iter().any(|a| a == "--explain");
    let lengths: Vec<usize> = args
        .iter()
        .position(|a| a == "--days")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|d| d.parse().ok()).collect())
        .unwrap_or_else(|| vec![30, 60, 90]);
    let mut splits = vec![("dev", DEV_BASE)];
    if !dev_only {
        splits.push(("held-out", HELD_OUT_BASE));
    }
    let scenarios = [
        Planted::WeekdayDip,
        Planted::ShortSleep,
        Planted::Factor,
        Planted::None,
        Planted::NonePersistent,
    ];
    println!(
        "{users} users per cell; day mood noise AR(1) rho {}, marginal SD {noise_sd} points; finding = BH q <= {} across all tests of the user\n",
        mindflow_insights::simulate::MOOD_RHO,
        mindflow_insights::FDR_Q
    );
    println!(
        "| scenario | split | days | power (right key+direction) | unrelated finding | any finding |"
    );
    println!("|---|---|---|---|---|---|");
    for planted in scenarios {
        for (split, base) in &splits {
            for &days in &lengths {
                let c = run(planted, days, *base, users, noise_sd);
                let power = if planted.expected().is_some() {
                    pct(c.hit, c.users)
                } else {
                    "-".into()
                };
                println!(
                    "| {} | {split} | {days} | {power} | {} | {} |",
                    planted.name(),
                    pct(c.unrelated, c.users),
                    pct(c.any, c.users)
                );
                if explain && !c.keys.is_empty() {
                    println!("|   unrelated findings by key: {:?} |", c.keys);
                }
            }
        }
    }
}
