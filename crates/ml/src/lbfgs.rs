//! Limited-memory BFGS for smooth convex objectives (Nocedal and Wright, *Numerical
//! Optimization*, algorithms 7.4 and 7.5), with a backtracking line search under the Armijo
//! condition. Deterministic: the same objective and start give the same answer.
//!
//! Plain gradient descent leaves the weights of rare features (an n-gram in a handful of
//! texts) near their start, because their gradients are small; L-BFGS scales every direction
//! by the curvature it has seen, so they reach the optimum too.

/// Curvature pairs kept.
const MEMORY: usize = 10;
/// The most iterations.
const MAX_ITERATIONS: usize = 500;
/// Stop when no gradient component is larger.
const GRADIENT_TOLERANCE: f64 = 1e-6;
/// Stop when an iteration lowers the objective by less than this share of it.
const RELATIVE_DECREASE: f64 = 1e-10;
/// Armijo's sufficient-decrease constant.
const ARMIJO: f64 = 1e-4;
/// The most halvings of a step.
const MAX_HALVINGS: usize = 40;

/// The `x` that minimises `objective`, from `start`. `objective` answers the value and the
/// gradient at a point.
pub fn minimise(mut objective: impl FnMut(&[f64]) -> (f64, Vec<f64>), start: Vec<f64>) -> Vec<f64> {
    let mut x = start;
    let (mut value, mut gradient) = objective(&x);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(MEMORY);
    for _ in 0..MAX_ITERATIONS {
        if gradient.iter().all(|g| g.abs() <= GRADIENT_TOLERANCE) {
            break;
        }
        let direction = descent_direction(&gradient, &pairs);
        let slope = dot(&gradient, &direction);
        // Not a descent direction (the memory went stale): start again from the gradient.
        let (direction, slope) = if slope < 0.0 {
            (direction, slope)
        } else {
            pairs.clear();
            let steepest: Vec<f64> = gradient.iter().map(|g| -g).collect();
            let slope = dot(&gradient, &steepest);
            (steepest, slope)
        };
        let mut step = if pairs.is_empty() {
            1.0 / norm(&gradient).max(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let candidate: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(xi, di)| xi + step * di)
                .collect();
            let (candidate_value, candidate_gradient) = objective(&candidate);
            if candidate_value <= value + ARMIJO * step * slope {
                accepted = Some((candidate, candidate_value, candidate_gradient));
                break;
            }
            step /= 2.0;
        }
        let Some((next, next_value, next_gradient)) = accepted else {
            break;
        };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let curvature = dot(&s, &y);
        if curvature > 1e-12 {
            if pairs.len() == MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / curvature));
        }
        let decrease = value - next_value;
        x = next;
        gradient = next_gradient;
        let previous = value;
        value = next_value;
        if decrease <= RELATIVE_DECREASE * previous.abs().max(1.0) {
            break;
        }
    }
    x
}

/// `-H·gradient`, with `H` the inverse Hessian the pairs describe (the two-loop recursion).
fn descent_direction(
    gradient: &[f64],
    pairs: &std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * dot(s, &q);
        axpy(-alpha, y, &mut q);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.back() {
        let scale = dot(s, y) / dot(y, y).max(f64::MIN_POSITIVE);
        q.iter_mut().for_each(|v| *v *= scale);
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.into_iter().rev()) {
        let beta = rho * dot(y, &q);
        axpy(alpha - beta, s, &mut q);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::cast_precision_loss)] // indices below 5
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        // f(x) = ½ Σ cᵢ (xᵢ - i)², curvatures from 1e-3 to 1e3.
        let curvatures = [1e-3, 1e-1, 1.0, 10.0, 1e3];
        let x = minimise(
            |x| {
                let value = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| 0.5 * curvatures[i] * (v - i as f64).powi(2))
                    .sum();
                let gradient = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| curvatures[i] * (v - i as f64))
                    .collect();
                (value, gradient)
            },
            vec![0.0; 5],
        );
        for (i, v) in x.iter().enumerate() {
            assert!((v - i as f64).abs() < 1e-3, "x[{i}] = {v}");
        }
    }

    #[test]
    fn minimises_the_rosenbrock_valley() {
        let x = minimise(
            |x| {
                let (a, b) = (x[0], x[1]);
                let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
                let gradient = vec![
                    -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                    200.0 * (b - a * a),
                ];
                (value, gradient)
            },
            vec![-1.2, 1.0],
        );
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?}"
        );
    }
}
