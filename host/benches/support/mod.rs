//! What the in-process benchmarks share.

/// The `p` quantile (0–1) of `sorted` samples.
pub fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
