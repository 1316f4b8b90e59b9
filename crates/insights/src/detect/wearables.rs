//! Wearable links: each metric (sleep minutes, HRV, steps) against same-day mood (metric on
//! day d, mood on d) and next-day mood (metric on d, mood on d + 1). A night's sleep
//! belongs to the day it ends, so "same day" is the day that sleep led into.
//!
//! The test is AR(1) GLS of mood on the metric's normal scores (its ranks mapped to normal
//! quantiles), which detects any monotone association and is not driven by a few extreme
//! values (step counts and HRV are skewed). The description compares the metric's highest
//! third of days with its lowest third; the model's estimate is put on that scale (slope ×
//! the gap in mean normal score between the two thirds).

use super::{Candidate, Detail};
use crate::InsightType;
use crate::gls::ar1_test;
use crate::series::{METRICS, Series};
use crate::stats::{len_f, normal_quantile, ranks, spearman};

/// Paired days (metric and mood) needed for a finding.
pub const MIN_FINDING_DAYS: usize = 28;
/// Paired days needed for an observation.
pub const MIN_OBSERVATION_DAYS: usize = 9;

/// Up to six candidates: every metric with enough paired days, at both lags.
#[must_use]
pub fn detect(s: &Series) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (metric, name) in METRICS.iter().enumerate() {
        for lag in [0u8, 1] {
            if let Some(c) = one(s, metric, name, lag) {
                out.push(c);
            }
        }
    }
    out
}

fn one(s: &Series, metric: usize, name: &str, lag: u8) -> Option<Candidate> {
    let (mut pos, mut y, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for d in &s.days {
        let metric_pos = d.pos - i64::from(lag);
        let Ok(mp) = usize::try_from(metric_pos) else {
            continue;
        };
        let Some(v) = s.metrics.get(mp).and_then(|row| row[metric]) else {
            continue;
        };
        pos.push(d.pos);
        y.push(d.mood);
        m.push(v);
    }
    let n = y.len();
    if n < MIN_OBSERVATION_DAYS {
        return None;
    }
    let r = ranks(&m);
    let nf = len_f(n);
    let scores: Vec<f64> = r
        .iter()
        .map(|ri| normal_quantile((ri - 0.375) / (nf + 0.25)))
        .collect();
    // Thirds by rank (ties share a rank, so a third may be a little smaller or larger).
    let (lo_rank, hi_rank) = (nf / 3.0, nf * 2.0 / 3.0);
    let (mut lo, mut hi) = ((0.0, 0usize, 0.0, f64::MIN), (0.0, 0usize, 0.0, f64::MAX));
    for i in 0..n {
        if r[i] <= lo_rank {
            lo = (lo.0 + y[i], lo.1 + 1, lo.2 + scores[i], lo.3.max(m[i]));
        } else if r[i] > hi_rank {
            hi = (hi.0 + y[i], hi.1 + 1, hi.2 + scores[i], hi.3.min(m[i]));
        }
    }
    if lo.1 == 0 || hi.1 == 0 {
        return None; // the metric barely varies
    }
    let (mean_low, mean_high) = (lo.0 / len_f(lo.1), hi.0 / len_f(hi.1));
    let score_gap = hi.2 / len_f(hi.1) - lo.2 / len_f(lo.1);
    let fit = ar1_test(&pos, &y, Some(&scores)).map(|mut f| {
        // Put the slope on the "highest third minus lowest third" scale.
        f.estimate *= score_gap;
        f.se *= score_gap;
        f.ci95 = (f.ci95.0 * score_gap, f.ci95.1 * score_gap);
        f
    });
    let lag_name = if lag == 0 { "same_day" } else { "next_day" };
    Some(Candidate {
        key: format!("wearable:{name}:{lag_name}"),
        insight_type: InsightType::WearableLink,
        subject: (*name).into(),
        eligible: n >= MIN_FINDING_DAYS,
        p: fit.map_or(1.0, |f| f.p),
        diff: mean_high - mean_low,
        n_with: hi.1,
        n_without: lo.1,
        n_days: n,
        mean_with: mean_high,
        mean_without: mean_low,
        rank_corr: Some(spearman(&m, &y)),
        fit,
        method: "ar1_gls_t_normal_scores",
        detail: Detail::Wearable {
            metric,
            lag,
            low_cut: lo.3,
            high_cut: hi.3,
        },
    })
}
