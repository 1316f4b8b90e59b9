//! Speed of [`detect`] for one user with two years of daily logs (1–3 entries a day, eight
//! factors, sleep/HRV/steps every day): p50 / p99 / max over 200 timed runs after 20
//! warm-up runs. `cargo bench -p mindflow-insights`

use std::hint::black_box;
use std::time::Instant;

use mindflow_insights::simulate::{Config, Planted, generate};
use mindflow_insights::{Input, detect};

fn main() {
    let cfg = Config {
        logged_days: 730,
        log_rate: 1.0,
        planted: Planted::Factor,
        effect: 1.5,
        noise_sd: mindflow_insights::simulate::MOOD_SD,
    };
    let u = generate(&cfg, 2026);
    let input = Input {
        entries: &u.entries,
        metrics: &u.metrics,
        today: u.today,
        seed: 1,
    };
    let factors: std::collections::BTreeSet<&String> =
        u.entries.iter().flat_map(|e| &e.factors).collect();
    println!(
        "input: {} entries over {} days, {} factors, {} metric days",
        u.entries.len(),
        cfg.logged_days,
        factors.len(),
        u.metrics.len()
    );
    for _ in 0..20 {
        black_box(detect(black_box(&input)));
    }
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            black_box(detect(black_box(&input)));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // 200 samples: the index is small and non-negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((q * 200.0).ceil() as usize).clamp(1, 200) - 1;
        times[i]
    };
    let patterns = detect(&input);
    println!("patterns: {}", patterns.len());
    println!(
        "detect, two years: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (200 runs)",
        at(0.5),
        at(0.99),
        times[199]
    );
}
