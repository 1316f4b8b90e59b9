//! Diagnostic (ignored) test: the rejection rate of every test type on null users, at
//! several levels, to check calibration test by test (`cargo test -p mindflow-insights
//! --release --lib diagnostics -- --ignored --nocapture`). Dev seeds only.

use crate::detect::{self, Candidate};
use crate::series;

use crate::simulate::{Config, Planted, generate, user_seed};

#[test]
#[ignore = "diagnostic"]
fn per_test_calibration() {
    for planted in [Planted::None, Planted::NonePersistent] {
        for days in [30usize, 90] {
            let mut by: std::collections::BTreeMap<String, (u32, u32, u32, u32)> =
                std::collections::BTreeMap::new();
            for i in 0..2000 {
                let u = generate(
                    &Config::standard(planted, days),
                    user_seed(0, i, planted, days),
                );
                let s = series::Series::build(&u.entries, &u.metrics, u.today);
                let mut c: Vec<Candidate> = Vec::new();
                c.extend(detect::weekday::detect(&s));
                c.extend(detect::time_of_day::detect(&s));
                c.extend(detect::factors::detect(&s));
                c.extend(detect::wearables::detect(&s));
                c.extend(detect::trend::detect(&s));
                for c in c.iter().filter(|c| c.eligible) {
                    let k = c
                        .key
                        .split(':')
                        .take(if c.key.starts_with("wearable") { 3 } else { 1 })
                        .collect::<Vec<_>>()
                        .join(":");
                    let e = by.entry(k).or_default();
                    e.0 += 1;
                    e.1 += u32::from(c.p < 0.05);
                    e.2 += u32::from(c.p < 0.01);
                    e.3 += u32::from(c.p < 0.003);
                }
            }
            println!("{planted:?} {days}");
            for (k, v) in by {
                let n = f64::from(v.0);
                println!(
                    "  {k:40} n={:5} <.05 {:.3} <.01 {:.4} <.003 {:.4}",
                    v.0,
                    f64::from(v.1) / n,
                    f64::from(v.2) / n,
                    f64::from(v.3) / n
                );
            }
        }
    }
}
