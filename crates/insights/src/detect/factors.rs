//! Factor effects: mood on days a factor was logged against days with entries but without
//! it, tested by AR(1) GLS of day mood on the presence indicator.

use super::{Candidate, Detail, mean_where};
use crate::InsightType;
use crate::gls::ar1_test;
use crate::series::Series;
use crate::stats::spearman;

/// Days with and days without a factor needed for an observation.
pub const MIN_OBSERVATION_DAYS: usize = 3;
/// Days with and days without a factor needed for a finding.
pub const MIN_FINDING_DAYS: usize = 14;

/// One candidate per factor with at least [`MIN_OBSERVATION_DAYS`] days with and without.
#[must_use]
pub fn detect(s: &Series) -> Vec<Candidate> {
    let pos = s.positions();
    let y = s.moods();
    let mut out = Vec::new();
    for (name, present) in &s.factors {
        let (mean_with, n_with) = mean_where(&y, |i| present[i]);
        let (mean_without, n_without) = mean_where(&y, |i| !present[i]);
        if n_with < MIN_OBSERVATION_DAYS || n_without < MIN_OBSERVATION_DAYS {
            continue;
        }
        let x: Vec<f64> = present.iter().map(|&b| f64::from(u8::from(b))).collect();
        let fit = ar1_test(&pos, &y, Some(&x));
        out.push(Candidate {
            key: format!("factor:{name}"),
            insight_type: InsightType::FactorEffect,
            subject: name.clone(),
            eligible: n_with >= MIN_FINDING_DAYS && n_without >= MIN_FINDING_DAYS,
            p: fit.map_or(1.0, |f| f.p),
            diff: mean_with - mean_without,
            n_with,
            n_without,
            n_days: n_with + n_without,
            mean_with,
            mean_without,
            rank_corr: Some(spearman(&x, &y)),
            fit,
            method: "ar1_gls_t",
            detail: Detail::Factor,
        });
    }
    out
}
