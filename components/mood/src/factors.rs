//! Factor analysis: for each factor type, how the mood score differs between the logs that
//! mention it and those that do not.
//!
//! For every factor type seen in the sample, the logs split into *with* (the log has at
//! least one factor of that type) and *without*. When both groups hold at least
//! [`MIN_GROUP`] logs the report gives the two means and their difference, Cohen's d (pooled
//! SD) and Hedges' g, Spearman's ρ between presence (0/1) and mood score, and — over the logs
//! with the factor that carry an `impact_score` — Spearman's ρ between the impact the user
//! gave and the mood score. Below the minimum nothing is estimated: the report says
//! `insufficient_data`.

use std::collections::BTreeMap;

use crate::stats::{cohens_d, hedges_g, mean, spearman};

/// The fewest logs in each group (with and without a factor) before anything is reported.
pub const MIN_GROUP: usize = 5;

/// One mood log, as the analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The log's mood score.
    pub mood: f64,
    /// Its factors: type and impact score.
    pub factors: Vec<(String, Option<i64>)>,
}

/// What the data says about one factor type.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorReport {
    /// The factor type.
    pub factor_type: String,
    /// Logs with the factor.
    pub n_with: usize,
    /// Logs without it.
    pub n_without: usize,
    /// `None` when a group is smaller than [`MIN_GROUP`].
    pub effect: Option<Effect>,
}

/// The estimates for a factor with enough data.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Mean mood with the factor.
    pub mean_with: f64,
    /// Mean mood without it.
    pub mean_without: f64,
    /// `mean_with − mean_without`.
    pub mean_difference: f64,
    /// Cohen's d (with − without, pooled SD); `None` when both groups have no variance.
    pub cohens_d: Option<f64>,
    /// Hedges' g (small-sample corrected d).
    pub hedges_g: Option<f64>,
    /// Spearman's ρ between presence (1/0) and mood score.
    pub spearman_presence: Option<f64>,
    /// How many logs with the factor carry an impact score.
    pub impact_n: usize,
    /// Spearman's ρ between impact score and mood score over those logs (at least
    /// [`MIN_GROUP`] of them).
    pub spearman_impact: Option<f64>,
}

