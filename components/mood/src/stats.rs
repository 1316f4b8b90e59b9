//! Small statistics: means and sample standard deviations, trailing moving averages, the
//! least-squares line and the direction it shows, Cohen's d / Hedges' g, and Spearman's rank
//! correlation. Every function returns `None` rather than a NaN when the data cannot support
//! an answer (too few values, no variance).

/// Count, mean, minimum, maximum and sample standard deviation of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sample standard deviation (n − 1); `None` for fewer than two values.
    pub sd: Option<f64>,
}

/// The arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    Some(values.iter().sum::<f64>() / n)
}

/// The sample variance (n − 1); `None` for fewer than two values.
pub fn sample_variance(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    Some(values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0))
}

/// Summarises a sample; `None` when it is empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mean = mean(values)?;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Summary {
        count: values.len(),
        mean,
        min,
        max,
        sd: sample_variance(values).map(f64::sqrt),
    })
}

/// Trailing moving average over positions: for each point `(x, y)` (sorted by `x`), the
/// mean of the `y` of every point with `x - window < x' <= x`. With daily points and
/// `window = 7` this is the 7-day average of the days that have data (a missing day is
/// skipped, not counted as zero).
pub fn trailing_moving_average(points: &[(i64, f64)], window: i64) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.len());
    let mut start = 0;
    let mut sum = 0.0;
    for (end, &(x, y)) in points.iter().enumerate() {
        sum += y;
        while start < end && points[start].0 <= x - window {
            sum -= points[start].1;
            start += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = (end + 1 - start) as f64;
        out.push(sum / n);
    }
    out
}

/// The least-squares line through `(x, y)` points: `(slope, intercept)`. `None` for fewer
/// than two points or when every `x` is the same.
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 2 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// Which way a series is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The fitted line rises by at least the threshold over the range.
    Improving,
    /// It falls by at least the threshold.
    Declining,
    /// It moves less than the threshold.
    Stable,
}

impl Direction {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Improving => "improving",
            Self::Declining => "declining",
            Self::Stable => "stable",
        }
    }
}

/// The direction of a fitted change: `change` is the slope times the span of the series (how
/// far the line moves from its first point to its last); `threshold` is the smallest change
/// that counts (inclusive).
pub fn direction(change: f64, threshold: f64) -> Direction {
    if change >= threshold {
        Direction::Improving
    } else if change <= -threshold {
        Direction::Declining
    } else {
        Direction::Stable
    }
}

/// Cohen's d of `a` against `b`: `(mean(a) − mean(b)) / pooled SD`, the pooled SD weighting
/// each group's sample variance by its degrees of freedom. `None` when a group has fewer than
/// two values or the pooled SD is zero.
pub fn cohens_d(a: &[f64], b: &[f64]) -> Option<f64> {
    let (na, nb) = (a.len(), b.len());
    let (va, vb) = (sample_variance(a)?, sample_variance(b)?);
    #[allow(clippy::cast_precision_loss)]
    let pooled = (((na - 1) as f64) * va + ((nb - 1) as f64) * vb) / ((na + nb - 2) as f64);
    let sd = pooled.sqrt();
    if sd <= f64::EPSILON {
        return None;
    }
    Some((mean(a)? - mean(b)?) / sd)
}

/// Hedges' g: Cohen's d with the small-sample correction `1 − 3 / (4(n₁ + n₂) − 9)`.
pub fn hedges_g(d: f64, na: usize, nb: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = (na + nb) as f64;
    d * (1.0 - 3.0 / (4.0 * n - 9.0))
}

/// Cohen's conventional label for |d|: `negligible` (< 0.2), `small`, `medium` (≥ 0.5),
/// `large` (≥ 0.8).
pub fn effect_label(d: f64) -> &'static str {
    let d = d.abs();
    if d < 0.2 {
        "negligible"
    } else if d < 0.5 {
        "small"
    } else if d < 0.8 {
        "medium"
    } else {
        "large"
    }
}

