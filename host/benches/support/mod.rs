//! What the in-process benchmarks share.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

/// The `p` quantile (0–1) of `sorted` samples.
pub fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
