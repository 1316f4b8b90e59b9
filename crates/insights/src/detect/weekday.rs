//! Weekday cycle: each weekday against the other days (AR(1) GLS on the weekday
//! indicator); the clearest weekday is reported and its p-value multiplied by the number of
//! weekdays compared (Bonferroni), so the one test that joins the BH family accounts for
//! having picked the best of seven.

use super::{Candidate, Detail, mean_where};
use crate::InsightType;
use crate::gls::ar1_test;
use crate::series::Series;
use crate::stats::spearman;

/// Weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Days of every weekday needed for an observation.
pub const MIN_OBSERVATION_PER_WEEKDAY: usize = 3;
/// Days of every weekday needed for a finding (six weeks of logging, with a little slack).
pub const MIN_FINDING_PER_WEEKDAY: usize = 5;
/// Logged days needed for a finding.
pub const MIN_FINDING_DAYS: usize = 42;

/// At most one candidate: the weekday whose mood differs most clearly from the rest.
#[must_use]
pub fn detect(s: &Series) -> Option<Candidate> {
    let pos = s.positions();
    let y = s.moods();
    let wd: Vec<usize> = s.days.iter().map(Series::weekday).collect();
    let mut counts = [0usize; 7];
    for &w in &wd {
        counts[w] += 1;
    }
    if counts.iter().any(|&c| c < MIN_OBSERVATION_PER_WEEKDAY) {
        return None;
    }
    let eligible =
        y.len() >= MIN_FINDING_DAYS && counts.iter().all(|&c| c >= MIN_FINDING_PER_WEEKDAY);
    let mut best: Option<(f64, Candidate)> = None;
    for (w, name) in WEEKDAYS.iter().enumerate() {
        let x: Vec<f64> = wd.iter().map(|&d| f64::from(u8::from(d == w))).collect();
        let (mean_with, n_with) = mean_where(&y, |i| wd[i] == w);
        let (mean_without, n_without) = mean_where(&y, |i| wd[i] != w);
        let fit = ar1_test(&pos, &y, Some(&x));
        let p = fit.map_or(1.0, |f| f.p);
        let diff = mean_with - mean_without;
        // Clearest = smallest p when tested; ties and untestable cases by the larger gap.
        let score = if eligible {
            p - diff.abs() * 1e-9
        } else {
            -diff.abs()
        };
        if best.as_ref().is_some_and(|(b, _)| *b <= score) {
            continue;
        }
        best = Some((
            score,
            Candidate {
                key: "weekday".into(),
                insight_type: InsightType::WeekdayCycle,
                subject: (*name).into(),
                eligible,
                p: (p * 7.0).min(1.0),
                diff,
                n_with,
                n_without,
                n_days: n_with + n_without,
                mean_with,
                mean_without,
                rank_corr: Some(spearman(&x, &y)),
                fit,
                method: "ar1_gls_t_weekday_vs_rest_bonferroni_7",
                detail: Detail::Weekday,
            },
        ));
    }
    best.map(|(_, c)| c)
}