/// Analyses every factor type in `samples`. Factors with enough data come first, by the size
/// of their effect (|d|, largest first); then the others, by how often they were logged.
pub fn analyze(samples: &[Sample]) -> Vec<FactorReport> {
    let mut types: BTreeMap<&str, ()> = BTreeMap::new();
    for sample in samples {
        for (factor_type, _) in &sample.factors {
            types.insert(factor_type, ());
        }
    }
    let mut reports: Vec<FactorReport> = types
        .keys()
        .map(|factor_type| report(factor_type, samples))
        .collect();
    reports.sort_by(|a, b| {
        let key = |r: &FactorReport| r.effect.as_ref().map(|e| e.cohens_d.map(f64::abs));
        match (key(a), key(b)) {
            (Some(da), Some(db)) => db
                .unwrap_or(-1.0)
                .total_cmp(&da.unwrap_or(-1.0))
                .then_with(|| a.factor_type.cmp(&b.factor_type)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => b
                .n_with
                .cmp(&a.n_with)
                .then_with(|| a.factor_type.cmp(&b.factor_type)),
        }
    });
    reports
}

fn report(factor_type: &str, samples: &[Sample]) -> FactorReport {
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut presence = Vec::with_capacity(samples.len());
    let mut moods = Vec::with_capacity(samples.len());
    let mut impact_pairs: (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for sample in samples {
        // Impact scores are −5..=5: exact as `f64`.
        #[allow(clippy::cast_precision_loss)]
        let impacts: Vec<f64> = sample
            .factors
            .iter()
            .filter(|(t, _)| t == factor_type)
            .filter_map(|(_, impact)| impact.map(|i| i as f64))
            .collect();
        let present = sample.factors.iter().any(|(t, _)| t == factor_type);
        if present {
            with.push(sample.mood);
            // Several factors of one type on a log: their mean impact.
            if let Some(impact) = mean(&impacts) {
                impact_pairs.0.push(impact);
                impact_pairs.1.push(sample.mood);
            }
        } else {
            without.push(sample.mood);
        }
        presence.push(if present { 1.0 } else { 0.0 });
        moods.push(sample.mood);
    }
    let (n_with, n_without) = (with.len(), without.len());
    let effect = if n_with >= MIN_GROUP && n_without >= MIN_GROUP {
        let (mean_with, mean_without) = (mean(&with).unwrap_or(0.0), mean(&without).unwrap_or(0.0));
        let d = cohens_d(&with, &without);
        let impact_n = impact_pairs.0.len();
        Some(Effect {
            mean_with,
            mean_without,
            mean_difference: mean_with - mean_without,
            cohens_d: d,
            hedges_g: d.map(|d| hedges_g(d, n_with, n_without)),
            spearman_presence: spearman(&presence, &moods),
            impact_n,
            spearman_impact: if impact_n >= MIN_GROUP {
                spearman(&impact_pairs.0, &impact_pairs.1)
            } else {
                None
            },
        })
    } else {
        None
    };
    FactorReport {
        factor_type: factor_type.to_owned(),
        n_with,
        n_without,
        effect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(mood: f64, factors: &[(&str, Option<i64>)]) -> Sample {
        Sample {
            mood,
            factors: factors.iter().map(|(t, i)| ((*t).to_owned(), *i)).collect(),
        }
    }

    #[test]
    fn a_factor_that_goes_with_better_moods_shows_a_positive_effect() {
        // Exercise on 6 logs (moods 6..=8), not on 6 others (moods 3..=5).
        let mut samples = Vec::new();
        for (i, mood) in [6.0, 7.0, 8.0, 6.0, 7.0, 8.0].into_iter().enumerate() {
            let impact = i64::try_from(i).unwrap_or(0) - 2;
            samples.push(sample(mood, &[("exercise", Some(impact))]));
        }
        for mood in [3.0, 4.0, 5.0, 3.0, 4.0, 5.0] {
            samples.push(sample(mood, &[]));
        }
        let reports = analyze(&samples);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!((r.n_with, r.n_without), (6, 6));
        let e = r.effect.as_ref().expect("enough data");
        assert!((e.mean_with - 7.0).abs() < 1e-12 && (e.mean_without - 4.0).abs() < 1e-12);
        assert!((e.mean_difference - 3.0).abs() < 1e-12);
        // Both groups have s² = 0.8: d = 3 / sqrt(0.8).
        let d = e.cohens_d.expect("d");
        assert!((d - 3.0 / 0.8_f64.sqrt()).abs() < 1e-9, "{d}");
        assert!((e.hedges_g.expect("g") - d * (1.0 - 3.0 / 39.0)).abs() < 1e-9);
        assert!(e.spearman_presence.expect("rho") > 0.8);
        assert_eq!(e.impact_n, 6);
        assert!(e.spearman_impact.is_some());
    }

    #[test]
    fn small_groups_are_reported_as_insufficient() {
        let mut samples: Vec<Sample> = (0..4).map(|_| sample(5.0, &[("alcohol", None)])).collect();
        samples.extend((0..20).map(|i| sample(f64::from(i % 10 + 1), &[("sleep", Some(1))])));
        let reports = analyze(&samples);
        // sleep: 20 with, 4 without; alcohol: 4 with, 20 without: both insufficient.
        assert!(reports.iter().all(|r| r.effect.is_none()));
        assert_eq!(reports[0].factor_type, "sleep");
        assert_eq!((reports[0].n_with, reports[0].n_without), (20, 4));
        assert_eq!((reports[1].n_with, reports[1].n_without), (4, 20));
    }

    #[test]
    fn a_factor_counts_once_per_log_and_impacts_are_averaged() {
        let mut samples = Vec::new();
        for i in 0..5 {
            samples.push(sample(
                f64::from(i + 5),
                &[("social", Some(1)), ("social", Some(3))],
            ));
            samples.push(sample(f64::from(i + 1), &[]));
        }
        let reports = analyze(&samples);
        let e = reports[0].effect.as_ref().expect("enough");
        assert_eq!((reports[0].n_with, reports[0].n_without), (5, 5));
        assert_eq!(e.impact_n, 5);
        // Every log's mean impact is 2: constant, so no correlation.
        assert_eq!(e.spearman_impact, None);
    }

    #[test]
    fn larger_effects_sort_first() {
        let mut samples = Vec::new();
        for i in 0..10 {
            let mood = f64::from(i % 5 + 3);
            // "weather" on even logs (no relation to mood), "sleep" on logs with mood >= 5.
            let mut factors = Vec::new();
            if i % 2 == 0 {
                factors.push(("weather", None));
            }
            if mood >= 5.0 {
                factors.push(("sleep", None));
            }
            samples.push(sample(mood, &factors));
        }
        samples.extend((0..6).map(|_| sample(1.0, &[("caffeine", None)])));
        let reports = analyze(&samples);
        let names: Vec<&str> = reports.iter().map(|r| r.factor_type.as_str()).collect();
        assert_eq!(names[0], "caffeine");
        assert!(names.contains(&"sleep") && names.contains(&"weather"));
        let ds: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.effect.as_ref().and_then(|e| e.cohens_d))
            .map(f64::abs)
            .collect();
        assert!(ds.windows(2).all(|w| w[0] >= w[1]), "{ds:?}");
    }
}
