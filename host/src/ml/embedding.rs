//! A lexical sentence vector: words and word bigrams hashed (FNV-1a) into `dimension` signed
//! buckets, L2-normalised. Texts sharing words land near each other; it carries no learned
//! semantics (a sentence-embedding model can replace it behind the same `ml.embed`).

use super::tokens::words;

/// The embedding dimension when the deployment configures none (all-MiniLM-L6-v2's).
pub const DEFAULT_DIMENSION: usize = 384;

/// The embedding of `text` with `dimension` components (unit length; all zeros for text
/// without words).
pub fn embed(text: &str, dimension: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimension.max(1)];
    let tokens = words(text);
    let mut add = |feature: &str, weight: f32| {
        let hash = fnv1a(feature.as_bytes());
        let index = (hash % vector.len() as u64) as usize;
        let sign = if (hash >> 63) & 1 == 0 { 1.0 } else { -1.0 };
        vector[index] += sign * weight;
    };
    for token in &tokens {
        add(token, 1.0);
    }
    for pair in tokens.windows(2) {
        add(&format!("{} {}", pair[0], pair[1]), 0.5);
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Cosine similarity of two vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_lexical_similarity() {
        let a = embed("I could not sleep last night", 384);
        let b = embed("could not sleep again last night", 384);
        let c = embed("the quarterly budget meeting", 384);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(cosine(&a, &b) > cosine(&a, &c));
        assert_eq!(embed("", 8), vec![0.0; 8]);
    }
}