/// Ranks from 1, ties sharing the mean of the ranks they span.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share ranks i+1..=j+1.
        #[allow(clippy::cast_precision_loss)]
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Pearson's correlation; `None` for unequal lengths, fewer than two pairs, or a constant
/// variable.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    if sxx <= f64::EPSILON || syy <= f64::EPSILON {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation: Pearson's correlation of the (tie-averaged) ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn summary_uses_the_sample_standard_deviation() {
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).expect("summary");
        assert_eq!(s.count, 8);
        assert!(close(s.mean, 5.0));
        assert!(close(s.min, 2.0) && close(s.max, 9.0));
        // Σ(x − 5)² = 32, / 7.
        assert!(close(s.sd.expect("sd"), (32.0_f64 / 7.0).sqrt()));
        let one = summarize(&[3.0]).expect("summary");
        assert_eq!(one.sd, None);
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn moving_average_trails_over_the_window_and_skips_gaps() {
        // Days 0..=9 with y = day; day 5 missing.
        let points: Vec<(i64, f64)> = [0_i32, 1, 2, 3, 4, 6, 7, 8, 9]
            .iter()
            .map(|&d| (i64::from(d), f64::from(d)))
            .collect();
        let ma = trailing_moving_average(&points, 7);
        // Day 0: [0]; day 4: mean(0..=4) = 2; day 6: mean(0,1,2,3,4,6) = 16/6;
        // day 7: days 1..=7 present = 1,2,3,4,6,7 → 23/6; day 9: days 3..=9 → 3,4,6,7,8,9 → 37/6.
        assert!(close(ma[0], 0.0));
        assert!(close(ma[4], 2.0));
        assert!(close(ma[5], 16.0 / 6.0));
        assert!(close(ma[6], 23.0 / 6.0));
        assert!(close(ma[8], 37.0 / 6.0));
        // A window of one is the series itself.
        let same = trailing_moving_average(&points, 1);
        assert!(points.iter().zip(&same).all(|(p, m)| close(p.1, *m)));
        assert!(trailing_moving_average(&[], 7).is_empty());
    }

    #[test]
    fn least_squares_recovers_a_line_and_direction_uses_the_threshold() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|x| (f64::from(x), 2.0 + 0.25 * f64::from(x)))
            .collect();
        let (slope, intercept) = least_squares(&points).expect("line");
        assert!(close(slope, 0.25) && close(intercept, 2.0));
        // A known noisy fit: x = 1..5, y = 2, 4, 5, 4, 5 → slope 0.6, intercept 2.2.
        let noisy = [(1.0, 2.0), (2.0, 4.0), (3.0, 5.0), (4.0, 4.0), (5.0, 5.0)];
        let (slope, intercept) = least_squares(&noisy).expect("line");
        assert!(close(slope, 0.6) && close(intercept, 2.2));
        assert_eq!(least_squares(&[(1.0, 2.0)]), None);
        assert_eq!(least_squares(&[(1.0, 2.0), (1.0, 3.0)]), None);

        assert_eq!(direction(0.6 * 4.0, 0.5), Direction::Improving);
        assert_eq!(direction(-0.5, 0.5), Direction::Declining);
        assert_eq!(direction(0.49, 0.5), Direction::Stable);
        assert_eq!(direction(-0.49, 0.5), Direction::Stable);
        assert_eq!(direction(0.5, 0.5), Direction::Improving);
    }

    #[test]
    fn cohens_d_and_hedges_g_match_hand_computed_values() {
        let a = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]; // mean 5, s² = 32/7
        let b = [1.0, 2.0, 3.0, 4.0, 5.0]; // mean 3, s² = 2.5
        // pooled s² = (32 + 10) / 11; d = 2 / sqrt(42/11) = 1.023532…
        let d = cohens_d(&a, &b).expect("d");
        assert!(close(d, 2.0 / (42.0_f64 / 11.0).sqrt()));
        assert!((d - 1.023_532_631_438).abs() < 1e-9);
        // g = d (1 − 3 / (4·13 − 9)) = d · 40/43.
        assert!(close(hedges_g(d, 8, 5), d * 40.0 / 43.0));
        assert!(close(cohens_d(&b, &a).expect("d"), -d));
        assert_eq!(cohens_d(&[1.0], &b), None);
        assert_eq!(cohens_d(&[3.0, 3.0], &[3.0, 3.0]), None);
        assert_eq!(effect_label(0.1), "negligible");
        assert_eq!(effect_label(-0.3), "small");
        assert_eq!(effect_label(0.5), "medium");
        assert_eq!(effect_label(-1.02), "large");
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0, 20.0]), vec![1.0, 4.0, 2.5, 2.5]);
        assert_eq!(ranks(&[1.0, 1.0, 1.0]), vec![2.0, 2.0, 2.0]);
        assert!(ranks(&[]).is_empty());
    }

    #[test]
    fn spearman_matches_known_values() {
        // No ties: 1 − 6Σd² / (n(n² − 1)). x ranks 1..5, y ranks 2,1,4,3,5: Σd² = 4 → 0.8.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [20.0, 10.0, 40.0, 30.0, 50.0];
        assert!(close(spearman(&x, &y).expect("rho"), 0.8));
        // Monotone but not linear: exactly 1; reversed: −1.
        assert!(close(
            spearman(&x, &[1.0, 8.0, 27.0, 64.0, 125.0]).expect("rho"),
            1.0
        ));
        assert!(close(
            spearman(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]).expect("rho"),
            -1.0
        ));
        // With ties (y ranks 1, 2, 3.5, 5, 3.5): 0.820782681668123, computed independently.
        let tied = spearman(&x, &[5.0, 6.0, 7.0, 8.0, 7.0]).expect("rho");
        assert!((tied - 0.820_782_681_668_123).abs() < 1e-12, "{tied}");
        // Presence (0/1) against a score: the point-biserial on ranks.
        let presence = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let score = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let rho = spearman(&presence, &score).expect("rho");
        assert!((rho - 0.878_310_065_653_68).abs() < 1e-9, "{rho}");
        assert_eq!(spearman(&x, &[2.0, 2.0, 2.0, 2.0, 2.0]), None);
        assert_eq!(spearman(&x, &[1.0]), None);
    }
}
