//! Benjamini–Hochberg false-discovery-rate control across every test run for one user.

/// BH-adjusted p-values ("q-values") in the input order: `q_(i) = min_{j ≥ i} p_(j)·m/j`
/// over the sorted p-values, capped at 1. Rejecting every hypothesis with `q ≤ α` is the
/// BH step-up procedure at level α. Non-finite p-values are treated as 1.
#[must_use]
pub fn bh_adjust(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    if m == 0 {
        return Vec::new();
    }
    let clean: Vec<f64> = p
        .iter()
        .map(|v| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                1.0
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0_f64;
    let m_f = crate::stats::len_f(m);
    for (rank0, &i) in order.iter().enumerate().rev() {
        let rank = crate::stats::len_f(rank0 + 1);
        running = running.min(clean[i] * m_f / rank);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_example() {
        // Benjamini & Hochberg (1995)-style example, checked against R's p.adjust(p, "BH"):
        // p = 0.01 0.04 0.03 0.005 0.20 → q = 0.025 0.05 0.05 0.025 0.20
        let q = bh_adjust(&[0.01, 0.04, 0.03, 0.005, 0.20]);
        let want = [0.025, 0.05, 0.05, 0.025, 0.20];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn step_up_rejections_match_the_procedure() {
        // m = 10; the 4th smallest (0.019) is ≤ 4·0.05/10 = 0.02, so four are rejected,
        // even though the 3rd (0.016) alone would pass its own 0.015 bound only via step-up.
        let p = [0.001, 0.008, 0.016, 0.019, 0.04, 0.3, 0.5, 0.6, 0.8, 0.9];
        let q = bh_adjust(&p);
        let rejected = q.iter().filter(|q| **q <= 0.05).count();
        assert_eq!(rejected, 4);
    }

    #[test]
    fn edge_cases() {
        assert!(bh_adjust(&[]).is_empty());
        assert_eq!(bh_adjust(&[0.3]), vec![0.3]);
        assert_eq!(bh_adjust(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
        assert!(bh_adjust(&[0.9, 0.95]).iter().all(|q| *q <= 1.0));
    }
}
