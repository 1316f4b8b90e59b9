//! Trend change: mood over the last [`RECENT`] days against the [`PRIOR`] days before them,
//! tested by AR(1) GLS on the "recent" indicator within that 42-day window (the AR(1)
//! errors absorb ordinary persistence, so only a shift larger than the usual slow swings
//! counts).

use super::{Candidate, Detail, mean_where};
use crate::InsightType;
use crate::gls::ar1_test;
use crate::series::Series;
use crate::stats::spearman;

/// The recent window (days, ending at `today`).
pub const RECENT: i64 = 14;
/// The comparison window before it (days).
pub const PRIOR: i64 = 28;
/// Logged days needed in (recent, prior) for a finding.
pub const MIN_FINDING_DAYS: (usize, usize) = (10, 20);
/// Logged days needed in (recent, prior) for an observation.
pub const MIN_OBSERVATION_DAYS: (usize, usize) = (5, 10);

/// At most one candidate.
#[must_use]
pub fn detect(s: &Series) -> Option<Candidate> {
    let recent_from = s.len - RECENT;
    let prior_from = s.len - RECENT - PRIOR;
    let window: Vec<&crate::series::Day> = s.days.iter().filter(|d| d.pos >= prior_from).collect();
    let pos: Vec<i64> = window.iter().map(|d| d.pos).collect();
    let y: Vec<f64> = window.iter().map(|d| d.mood).collect();
    let x: Vec<f64> = pos
        .iter()
        .map(|&p| f64::from(u8::from(p >= recent_from)))
        .collect();
    let (mean_with, n_with) = mean_where(&y, |i| pos[i] >= recent_from);
    let (mean_without, n_without) = mean_where(&y, |i| pos[i] < recent_from);
    if n_with < MIN_OBSERVATION_DAYS.0 || n_without < MIN_OBSERVATION_DAYS.1 {
        return None;
    }
    let fit = ar1_test(&pos, &y, Some(&x));
    Some(Candidate {
        key: "trend".into(),
        insight_type: InsightType::TrendChange,
        subject: "mood".into(),
        eligible: n_with >= MIN_FINDING_DAYS.0 && n_without >= MIN_FINDING_DAYS.1,
        p: fit.map_or(1.0, |f| f.p),
        diff: mean_with - mean_without,
        n_with,
        n_without,
        n_days: n_with + n_without,
        mean_with,
        mean_without,
        rank_corr: Some(spearman(&x, &y)),
        fit,
        method: "ar1_gls_t_recent_vs_prior",
        detail: Detail::Trend {
            recent: RECENT,
            prior: PRIOR,
        },
    })
}
