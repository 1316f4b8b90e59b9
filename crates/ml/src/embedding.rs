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
    let mut add = |hash: u64, weight: f32| {
        // The remainder is below `vector.len()`, so it fits a `usize`.
        #[allow(clippy::cast_possible_truncation)]
        let index = (hash % vector.len() as u64) as usize;
        let sign = if (hash >> 63) & 1 == 0 { 1.0 } else { -1.0 };
        vector[index] += sign * weight;
    };
    for token in &tokens {
        add(fnv1a(&[token.as_bytes()]), 1.0);
    }
    // A bigram is the feature "first second", hashed without building the string.
    for pair in tokens.windows(2) {
        add(fnv1a(&[pair[0].as_bytes(), b" ", pair[1].as_bytes()]), 0.5);
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

/// FNV-1a over the concatenation of `parts`.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The Euclidean length of `v`.
pub fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Cosine similarity of two vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    cosine_with_norms(a, norm(a), b, norm(b))
}

/// [`cosine`] given both vectors' lengths ([`norm`]), for comparing one vector with many
/// whose lengths are known: the same result, without recomputing them.
pub fn cosine_with_norms(a: &[f32], norm_a: f32, b: &[f32], norm_b: f32) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        dot / (norm_a * norm_b)
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

    #[test]
    fn a_bigram_hashes_as_its_text() {
        assert_eq!(
            fnv1a(&[b"could", b" ", b"not"]),
            fnv1a(&["could not".as_bytes()])
        );
    }

    #[test]
    fn cosine_with_known_norms_is_cosine() {
        let a = embed("I have written the letters", 384);
        let b = embed("found a home for the dog", 384);
        assert_eq!(
            cosine(&a, &b).to_bits(),
            cosine_with_norms(&a, norm(&a), &b, norm(&b)).to_bits()
        );
    }
}
